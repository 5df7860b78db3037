"""The server span of ServerSpanMiddleware: conformance with the contrib instrumentor, W3C
propagation, excluded paths, header capture, websockets, and FastAPI's own telemetry kept off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.testclient import TestClient
from tests.unit.server_span_requests import REQUESTS, dump, make_app, send_requests

from amas_telemetry import semconv as sc
from amas_telemetry.redact import REDACTED
from amas_telemetry.testing import capture

ROOT = Path(__file__).resolve().parents[2]

DELIBERATE = {sc.SERVER_ADDRESS: ("api.test:8080", "api.test")}
"""Where we differ from contrib on purpose: the conventions put the host alone in
server.address (the port is server.port); contrib leaves host:port there."""


def _contrib_spans() -> list[dict]:
    env = {**os.environ, "OTEL_SEMCONV_STABILITY_OPT_IN": "http"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-m", "tests.unit.server_span_requests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


async def test_attributes_match_the_contrib_instrumentor_key_by_key():
    app = make_app()
    cap = capture(app)
    try:
        await send_requests(app)
        ours = dump(cap.spans())
    finally:
        cap.shutdown()
    theirs = _contrib_spans()
    assert len(ours) == len(theirs) == len(REQUESTS)
    for (method, path, _), mine, contrib in zip(REQUESTS, ours, theirs, strict=True):
        where = f"{method} {path}"
        assert mine["name"] == contrib["name"], where
        assert mine["kind"] == contrib["kind"], where
        assert mine["status"] == contrib["status"], where
        assert mine["parent_trace_id"] == contrib["parent_trace_id"], where
        assert sorted(mine["attributes"]) == sorted(contrib["attributes"]), where
        for key, value in contrib["attributes"].items():
            if key in DELIBERATE:
                assert (value, mine["attributes"][key]) == DELIBERATE[key], where
            else:
                assert mine["attributes"][key] == value, f"{where}: {key}"


async def test_spans_are_counted_once_and_active_requests_return_to_zero():
    app = make_app()
    cap = capture(app)
    try:
        await send_requests(app)
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == len(REQUESTS)
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION, **{sc.ERROR_TYPE: "500"}) == 1
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION, **{sc.ERROR_TYPE: "503"}) == 1
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION, **{sc.HTTP_REQUEST_METHOD: "_OTHER"}) == 1
        active = cap.points(sc.HTTP_SERVER_ACTIVE_REQUESTS)
        assert active and all(p.value == 0 for p in active)
    finally:
        cap.shutdown()


async def test_an_unhandled_exception_is_recorded_on_the_span():
    app = make_app()
    cap = capture(app)
    try:
        await send_requests(app)
        (failed,) = [s for s in cap.spans() if s.attributes.get(sc.URL_PATH) == "/items/5"]
        assert [e.attributes["exception.type"] for e in failed.events] == ["RuntimeError"]
    finally:
        cap.shutdown()


def _app_with_routes(count: int) -> FastAPI:
    app = FastAPI(telemetry={"tracing": False, "metrics": False})
    for i in range(count):
        app.add_api_route(f"/r{i}/{{x}}", lambda x: {"x": x}, methods=["GET"])
    return app


async def test_the_route_comes_from_routing_even_past_many_routes():
    app = _app_with_routes(50)
    cap = capture(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            assert (await client.get("/r49/abc")).status_code == 200
        (span,) = cap.spans()
        assert span.name == "GET /r49/{x}"
        assert span.attributes[sc.HTTP_ROUTE] == "/r49/{x}"
    finally:
        cap.shutdown()


async def _route_checks(app: FastAPI, path: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times a request to ``path`` makes the app test a route (``Route.matches``)."""
    from starlette.routing import BaseRoute

    calls = 0
    classes = {type(route) for route in app.router.routes}
    for cls in classes:
        original = cls.matches

        def counting(self, scope, _original=original):
            nonlocal calls
            calls += 1
            return _original(self, scope)

        monkeypatch.setattr(cls, "matches", counting)
    assert all(issubclass(cls, BaseRoute) for cls in classes)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        assert (await client.get(path)).status_code == 200
    monkeypatch.undo()
    return calls


@pytest.mark.parametrize("routes", [5, 50])
async def test_telemetry_adds_no_route_check_whatever_the_number_of_routes(routes, monkeypatch):
    """The overhead cannot grow with the routes: the span takes the route routing found."""
    path = f"/r{routes - 1}/abc"  # the last route: a scan would test every one
    bare = await _route_checks(_app_with_routes(routes), path, monkeypatch)
    app = _app_with_routes(routes)
    cap = capture(app)
    try:
        traced = await _route_checks(app, path, monkeypatch)
        (span,) = cap.spans()
        assert span.attributes[sc.HTTP_ROUTE] == f"/r{routes - 1}/{{x}}"
    finally:
        cap.shutdown()
    assert bare >= routes  # the router itself scans (what bare FastAPI pays)
    assert traced == bare


async def test_excluded_paths_are_neither_traced_nor_counted_query_or_not():
    app = make_app()
    cap = capture(app, excluded_urls=["/items/3"])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/items/3?x=1")
            await client.get("/items/3")
            await client.get("/items/4")
        assert [s.attributes[sc.URL_PATH] for s in cap.spans()] == ["/items/4"]
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == 1
    finally:
        cap.shutdown()


