"""The reference service through the real pipeline: Collector → Jaeger, Prometheus, VictoriaLogs.

At a sampling ratio of 0.5: a sampled request's trace is in Jaeger with the whole span
tree, its log lines are in VictoriaLogs by trace id, the span-derived metrics are in
Prometheus with exemplars that resolve in Jaeger, and Prometheus counts exactly the
requests that were sent. With the Collector stopped, requests still succeed and the SDK
counts what it could not export.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from fed_stack import Fed, get_json, prom_query, prom_value, wait_for

pytestmark = pytest.mark.e2e


def _jaeger_trace(fed: Fed, trace_id: str) -> list[dict[str, Any]]:
    try:
        data = get_json(f"{fed.stack.jaeger_url}/api/traces/{trace_id}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return []
        raise
    return [span for trace in data.get("data") or [] for span in trace["spans"]]


def _sampled_task_trace(fed: Fed) -> str:
    """The trace id of a sampled POST /tasks whose task completed (from the JSON log lines)."""
    lines = fed.service_log_lines()
    completed = {line["trace_id"] for line in lines if "completed" in line.get("message", "")}
    for line in lines:
        if (
            line.get("trace_sampled")
            and line["trace_id"] in completed
            and "accepted" in line.get("message", "")
        ):
            return line["trace_id"]
    raise AssertionError("no sampled, completed task in the service log")


def test_prometheus_counts_exactly_the_requests_sent(fed_stack: Fed):
    assert fed_stack.requests_sent > 100
    assert fed_stack.prometheus_requests == fed_stack.requests_sent
    sent, counted = fed_stack.requests_sent, fed_stack.prometheus_requests
    print(f"\nrequests sent {sent}, counted in Prometheus {counted:.0f} (sampling ratio 0.5)")


def test_fewer_traces_than_requests_were_exported(fed_stack: Fed):
    """Sampling is real: Jaeger holds only part of the server spans."""
    services = get_json(
        f"{fed_stack.stack.jaeger_url}/api/traces?service=amas-service&limit=2000&lookback=1h"
    )
    roots = [
        s for t in services["data"] for s in t["spans"] if s["operationName"].startswith(("POST ", "GET "))
    ]
    assert 0 < len(roots) < fed_stack.requests_sent


def test_a_sampled_request_has_its_whole_trace_in_jaeger(fed_stack: Fed):
    trace_id = _sampled_task_trace(fed_stack)
    spans = wait_for(f"trace {trace_id} in Jaeger", lambda: _jaeger_trace(fed_stack, trace_id), timeout=60)
    names = {s["operationName"] for s in spans}
    assert "POST /tasks" in names
    assert any(n.startswith("task ") for n in names)
    assert any(n.startswith("invoke_agent ") for n in names)
    assert any(n.startswith("chat ") for n in names)
    assert any(
        n in ("INSERT", "SELECT", "UPDATE") or n.startswith(("INSERT", "SELECT", "UPDATE")) for n in names
    )
    ids = {s["spanID"] for s in spans}
    for span in spans:  # one connected tree: every parent is in the trace
        for ref in span.get("references", []):
            if ref["refType"] == "CHILD_OF":
                assert ref["spanID"] in ids, f"{span['operationName']} has a parent outside the trace"
    genai = next(s for s in spans if s["operationName"].startswith("chat "))
    tags = {t["key"]: t["value"] for t in genai["tags"]}
    assert tags["gen_ai.provider.name"] and tags["gen_ai.request.model"]
    assert int(tags["gen_ai.usage.input_tokens"]) > 0
    blob = json.dumps(spans)
    for provider in fed_stack.run.providers.values():
        assert provider.api_key not in blob


def test_its_log_lines_are_in_victorialogs_by_trace_id(fed_stack: Fed):
    trace_id = _sampled_task_trace(fed_stack)
    expected = [line for line in fed_stack.service_log_lines() if line.get("trace_id") == trace_id]
    query = urllib.parse.urlencode({"query": f'trace_id:="{trace_id}"', "limit": "1000"})

    def found() -> list[dict[str, Any]]:
        url = f"{fed_stack.stack.victorialogs_url}/select/logsql/query?{query}"
        with urllib.request.urlopen(url, timeout=30) as response:
            rows = [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]
        return rows if len(rows) >= len(expected) else []

    rows = wait_for(f"{len(expected)} log lines of {trace_id} in VictoriaLogs", found, timeout=60)
    assert {row["_msg"] for row in rows} >= {line["message"] for line in expected}


def test_exemplars_resolve_to_traces_in_jaeger(fed_stack: Fed):
    now = time.time()
    query = urllib.parse.urlencode(
        {"query": "http_server_request_duration_seconds_bucket", "start": now - 3600, "end": now}
    )
    body = get_json(f"{fed_stack.stack.prometheus_url}/api/v1/query_exemplars?{query}")
    exemplars = [e for series in body["data"] for e in series["exemplars"]]
    assert exemplars, "Prometheus stored no exemplar"
    for exemplar in exemplars[:10]:
        trace_id = exemplar["labels"]["trace_id"]
        assert wait_for(
            f"exemplar trace {trace_id}", lambda t=trace_id: _jaeger_trace(fed_stack, t), timeout=30
        )


def test_span_derived_metrics_are_in_prometheus(fed_stack: Fed):
    stack = fed_stack.stack
    assert prom_value(stack, "sum(amas_task_duration_seconds_count)") >= fed_stack.tasks_accepted
    assert prom_value(stack, 'sum(gen_ai_client_token_usage_sum{gen_ai_token_type="input"})') > 0
    assert prom_value(stack, "sum(amas_ai_cost_usd_total)") > 0
    assert prom_value(stack, 'sum(amas_cache_operations_total{amas_cache_result="hit"})') > 0
    assert prom_value(stack, 'sum(amas_cache_operations_total{amas_cache_result="miss"})') > 0
    routes = {
        r["metric"].get("http_route") for r in prom_query(stack, "http_server_request_duration_seconds_count")
    }
    assert "/tasks/{task_id}" in routes
    assert not any(route and "/tasks/" in route and "{" not in route for route in routes)  # no raw paths


def test_a_dead_collector_fails_no_request_and_drops_are_counted(faulted_stack: Fed):
    """Requests succeed while the Collector is down; the instance whose export spool is too
    small for the outage drops its oldest data and counts it (the main one spools it)."""
    assert faulted_stack.requests_while_collector_down
    assert all(status < 500 for status in faulted_stack.requests_while_collector_down)
    failed = wait_for(
        "export losses in Prometheus",
        lambda: prom_value(faulted_stack.stack, 'sum(otel_sdk_exporter_span_exported_total{error_type!=""})'),
        timeout=90,
    )
    assert failed > 0
    dropped = wait_for(
        "spool drops in Prometheus",
        lambda: prom_value(faulted_stack.stack, "sum(amas_telemetry_export_spool_dropped_total)"),
        timeout=90,
    )
    assert dropped > 0
