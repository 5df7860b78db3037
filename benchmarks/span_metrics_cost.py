"""Benchmark 2: µs per span that SpanMetricsProcessor adds on top of span creation + batch export.

Every variant is a TracerProvider (the library's record-everything sampler at 1.0) with a
``BatchSpanProcessor`` whose exporter encodes each batch to OTLP protobuf and drops it (the CPU of
an export without the network; batch size 4096, so a round's spans are exported in its flush
rather than by the worker thread racing the loop). On top of that ``base``:

``ours``         + ``SpanMetricsProcessor`` (DEFAULT_RULES), as ``configure()`` adds it
``ours+redact``  + ours, and the export path goes through ``RedactingProcessor`` as in configure()
``naive``        + a processor calling counter.add + histogram.record with a fresh attribute dict
``prom``         + a processor calling prometheus_client Counter.labels().inc() + Histogram.observe()

``ours+2readers`` is ours with a second metric reader next to the Prometheus one, as configure()
has when an OTLP endpoint is set (every other meter provider has the Prometheus reader only).
Span shapes: an HTTP server span (12 attributes, ~60 routes x methods x statuses) and a GenAI
client span (9 attributes, tokens and cost: 4 derived measurements). A round creates and ends
n spans, then force_flush() (batch export + our deferred recording); the loop and the flush are
timed apart, so the cost on the request path and the cost deferred to collection time are both
shown. Rounds interleave. Times are the process's CPU time (all its threads), which other
processes on a loaded machine disturb far less than wall time.

    python -m benchmarks.span_metrics_cost [--quick]
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram

from amas_telemetry import semconv as sc
from amas_telemetry._internal.metrics.derivation.active import ActiveRequestsProcessor
from amas_telemetry._internal.metrics.derivation.processor import SpanMetricsProcessor
from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint
from amas_telemetry._internal.tracing.provider import RecordEverythingSampler, RedactingProcessor
from amas_telemetry.redact import Scrubber
from benchmarks import _common as c

VARIANTS = ("base", "ours", "ours+2readers", "ours+redact", "naive", "prom")
SHAPES = ("http", "genai")
FULL = {"rounds": 21, "n": 2000, "seconds_per_shape": 60}
QUICK = {"rounds": 5, "n": 1000, "seconds_per_shape": 10}
TARGET_US = 8.0


class EncodingExporter(SpanExporter):
    """Encodes each batch to OTLP protobuf bytes, counts them, sends nothing."""

    def __init__(self) -> None:
        self.bytes = 0
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.bytes += len(encode_spans(spans).SerializeToString())
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class NaiveProcessor(SpanProcessor):
    """What one writes first: record into SDK instruments in on_end, a fresh dict per span."""

    def __init__(self, meter: Any) -> None:
        self.calls = meter.create_counter("naive.span.calls", unit="{span}")
        self.duration = meter.create_histogram("naive.span.duration", unit="s")

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes or {}
        if span.kind is SpanKind.SERVER:
            labels = {
                sc.HTTP_REQUEST_METHOD: attrs.get(sc.HTTP_REQUEST_METHOD),
                sc.HTTP_ROUTE: attrs.get(sc.HTTP_ROUTE),
                sc.HTTP_RESPONSE_STATUS_CODE: attrs.get(sc.HTTP_RESPONSE_STATUS_CODE),
            }
        else:
            labels = {
                sc.GEN_AI_OPERATION_NAME: attrs.get(sc.GEN_AI_OPERATION_NAME),
                sc.GEN_AI_PROVIDER_NAME: attrs.get(sc.GEN_AI_PROVIDER_NAME),
                sc.GEN_AI_REQUEST_MODEL: attrs.get(sc.GEN_AI_REQUEST_MODEL),
            }
        self.calls.add(1, labels)
        self.duration.record((span.end_time - span.start_time) / 1e9, labels)


class PromProcessor(SpanProcessor):
    """The same two measurements straight into prometheus_client (the plan's library)."""

    def __init__(self) -> None:
        registry = CollectorRegistry()
        self.calls = Counter("prom_span_calls", "spans", ["kind", "a", "b", "c"], registry=registry)
        self.duration = Histogram(
            "prom_span_duration_seconds", "duration", ["kind", "a", "b", "c"], registry=registry
        )

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes or {}
        if span.kind is SpanKind.SERVER:
            labels = (
                "server",
                attrs.get(sc.HTTP_REQUEST_METHOD),
                attrs.get(sc.HTTP_ROUTE),
                str(attrs.get(sc.HTTP_RESPONSE_STATUS_CODE)),
            )
        else:
            labels = (
                "genai",
                attrs.get(sc.GEN_AI_OPERATION_NAME),
                attrs.get(sc.GEN_AI_PROVIDER_NAME),
                attrs.get(sc.GEN_AI_REQUEST_MODEL),
            )
        self.calls.labels(*labels).inc()
        self.duration.labels(*labels).observe((span.end_time - span.start_time) / 1e9)


MEASUREMENTS_PER_SPAN = {
    "ours": {"http": 1, "genai": 4},
    "naive": {"http": 2, "genai": 2},
    "prom": {"http": 2, "genai": 2},
}

ROUTES = [f"/v1/{r}/{{id}}" for r in ("tasks", "agents", "users", "integrations", "results")] + [
    f"/v1/{r}" for r in ("tasks", "agents", "login", "health", "events", "search", "stats")
]
METHODS = ("GET", "POST", "PUT")
STATUSES = (200, 200, 200, 201, 404, 422, 500)
MODELS = (
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("anthropic", "claude-sonnet-4"),
    ("google", "gemini-2.5"),
)


def make_spans(tracer: Any, shape: str, n: int) -> None:
    """Creates and ends n spans shaped like an HTTP server span or a GenAI client span."""
    if shape == "http":
        for i in range(n):
            route = ROUTES[i % len(ROUTES)]
            span = tracer.start_span(
                f"{METHODS[i % 3]} {route}",
                kind=SpanKind.SERVER,
                attributes={
                    sc.HTTP_REQUEST_METHOD: METHODS[i % 3],
                    "url.scheme": "http",
                    "url.path": route.replace("{id}", str(100000 + i)),
                    sc.HTTP_ROUTE: route,
                    "server.address": "amas.internal",
                    "server.port": 8000,
                    "network.protocol.version": "1.1",
                    "user_agent.original": "python-httpx/0.28.1",
                    "client.address": "10.0.3.17",
                    "client.port": 51234,
                },
            )
            status = STATUSES[i % len(STATUSES)]
            span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("http.response.body.size", 2048)
            span.end()
    else:
        for i in range(n):
            provider, model = MODELS[i % len(MODELS)]
            span = tracer.start_span(
                f"chat {model}",
                kind=SpanKind.CLIENT,
                attributes={
                    sc.GEN_AI_OPERATION_NAME: "chat",
                    sc.GEN_AI_PROVIDER_NAME: provider,
                    sc.GEN_AI_REQUEST_MODEL: model,
                    "server.address": f"api.{provider}.com",
                },
            )
            span.set_attributes(
                {
                    sc.GEN_AI_USAGE_INPUT_TOKENS: 800 + i % 500,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 120 + i % 300,
                    sc.AMAS_AI_COST_USD: 0.00042,
                    sc.GEN_AI_RESPONSE_MODEL: f"{model}-2025-01-01",
                    "gen_ai.response.finish_reasons": ("stop",),
                }
            )
            span.end()


class Variant:
    def __init__(self, name: str) -> None:
        self.name = name
        self.exporter = EncodingExporter()
        metric_readers: list[Any] = [PrometheusEndpoint().reader]
        if name == "ours+2readers":
            metric_readers.append(InMemoryMetricReader())
        self.meter_provider = MeterProvider(
            resource=Resource.create({"service.name": "bench"}), metric_readers=metric_readers
        )
        meter = self.meter_provider.get_meter("bench")
        processors: list[SpanProcessor] = []
        if name.startswith("ours"):
            span_metrics = SpanMetricsProcessor(meter)
            span_metrics.attach(self.meter_provider)
            processors.append(span_metrics)
            processors.append(ActiveRequestsProcessor(meter))
        elif name == "naive":
            processors.append(NaiveProcessor(meter))
        elif name == "prom":
            processors.append(PromProcessor())
        # one batch per round: the export runs in force_flush, not in a thread racing the loop
        batch = BatchSpanProcessor(self.exporter, max_queue_size=4096, max_export_batch_size=4096)
        processors.append(RedactingProcessor(batch, Scrubber()) if name == "ours+redact" else batch)
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": "bench"}), sampler=RecordEverythingSampler(1.0)
        )
        for processor in processors:
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("bench")

    def round(self, shape: str, n: int) -> tuple[float, float]:
        """(seconds per span in the loop, seconds per span in force_flush)."""
        t0 = time.process_time()
        make_spans(self.tracer, shape, n)
        t1 = time.process_time()
        self.provider.force_flush()
        t2 = time.process_time()
        return (t1 - t0) / n, (t2 - t1) / n

    def shutdown(self) -> None:
        self.provider.shutdown()
        self.meter_provider.shutdown()


