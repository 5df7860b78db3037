"""A real Prometheus scraping the reference service's /metrics directly gets exemplars that Jaeger has.

This Prometheus is a second instance, next to the stack's (which takes the same metric
names over OTLP from the Collector): one Prometheus never ingests both paths under the same
names. It scrapes with OpenMetrics first (``scrape_protocols``), exemplar storage on (as
``amas-stack`` starts every Prometheus), and holds no rules.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from fed_stack import Fed, get_json, prom_value, wait_for

from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports

pytestmark = pytest.mark.e2e

JOB = "amas-service-scrape"
HISTOGRAM = "http_server_request_duration_seconds_bucket"


def _scrape_config(path: Path, target: str) -> Path:
    path.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: {JOB}\n"
        "    scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    return path


def _exemplar_trace_ids(prometheus_url: str, metric: str) -> set[str]:
    now = time.time()
    query = urllib.parse.urlencode(
        {"query": f'{metric}{{job="{JOB}"}}', "start": now - 3600, "end": now + 60}
    )
    body = get_json(f"{prometheus_url}/api/v1/query_exemplars?{query}")
    assert body["status"] == "success", body
    return {e["labels"]["trace_id"] for series in body["data"] for e in series["exemplars"]}


def _in_jaeger(fed: Fed, trace_id: str) -> list[dict[str, Any]]:
    try:
        data = get_json(f"{fed.stack.jaeger_url}/api/traces/{trace_id}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return []
        raise
    return [span for trace in data.get("data") or [] for span in trace["spans"]]


def test_scraped_exemplars_point_at_traces_in_jaeger(fed_stack: Fed, tmp_path: Path):
    target = urllib.parse.urlsplit(fed_stack.run.url).netloc
    config = _scrape_config(tmp_path / "scrape.yml", target)
    scraper = NativeStack(tmp_path / "scraper", Ports.random(), ("prometheus",), prometheus_config=config)
    try:
        scraper.up(timeout=90)
        with httpx.Client(base_url=fed_stack.run.url, timeout=30) as client:  # traffic while it scrapes
            for _ in range(40):
                client.get("/tasks/not-a-task")

        def scraped() -> Any:
            return prom_value(scraper, f'up{{job="{JOB}"}}') == 1 and prom_value(
                scraper, f'sum(http_server_request_duration_seconds_count{{job="{JOB}"}})'
            )

        assert wait_for("Prometheus to scrape the service", scraped, timeout=60)
        histogram_ids = wait_for(
            "exemplars on the scraped HTTP histogram",
            lambda: _exemplar_trace_ids(
                scraper.prometheus_url, "http_server_request_duration_seconds_bucket"
            ),
            timeout=60,
        )
        counter_ids = wait_for(
            "exemplars on a scraped counter",
            lambda: _exemplar_trace_ids(scraper.prometheus_url, "amas_ai_cost_usd_total"),
            timeout=60,
        )
        for trace_id in sorted(histogram_ids)[:5] + sorted(counter_ids)[:3]:
            assert wait_for(
                f"trace {trace_id} in Jaeger", lambda t=trace_id: _in_jaeger(fed_stack, t), timeout=60
            )
    finally:
        scraper.down()
