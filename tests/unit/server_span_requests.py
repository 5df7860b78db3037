"""The app and the requests of the server-span conformance test, and a span dump.

Run as a script (``python -m tests.unit.server_span_requests``) it wires the contrib
FastAPI instrumentor in stable HTTP semconv mode and prints the spans as JSON: the
stability mode is read once per process, so the contrib half runs in its own process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

REQUESTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("GET", "/items/3?a=1&b=two", {"user-agent": "conformance/1.0", "traceparent": TRACEPARENT}),
    ("GET", "/nowhere", {}),
    ("GET", "/items/5", {}),  # unhandled exception: 500
    ("GET", "/items/6", {}),  # HTTPException(503)
    ("GET", "/items/7", {}),  # HTTPException(404): a 4xx is no server error
    ("GET", "/items/not-a-number", {}),  # validation: 422
    ("FOO", "/items/3", {}),  # unknown method: _OTHER, 405
    ("POST", "/items", {"content-type": "application/json"}),
    ("DELETE", "/items/3", {}),
)


def make_app() -> FastAPI:
    app = FastAPI(telemetry={"tracing": False, "metrics": False})

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 5:
            raise RuntimeError("boom")
        if item_id in (6, 7):
            raise HTTPException(503 if item_id == 6 else 404)
        return {"id": item_id}

    @app.post("/items")
    async def create() -> dict[str, str]:
        return {"ok": "yes"}

    @app.delete("/items/{item_id}")
    async def delete(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


async def send_requests(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test:8080") as client:
        for method, path, headers in REQUESTS:
            await client.request(method, path, headers=headers, content=b"{}" if method == "POST" else None)


def dump(spans: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "kind": s.kind.name,
            "status": s.status.status_code.name,
            "attributes": dict(s.attributes),
            "parent_trace_id": format(s.parent.trace_id, "032x") if s.parent else None,
        }
        for s in spans
        if s.kind.name == "SERVER"
    ]


def _contrib() -> None:
    assert os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN") == "http"
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = make_app()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["send", "receive"])
    asyncio.run(send_requests(app))
    json.dump(dump(exporter.get_finished_spans()), sys.stdout)


if __name__ == "__main__":
    _contrib()
