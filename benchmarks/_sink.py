"""A tiny OTLP sink on 127.0.0.1: OTLP/gRPC and OTLP/HTTP, answers success, counts what came.

Per signal it counts requests, protobuf bytes and items (spans, metric data points, log
records). It can keep the raw request bodies (``keep=True``) so a benchmark can replay them,
and it can read span-metrics ``calls`` counters out of OTLP metric requests.

Run in a thread (:class:`Sink`) or in its own process (:func:`serve_in_child`), so it does not
take the GIL of the process being measured.
"""

from __future__ import annotations

import gzip
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SIGNALS = ("traces", "metrics", "logs")
_SERVICES = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
}


def count_items(signal: str, body: bytes) -> int:
    if signal == "traces":
        request = ExportTraceServiceRequest.FromString(body)
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    if signal == "logs":
        request = ExportLogsServiceRequest.FromString(body)
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    request = ExportMetricsServiceRequest.FromString(body)
    points = 0
    for r in request.resource_metrics:
        for s in r.scope_metrics:
            for m in s.metrics:
                kind = m.WhichOneof("data")
                points += len(getattr(m, kind).data_points) if kind else 0
    return points


class Sink:
    """OTLP/gRPC + OTLP/HTTP receiver that counts, in this process (threads)."""

    def __init__(
        self, *, keep: bool = False, count: bool = True, grpc_port: int = 0, http_port: int = 0
    ) -> None:
        self.keep = keep
        self.count = count
        self.lock = threading.Lock()
        self.stats = {s: {"requests": 0, "bytes": 0, "items": 0} for s in SIGNALS}
        self.bodies: dict[str, list[bytes]] = {s: [] for s in SIGNALS}
        self._grpc: Any = None
        self._http: ThreadingHTTPServer | None = None
        self.grpc_port = grpc_port  # 0: any free port
        self.http_port = http_port

    # -- recording ---------------------------------------------------------------------------
    def record(self, signal: str, body: bytes) -> None:
        items = count_items(signal, body) if self.count else 0
        with self.lock:
            stats = self.stats[signal]
            stats["requests"] += 1
            stats["bytes"] += len(body)
            stats["items"] += items
            if self.keep:
                self.bodies[signal].append(body)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {s: dict(v) for s, v in self.stats.items()}

    def reset(self) -> None:
        with self.lock:
            for signal in SIGNALS:
                self.stats[signal] = {"requests": 0, "bytes": 0, "items": 0}
                self.bodies[signal] = []

    # -- servers -----------------------------------------------------------------------------
    def start(self) -> Sink:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handlers = []
        for signal, service in _SERVICES.items():

            def export(body: bytes, context: Any, signal: str = signal) -> bytes:
                self.record(signal, body)
                return b""  # an empty Export*ServiceResponse: full success

            handlers.append(
                grpc.method_handlers_generic_handler(
                    service, {"Export": grpc.unary_unary_rpc_method_handler(export)}
                )
            )
        server.add_generic_rpc_handlers(tuple(handlers))
        self.grpc_port = server.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
        server.start()
        self._grpc = server

        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                signal = self.path.rstrip("/").rsplit("/", 1)[-1]
                if signal in SIGNALS:
                    sink.record(signal, body)
                    self.send_response(200)
                else:
                    self.send_response(404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._http = ThreadingHTTPServer(("127.0.0.1", self.http_port), Handler)
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="otlp-sink-http", daemon=True).start()
        return self

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None)
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_child(conn: Any, count: bool = True) -> None:
    """Child-process entry: sends (grpc_port, http_port), then answers 'stats' / 'reset'."""
    sink = Sink(count=count).start()
    try:
        conn.send((sink.grpc_port, sink.http_port))
        while True:
            try:
                command = conn.recv()
            except EOFError:
                break
            if command == "stats":
                conn.send(sink.snapshot())
            elif command == "reset":
                sink.reset()
                conn.send(True)
            elif command == "stop":
                break
    finally:
        sink.stop()
