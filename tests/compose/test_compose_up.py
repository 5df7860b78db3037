"""compose.yaml, started for real: every service whose software can be built here.

The images compose.yaml pins are made on this machine (amas_devstack.containers.images: the
Collector, Prometheus, Alertmanager from our static builds; PostgreSQL, Redis, the reference
service and its fake providers on a Debian root), then Docker Compose v2 starts compose.yaml
itself, unchanged, through podman's Docker-compatible API, inside private network and mount
namespaces (amas_devstack.containers.engine): the ports compose.yaml publishes on 127.0.0.1
are the namespace's own, and no route leads out of it. Left out: tempo, loki and grafana,
whose software may not be used here (their configs are checked by tests/dashboards/
test_contracts.py). The Collector's trace and log exporters therefore have no store: they
retry and queue on the Collector's volume, which is what the restart test checks.

The test drives the reference service with the demo's load, then checks: every started
service healthy; the service's metrics, with exemplars, in Prometheus; the alerting and
recording rules loaded and Alertmanager found; the Collector's queue on its volume surviving
``docker compose restart otel-collector``.

The first run on a machine builds the images (minutes, see the report's progress lines);
later runs reuse them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from amas_devstack.binaries import binary
from amas_devstack.containers.engine import HealthTicker, PodmanHost, in_network_namespace
from amas_devstack.containers.images import build_images, image_store, store_lock
from amas_devstack.demo.load import Load

pytestmark = pytest.mark.containers

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
OBSERVABILITY_FILE = REPO_ROOT / "compose.observability.yaml"
#: services whose software may not be used here; everything else in compose.yaml is started
LEFT_OUT = ("tempo", "loki", "grafana")
#: one-shot services: they run, exit 0, and are not health-checked
ONE_SHOTS = ("healthprobe", "certs")
UP_TIMEOUT_S = 420


@dataclass
class Stack:
    host: PodmanHost
    env: dict[str, str]
    file: Path
    services: list[str]
    up_log: str = ""

    def compose(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.host.run(
            [str(binary("compose")), "--file", str(self.file), *args],
            cwd=REPO_ROOT,
            env=self.env,
            timeout=timeout,
            check=check,
        )

    def get(self, url: str, **params: Any) -> Any:
        """GET a JSON answer from a server published inside the namespace."""

        def call() -> Any:
            response = httpx.get(url, params=params, timeout=10)
            response.raise_for_status()
            return response.json()

        return in_network_namespace(self.host.pid, call)

    def prometheus(self, query: str) -> list[dict[str, Any]]:
        body = self.get("http://127.0.0.1:9090/api/v1/query", query=query)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def containers(self) -> dict[str, dict[str, Any]]:
        """compose service -> its container's state (podman inspect)."""
        ids = self.host.podman(
            "ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project=amas"
        ).stdout.split()
        states = json.loads(self.host.podman("inspect", *ids).stdout) if ids else []
        return {c["Config"]["Labels"]["com.docker.compose.service"]: c["State"] for c in states}

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "40", check=False).stdout[-20000:]


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 120, every: float = 2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as error:
            last = error
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def images() -> None:
    """The images, made or found current (the store's lock is exclusive while this runs)."""
    missing = [
        tool for tool in ("podman", "runc", "debootstrap", "nsenter", "unshare") if not shutil.which(tool)
    ]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: run `bash scripts/containers/install.sh`", pytrace=False
        )
    build_images()


@contextlib.contextmanager
def compose_up(workdir: Path, file: Path, env: dict[str, str]) -> Iterator[Stack]:
    """``file`` up in a private PodmanHost, every service but LEFT_OUT, healthy; then down."""
    with store_lock(shared=True), PodmanHost(workdir, image_stores=[image_store()]) as host:
        env = {**env, "DOCKER_HOST": host.start_api()}
        ticker = HealthTicker(host).start()
        stack = Stack(host, env, file, [])
        try:
            # the services as compose sees them (with the files it includes)
            listed = stack.compose("config", "--services").stdout.split()
            stack.services = [name for name in listed if name not in LEFT_OUT]
            assert set(LEFT_OUT) <= set(listed) and len(stack.services) == len(listed) - len(LEFT_OUT)
            # --no-deps: the Collector's depends_on names tempo and loki, which are left out
            up = stack.compose(
                "up",
                "--detach",
                "--no-build",
                "--no-deps",
                "--wait",
                "--wait-timeout",
                str(UP_TIMEOUT_S),
                *stack.services,
                timeout=UP_TIMEOUT_S + 60,
                check=False,
            )
            assert up.returncode == 0, (
                f"compose up failed:\n{up.stdout}{up.stderr}\n--- logs ---\n{stack.logs()}"
            )
            stack.up_log = up.stdout + up.stderr
            yield stack
        finally:
            ticker.stop()
            stack.compose("down", "--volumes", "--timeout", "5", timeout=180, check=False)


