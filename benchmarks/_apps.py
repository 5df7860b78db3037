"""The app under test (a minimal and an AMAS-like route) and the telemetry variants wired into it.

Variants (one per process, since each sets OTel globals the way a real service would):

``bare``            no telemetry at all
``plan``            (b) the original plan: prometheus_client middleware + OTel tracing, see plan_baseline
``ours:R:sink``     (c) ``amas_telemetry.configure(app, sampling_ratio=R, otlp_endpoint=<sink>)``
``ours:R:none``     (c) the same with ``otlp_endpoint=None`` (no export at all; metrics on /metrics only)
``ours:R:sink:notail`` (c) without the tail decision (on by default below 1.0: ``tail_keep_errors``)
``span-only``       the floor under (c): our server-span middleware (instrument_fastapi) on a bare
                    TracerProvider: spans are created, nothing processes them (no span metrics,
                    no export, plain logging)
``stock``           (d) FastAPIInstrumentor.instrument_app with default options + TracerProvider +
                    BatchSpanProcessor(OTLP gRPC) + MeterProvider(PrometheusMetricReader), all global
``logfire``         Pydantic Logfire: ``logfire.configure(send_to_logfire=False, console=False)`` +
                    ``logfire.instrument_fastapi(app)``, std logging through ``LogfireLoggingHandler``
``logfire:sink``    the same with an OTLP span exporter and metric reader to the sink

Suffixes: ``@N`` builds the app with N routes (default 50), the probed ones registered last,
so a per-route scan would show; ``+native`` builds the app as a plain ``FastAPI()`` (FastAPI's
own telemetry on), where every other variant's app has FastAPI's telemetry off
(neutral for the others: FastAPI's telemetry stays off without a global tracer provider, and
steps aside for the contrib ASGI middleware that stock and Logfire use).

Every exporting variant sends OTLP/gRPC to the same local sink (another process). Logging is
on at INFO in every variant: plain ``logging.basicConfig`` to /dev/null for a, b and d, the
library's JSON lines on stdout (redirected to /dev/null) plus OTLP for c, Logfire's handler for
Logfire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Response
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from amas_telemetry import semconv as sc

__all__ = ["REALISTIC_BODY", "VARIANTS", "Wired", "build_app", "call_asgi"]

_log = logging.getLogger("amas.bench.app")
_tracer = trace.get_tracer("amas.bench.app")

# Simulated I/O of the AMAS-like route: a cache GET and one AI-provider call, each an awaited
# 1 ms sleep (asyncio's timer granularity on epoll is 1 ms anyway). A real provider call takes
# 0.3-30 s, so this is a conservative (hard) route for the overhead ratio.
CACHE_IO_SECONDS = float(os.environ.get("AMAS_BENCH_CACHE_IO", "0.001"))
PROVIDER_IO_SECONDS = float(os.environ.get("AMAS_BENCH_PROVIDER_IO", "0.001"))


class Message(BaseModel):
    role: str
    content: str


class StepIn(BaseModel):
    task_type: str
    priority: str
    agent: str
    messages: list[Message]
    metadata: dict[str, str]


def _realistic_body() -> bytes:
    text = "Summarize the incident timeline and propose the next three remediation steps. " * 4
    body = {
        "task_type": "summarize",
        "priority": "normal",
        "agent": "planner",
        "messages": [{"role": "user" if i % 2 else "system", "content": f"{i}: {text}"} for i in range(8)],
        "metadata": {f"key{i}": f"value-{i}-" + "x" * 20 for i in range(12)},
    }
    return json.dumps(body).encode()


REALISTIC_BODY = _realistic_body()
REALISTIC_PATH = "/v1/tasks/7f3c9a2e-5b1d-4c8e-9f0a-1e2d3c4b5a69/steps"
MINIMAL_PATH = "/ping"


DEFAULT_ROUTES = 50
FASTAPI_TELEMETRY_OFF: Any = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own telemetry off, as the README tells users of configure(app) to build the app."""


def add_routes(app: FastAPI, routes: int = DEFAULT_ROUTES) -> None:
    """``routes`` routes in all: fillers first, then the two probed ones (a route scan pays most)."""

    def filler(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    for i in range(routes - 2):
        app.add_api_route(f"/v1/filler{i}/{{item_id}}", filler, methods=["GET"])

    @app.get(MINIMAL_PATH)
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/tasks/{task_id}/steps")
    async def run_step(task_id: str, body: StepIn) -> dict[str, Any]:
        """An AMAS-like route: validated JSON in (~3 KB), a cache lookup, an agent step with one
        AI-provider call (manual child spans with the attributes AMAS sets), a log line, JSON out."""
        with _tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={sc.DB_SYSTEM_NAME: "redis", sc.DB_OPERATION_NAME: "GET"},
        ) as cache_span:
            await asyncio.sleep(CACHE_IO_SECONDS)
            cache_span.set_attribute(sc.AMAS_CACHE_RESULT, sc.CacheResult.MISS.value)
        with _tracer.start_as_current_span(
            f"invoke_agent {body.agent}",
            attributes={
                sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT.value,
                sc.GEN_AI_AGENT_NAME: body.agent,
                sc.AMAS_TASK_ID: task_id,
            },
        ) as agent_span:
            with _tracer.start_as_current_span(
                "chat gpt-4o-mini",
                kind=SpanKind.CLIENT,
                attributes={
                    sc.GEN_AI_OPERATION_NAME: "chat",
                    sc.GEN_AI_PROVIDER_NAME: "openai",
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                },
            ) as call:
                await asyncio.sleep(PROVIDER_IO_SECONDS)
                prompt_tokens = sum(len(m.content) for m in body.messages) // 4
                call.set_attributes(
                    {
                        sc.GEN_AI_USAGE_INPUT_TOKENS: prompt_tokens,
                        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 180,
                        sc.AMAS_AI_COST_USD: prompt_tokens * 1.5e-7 + 180 * 6e-7,
                        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
                    }
                )
            agent_span.set_attributes(
                {sc.GEN_AI_USAGE_INPUT_TOKENS: prompt_tokens, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 180}
            )
        _log.info("agent step done", extra={"task_id": task_id, "agent": body.agent})
        return {
            "task_id": task_id,
            "status": "running",
            "agent": body.agent,
            "result": {
                "summary": [m.content[:200] for m in body.messages],
                "usage": {"input_tokens": prompt_tokens, "output_tokens": 180},
            },
            "metadata": body.metadata,
        }


