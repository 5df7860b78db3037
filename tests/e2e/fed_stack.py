"""The native stack fed by the reference AMAS service under load, then under faults.

Session fixtures, imported by conftest.py:

- ``fed_stack``: Collector, Prometheus (rules/prometheus.yml), Jaeger and VictoriaLogs on
  random ports; PostgreSQL, Redis, three fake AI providers and the service (exporting
  OTLP to the Collector at a sampling ratio of 0.5) in a tmp folder; a bounded load
  driven through it. It waits until Prometheus holds exactly the request count the client
  saw, and records that.
- ``faulted_stack``: the same stack after every fault of ``dashboards.queries.FAULTS``:
  provider outages (fallbacks, then every provider down: failed calls, agents, tasks), a
  second service instance with a tiny cardinality limit, the Collector stopped under load
  (telemetry the SDK cannot export), and Redis then PostgreSQL stopped (DB errors, 5xx).

The Collector's pgstats and redis receivers scrape that PostgreSQL and Redis
(``infrastructure_env``), so the infrastructure dashboards and alerts see real servers.

Everything started here is stopped at the end of the session, also when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
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
from amas_devstack.demo.service import Run, spawn_service, start_everything
from amas_devstack.demo.stack import infrastructure_env
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports, free_port
from amas_devstack.processes import stop_pid

REPO_ROOT = Path(__file__).resolve().parents[2]

SAMPLING_RATIO = 0.5
EXPORT_INTERVAL_S = 2
TASKS = 60
CACHE_TTL_S = 3600
"""The service's cache keeps finished tasks for the whole session. A working AMAS under steady
load always holds fresh entries in Redis; this session's load is a burst of seconds followed by
minutes of queries, which the default 30 s would outlive, leaving Redis empty: the redis
receiver then reports no ``redis.db.keys`` (it reads INFO keyspace, which lists only non-empty
databases)."""
COMPONENTS = ("victorialogs", "jaeger", "prometheus", "collector")
REQUESTS_IN_PROMETHEUS = 'sum(http_server_request_duration_seconds_count{job="amas-service"})'


def get_json(url: str, timeout: float = 30) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def prom_query(stack: NativeStack, expr: str) -> list[dict[str, Any]]:
    body = get_json(f"{stack.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert body["status"] == "success", body
    return body["data"]["result"]


def prom_value(stack: NativeStack, expr: str) -> float | None:
    result = prom_query(stack, expr)
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


ALERT_TIMEOUT_S = 480.0


def firing(stack: NativeStack, alertname: str, **labels: str) -> list[dict[str, Any]]:
    matchers = "".join(f',{k}="{v}"' for k, v in labels.items())
    return prom_query(stack, f'ALERTS{{alertname="{alertname}",alertstate="firing"{matchers}}}')


def wait_firing(stack: NativeStack, alertname: str, timeout: float = ALERT_TIMEOUT_S, **labels: str) -> list:
    return wait_for(
        f"alert {alertname} {labels} firing", lambda: firing(stack, alertname, **labels), timeout, 5
    )


@dataclass
class Fed:
    """What the load did, for the tests to compare with what the stores hold."""

    stack: NativeStack
    run: Run
    responses: Counter[str] = field(default_factory=Counter)
    requests_sent: int = 0
    prometheus_requests: float | None = None
    tasks_accepted: int = 0
    faults: dict[str, str] = field(default_factory=dict)
    requests_while_collector_down: list[int] = field(default_factory=list)
    extra_services: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def service_log_lines(self) -> list[dict[str, Any]]:
        return read_logs(self.run.service_log)


def _service_env(stack: NativeStack) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{stack.otlp_grpc_endpoint}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(SAMPLING_RATIO),
        "AMAS_METRIC_EXPORT_INTERVAL": str(EXPORT_INTERVAL_S),
        "AMAS_ENVIRONMENT": "e2e",
        # this run's own spool, not the machine-wide default that other runs share
        "AMAS_EXPORT_SPOOL_DIR": str(stack.run_dir / "export-spool"),
    }


#: scrape interval of the Collector's infrastructure receivers in the e2e stacks
INFRA_INTERVAL = "5s"


async def _drive(url: str, tasks: int, seed: int) -> Load:
    load = Load(tasks, rate=20.0, seed=seed)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await load.run(client)
    return load


def _read_finished_tasks(url: str, load: Load) -> None:
    """Reads every accepted task once it finished, as clients of a working AMAS do: Redis then
    caches the rows (``redis_db_keys`` needs a non-empty keyspace), counted in ``load.results``."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for task_id in load.accepted:
            response = client.get(f"/tasks/{task_id}")
            load.results[
                f"GET /tasks/{{id}} {response.status_code} {response.headers.get('x-cache', '')}"
            ] += 1


def _wait_tasks_done(fed: Fed) -> None:
    def done() -> bool:
        metrics = Metrics(httpx.get(fed.run.url + "/metrics", timeout=10).text)
        return metrics.total("amas_task_duration_seconds_count") >= fed.tasks_accepted

    wait_for("every accepted task to finish", done, timeout=120)