#: made at test time; compose refuses to start without them
OBSERVABILITY_ENV = {
    "AMAS_GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(18),  # grafana is not started
    # no notification endpoints: compose needs the variables set, empty runs without
    "AMAS_ALERTMANAGER_PAGER_URL": "",
    "AMAS_ALERTMANAGER_SLACK_API_URL": "",
}


@pytest.fixture(scope="module")
def stack(images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **OBSERVABILITY_ENV,
        "AMAS_POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "AMAS_REDIS_PASSWORD": secrets.token_urlsafe(18),
        # the demo load's logins
        "AMAS_DEMO_USERS": ",".join(f"user{n:02d}:password-{n:02d}" for n in range(1, 26)),
    }
    with compose_up(tmp_path_factory.mktemp("podman"), COMPOSE_FILE, env) as stack:
        yield stack


# first: its stack is down again before the whole one starts
def test_the_observability_layer_starts_alone_without_the_apps_secrets(images: None, tmp_path: Path):
    """compose.observability.yaml with only its own variables (no PostgreSQL or Redis
    password): healthy, and the Collector's own telemetry reaches Prometheus over OTLP."""
    with compose_up(tmp_path, OBSERVABILITY_FILE, dict(OBSERVABILITY_ENV)) as alone:
        assert set(alone.services) == {"healthprobe", "certs", "prometheus", "alertmanager", "otel-collector"}
        states = alone.containers()
        assert all(
            states[name]["Health"]["Status"] == "healthy" for name in alone.services if name not in ONE_SHOTS
        )
        jobs = wait_for(
            "the Collector's and Prometheus's own metrics in Prometheus",
            lambda: (
                {row["metric"].get("job") for row in alone.prometheus('count by (job) ({job=~".+"})')}
                >= {"otelcol-amas", "prometheus"}
            ),
            timeout=120,
        )
        assert jobs


def test_no_route_leaves_the_namespace(stack: Stack):
    routes = stack.host.run(["ip", "route", "show"]).stdout
    assert "default" not in routes, routes


def test_every_started_service_is_healthy(stack: Stack):
    states = stack.containers()
    assert set(states) == set(stack.services), states.keys()
    for name, state in states.items():
        if name in ONE_SHOTS:  # copies the probe / makes the OTLP hop's certificates, then exits
            assert state["Status"] == "exited" and state["ExitCode"] == 0, state
        else:
            assert state["Status"] == "running", (name, state)
            assert state["Health"]["Status"] == "healthy", (name, state["Health"])


@pytest.fixture(scope="module")
def driven(stack: Stack) -> Load:
    """The demo's load (tasks, reads, logins, events, bad requests) against the service."""
    load = Load(tasks=40, rate=8.0, seed=23)

    async def run() -> None:
        async with httpx.AsyncClient(base_url="http://127.0.0.1:8000", timeout=30) as client:
            await load.run(client)

    in_network_namespace(stack.host.pid, lambda: asyncio.run(run()))
    assert not load.errors, load.errors[:5]
    assert load.results["POST /tasks 202"] >= 30, load.results
    return load


def test_compose_started_each_service_after_its_dependencies_were_ready(stack: Stack):
    """Compose's own progress lines: a service starts only after every service it depends on
    is healthy (service_healthy) or has exited (service_completed_successfully)."""
    model = json.loads(stack.compose("config", "--format", "json").stdout)
    lines = stack.up_log.splitlines()

    def first(container: str, event: str) -> int:
        pattern = re.compile(rf"Container amas-{re.escape(container)}-1\s+{event}\s*$")
        return next((i for i, line in enumerate(lines) if pattern.search(line)), -1)

    checked = 0
    for name in stack.services:
        for dependency, how in (model["services"][name].get("depends_on") or {}).items():
            if dependency in LEFT_OUT:
                continue
            event = {"service_healthy": "Healthy", "service_completed_successfully": "Exited"}[
                how["condition"]
            ]
            ready, started = first(dependency, event), first(name, "Starting")
            assert 0 <= ready < started, (
                f"{name} started (line {started}) before {dependency} was {event} ({ready})"
            )
            checked += 1
    assert checked >= 10, checked


def test_the_services_metrics_reach_prometheus_over_otlp(stack: Stack, driven: Load):
    requests = sum(driven.results.values())

    def counted() -> float:
        rows = stack.prometheus('sum(http_server_request_duration_seconds_count{job="amas-service"})')
        return float(rows[0]["value"][1]) if rows else 0.0

    assert wait_for(f"{requests} requests counted in Prometheus", lambda: counted() >= requests, timeout=120)
    tasks = stack.prometheus('sum(amas_task_duration_seconds_count{job="amas-service"})')
    assert tasks and float(tasks[0]["value"][1]) > 0, tasks
    # the Collector's own pipelines: PostgreSQL and Redis scraped inside the compose network
    for metric in ("postgresql_backends", "redis_clients_connected"):
        assert wait_for(f"{metric} in Prometheus", lambda m=metric: stack.prometheus(m), timeout=120)