@dataclass
class Wired:
    app: FastAPI
    flush: Callable[[], None]
    """Finishes the per-request work a variant left for later (batch export, deferred metrics)."""
    render_metrics: Callable[[], bytes] | None = None


VARIANTS = (
    "bare",
    "span-only",
    "ours:1.0:sink",
    "ours:0.01:sink",
    "ours:0.01:sink:notail",
    "stock",
    "logfire",
    "logfire:sink",
    "bare@5",
    "ours:0.01:sink@5",
    "ours:0.01:sink+native",
)
"""The default set (``span-only`` is the floor: a span per request and nothing else); ``plan``
and ``ours:1.0:none`` are there on request."""


def _plain_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115


def build_app(variant: str, sink_endpoint: str | None) -> Wired:
    """One FastAPI app wired with ``variant``. Call once per process."""
    variant, _, routes = variant.partition("@")
    native = variant.endswith("+native")
    variant = variant.removesuffix("+native")
    app = FastAPI() if native else FastAPI(telemetry=FASTAPI_TELEMETRY_OFF)
    add_routes(app, int(routes) if routes else DEFAULT_ROUTES)
    if variant == "bare":
        _plain_logging()
        return Wired(app, lambda: None)
    if variant == "plan":
        from benchmarks.plan_baseline import install_plan_baseline

        _plain_logging()
        assert sink_endpoint, "the plan baseline exports over OTLP"
        provider = install_plan_baseline(app, sink_endpoint)
        return Wired(app, lambda: provider.force_flush() and None)
    if variant.startswith("ours:"):
        import amas_telemetry

        _, ratio, export, *options = variant.split(":")
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the JSON log lines go nowhere)
        telemetry = amas_telemetry.configure(
            app,
            service_name="amas-bench",
            sampling_ratio=float(ratio),
            otlp_endpoint=sink_endpoint if export == "sink" else None,
            tail_keep_errors=False if "notail" in options else None,
        )

        def flush() -> None:
            # per-request work only: span export + the deferred span-metric recording, log export;
            # not the periodic metric export (per interval, not per request)
            telemetry.tracer_provider.force_flush()
            if telemetry.logger_provider is not None:
                telemetry.logger_provider.force_flush()

        return Wired(app, flush, telemetry.render_metrics)
    if variant == "span-only":
        from opentelemetry.sdk.trace import TracerProvider

        from amas_telemetry._internal.integrations.instrument import instrument_fastapi

        _plain_logging()
        provider = TracerProvider()
        trace.set_tracer_provider(provider)  # the route's manual spans are created as with (c)
        instrument_fastapi(app, provider, ("/metrics",), False)
        return Wired(app, lambda: None)
    if variant in ("logfire", "logfire:sink"):
        return _logfire(app, sink_endpoint if variant == "logfire:sink" else None)
    if variant == "stock":
        from opentelemetry import metrics
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from prometheus_client import REGISTRY, generate_latest

        _plain_logging()
        assert sink_endpoint, "the stock setup exports over OTLP"
        resource = Resource.create({"service.name": "amas-bench"})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=sink_endpoint, insecure=True))
        )
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(
            MeterProvider(resource=resource, metric_readers=[PrometheusMetricReader()])
        )
        FastAPIInstrumentor.instrument_app(app)

        def metrics_route() -> Response:
            return Response(generate_latest(REGISTRY), media_type="text/plain")

        app.add_api_route("/metrics", metrics_route, methods=["GET"], include_in_schema=False)
        return Wired(app, lambda: provider.force_flush() and None, lambda: generate_latest(REGISTRY))
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def _logfire(app: FastAPI, sink_endpoint: str | None) -> Wired:
    import logfire

    processors: list[Any] = []
    readers: list[Any] = []
    if sink_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        processors.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=sink_endpoint, insecure=True)))
        metric_exporter = OTLPMetricExporter(endpoint=sink_endpoint, insecure=True)
        readers.append(PeriodicExportingMetricReader(metric_exporter))
    logfire.configure(
        send_to_logfire=False,
        console=False,
        service_name="amas-bench",
        additional_span_processors=processors,
        metrics=logfire.MetricsOptions(additional_readers=readers),
    )
    logfire.instrument_fastapi(app)
    logging.basicConfig(level=logging.INFO, handlers=[logfire.LogfireLoggingHandler()])
    return Wired(app, lambda: logfire.force_flush() and None)


# --- driving an ASGI app directly (no client library in the way) ------------------------------


def asgi_scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"amas-bench/1.0"), (b"accept", b"*/*")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
        "state": {},
    }


async def call_asgi(app: Any, method: str, path: str, body: bytes = b"") -> int:
    """One request straight into the ASGI app; returns the status code."""
    scope = asgi_scope(method, path, body)
    done = asyncio.Event()
    sent_body = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await app(scope, receive, send)
    return status