def run(args: Any) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    variants = {name: Variant(name) for name in VARIANTS}
    results: dict[str, Any] = {"plan": plan, "shapes": {}}
    try:
        for shape in SHAPES:
            for v in variants.values():  # warm-up: series created, code paths hot
                v.round(shape, 300)
            loops: dict[str, list[float]] = {name: [] for name in variants}
            flushes: dict[str, list[float]] = {name: [] for name in variants}

            def sample(name: str, shape: str = shape, loops: dict = loops, flushes: dict = flushes) -> float:
                gc.collect()
                loop, flush = variants[name].round(shape, plan["n"])
                loops[name].append(loop)
                flushes[name].append(flush)
                return loop + flush

            deadline = time.monotonic() + plan["seconds_per_shape"]
            totals = c.interleaved(
                {name: (lambda name=name: sample(name)) for name in variants},
                plan["rounds"],
                deadline=deadline,
            )
            results["shapes"][shape] = {"total": totals, "loop": loops, "flush": flushes}
            print(f"  measured {shape}: {len(totals['base'])} rounds x {plan['n']} spans", file=sys.stderr)
        results["exported_spans"] = {name: v.exporter.spans for name, v in variants.items()}
    finally:
        for v in variants.values():
            v.shutdown()
    return results


def _added(samples: dict[str, list[float]], name: str) -> float:
    """Median over rounds of (variant - base) in the same round, seconds per span."""
    return c.median([a - b for a, b in zip(samples[name], samples["base"], strict=False)])


