"""The stack past one node, fed by the reference AMAS service, with a node of each store killed.

Session fixture ``scaled`` (imported by conftest.py), started once:

- a Thanos receive cluster (amas_devstack.thanos): 3 ingestors with replication factor 2,
  a router, a store gateway on a filesystem bucket, Query; Prometheus (rules/prometheus.yml,
  rules evaluated there) remote-writes to the router;
- a VictoriaLogs cluster (amas_devstack.vlcluster): 2 storage nodes, an insert node (the
  Collector's log exporter writes there) and a select node;
- Jaeger and the Collector (collector/config.yaml) of the native stack;
- PostgreSQL, Redis, the fake AI providers and the service (2 workers, sampling 0.5,
  OTLP to the Collector), under a bounded task load.

While the load runs, one ingestor and one VictoriaLogs storage node are killed (``kill -9``)
and started again ``OUTAGE_S`` later; then the storage node taking the rows is restarted the
planned way (SIGTERM). What the clusters answer meanwhile is recorded in :class:`Outage`.
Afterwards the fixture waits until every task finished and Prometheus counts every request the
client sent. Everything is stopped at the end of the session,
also when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import pytest

from amas_devstack.demo.load import Load
from amas_devstack.demo.metrics import Metrics
from amas_devstack.demo.report import read_logs
from amas_devstack.demo.service import Run, start_everything
from amas_devstack.demo.stack import infrastructure_env
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports
from amas_devstack.thanos import ThanosCluster
from amas_devstack.vlcluster import VictoriaLogsCluster

SERVICE = "amas-service"
SAMPLING_RATIO = 0.5
EXPORT_INTERVAL_S = 2
LOAD_TASKS, LOAD_RATE = 240, 5.0  # ~50 s of load: before, during and after the outages
KILL_AFTER_S = 10.0
OUTAGE_S = 15.0
GRACEFUL_OUTAGE_S = 5.0  # a planned restart of a log storage node, after the kills
KILLED_INGESTOR = "thanos-ingestor-1"
COMPONENTS = ("jaeger", "prometheus", "collector")
REQUESTS = f'sum(http_server_request_duration_seconds_count{{job="{SERVICE}"}})'
_NOT_EXPORTED = ("opentelemetry.", "grpc.")  # loggers the OTLP log handler leaves out


def get_json(url: str, timeout: float = 30) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def query(base_url: str, expr: str, **params: str) -> list[dict[str, Any]]:
    """An instant query against a Prometheus HTTP API (Prometheus itself or Thanos Query)."""
    body = get_json(f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, **params}))
    assert body["status"] == "success", body
    return body["data"]["result"]


def value(base_url: str, expr: str, **params: str) -> float | None:
    result = query(base_url, expr, **params)
    return float(result[0]["value"][1]) if result else None


def wait_for(what: str, check: Any, timeout: float = 90, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def logsql(base_url: str, expr: str, **params: str) -> tuple[int, list[dict[str, Any]], str]:
    """A LogsQL query: (HTTP status, rows, error text)."""
    url = f"{base_url}/select/logsql/query?" + urllib.parse.urlencode({"query": expr, **params})
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            text = response.read().decode()
            return response.status, [json.loads(line) for line in text.splitlines() if line.strip()], ""
    except urllib.error.HTTPError as error:
        return error.code, [], error.read().decode(errors="replace")


LogKey = tuple[str, str, str]  # (trace id, span id, message)


def stored_log_rows(base_url: str) -> Counter[LogKey]:
    """The service's log rows in the store, by (trace id, span id, message)."""
    status, rows, error = logsql(
        base_url, f'service.name:="{SERVICE}" | fields trace_id, span_id, _msg', limit="10000000"
    )
    assert status == 200, error
    return Counter((r.get("trace_id", ""), r.get("span_id", ""), r.get("_msg", "")) for r in rows)


