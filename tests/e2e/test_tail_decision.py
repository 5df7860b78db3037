"""The tail decision through the real pipeline: an error's exemplar opens its whole trace in Jaeger.

An app at ``sampling_ratio=0.01`` (in this process, configured with the Collector of a
native stack as its OTLP endpoint) answers 200 requests, 10 of them with a 500. Every
exemplar Prometheus stores on the 500 series must open a trace in Jaeger, root and
children, and each failing request's trace must be there; the request count is exact.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.parse
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from fed_stack import get_json, prom_value, wait_for
from opentelemetry import trace

import amas_telemetry
from amas_devstack.native_stack import NativeStack

pytestmark = pytest.mark.e2e

SERVICE = "tail-e2e"
REQUESTS = 200
FAILING = set(range(7, REQUESTS, 20))  # 10
BUCKETS = "http_server_request_duration_seconds_bucket"


def _jaeger_spans(stack: NativeStack, trace_id: str) -> list[dict[str, Any]]:
    try:
        data = get_json(f"{stack.jaeger_url}/api/traces/{trace_id}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return []
        raise
    return [span for found in data.get("data") or [] for span in found["spans"]]


def _app(trace_ids: dict[int, str]) -> FastAPI:
    app = FastAPI()
    tracer = trace.get_tracer("tests.e2e.tail")

    @app.get("/pay/{n}")
    async def pay(n: int) -> Response:
        trace_ids[n] = format(trace.get_current_span().get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("charge card"):
            pass
        with tracer.start_as_current_span("write ledger"):
            pass
        return Response(status_code=500 if n in FAILING else 200)

    return app


async def _drive(app: FastAPI) -> list[int]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        return [(await client.get(f"/pay/{n}")).status_code for n in range(REQUESTS)]


def test_an_errors_exemplar_opens_its_whole_trace_in_jaeger(stack: NativeStack, e2e_summary: list[str]):
    trace_ids: dict[int, str] = {}
    app = _app(trace_ids)
    telemetry = amas_telemetry.configure(
        app,
        service_name=SERVICE,
        sampling_ratio=0.01,
        otlp_endpoint=f"http://{stack.otlp_grpc_endpoint}",
        metric_export_interval=1.0,
        system_metrics=False,
        json_logs=False,
    )
    try:
        statuses = asyncio.run(_drive(app))
        assert statuses.count(500) == len(FAILING)
        assert telemetry.force_flush()
    finally:
        telemetry.shutdown()

    assert wait_for(
        f"Prometheus to count {REQUESTS} requests",
        lambda: (
            prom_value(stack, f'sum(http_server_request_duration_seconds_count{{job="{SERVICE}"}})')
            == REQUESTS
        ),
        timeout=60,
    )

    def error_exemplars() -> list[str]:
        now = time.time()
        query = urllib.parse.urlencode(
            {
                "query": f'{BUCKETS}{{job="{SERVICE}",http_response_status_code="500"}}',
                "start": now - 600,
                "end": now + 60,
            }
        )
        body = get_json(f"{stack.prometheus_url}/api/v1/query_exemplars?{query}")
        return [e["labels"]["trace_id"] for series in body["data"] for e in series["exemplars"]]

    exemplar_traces = wait_for("an exemplar on the 500 series", error_exemplars, timeout=60)
    failing_traces = {trace_ids[n] for n in FAILING}
    assert set(exemplar_traces) <= failing_traces  # exemplars of the 500 series: failing requests
    tail_kept = 0
    for trace_id in sorted(failing_traces):  # each of them, exemplar or not, is in Jaeger whole
        spans = wait_for(
            f"trace {trace_id} in Jaeger with 3 spans",
            lambda t=trace_id: found if len(found := _jaeger_spans(stack, t)) >= 3 else None,
            timeout=60,
        )
        names = sorted(s["operationName"] for s in spans)
        assert names == ["GET /pay/{n}", "charge card", "write ledger"]
        root = next(s for s in spans if s["operationName"] == "GET /pay/{n}")
        tags = {t["key"]: t["value"] for t in root["tags"]}
        assert tags.get("amas.tail.kept_by", "error") == "error"  # absent if head-sampled
        tail_kept += "amas.tail.kept_by" in tags

    # and the ordinary requests mostly were not exported: about 1 % of 190
    exported_ok = [n for n in range(REQUESTS) if n not in FAILING and _jaeger_spans(stack, trace_ids[n])]
    assert len(exported_ok) < 15
    # the self-metrics under the names the rules use (the alert's series exist, at 0)
    kept = prom_value(
        stack, f'sum(amas_telemetry_tail_traces_total{{job="{SERVICE}",amas_tail_decision="kept"}})'
    )
    assert kept == tail_kept
    assert prom_value(stack, f'sum(amas_telemetry_tail_overflow_total{{job="{SERVICE}"}})') == 0
    assert prom_value(stack, f'max(amas_telemetry_tail_held{{job="{SERVICE}"}})') is not None
    e2e_summary.append(
        f"tail decision at 0.01: {len(FAILING)}/{len(FAILING)} failing traces whole in Jaeger, "
        f"{len(set(exemplar_traces))} error exemplars resolve, {len(exported_ok)}/"
        f"{REQUESTS - len(FAILING)} ordinary traces exported"
    )
