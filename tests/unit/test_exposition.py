"""/metrics rendering: the text format as before, OpenMetrics with exemplars of exported spans."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

import amas_telemetry
from amas_telemetry import semconv as sc
from amas_telemetry._internal.telemetry import Extras, configure_with
from amas_telemetry.testing import capture


def _traffic(telemetry) -> None:
    tracer = telemetry.tracer("test")
    for route, status in (("/a", 200), ("/a", 200), ("/b", 503)):
        span = tracer.start_span(
            f"GET {route}",
            kind=SpanKind.SERVER,
            attributes={sc.HTTP_REQUEST_METHOD: "GET", sc.HTTP_ROUTE: route},
        )
        span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
        span.end()
    with amas_telemetry.genai_span("openai", "gpt-4o") as call:
        amas_telemetry.record_genai_usage(call, input_tokens=12, output_tokens=3, cost_usd=0.25)


def test_text_format_is_what_the_otel_prometheus_reader_renders():
    registry = CollectorRegistry(auto_describe=False)
    otel_reader = PrometheusMetricReader(registry=registry, scope_info_enabled=False)
    telemetry = configure_with(
        None,
        Extras(metric_readers=(otel_reader,)),
        otlp_endpoint=False,
        json_logs=False,
        system_metrics=False,
    )
    try:
        _traffic(telemetry)
        ours = telemetry.render_metrics().decode()
        theirs = generate_latest(registry).decode()
        # the same lines (the two readers list the families in another order)
        assert sorted(ours.splitlines()) == sorted(theirs.splitlines())
        assert 'error_type=""' in ours  # a label some series lack is written empty, as before
        assert " # {" not in ours  # no exemplars in the text format
    finally:
        telemetry.shutdown()


def test_openmetrics_carries_exemplars_of_exported_spans():
    cap = capture(sampling_ratio=1.0)
    try:
        _traffic(cap.telemetry)
        body = cap.telemetry.render_metrics(openmetrics=True).decode()
        exported = {format(s.context.trace_id, "032x") for s in cap.spans()}
        with_exemplars: dict[str, set[str]] = {}
        for family in parse_openmetrics(body):  # strict: a malformed exposition raises
            for sample in family.samples:
                if sample.exemplar is not None:
                    with_exemplars.setdefault(family.name, set()).add(sample.exemplar.labels["trace_id"])
                    assert sample.exemplar.labels["span_id"]
        assert {
            "http_server_request_duration_seconds",
            "gen_ai_client_operation_duration_seconds",
            "gen_ai_client_token_usage",
            "amas_ai_cost_usd",
        } <= set(with_exemplars)
        assert set().union(*with_exemplars.values()) <= exported
        assert body.endswith("# EOF\n")
    finally:
        cap.shutdown()


def test_unsampled_spans_leave_no_exemplars():
    cap = capture(sampling_ratio=0.0)
    try:
        _traffic(cap.telemetry)
        body = cap.telemetry.render_metrics(openmetrics=True).decode()
        assert "http_server_request_duration_seconds_count" in body
        assert all(s.exemplar is None for f in parse_openmetrics(body) for s in f.samples)
    finally:
        cap.shutdown()


def _promtool() -> str:
    path = Path(os.environ.get("AMAS_BUILD_DIR", "~/.cache/amas-telemetry")).expanduser() / "bin" / "promtool"
    if not os.access(path, os.X_OK):
        pytest.fail(f"promtool not found at {path}: bash scripts/build_binaries.sh promtool", pytrace=False)
    return str(path)


def test_promtool_accepts_the_text_format():
    cap = capture(system_metrics=True)
    try:
        _traffic(cap.telemetry)
        body = cap.telemetry.render_metrics()
        result = subprocess.run(
            [_promtool(), "check", "metrics"], input=body, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        cap.shutdown()


async def test_the_route_negotiates_the_format():
    app = FastAPI()
    cap = capture(app, sampling_ratio=1.0)
    try:
        _traffic(cap.telemetry)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            text = await client.get("/metrics")
            openmetrics = await client.get(
                "/metrics", headers={"accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}
            )
        assert text.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert " # {" not in text.text
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
        assert ' # {span_id="' in openmetrics.text
    finally:
        cap.shutdown()


def test_exposed_name_is_the_name_metrics_serves_for_every_catalog_metric():
    """Every catalog metric, recorded once, is served under ``exposed_name`` (histograms with
    their three sample suffixes); unit ``1`` gauges are where it parts from the OTLP name."""
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client.parser import text_string_to_metric_families

    from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint
    from amas_telemetry._internal.prometheus.exposition import exposed_name
    from amas_telemetry.catalog import CATALOG, InstrumentKind, prometheus_name

    endpoint = PrometheusEndpoint()
    provider = MeterProvider(metric_readers=[endpoint.reader])
    meter = provider.get_meter("test")
    try:
        for spec in CATALOG.values():
            if spec.kind is InstrumentKind.HISTOGRAM:
                spec.create(meter).record(1.0)
            elif spec.kind is InstrumentKind.GAUGE:
                spec.observe(meter, [lambda options: [Observation(1.0)]])
            else:
                spec.create(meter).add(1)
        body, _ = endpoint.render(None)
    finally:
        provider.shutdown()
    served = {s.name for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    for spec in CATALOG.values():
        name = exposed_name(spec)
        expected = (
            {f"{name}_{s}" for s in ("bucket", "sum", "count")}
            if spec.kind is InstrumentKind.HISTOGRAM
            else {name}
        )
        assert expected <= served, spec.name
    differ = {spec.name for spec in CATALOG.values() if exposed_name(spec) != prometheus_name(spec)}
    assert differ == {sc.SYSTEM_CPU_UTILIZATION, sc.PROCESS_CPU_UTILIZATION, sc.SYSTEM_MEMORY_UTILIZATION}
