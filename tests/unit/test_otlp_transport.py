"""One OTLP send and the class of its outcome, against real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest

from amas_telemetry._internal.otlp.transport import GrpcTransport, HttpTransport, Outcome, headers_from_env


class _Answer(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, bytes, str | None]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Answer.seen.append((self.path, body, self.headers.get("Authorization")))
        self.send_response(_Answer.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def http_server() -> Iterator[str]:
    _Answer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SENT),
        (503, Outcome.RETRY),
        (429, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (401, Outcome.REJECTED),
    ],
)
def test_http_status_decides_retry_or_refusal(http_server: str, status: int, outcome: Outcome) -> None:
    _Answer.status = status
    transport = HttpTransport(http_server, "logs", 5, {"Authorization": "Bearer t"})
    assert transport.send(b"\x01\x02") is outcome
    assert _Answer.seen == [("/v1/logs", b"\x01\x02", "Bearer t")]


def test_http_without_a_listener_is_retried() -> None:
    assert HttpTransport(f"http://127.0.0.1:{_closed_port()}", "traces", 5, {}).send(b"x") is Outcome.RETRY


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (None, Outcome.SENT),
        (grpc.StatusCode.UNAVAILABLE, Outcome.RETRY),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, Outcome.RETRY),
        (grpc.StatusCode.INVALID_ARGUMENT, Outcome.REJECTED),
    ],
)
def test_grpc_status_decides_retry_or_refusal(code: grpc.StatusCode | None, outcome: Outcome) -> None:
    received: list[bytes] = []

    def export(body: bytes, context: Any) -> bytes:
        received.append(body)
        if code is not None:
            context.abort(code, "scripted")
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.trace.v1.TraceService",
                {"Export": grpc.unary_unary_rpc_method_handler(export)},
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    transport = GrpcTransport(f"http://127.0.0.1:{port}", "traces", 5, {})
    try:
        assert transport.send(b"request bytes") is outcome
        assert received == [b"request bytes"], "the bytes go out unchanged"
    finally:
        transport.close()
        server.stop(grace=None)


def test_grpc_without_a_listener_is_retried() -> None:
    transport = GrpcTransport(f"http://127.0.0.1:{_closed_port()}", "logs", 5, {})
    try:
        assert transport.send(b"x") is Outcome.RETRY
    finally:
        transport.close()


def test_headers_come_from_the_signal_variable_first() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2,c=x%20y"}
    assert headers_from_env("traces", env) == {"b": "2", "c": "x y"}
    assert headers_from_env("logs", env) == {"a": "1"}
    assert headers_from_env("metrics", {}) == {}