def produced_log_lines(run: Run) -> list[dict[str, Any]]:
    """The service's JSON log lines on stdout: the records its OTLP handler exported too."""
    return [
        line
        for line in read_logs(run.service_log)
        if "message" in line and not str(line.get("logger", "")).startswith(_NOT_EXPORTED)
    ]


def log_key(line: dict[str, Any]) -> LogKey:
    return (line.get("trace_id") or "", line.get("span_id") or "", line.get("message", ""))


@dataclass
class Outage:
    """What happened while a node was down."""

    component: str
    killed_at: float = 0.0  # time.time()
    back_at: float = 0.0
    observed: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scaled:
    stack: NativeStack
    thanos: ThanosCluster
    logs: VictoriaLogsCluster
    run: Run
    requests_sent: int = 0
    tasks_accepted: int = 0
    load_started_at: float = 0.0
    ingestor_outage: Outage = field(default_factory=lambda: Outage(KILLED_INGESTOR))
    log_node_outage: Outage = field(default_factory=lambda: Outage("(the busiest storage node)"))
    log_node_restart: Outage = field(default_factory=lambda: Outage("(the receiving storage node)"))

    def app_metrics(self) -> Metrics:
        """The service's own totals (its /metrics: every worker's)."""
        return Metrics(httpx.get(self.run.url + "/metrics", timeout=10).text)


def _service_env(stack: NativeStack, spool: Path) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{stack.otlp_grpc_endpoint}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(SAMPLING_RATIO),
        "AMAS_METRIC_EXPORT_INTERVAL": str(EXPORT_INTERVAL_S),
        "AMAS_ENVIRONMENT": "scale",
        "AMAS_EXPORT_SPOOL_DIR": str(spool),
        "AMAS_CACHE_TTL_SECONDS": "3600",
    }


def _drive(url: str, load: Load, done: threading.Event, errors: list[str]) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await load.run(client)

    try:
        asyncio.run(run())
    except Exception as error:  # reported by the fixture
        errors.append(repr(error))
    finally:
        done.set()


def _while_ingestor_down(scaled: Scaled) -> dict[str, Any]:
    """Query still answers (the other replica of every series is up)."""
    requests = value(scaled.thanos.query_url, REQUESTS)
    return {"query_requests": requests}


def _rows_on(node_url: str) -> int:
    """Rows a storage node holds (each answers the single-node query API)."""
    status, rows, error = logsql(node_url, "* | count()")
    assert status == 200, error
    return int(rows[0]["count(*)"])


def _busiest_log_node(scaled: Scaled) -> str:
    """The storage node that holds the service's rows: the insert node keeps each log stream
    on one node while it is up, and the service's logs are one stream, so killing the other
    node would cost nothing and prove nothing."""
    return max(scaled.logs.storage, key=lambda node: _rows_on(node.url)).component


def _while_log_node_down(scaled: Scaled) -> dict[str, Any]:
    """A select without partial responses fails; with them, it answers from the survivor,
    which takes the new rows."""
    base = scaled.logs.select_url
    status, _, error = logsql(base, "* | count()")

    def partial() -> int:
        partial_status, rows, _ = logsql(base, "* | count()", allow_partial_response="1")
        return int(rows[0]["count(*)"]) if partial_status == 200 else 0

    with contextlib.suppress(AssertionError):
        wait_for("rows on the surviving storage node", partial, timeout=10, interval=1)
    partial_status, rows, _ = logsql(base, "* | count()", allow_partial_response="1")
    return {
        "select_status": status,
        "select_error": error.strip()[:300],
        "partial_status": partial_status,
        "partial_rows": rows,
    }


