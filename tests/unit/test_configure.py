"""configure(app): FastAPI wiring, /metrics, idempotence, symmetric shutdown, dead Collector."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

import amas_telemetry
from amas_telemetry import semconv as sc
from amas_telemetry._internal.integrations.instrument import LIBRARIES, _users
from amas_telemetry.testing import capture


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int):
        return {"id": item_id}

    return app


async def get(app, path):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        return await client.get(path)


async def test_requests_are_counted_by_route_template_and_served_on_metrics():
    app = make_app()
    cap = capture(app)
    try:
        for i in range(5):
            assert (await get(app, f"/items/{i}")).status_code == 200
        response = await get(app, "/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        body = response.text
        assert 'http_route="/items/{item_id}"' in body
        assert "/items/3" not in body  # never the raw path
        # /metrics itself is neither traced nor counted
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == 5
        assert all(s.name != "GET /metrics" for s in cap.spans())
    finally:
        cap.shutdown()


async def test_no_send_receive_spans_by_default():
    app = make_app()
    cap = capture(app)
    try:
        await get(app, "/items/1")
        assert [s.name for s in cap.spans()] == ["GET /items/{item_id}"]
    finally:
        cap.shutdown()


async def test_configure_twice_for_one_app_returns_the_same_handle(caplog):
    app = make_app()
    cap = capture(app)
    try:
        again = amas_telemetry.configure(app)
        assert again is cap.telemetry
        assert "already configured" in caplog.text
        await get(app, "/items/1")
        assert len(cap.spans()) == 1  # one server span: not instrumented twice
    finally:
        cap.shutdown()


async def test_shutdown_undoes_everything_and_is_idempotent():
    app = make_app()
    routes_before = len(app.router.routes)
    cap = capture(app)
    assert len(app.router.routes) == routes_before + 1
    cap.shutdown()
    cap.shutdown()
    assert len(app.router.routes) == routes_before
    assert (await get(app, "/metrics")).status_code == 404
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


async def test_instrument_uninstrument_instrument_again():
    app = make_app()
    first = capture(app)
    first.shutdown()
    second = capture(app)
    try:
        await get(app, "/items/7")
        assert len(second.spans()) == 1
        assert first.spans() == ()
        assert second.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == 1
    finally:
        second.shutdown()


def test_client_libraries_are_reference_counted():
    first = capture()
    second = capture()
    held = [name for name in LIBRARIES if _users.get(name)]
    assert held, "no client library instrumented"
    assert all(_users[name] == 2 for name in held)
    first.shutdown()
    assert all(_users[name] == 1 for name in held)
    second.shutdown()
    assert all(_users[name] == 0 for name in held)
    import httpx as httpx_module

    assert not hasattr(httpx_module.Client.send, "__wrapped__")  # un-patched


def test_no_otlp_endpoint_means_no_exporter():
    telemetry = amas_telemetry.configure(json_logs=False, system_metrics=False)
    try:
        assert telemetry.logger_provider is None
        processors = telemetry.tracer_provider._active_span_processor._span_processors
        assert [type(p).__name__ for p in processors] == ["SpanMetricsProcessor", "ActiveRequestsProcessor"]
    finally:
        telemetry.shutdown()


def test_state_gauges_are_read_at_collection_time():
    cap = capture()
    depth = {"high": 3}
    try:
        cap.telemetry.observe(
            sc.AMAS_TASK_QUEUE_DEPTH, lambda: [(v, {sc.AMAS_TASK_PRIORITY: k}) for k, v in depth.items()]
        )
        cap.telemetry.observe(sc.AMAS_USERS_ACTIVE, lambda: 12)
        assert cap.point(sc.AMAS_TASK_QUEUE_DEPTH, amas__task__priority="high").value == 3
        depth["high"] = 9
        assert cap.point(sc.AMAS_TASK_QUEUE_DEPTH, amas__task__priority="high").value == 9
        assert cap.point(sc.AMAS_USERS_ACTIVE).value == 12
        with pytest.raises(ValueError, match="already has a callback"):
            cap.telemetry.observe(sc.AMAS_USERS_ACTIVE, lambda: 1)
        with pytest.raises(ValueError, match="unknown state gauge"):
            cap.telemetry.observe("amas.nonsense", lambda: 1)
    finally:
        cap.shutdown()


def test_system_metrics():
    cap = capture(system_metrics=True)
    try:
        assert 0.0 <= cap.point(sc.SYSTEM_MEMORY_UTILIZATION).value <= 1.0
        assert cap.point(sc.PROCESS_MEMORY_USAGE).value > 10_000_000
        assert cap.point(sc.SYSTEM_NETWORK_IO, network__io__direction="receive").value >= 0
        assert cap.points(sc.SYSTEM_FILESYSTEM_USAGE)
    finally:
        cap.shutdown()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
async def test_a_dead_collector_never_fails_a_request_and_drops_are_counted(protocol):
    """With the spool off (0 MB), what cannot be exported is dropped, and counted."""
    app = make_app()
    telemetry = amas_telemetry.configure(
        app,
        otlp_endpoint=f"http://127.0.0.1:{_closed_port()}",
        otlp_protocol=protocol,
        json_logs=False,
        system_metrics=False,
        export_spool_max_mb=0,
    )
    try:
        for i in range(30):
            assert (await get(app, f"/items/{i}")).status_code == 200
        telemetry.tracer_provider.force_flush(10_000)
        body = (await get(app, "/metrics")).text
        failed = [
            line
            for line in body.splitlines()
            if line.startswith("otel_sdk_exporter_span_exported_total") and "error_type" in line
        ]
        assert failed, "the SDK did not count the spans it could not export"
        assert sum(float(line.rsplit(" ", 1)[1]) for line in failed) == 30
    finally:
        telemetry.shutdown()


def test_fastapi_instrumentor_is_per_app():
    app, other = make_app(), make_app()
    cap = capture(app)
    try:
        assert app._is_instrumented_by_opentelemetry
        assert not getattr(other, "_is_instrumented_by_opentelemetry", False)
        assert "build_middleware_stack" in vars(app)
        assert "build_middleware_stack" not in vars(other)
        assert FastAPIInstrumentor  # its per-app flag is set, so it would not wire the app twice
    finally:
        cap.shutdown()


class _FakeSpan:
    def __init__(self, name):
        self.name = name
        self.attributes = {}

    def is_recording(self):
        return True

    def set_attribute(self, key, value):
        self.attributes[key] = value


@pytest.mark.parametrize(
    ("command", "response", "result"),
    [
        ("GET", b"v", "hit"),
        ("GET", None, "miss"),
        ("MGET", [None, None], "miss"),
        ("MGET", [None, b"v"], "hit"),
        ("HGETALL", {}, "miss"),
        ("EXISTS", 0, "miss"),
        ("SET", True, "ok"),
        ("DEL", 1, "ok"),
        ("RPUSH", 3, None),
        ("BLPOP", None, None),
    ],
)
def test_redis_hooks_mark_cache_commands(command, response, result):
    from amas_telemetry._internal.integrations.instrument import redis_request_hook, redis_response_hook

    span = _FakeSpan(command)
    redis_request_hook(span, None, (command,), {})
    if result is not None:
        assert span.attributes[sc.AMAS_CACHE_RESULT] == "error"  # until the response says otherwise
    redis_response_hook(span, None, response)
    assert span.attributes.get(sc.AMAS_CACHE_RESULT) == result


def test_untraced_makes_no_spans():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cap = capture()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with httpx.Client() as client:
            client.get(f"{base}/traced")
            with amas_telemetry.untraced():
                client.get(f"{base}/quiet")
        urls = [s.attributes.get("url.full") or s.attributes.get("http.url") for s in cap.spans()]
        assert urls == [f"{base}/traced"]
    finally:
        cap.shutdown()
        server.shutdown()
        server.server_close()


def test_span_helpers_keep_an_error_type_the_app_set():
    cap = capture()
    try:
        with pytest.raises(ConnectionError), amas_telemetry.genai_span("openai", "gpt-4o") as span:
            span.set_attribute(sc.ERROR_TYPE, "503")
            raise ConnectionError("down")
        assert cap.point(sc.GEN_AI_CLIENT_OPERATION_DURATION).attributes["error.type"] == "503"
    finally:
        cap.shutdown()


def test_task_span_can_link_instead_of_continuing():
    from opentelemetry.trace import Link

    cap = capture()
    try:
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span("request") as request:
            pass
        with amas_telemetry.task_span("research", links=[Link(request.get_span_context())]):
            pass
        task = next(s for s in cap.spans() if s.name == "task research")
        assert task.parent is None
        assert task.links[0].context.span_id == request.get_span_context().span_id
    finally:
        cap.shutdown()