def test_container_metrics_come_from_the_engines_api(stack: Stack):
    """docker_stats (collector/compose/docker-stats.yaml) reads the engine's API through the
    socket compose.yaml mounts (here podman's Docker-compatible one): a series per container."""

    def containers() -> set[str]:
        rows = stack.prometheus('container_memory_usage_total_bytes{job="containers"}')
        return {row["metric"].get("container_name", "") for row in rows}

    names = wait_for(
        "container metrics of the service's stores",
        lambda: (found := containers()) >= {"amas-postgres-1", "amas-redis-1"} and found,
        timeout=120,
    )
    assert "amas-otel-collector-1" in names, names


def test_exemplars_carry_the_trace_id_label_grafana_links(stack: Stack, driven: Load):
    datasources = yaml.safe_load(
        (REPO_ROOT / "dashboards/provisioning/datasources/datasources.yaml").read_text()
    )
    prometheus = next(ds for ds in datasources["datasources"] if ds["type"] == "prometheus")
    (destination,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]

    def exemplars() -> list[dict[str, Any]]:
        now = time.time()
        body = stack.get(
            "http://127.0.0.1:9090/api/v1/query_exemplars",
            query='http_server_request_duration_seconds_bucket{job="amas-service"}',
            start=now - 3600,
            end=now + 60,
        )
        return [e for series in body["data"] for e in series["exemplars"]]

    found = wait_for("exemplars on the HTTP histogram", exemplars, timeout=120)
    for exemplar in found[:20]:
        trace_id = exemplar["labels"].get(destination["name"])
        assert trace_id and re.fullmatch(r"[0-9a-f]{32}", trace_id), exemplar


def test_alerting_and_recording_rules_load_and_alertmanager_is_found(stack: Stack):
    expected: dict[str, int] = {}
    for name in ("alerts.yml", "infrastructure.yml", "recording.yml"):
        for group in yaml.safe_load((REPO_ROOT / "rules" / name).read_text())["groups"]:
            expected[group["name"]] = len(group["rules"])
    body = stack.get("http://127.0.0.1:9090/api/v1/rules")
    loaded = {g["name"]: len(g["rules"]) for g in body["data"]["groups"]}
    assert loaded == expected

    def evaluated_without_error() -> bool:
        groups = stack.get("http://127.0.0.1:9090/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") == "err"]
        assert not bad, bad
        return all(r.get("health") == "ok" for r in rules)

    assert wait_for("every rule evaluated", evaluated_without_error, timeout=60)
    alertmanagers = stack.get("http://127.0.0.1:9090/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [urllib.parse.urlsplit(a["url"]).netloc for a in alertmanagers] == ["127.0.0.1:9093"]
    assert stack.get("http://127.0.0.1:9093/api/v2/status")["cluster"]["status"] in ("disabled", "ready")


def _queue_sizes(stack: Stack) -> dict[str, float]:
    """The Collector's persistent queues, by exporter (its own metrics on 8888)."""

    def scrape() -> str:
        return httpx.get("http://127.0.0.1:8888/metrics", timeout=10).text

    text = in_network_namespace(stack.host.pid, scrape)
    sizes = {}
    for match in re.finditer(
        r'^otelcol_exporter_queue_size\{[^}]*exporter="([^"]+)"[^}]*\} (\S+)$', text, re.M
    ):
        sizes[match[1]] = float(match[2])
    return sizes


def test_the_collectors_queue_survives_a_restart(stack: Stack, driven: Load):
    """Tempo and Loki are not there: traces and logs wait in the Collector's persistent queue
    on its volume. With the service stopped (nothing new arrives), a restart of the Collector
    container finds the same number of items in its queues."""
    stack.compose("stop", "amas-service")
    queued = ("otlp_grpc/traces", "otlp_http/logs")

    def settled() -> dict[str, float] | None:
        first = _queue_sizes(stack)
        time.sleep(3)
        second = _queue_sizes(stack)
        return second if first == second and all(second.get(e, 0) > 0 for e in queued) else None

    before = wait_for("the queues to hold the service's traces and logs, settled", settled, timeout=90)
    stack.compose("restart", "otel-collector", timeout=180)
    wait_for(
        "the Collector healthy again",
        lambda: stack.containers()["otel-collector"]["Health"]["Status"] == "healthy",
    )
    after = wait_for("the Collector's metrics", lambda: _queue_sizes(stack), timeout=60)
    assert {e: after.get(e) for e in queued} == {e: before[e] for e in queued}, (before, after)
    volume = stack.host.podman(
        "volume", "inspect", "amas_collector-queue", "--format", "{{.Mountpoint}}"
    ).stdout.strip()
    files = stack.host.run(["ls", volume]).stdout.split()
    assert any("traces" in f for f in files) and any("logs" in f for f in files), files