def test_the_conventions_sensitive_query_values_are_redacted():
    from amas_telemetry._internal.integrations.asgi import _redacted_query

    assert _redacted_query("a=1&sig=abc&Signature=x&X-Goog-Signature=y&AWSAccessKeyId=k&design=ok") == (
        "a=1&sig=REDACTED&Signature=REDACTED&X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED&design=ok"
    )
    assert _redacted_query("page=2&q=signal") == "page=2&q=signal"


async def test_excluded_paths_hold_behind_a_root_path():
    app = FastAPI(telemetry={"tracing": False, "metrics": False})

    @app.get("/ok")
    async def ok():
        return {}

    cap = capture(app)
    try:
        transport = httpx.ASGITransport(app, root_path="/api")  # a server (proxy) prefix
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/metrics")).status_code == 200
            assert (await client.get("/api/ok")).status_code == 200
        assert [s.attributes[sc.URL_PATH] for s in cap.spans()] == ["/api/ok"]
    finally:
        cap.shutdown()


async def test_captured_headers_are_recorded_and_secrets_scrubbed_on_export():
    app = FastAPI(telemetry={"tracing": False, "metrics": False})

    @app.get("/h")
    async def handler():
        from fastapi import Response

        return Response("ok", headers={"x-answer": "42"})

    cap = capture(app, http_captured_headers=["X-Request-Id", "Authorization", "X-Answer"])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/h", headers={"x-request-id": "r-1", "authorization": "Bearer abcdefghijkl"})
        (span,) = cap.spans()
        assert span.attributes["http.request.header.x-request-id"] == ("r-1",)
        assert span.attributes["http.request.header.authorization"] == (REDACTED,)
        assert span.attributes["http.response.header.x-answer"] == ("42",)
    finally:
        cap.shutdown()


async def test_no_headers_are_captured_by_default():
    app = make_app()
    cap = capture(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/items/1", headers={"x-request-id": "r-1"})
        (span,) = cap.spans()
        assert not [k for k in span.attributes if k.startswith("http.request.header.")]
    finally:
        cap.shutdown()


def test_a_websocket_connection_is_one_server_span_named_by_its_route():
    app = FastAPI(telemetry={"tracing": False, "metrics": False})

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str):
        await websocket.accept()
        await websocket.send_text(room)
        await websocket.close()

    cap = capture(app)
    try:
        with TestClient(app) as client, client.websocket_connect("/ws/lobby") as ws:
            assert ws.receive_text() == "lobby"
        (span,) = cap.spans()
        assert span.name == "/ws/{room}"
        assert span.attributes[sc.HTTP_ROUTE] == "/ws/{room}"
        assert span.attributes[sc.URL_SCHEME] == "ws"
        assert sc.HTTP_REQUEST_METHOD not in span.attributes
    finally:
        cap.shutdown()


async def test_fastapi_native_telemetry_makes_no_spans_while_wired(caplog):
    """A plain FastAPI() traces itself once a global provider exists; configure() keeps it quiet."""
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int):
        return {"id": item_id}

    cap = capture(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/items/1")
            await client.get("/items/2")
        assert [(s.name, s.instrumentation_scope.name) for s in cap.spans()] == [
            ("GET /items/{item_id}", "amas_telemetry.asgi")
        ] * 2
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == 2
        switch = "FastAPI(telemetry={'tracing': False, 'metrics': False, 'logs': False})"
        assert caplog.text.count(switch) == 1
    finally:
        cap.shutdown()
    assert "build_middleware_stack" not in vars(app)


async def test_no_warning_for_an_app_built_with_fastapi_telemetry_off(caplog):
    app = make_app()  # FastAPI(telemetry={"tracing": False, "metrics": False})
    cap = capture(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/items/1")
        assert "FastAPI(telemetry=" not in caplog.text
    finally:
        cap.shutdown()


async def test_a_later_contrib_instrument_app_adds_no_second_server_span():
    app = make_app()
    cap = capture(app)
    try:
        FastAPIInstrumentor.instrument_app(app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/items/1")
        assert len([s for s in cap.spans() if s.kind.name == "SERVER"]) == 1
    finally:
        cap.shutdown()


async def test_send_receive_spans_on_request():
    app = make_app()
    cap = capture(app, http_send_receive_spans=True)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            await client.get("/items/1")
        names = sorted(s.name for s in cap.spans())
        assert names == ["GET /items/{item_id}", "GET http send", "GET http send"]
    finally:
        cap.shutdown()


@pytest.mark.parametrize("value", [["bad header"], "x-ok,bad:header", [1]])
def test_bad_header_names_are_refused(value):
    from amas_telemetry import ConfigError, configure

    with pytest.raises(ConfigError, match="http_captured_headers"):
        configure(http_captured_headers=value)


def test_instrument_and_uninstrument_are_symmetric_and_idempotent(caplog):
    from opentelemetry.sdk.trace import TracerProvider

    from amas_telemetry._internal.integrations.instrument import (
        FASTAPI_SCOPE,
        instrument_fastapi,
        uninstrument_fastapi,
    )
    from amas_telemetry._internal.tracing.provider import global_tracer_provider

    app = make_app()
    provider = TracerProvider()
    instrument_fastapi(app, provider, (), False)
    instrument_fastapi(app, provider, (), False)
    assert "already wrapped" in caplog.text
    assert FASTAPI_SCOPE in global_tracer_provider().suppressed
    uninstrument_fastapi(app)
    uninstrument_fastapi(app)
    assert "build_middleware_stack" not in vars(app)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert FASTAPI_SCOPE not in global_tracer_provider().suppressed
