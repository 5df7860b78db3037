"""Ports on 127.0.0.1: free ones picked by the kernel, a check for taken ones, the stack's set."""

from __future__ import annotations

import dataclasses
import socket

__all__ = ["Endpoint", "Ports", "free_port", "free_ports", "port_in_use"]


def free_ports(count: int) -> list[int]:
    """Distinct free ports picked by the kernel (held open together while picking)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on host:port (a bind with SO_REUSEADDR fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


@dataclasses.dataclass(frozen=True)
class Ports:
    """Every port the native stack binds, all on 127.0.0.1."""

    collector_grpc: int = 4317
    collector_http: int = 4318
    collector_health: int = 13133
    collector_metrics: int = 8888
    prometheus: int = 9090
    jaeger_otlp_grpc: int = 14317
    jaeger_otlp_http: int = 14318
    jaeger_query: int = 16686
    jaeger_query_grpc: int = 16685
    jaeger_metrics: int = 14269
    victorialogs: int = 9428
    alertmanager: int = 9093

    @classmethod
    def random(cls) -> Ports:
        """Distinct free ports picked by the kernel."""
        return cls(*free_ports(len(dataclasses.fields(cls))))

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class Endpoint:
    """A read-only attribute of an object with ``ports``: ``[scheme]127.0.0.1:<one of its ports>``."""

    def __init__(self, port: str, scheme: str = "http://") -> None:
        self.port, self.scheme = port, scheme

    def __get__(self, owner_instance: object, owner: type | None = None) -> str:
        ports = owner_instance.ports  # type: ignore[attr-defined]
        return f"{self.scheme}127.0.0.1:{getattr(ports, self.port)}"