def _kill_and_restart(scaled: Scaled) -> None:
    stack = scaled.stack
    scaled.log_node_outage.component = _busiest_log_node(scaled)
    for outage in (scaled.ingestor_outage, scaled.log_node_outage):
        stack.kill(outage.component)
        outage.killed_at = time.time()
    time.sleep(2)  # the next writes meet the dead nodes
    scaled.ingestor_outage.observed = _while_ingestor_down(scaled)
    scaled.log_node_outage.observed = _while_log_node_down(scaled)
    time.sleep(max(0.0, scaled.ingestor_outage.killed_at + OUTAGE_S - time.time()))
    for outage in (scaled.ingestor_outage, scaled.log_node_outage):
        stack.start(outage.component, timeout=60)
        outage.back_at = time.time()


def _receiving_log_node(scaled: Scaled) -> str:
    """The storage node the insert node is writing to now (its row count grows)."""
    before = {node.component: _rows_on(node.url) for node in scaled.logs.storage}
    time.sleep(3)
    return max(scaled.logs.storage, key=lambda node: _rows_on(node.url) - before[node.component]).component


def _graceful_restart(scaled: Scaled) -> None:
    """A planned restart (SIGTERM) of the storage node that takes the rows: it writes out
    what it holds in memory before it exits."""
    outage = scaled.log_node_restart
    outage.component = _receiving_log_node(scaled)
    scaled.stack.stop(outage.component)
    outage.killed_at = time.time()
    time.sleep(GRACEFUL_OUTAGE_S)
    scaled.stack.start(outage.component, timeout=60)
    outage.back_at = time.time()


def _read_finished_tasks(url: str, load: Load) -> None:
    """GET every accepted task once (as clients do; Redis then caches the rows)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for task_id in load.accepted:
            response = client.get(f"/tasks/{task_id}")
            load.results[
                f"GET /tasks/{{id}} {response.status_code} {response.headers.get('x-cache', '')}"
            ] += 1


@pytest.fixture(scope="session")
def scaled() -> Iterator[Scaled]:
    # not under pytest's 0700 tmp root: PostgreSQL runs as the postgres user and must reach it
    base = Path(tempfile.mkdtemp(prefix="amas-scale-"))
    base.chmod(0o755)
    thanos = ThanosCluster(base / "thanos", store_sync_interval="5s")
    logs = VictoriaLogsCluster(base / "vlcluster")
    stack = NativeStack(
        base / "stack",
        Ports.random(),
        COMPONENTS,
        prometheus_config=thanos.prometheus_config(),
        collector_env={"AMAS_LOGS_ENDPOINT": logs.otlp_logs_url},
    )
    run: Run | None = None
    try:
        thanos.add_to(stack)
        logs.add_to(stack)
        stack.up(timeout=120)
        with patch.dict(os.environ, _service_env(stack, base / "spool")):
            run = start_everything(base / "service", workers=2, latency_scale=0.5)
        stack.collector_env.update(infrastructure_env(run, "5s"))
        stack.restart("collector")
        scaled = Scaled(stack, thanos, logs, run)

        load = Load(LOAD_TASKS, rate=LOAD_RATE, seed=24)
        done, errors = threading.Event(), []
        scaled.load_started_at = time.time()
        driver = threading.Thread(target=_drive, args=(run.url, load, done, errors), daemon=True)
        driver.start()
        time.sleep(KILL_AFTER_S)
        _kill_and_restart(scaled)
        _graceful_restart(scaled)
        driver.join(timeout=300)
        assert done.is_set() and not errors and not load.errors, (errors + load.errors)[:3]
        scaled.tasks_accepted = len(load.accepted)
        wait_for(
            "every accepted task to finish",
            lambda: scaled.app_metrics().total("amas_task_duration_seconds_count") >= scaled.tasks_accepted,
            timeout=180,
        )
        _read_finished_tasks(run.url, load)
        scaled.requests_sent = sum(load.results.values())
        wait_for(
            f"Prometheus to count {scaled.requests_sent} requests",
            lambda: value(stack.prometheus_url, REQUESTS) == scaled.requests_sent,
            timeout=120,
        )
        yield scaled
    finally:
        if run is not None:
            run.stop()
        with contextlib.suppress(Exception):
            stack.down()
        shutil.rmtree(base, ignore_errors=True)