def report(results: dict[str, Any]) -> str:
    out = []
    verdicts = []
    for shape, data in results["shapes"].items():
        total, loop, flush = data["total"], data["loop"], data["flush"]
        rows = []
        for name in total:
            per_span = c.median(total[name])
            measurements = MEASUREMENTS_PER_SPAN.get(name.split("+")[0], {}).get(shape, 0)
            added = _added(total, name)
            rows.append(
                [
                    name,
                    c.us(per_span),
                    c.spread(total[name]),
                    f"{c.ratio(total, name, 'base'):.2f}",
                    "—" if name == "base" else c.us(_added(loop, name)),
                    "—" if name == "base" else c.us(_added(flush, name)),
                    "—" if name == "base" else c.us(added),
                    measurements or "—",
                    "—" if not measurements else c.us(added / measurements),
                ]
            )
        out.append(f"## {shape} spans ({len(total['base'])} rounds)")
        out.append(
            c.table(
                [
                    "variant",
                    "µs/span total",
                    "IQR",
                    "ratio to base",
                    "added: on_end path",
                    "added: flush (export+drain)",
                    "added µs/span",
                    "measurements/span",
                    "added µs/measurement",
                ],
                rows,
            )
        )
        out.append("")
        for name in ("ours", "ours+2readers"):
            added = _added(total, name)
            verdicts.append(
                [
                    f"{name} ≤ {TARGET_US:g} µs/span ({shape})",
                    c.us(added),
                    c.verdict(added * 1e6 <= TARGET_US),
                ]
            )
            path = _added(loop, name)
            verdicts.append(
                [f"{name}, request path only ({shape})", c.us(path), c.verdict(path * 1e6 <= TARGET_US)]
            )
        ours = _added(total, "ours")
        for other in ("naive", "prom"):
            o = _added(total, other)
            verdicts.append(
                [f"ours vs {other} ({shape}), added µs/span", f"{c.us(ours)} vs {c.us(o)}", "info"]
            )
    out.append("## Targets")
    out.append(c.table(["target", "measured", "verdict"], verdicts))
    return "\n".join(out)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    c.print_header("Benchmark 2: cost of span-metric derivation")
    started = time.monotonic()
    results = run(args)
    print(report(results))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "span_metrics_cost", **results})


if __name__ == "__main__":
    main()