@pytest.fixture(scope="session")
def fed_stack() -> Iterator[Fed]:
    # not under pytest's 0700 tmp root: PostgreSQL runs as the postgres user and must reach it
    base = Path(tempfile.mkdtemp(prefix="amas-e2e-"))
    base.chmod(0o755)
    stack = NativeStack(base / "stack", Ports.random(), COMPONENTS)
    run: Run | None = None
    fed: Fed | None = None
    try:
        stack.up(timeout=120)
        with patch.dict(os.environ, {**_service_env(stack), "AMAS_CACHE_TTL_SECONDS": str(CACHE_TTL_S)}):
            run = start_everything(base / "service", workers=4, latency_scale=0.5)
        # the Collector's receivers scrape the real PostgreSQL and Redis the service uses
        stack.collector_env.update(infrastructure_env(run, INFRA_INTERVAL))
        stack.restart("collector")
        fed = Fed(stack, run)
        load = asyncio.run(_drive(run.url, TASKS, seed=7))
        assert not load.errors, load.errors[:3]
        fed.tasks_accepted = len(load.accepted)
        _wait_tasks_done(fed)
        _read_finished_tasks(run.url, load)
        fed.responses = load.results
        fed.requests_sent = sum(load.results.values())
        fed.prometheus_requests = wait_for(
            f"Prometheus to count {fed.requests_sent} requests",
            lambda: (
                v
                if (
                    v := prom_value(
                        stack, 'sum(http_server_request_duration_seconds_count{job="amas-service"})'
                    )
                )
                == fed.requests_sent
                else None
            ),
            timeout=90,
        )
        yield fed
    finally:
        if fed is not None:
            for process in fed.extra_services:
                if process.poll() is None:
                    stop_pid(process.pid, timeout=20)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
        if run is not None:
            run.stop()
        stack.down()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def fed_prometheus_url(fed_stack: Fed) -> str:
    return fed_stack.stack.prometheus_url


def _start_second_service(fed: Fed, cardinality_limit: int, spool_mb: float) -> str:
    """Another instance on the same PostgreSQL/Redis/providers, with a tiny cardinality limit
    and a tiny export spool (it drops, and counts, what it cannot hold)."""
    port = free_port()
    log_path = fed.run.run_dir / "service-overflow.log"
    env = {
        **_service_env(fed.stack),
        "AMAS_CARDINALITY_LIMIT": str(cardinality_limit),
        "AMAS_EXPORT_SPOOL_MAX_MB": str(spool_mb),
        "AMAS_EXPORT_SPOOL_DIR": str(fed.run.run_dir / "spool-overflow"),
    }
    fed.extra_services.append(spawn_service(fed.run, port, 1, log_path, **env))
    url = f"http://127.0.0.1:{port}"
    wait_for("the second service", lambda: _healthy(url), timeout=60, interval=0.3)
    return url


def _healthy(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url + "/health", timeout=2).status_code == 200
    return False


def _submit(url: str, count: int, prefix: str = "fault") -> Counter[int]:
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            body = {
                "type": "summarize",
                "prompt": f"{prefix} {i}: summarize the incident",
                "priority": "high",
            }
            with contextlib.suppress(httpx.HTTPError):
                statuses[client.post("/tasks", json=body).status_code] += 1
    return statuses


@pytest.fixture(scope="session")
def faulted_stack(fed_stack: Fed) -> Fed:
    fed, providers = fed_stack, fed_stack.run.providers
    # ai-fallbacks: the primary provider is down, the others answer
    providers["openai"].outage(True)
    fed.tasks_accepted += _submit(fed.run.url, 8, "fallback")[202]
    _wait_tasks_done(fed)
    # ai-provider-errors, agent-failures, task-failures: every provider down
    for provider in providers.values():
        provider.outage(True)
    fed.tasks_accepted += _submit(fed.run.url, 6, "outage")[202]
    _wait_tasks_done(fed)
    for provider in providers.values():
        provider.outage(False)
    fed.faults.update({"ai-fallbacks": "openai down", "ai-provider-errors": "all providers down"})
    fed.faults.update({"task-failures": "all providers down", "agent-failures": "all providers down"})

    # cardinality-overflow: a second instance whose limit is smaller than its route set
    overflow_url = _start_second_service(fed, cardinality_limit=2, spool_mb=0.001)
    with httpx.Client(base_url=overflow_url, timeout=30) as client:
        for path in ("/tasks/unknown-1", "/nope", "/tasks/unknown-2", "/also-nope", "/health"):
            client.get(path)
        client.post("/login", json={"username": "nobody", "password": "wrong"})
    fed.faults["cardinality-overflow"] = "second instance, AMAS_CARDINALITY_LIMIT=2"

    # telemetry-drops: the Collector is down while requests come in; they must still succeed.
    # The main service spools what it cannot export (nothing lost); the second instance's
    # spool is too small for it, so it drops and counts.
    fed.stack.stop("collector")
    for url in (fed.run.url, overflow_url):
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(20):
                started = time.monotonic()
                fed.requests_while_collector_down.append(client.get("/tasks/not-a-task").status_code)
                assert time.monotonic() - started < 5, "a request waited on the dead Collector"
    time.sleep(EXPORT_INTERVAL_S * 4)  # let the SDK try, fail and count
    fed.stack.start("collector")
    fed.faults["telemetry-drops"] = "Collector stopped for ~10 s"

    # db-errors then http-5xx: Redis down (cache and queue calls fail), then PostgreSQL too
    fed.run.redis.stop()
    _submit(fed.run.url, 3, "no-redis")
    with httpx.Client(base_url=fed.run.url, timeout=30) as client:
        client.get("/tasks/00000000-0000-0000-0000-000000000000")
    fed.run.postgres.stop()
    _submit(fed.run.url, 3, "no-postgres")
    fed.faults.update({"db-errors": "Redis then PostgreSQL stopped", "http-5xx": "PostgreSQL stopped"})
    return fed


@pytest.fixture(scope="session")
def faulted_prometheus_url(faulted_stack: Fed) -> str:
    return faulted_stack.stack.prometheus_url
