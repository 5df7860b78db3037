"""The demo's links opened in a real browser, as a person follows them: metric -> trace ->
logs, and a latency exemplar -> its trace.

One small demo (40 tasks) with the native stack runs for the module (``demo`` fixture); a
headless Debian Chromium opens the links it printed. Each page must render what its API
holds, log no console error, and be no placeholder; screenshots are saved as artifacts.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from amas_devstack import links
from browser import Browser

pytestmark = pytest.mark.browser


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def api_span_count(jaeger_url: str, trace_id: str) -> int:
    """Spans of a trace by Jaeger's OTLP API (api/v3), not the one the trace view reads."""
    body = get_json(f"{jaeger_url}/api/v3/traces/{trace_id}")
    return sum(
        len(scope.get("spans", []))
        for resource in body["result"]["resourceSpans"]
        for scope in resource.get("scopeSpans", [])
    )


def trace_id_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def settled_span_count(jaeger_url: str, trace_id: str, timeout: float = 60.0) -> int:
    """Jaeger's span count once two reads 2 s apart agree (late spans arrive in batches)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        try:
            count = api_span_count(jaeger_url, trace_id)
        except OSError:
            count = -1
        if count > 0 and count == last:
            return count
        last = count
        time.sleep(2)
    raise AssertionError(f"trace {trace_id}: Jaeger's span count did not settle (last {last})")


def open_trace(chromium: Browser, url: str, jaeger_url: str) -> int:
    """Opens a trace page; checks it shows every span Jaeger holds; returns that count."""
    trace_id = trace_id_of(url)
    expected = settled_span_count(jaeger_url, trace_id)
    chromium.open(url)
    chromium.wait_for(
        "the span waterfall", lambda: chromium.css("#waterfall .span-row") or chromium.css("#error")
    )
    assert not chromium.css("#error"), chromium.css("#error")[0].text
    rows = chromium.css("#waterfall .span-row")
    assert len(rows) == expected, f"trace page shows {len(rows)} spans, Jaeger's API holds {expected}"
    assert chromium.css("#span-count")[0].text == str(expected)
    assert chromium.css("#trace-id")[0].text == trace_id
    assert all(row.get_attribute("data-span-id") for row in rows)
    chromium.assert_clean()
    return expected


def test_trace_page_renders_every_span_of_the_trace(chromium: Browser, demo: dict[str, str]):
    spans = open_trace(chromium, demo["trace"], demo["jaeger"])
    assert spans >= 3  # a task: the POST, the task, its agents and model calls
    chromium.screenshot("trace")
    chromium.css("#waterfall .span-row")[0].click()  # the root span's attributes
    chromium.wait_for("the span details", lambda: chromium.css(".details table tr"))
    assert "http.route" in chromium.css(".details")[0].text
    chromium.screenshot("trace-span")


VMUI_LIMIT = 50  # vmui's default number of lines; the link cannot change it


def vmui_rows(chromium: Browser) -> list[str]:
    """The log lines vmui lists (its group view), as text."""
    return [row.text for row in chromium.css(".vm-group-logs-row")]


def test_trace_page_leads_to_the_trace_log_lines(chromium: Browser, demo: dict[str, str]):
    trace_id = trace_id_of(demo["trace"])
    query = urllib.parse.urlencode({"query": f'trace_id:="{trace_id}"', "limit": "1000"})
    with urllib.request.urlopen(f"{demo['victorialogs']}/select/logsql/query?{query}", timeout=30) as r:
        stored = [json.loads(line)["_msg"] for line in r.read().decode().splitlines() if line.strip()]
    assert stored, f"VictoriaLogs holds no log line of trace {trace_id}"

    open_trace(chromium, demo["trace"], demo["jaeger"])
    link = chromium.driver.find_element("link text", "Logs of this trace (VictoriaLogs)")
    assert link.get_attribute("href") == demo["logs"]  # the demo's logs link, reached from the trace
    link.click()
    rows = chromium.wait_for(f"{len(stored)} log lines in vmui", lambda: (r := vmui_rows(chromium)) and r)
    expected = min(len(stored), VMUI_LIMIT)
    assert len(rows) == expected, f"vmui lists {len(rows)} lines, VictoriaLogs holds {len(stored)}"
    for row in rows:  # each line shown is one of the trace's
        assert any(message[:60] in row for message in stored), row
    chromium.assert_clean()
    chromium.screenshot("logs")


def prometheus_series(prometheus_url: str, expr: str) -> list[dict[str, str]]:
    """The series ``expr`` returns now (empty while the stack has too few points)."""
    body = get_json(f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return [r["metric"] for r in body["data"]["result"]]


def graph_page(chromium: Browser, demo: dict[str, str], name: str) -> None:
    url = demo[name]
    expr = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["g0.expr"][0]
    deadline = time.monotonic() + 90
    while not (series := prometheus_series(demo["prometheus"], expr)):
        assert time.monotonic() < deadline, f"{expr}: no data in Prometheus after 90 s"
        time.sleep(3)
    chromium.open(url)
    chromium.wait_for(
        "the graph", lambda: chromium.css(".uplot canvas") or chromium.css(".mantine-Alert-root")
    )
    alerts = [a.text for a in chromium.css(".mantine-Alert-root")]
    assert not alerts, f"{name}: Prometheus shows {alerts}"
    legend = chromium.wait_for("the legend", lambda: chromium.css(".u-legend .u-series") or None)
    assert len(legend) >= len(series), (
        f"{name}: {len(legend)} legend rows, the query has {len(series)} series"
    )
    chromium.assert_clean()
    chromium.screenshot(f"prometheus-{name}")


def test_prometheus_page_draws_the_task_rate(chromium: Browser, demo: dict[str, str]):
    graph_page(chromium, demo, "metrics")


def test_prometheus_page_draws_the_latency_panel(chromium: Browser, demo: dict[str, str]):
    graph_page(chromium, demo, "latency")


def test_a_latency_exemplar_leads_to_a_trace_that_opens(chromium: Browser, demo: dict[str, str]):
    """Prometheus 3's UI draws no exemplars: the demo's exemplar link is the API's JSON, which
    Chromium shows as text; its first trace id is opened in the trace view."""
    deadline = time.monotonic() + 90
    while True:
        chromium.open(demo["exemplars"])
        body = json.loads(chromium.driver.find_element("tag name", "body").text)
        exemplars = [e for series in body["data"] for e in series["exemplars"]]
        if exemplars or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert exemplars, "Prometheus stored no exemplar of the latency histogram"
    trace_id = exemplars[-1]["labels"]["trace_id"]
    open_trace(chromium, links.trace(demo["jaeger"], trace_id), demo["jaeger"])
    chromium.screenshot("exemplar-trace")
