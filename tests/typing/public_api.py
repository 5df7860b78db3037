"""The public API as an app uses it, type-checked by pyright in strict mode (not run by pytest).

`pyright` (configured in pyproject.toml) checks this file and the public modules strictly:
every keyword of configure() is typed, every handle method returns a known type, and a
misspelled setting is a type error (tests/typing/test_pyright.py shows it).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

import amas_telemetry
from amas_telemetry import InstrumentKind, MetricSpec, Telemetry, semconv
from amas_telemetry.redact import SECRETS, PatternRedactor
from amas_telemetry.spanmetrics import MetricRule, rule
from amas_telemetry.testing import CapturedTelemetry, capture


def keep_vip(span: ReadableSpan) -> bool:
    return (span.attributes or {}).get("app.customer.tier") == "vip"


QUEUE_DEPTH = MetricSpec(
    "shop.queue.depth", InstrumentKind.GAUGE, "{job}", "Jobs waiting.", worker_merge="max"
)
CHECKOUT = MetricSpec("shop.checkout.duration", InstrumentKind.HISTOGRAM, "s", "Checkouts.")
CHECKOUT_RULE: MetricRule = rule(
    CHECKOUT,
    when=lambda span, attrs: span.name == "checkout",
    value=lambda span, attrs: 1.0,
    attributes=((semconv.ERROR_TYPE, lambda span, attrs: attrs.get(semconv.ERROR_TYPE)),),
)


def build() -> Telemetry:
    app = FastAPI()
    telemetry: Telemetry = amas_telemetry.configure(
        app,
        service_name="shop",
        sampling_ratio=0.01,
        otlp_endpoint=False,
        excluded_urls=["/health"],
        tail_keep_slower_than=0.5,
        tail_keep_rule=keep_vip,
        span_metric_rules=[CHECKOUT_RULE],
        resource_attributes={"team": "shop"},
    )
    telemetry.observe(QUEUE_DEPTH, lambda: [(3.0, {"shop.queue": "emails"})])
    telemetry.observe("amas.tasks.active", lambda: 2.0)
    counter = telemetry.meter("shop").create_counter("shop.orders")
    counter.add(1)
    with telemetry.tracer("shop").start_as_current_span("checkout"):
        pass
    body: bytes = telemetry.render_metrics(openmetrics=True)
    logging.getLogger(__name__).info("rendered %d bytes", len(body))
    flushed: bool = telemetry.force_flush(timeout_millis=1000)
    logging.getLogger(__name__).info("flushed: %s", flushed)
    return telemetry


def helpers() -> None:
    with amas_telemetry.task_span("summarize", task_id="t-1") as task:
        with amas_telemetry.agent_span("researcher"), amas_telemetry.tool_span("search"):
            pass
        with amas_telemetry.genai_span("openai", "gpt-4o-mini") as call:
            amas_telemetry.record_genai_usage(call, input_tokens=10, output_tokens=5)
        amas_telemetry.record_quality(task, 0.9)
    with amas_telemetry.genai_call(fallback_from="anthropic"):
        pass
    with amas_telemetry.untraced():
        pass


def redaction() -> str:
    mine = PatternRedactor(r"order-[0-9]{8}")
    return mine(SECRETS("password=hunter2 order-12345678"))


def testing() -> int:
    with capture(sampling_ratio=1.0) as captured:
        checked: CapturedTelemetry = captured
        with amas_telemetry.task_span("t"):
            pass
        return checked.histogram_count("amas.task.duration")


def errors() -> str:
    try:
        amas_telemetry.configure(sampling_ratio=2.0)
    except amas_telemetry.UnsupportedDependency as unsupported:
        return str(unsupported)
    except amas_telemetry.ConfigError as error:
        return str(error)
    return ""


def spans_are_otel_spans(span: Span) -> None:
    span.set_attribute(semconv.ERROR_TYPE, "timeout")


def version() -> str:
    return amas_telemetry.__version__
