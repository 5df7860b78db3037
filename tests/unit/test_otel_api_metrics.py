"""The standard OTel metrics API after configure(): users' meters reach /metrics and OTLP;
instrumentations' own metrics that repeat what our spans say are dropped, not counted twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import metrics
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.metrics import Observation
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client.parser import text_string_to_metric_families

from amas_telemetry._internal.metrics.global_provider import DUPLICATE_METRIC_SCOPES, global_meter_provider
from amas_telemetry.testing import capture


def _scopes(cap: Any) -> dict[str, set[str]]:
    """Instrument names per meter scope in the OTLP stand-in (the in-memory reader)."""
    data = cap.metric_reader.get_metrics_data()
    found: dict[str, set[str]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            names = {m.name for m in scope_metrics.metrics}
            found.setdefault(scope_metrics.scope.name, set()).update(names)
    return found


def _prometheus_total(cap: Any, sample_name: str) -> float:
    text = cap.telemetry.render_metrics().decode()
    return sum(
        s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == sample_name
    )


def test_a_counter_made_through_the_api_shows_on_metrics_and_otlp():
    cap = capture()
    try:
        metrics.get_meter("shop").create_counter("shop.orders", unit="{order}").add(
            1, {"shop.channel": "web"}
        )
        metrics.get_meter("shop").create_counter("shop.orders", unit="{order}").add(
            2, {"shop.channel": "web"}
        )
        assert 'shop_orders_total{shop_channel="web"} 3.0' in cap.telemetry.render_metrics().decode()
        assert cap.counter_total("shop.orders", shop__channel="web") == 3
    finally:
        cap.shutdown()


def test_instruments_follow_the_live_handle_and_go_quiet_after_shutdown():
    assert metrics.get_meter_provider() is global_meter_provider()
    counter = metrics.get_meter("shop").create_counter("shop.refunds")
    histogram = metrics.get_meter("shop").create_histogram(
        "shop.basket.size", explicit_bucket_boundaries_advisory=[1, 5]
    )
    readings = [7]
    metrics.get_meter("shop").create_observable_gauge(
        "shop.stock", [lambda options: [Observation(readings[0])]]
    )
    counter.add(5)  # no live handle: goes nowhere, raises nothing
    first = capture()
    try:
        counter.add(1)
        histogram.record(3)
        assert first.counter_total("shop.refunds") == 1
        assert first.histogram_count("shop.basket.size") == 1
        assert first.point("shop.stock").value == 7
    finally:
        first.shutdown()
    assert global_meter_provider().active is None
    counter.add(100)
    second = capture()  # a new handle: same module-level instruments, fresh counts
    try:
        counter.add(2)
        readings[0] = 9
        assert second.counter_total("shop.refunds") == 2
        assert second.point("shop.stock").value == 9
    finally:
        second.shutdown()


# --- instrumentations whose own metrics repeat our span-derived ones ---------------------------


@contextmanager
def _http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _json_handler(reply: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


def _assert_no_duplicate_scopes(cap: Any) -> None:
    scopes = _scopes(cap)
    repeated = {scope: names for scope, names in scopes.items() if scope in DUPLICATE_METRIC_SCOPES}
    assert repeated == {}


@pytest.mark.parametrize("provider", ["global", "the handle's"])
async def test_asgi_and_fastapi_instrumentation_metrics_are_not_counted_twice(provider):
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    cap = capture(app)
    try:
        # the contrib ASGI middleware outside ours, recording its own HTTP server metrics through
        # the global MeterProvider (its meter is a no-op there) or the handle's SDK provider (a
        # View drops them); its spans are off, so only its metrics could repeat ours
        meter_provider = None if provider == "global" else cap.telemetry.meter_provider
        outer = OpenTelemetryMiddleware(
            app, tracer_provider=NoOpTracerProvider(), meter_provider=meter_provider
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(outer), base_url="http://test") as client:
            for i in range(3):
                assert (await client.get(f"/items/{i}")).status_code == 200
        assert _prometheus_total(cap, "http_server_request_duration_seconds_count") == 3
        _assert_no_duplicate_scopes(cap)
        assert "opentelemetry.instrumentation.asgi" not in _scopes(cap)
    finally:
        cap.shutdown()


def test_httpx_instrumentation_metrics_are_dropped():
    cap = capture(instrumentations=["httpx"])
    try:
        with _http_server(_json_handler({"ok": True})) as url, httpx.Client() as client:
            assert client.get(url).status_code == 200
        assert any(s.name.startswith("GET") for s in cap.spans())  # traced
        _assert_no_duplicate_scopes(cap)
    finally:
        cap.shutdown()


CHAT_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}
MESSAGES_REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 3},
}


def test_openai_v2_instrumentation_metrics_are_not_counted_twice():
    openai = pytest.importorskip("openai")
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    cap = capture(instrumentations=[])
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        with _http_server(_json_handler(CHAT_REPLY)) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="test-key", max_retries=0)
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            client.close()
        assert [s.attributes.get("gen_ai.operation.name") for s in cap.spans()] == ["chat"]
        # one call: one point in the span-derived histogram, none from the instrumentation
        assert _prometheus_total(cap, "gen_ai_client_operation_duration_seconds_count") == 1
        _assert_no_duplicate_scopes(cap)
    finally:
        instrumentor.uninstrument()
        cap.shutdown()


def test_anthropic_instrumentation_metrics_are_not_counted_twice():
    anthropic = pytest.importorskip("anthropic")
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    cap = capture(instrumentations=[])
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        with _http_server(_json_handler(MESSAGES_REPLY)) as url:
            client = anthropic.Anthropic(base_url=url, api_key="test-key", max_retries=0)
            client.messages.create(
                model="claude-3-5-haiku", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
            client.close()
        # the anthropic SDK traces the call itself too, next to the instrumentation's span: one
        # call is still one point, and nothing comes from the instrumentation's meters
        assert len([s for s in cap.spans() if s.attributes.get("gen_ai.operation.name")]) >= 1
        assert _prometheus_total(cap, "gen_ai_client_operation_duration_seconds_count") == 1
        _assert_no_duplicate_scopes(cap)
    finally:
        instrumentor.uninstrument()
        cap.shutdown()


def test_a_users_own_meter_named_like_ours_is_untouched():
    cap = capture()
    try:
        meter = metrics.get_meter("shop.checkout")
        meter.create_observable_counter("shop.payments", [lambda o: [Observation(4)]])
        assert cap.counter_total("shop.payments") == 4
        assert "shop.checkout" in _scopes(cap)
    finally:
        cap.shutdown()
