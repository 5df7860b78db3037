"""One OTLP send and what became of it, against real servers on 127.0.0.1.

Covers the OTLP specification's client rules that the spool relies on: which gRPC codes and
HTTP statuses are retried (RESOURCE_EXHAUSTED only with RetryInfo), the delays servers ask
for (``Retry-After``, ``RetryInfo``), one kept-alive HTTP connection per signal, gzip, headers,
and the request size bound. TLS is tested against a real Collector (tests/e2e).
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from amas_telemetry._internal.otlp import transport as transport_module
from amas_telemetry._internal.otlp.targets import OtlpTarget
from amas_telemetry._internal.otlp.transport import (
    GrpcTransport,
    HttpTransport,
    Outcome,
    retry_after_seconds,
)


def target(url: str, signal: str = "logs", protocol: str = "http/protobuf", **overrides: Any) -> OtlpTarget:
    values: dict[str, Any] = dict(
        signal=signal,
        protocol=protocol,
        url=url,
        secure=url.startswith("https://"),
        certificate=None,
        client_certificate=None,
        client_key=None,
        headers={"authorization": "Bearer t"},
        compression=None,
        timeout=5.0,
    )
    return OtlpTarget(**(values | overrides))


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    status = 200
    headers_out: dict[str, str] = {}
    seen: list[tuple[str, bytes, dict[str, str]]] = []
    connections: set[int] = set()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Answer.connections.add(id(self.connection))
        _Answer.seen.append((self.path, body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(_Answer.status)
        for name, value in _Answer.headers_out.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def http_server() -> Iterator[str]:
    _Answer.seen, _Answer.connections, _Answer.status, _Answer.headers_out = [], set(), 200, {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send_once(otlp_target: OtlpTarget, body: bytes) -> Any:
    transport = HttpTransport(otlp_target)
    try:
        return transport.send(body)
    finally:
        transport.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- OTLP/HTTP -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SENT),
        (503, Outcome.RETRY),
        (429, Outcome.RETRY),
        (502, Outcome.RETRY),
        (504, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (401, Outcome.REJECTED),
        (403, Outcome.REJECTED),
        (408, Outcome.REJECTED),  # the OTLP specification retries 429, 502, 503, 504 only
        (500, Outcome.REJECTED),
    ],
)
def test_http_status_decides_retry_or_refusal(http_server: str, status: int, outcome: Outcome) -> None:
    _Answer.status = status
    result = send_once(target(f"{http_server}/v1/logs"), b"\x01\x02")
    assert result.outcome is outcome
    assert (result.error_type, dict(result.attributes)) == (
        (None, {}) if status == 200 else (str(status), {"http.response.status_code": status})
    )
    path, body, headers = _Answer.seen[0]
    assert (path, body, headers["authorization"], headers["content-type"]) == (
        "/v1/logs",
        b"\x01\x02",
        "Bearer t",
        "application/x-protobuf",
    )


def test_http_uses_the_url_as_resolved(http_server: str) -> None:
    send_once(target(f"{http_server}/collector/otlp/v1/traces?tenant=a", signal="traces"), b"x")
    assert _Answer.seen[0][0] == "/collector/otlp/v1/traces?tenant=a"


@pytest.mark.parametrize("header", ["7", "HTTP-DATE"])
def test_http_retry_after_is_honoured(http_server: str, header: str) -> None:
    _Answer.status = 429
    when = datetime.now(UTC) + timedelta(seconds=30)
    _Answer.headers_out = {
        "Retry-After": format_datetime(when, usegmt=True) if header == "HTTP-DATE" else header
    }
    result = send_once(target(f"{http_server}/v1/logs"), b"x")
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == pytest.approx(7 if header == "7" else 30, abs=2)


def test_retry_after_forms() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_http_keeps_one_connection_alive_for_many_exports(http_server: str) -> None:
    transport = HttpTransport(target(f"{http_server}/v1/traces", signal="traces"))
    try:
        for _ in range(20):
            assert transport.send(b"x").outcome is Outcome.SENT
    finally:
        transport.close()
    assert transport.connections_opened == 1
    assert len(_Answer.connections) == 1


def test_http_reconnects_when_the_server_dropped_the_connection(http_server: str) -> None:
    """A server may close an idle kept-alive connection; the next export goes out on a new
    one, without failing."""
    transport = HttpTransport(target(f"{http_server}/v1/traces", signal="traces"))
    try:
        assert transport.send(b"a").outcome is Outcome.SENT
        transport._conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]  # what a server closing looks like
        assert transport.send(b"b").outcome is Outcome.SENT
    finally:
        transport.close()
    assert [body for _, body, _ in _Answer.seen] == [b"a", b"b"]
    assert transport.connections_opened == 2


def test_http_gzip(http_server: str) -> None:
    send_once(target(f"{http_server}/v1/metrics", signal="metrics", compression="gzip"), b"m" * 1000)
    _, body, headers = _Answer.seen[0]
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"m" * 1000 and len(body) < 100


def test_http_without_a_listener_is_retried() -> None:
    result = send_once(target(f"http://127.0.0.1:{_closed_port()}/v1/traces", signal="traces"), b"x")
    assert (result.outcome, result.error_type) == (Outcome.RETRY, "ConnectionRefusedError")


def test_a_request_over_64_mib_is_not_sent(http_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "MAX_REQUEST_BYTES", 10)
    result = send_once(target(f"{http_server}/v1/logs"), b"x" * 11)
    assert (result.outcome, result.error_type) == (Outcome.REJECTED, "request_too_large")
    assert _Answer.seen == []


# --- OTLP/gRPC -------------------------------------------------------------------------------


def _retry_info_trailer(seconds: int) -> tuple[tuple[str, bytes], ...]:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    status = status_pb2.Status(
        code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="slow down", details=[detail]
    )
    return (("grpc-status-details-bin", status.SerializeToString()),)


class _GrpcServer:
    def __init__(self, code: grpc.StatusCode | None, retry_delay: int | None = None) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []

        def export(body: bytes, context: Any) -> bytes:
            self.received.append((body, dict(context.invocation_metadata())))
            if code is not None:
                if retry_delay is not None:
                    context.set_trailing_metadata(_retry_info_trailer(retry_delay))
                context.abort(code, "scripted")
            return b""

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "opentelemetry.proto.collector.trace.v1.TraceService",
                    {"Export": grpc.unary_unary_rpc_method_handler(export)},
                ),
            )
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)


@pytest.mark.parametrize(
    ("code", "retry_delay", "outcome"),
    [
        (None, None, Outcome.SENT),
        (grpc.StatusCode.UNAVAILABLE, None, Outcome.RETRY),
        (grpc.StatusCode.DEADLINE_EXCEEDED, None, Outcome.RETRY),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, None, Outcome.REJECTED),  # no RetryInfo: it will not recover
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 3, Outcome.RETRY),
        (grpc.StatusCode.UNAVAILABLE, 9, Outcome.RETRY),
        (grpc.StatusCode.INVALID_ARGUMENT, None, Outcome.REJECTED),
        (grpc.StatusCode.UNAUTHENTICATED, None, Outcome.REJECTED),
        (grpc.StatusCode.PERMISSION_DENIED, None, Outcome.REJECTED),
    ],
)
def test_grpc_status_decides_retry_or_refusal(
    code: grpc.StatusCode | None, retry_delay: int | None, outcome: Outcome
) -> None:
    server = _GrpcServer(code, retry_delay)
    transport = GrpcTransport(target(f"http://127.0.0.1:{server.port}", signal="traces", protocol="grpc"))
    try:
        result = transport.send(b"request bytes")
        assert result.outcome is outcome
        assert result.retry_after == retry_delay
        if code is not None:
            assert (result.error_type, dict(result.attributes)) == (
                code.name,
                {"rpc.response.status_code": code.name},
            )
        body, metadata = server.received[0]
        assert body == b"request bytes", "the bytes go out unchanged"
        assert metadata["authorization"] == "Bearer t"
    finally:
        transport.close()
        server.stop()


def test_grpc_keeps_one_channel_for_many_exports() -> None:
    server = _GrpcServer(None)
    transport = GrpcTransport(
        target(f"http://127.0.0.1:{server.port}", signal="traces", protocol="grpc", compression="gzip")
    )
    try:
        started = time.monotonic()
        for _ in range(20):
            assert transport.send(b"x" * 100).outcome is Outcome.SENT
        assert len(server.received) == 20
        assert time.monotonic() - started < 30
    finally:
        transport.close()
        server.stop()


def test_grpc_without_a_listener_is_retried() -> None:
    transport = GrpcTransport(target(f"http://127.0.0.1:{_closed_port()}", protocol="grpc"))
    try:
        result = transport.send(b"x")
        assert (result.outcome, result.error_type) == (Outcome.RETRY, "UNAVAILABLE")
    finally:
        transport.close()
