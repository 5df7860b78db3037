#!/usr/bin/env python3
"""The AMAS demo: one command starts everything on 127.0.0.1, drives load and prints what happened.

    python scripts/demo.py                    # ~300 tasks, then stop everything
    python scripts/demo.py --keep-running     # leave it up; prints the command that stops it
    python scripts/demo.py --stop             # stop what --keep-running left

It installs PostgreSQL and Redis with apt-get when they are missing (as root), then starts
in ``./run/demo``: PostgreSQL, Redis, three fake AI providers (openai, anthropic,
mistral_ai) and the AMAS service (``python -m amas_service``, JSON logs in service.log).
The load: tasks of every type and priority, GETs (cache hits and misses), logins (some
wrong), integration events, a few bad requests, a few tasks too long for any model, and an
outage of the primary provider in the middle, so fallbacks and the breaker show. The
summary is read from the service's own ``/metrics``, plus one sample trace with its log
lines. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (e.g. the native stack of
scripts/native_stack.py) the service sends its telemetry there too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = REPO_ROOT / "run" / "demo"
STATE_FILE = "demo-state.json"
PROVIDERS = (  # fallback order, latency ms
    ("openai", 40),
    ("anthropic", 60),
    ("mistral_ai", 50),
)

try:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from amas_service.devservers import (
        FakeProviderProcess,
        PostgresServer,
        RedisServer,
        ServerError,
        find_postgres_bin,
        find_redis_server,
        free_port,
        stop_pid,
    )
    from amas_service.settings import api_key_env_var
except ImportError as missing:  # pragma: no cover - a fresh machine without the package
    sys.exit(
        f"demo: {missing}. Install the package first (scripts/demo.sh does it):\n"
        "  python3 -m venv .venv && .venv/bin/pip install -e '.[service]' && .venv/bin/python scripts/demo.py"
    )


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- installing what is missing ------------------------------------------------------------------
def ensure_servers(allow_install: bool) -> None:
    missing = [
        pkg
        for pkg, found in (("postgresql", find_postgres_bin()), ("redis-server", find_redis_server()))
        if found is None
    ]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if not allow_install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"demo: {', '.join(missing)} missing; install with: sudo {' '.join(command)}")
    say(f"installing {', '.join(missing)} with apt-get (their system services are not started) ...")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:  # keeps Debian from starting the packaged services: we run our own
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    if find_postgres_bin() is None or find_redis_server() is None:
        sys.exit("demo: the installation did not provide PostgreSQL and Redis binaries")


# --- the processes of one run --------------------------------------------------------------------
@dataclass
class Run:
    run_dir: Path
    service_port: int
    postgres: PostgresServer
    redis: RedisServer
    providers: dict[str, FakeProviderProcess]
    service: subprocess.Popen[bytes] | None = None
    service_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.service_log = self.run_dir / "service.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service_port}"

    def pids(self) -> dict[str, list[Any]]:
        """name → [pid, stop signal, a word of its command line] for ``--stop``."""
        found: dict[str, list[Any]] = {}
        if self.service is not None:
            found["service"] = [self.service.pid, int(signal.SIGTERM), "amas_service"]
        for name, provider in self.providers.items():
            if provider.process.pid:
                found[f"provider {name}"] = [provider.process.pid, int(signal.SIGTERM), "fake_provider"]
        if self.redis.process.pid:
            found["redis"] = [self.redis.process.pid, int(signal.SIGTERM), "redis"]
        if self.postgres.process.pid:
            found["postgresql"] = [self.postgres.process.pid, int(signal.SIGINT), "postgres"]
        return found

    def stop(self) -> None:
        if self.service is not None and self.service.poll() is None:
            stop_pid(self.service.pid, signal.SIGTERM, timeout=20)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.service.wait(timeout=1)
        for provider in self.providers.values():
            provider.stop()
        self.redis.stop()
        self.postgres.stop()
        (self.run_dir / STATE_FILE).unlink(missing_ok=True)


def start_everything(run_dir: Path, workers: int, latency_scale: float) -> Run:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    run_dir.chmod(0o755)  # PostgreSQL runs as the postgres user when we are root
    keys = {name: f"demo-{name}-key-{secrets.token_hex(12)}" for name, _ in PROVIDERS}
    run = Run(
        run_dir=run_dir,
        service_port=free_port(),
        postgres=PostgresServer(run_dir / "postgresql"),
        redis=RedisServer(run_dir / "redis"),
        providers={
            name: FakeProviderProcess(
                run_dir,
                name,
                latency_ms=latency * latency_scale,
                error_rate=0.01,
                api_key=keys[name],
                seed=seed,
                max_context_tokens=4096,
            )
            for seed, (name, latency) in enumerate(PROVIDERS)
        },
    )
    try:
        say(f"starting PostgreSQL, Redis and {len(PROVIDERS)} fake AI providers in {run_dir} ...")
        run.postgres.start()
        run.redis.start()
        for provider in run.providers.values():
            provider.start()
        say(f"starting the AMAS service on {run.url} with {workers} workers ...")
        run.service = spawn_service(run, run.service_port, workers, run.service_log)
        wait_healthy(run)
    except BaseException:
        run.stop()
        raise
    return run


def service_env(run: Run, **extra: str) -> dict[str, str]:
    """The service's environment: this process's, plus the servers of ``run`` and ``extra``."""
    return {
        **os.environ,
        "AMAS_DATABASE_URL": run.postgres.dsn,
        "AMAS_REDIS_URL": run.redis.url,
        "AMAS_PROVIDERS": ",".join(f"{n}={p.base_url}" for n, p in run.providers.items()),
        "AMAS_USERS": ",".join(f"user{i:02d}:password-{i:02d}" for i in range(1, 26)),
        "AMAS_BREAKER_FAILURE_THRESHOLD": "5",
        "AMAS_BREAKER_RESET_SECONDS": "3",
        "AMAS_ENVIRONMENT": os.environ.get("AMAS_ENVIRONMENT", "demo"),
        **{api_key_env_var(n): p.api_key for n, p in run.providers.items()},
        **extra,
    }


def spawn_service(run: Run, port: int, workers: int, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """Starts ``python -m amas_service`` on 127.0.0.1:``port``, its output appended to ``log_path``."""
    log = open(log_path, "ab")  # noqa: SIM115 (the child holds it; closed below)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "amas_service", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=service_env(run, **env),
            cwd=REPO_ROOT,
            start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()


def wait_healthy(run: Run, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.service is not None
        if run.service.poll() is not None:
            tail = "\n".join(run.service_log.read_text(errors="replace").splitlines()[-20:])
            raise ServerError(f"the service exited with {run.service.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(run.url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise ServerError(f"the service was not healthy within {timeout:.0f} s; see {run.service_log}")


# --- reading /metrics ---------------------------------------------------------------------------
class Metrics:
    """One scrape of /metrics, parsed; the helpers sum and filter samples by label."""

    def __init__(self, text: str) -> None:
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if not k.startswith("otel_scope")}
                self.samples[sample.name].append((labels, sample.value))

    @classmethod
    async def scrape(cls, client: httpx.AsyncClient) -> Metrics:
        response = await client.get("/metrics")
        response.raise_for_status()
        return cls(response.text)

    def select(self, name: str, **where: str | None) -> list[tuple[dict[str, str], float]]:
        """Samples whose labels match; ``label=None`` means absent (the exporter renders that as "")."""
        return [
            (labels, value)
            for labels, value in self.samples.get(name, [])
            if all((labels.get(k) or None) == (v or None) for k, v in where.items())
        ]

    def total(self, name: str, **where: str | None) -> float:
        return sum(value for _, value in self.select(name, **where))

    def by(self, name: str, *keys: str, **where: str | None) -> dict[tuple[str, ...], float]:
        grouped: dict[tuple[str, ...], float] = defaultdict(float)
        for labels, value in self.select(name, **where):
            grouped[tuple(labels.get(k, "") for k in keys)] += value
        return dict(grouped)

    def quantile(self, histogram: str, q: float, **where: str | None) -> float | None:
        """Prometheus' histogram_quantile over the matching series' buckets (linear within a bucket)."""
        buckets: dict[float, float] = defaultdict(float)
        for labels, value in self.select(histogram + "_bucket", **where):
            buckets[float(labels["le"])] += value
        if not buckets:
            return None
        bounds = sorted(buckets)
        total = buckets[bounds[-1]]
        if total == 0:
            return None
        rank, lower, below = q * total, 0.0, 0.0
        for bound in bounds:
            count = buckets[bound]
            if count >= rank:
                if bound == float("inf"):
                    return lower  # above the last finite bound: Prometheus returns that bound
                return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
            lower, below = bound, count
        return lower


# --- the load ---------------------------------------------------------------------------------------
TASK_TYPES = (("research", 0.4), ("summarize", 0.35), ("code_review", 0.25))
PRIORITIES = (("high", 0.15), ("normal", 0.7), ("low", 0.15))
PROMPTS = {
    "research": [
        "Compare message queues for a task service",
        "What drives LLM latency at p95?",
        "Options to cut inference cost by half",
    ],
    "summarize": [
        "Summarize the incident report of last night",
        "Summarize this design review thread",
        "Summarize the quarterly OKR update",
    ],
    "code_review": [
        "Review the retry logic in the provider client",
        "Review the new cache invalidation",
        "Review the database migration for tasks",
    ],
}
EVENTS = (
    ("github", "pull_request"),
    ("github", "push"),
    ("gitlab", "merge_request"),
    ("slack", "app_mention"),
    ("slack", "message"),
    ("jira", "issue_created"),
    ("jira", "issue_updated"),
)
BAD_REQUESTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("POST", "/tasks", {"json": {"type": "dance", "prompt": "x", "user_id": "user01"}}),
    ("POST", "/tasks", {"json": {"type": "research", "prompt": "", "user_id": "user01"}}),
    ("POST", "/tasks", {"content": b"{oops", "headers": {"content-type": "application/json"}}),
    ("GET", "/tasks/not-a-task-id", {}),
    ("GET", "/tasks/00000000-0000-4000-8000-000000000000", {}),
    ("POST", "/integrations/myspace/events", {"json": {"event_type": "poke"}}),
    ("POST", "/login", {"json": {"username": "user01"}}),
)


def pick(choices: Iterable[tuple[str, float]], rng: random.Random) -> str:
    names, weights = zip(*choices, strict=True)
    return rng.choices(names, weights)[0]


@dataclass
class Load:
    tasks: int
    rate: float
    seed: int
    results: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    submitted: int = 0
    errors: list[str] = field(default_factory=list)

    def actions(self) -> list[tuple[str, Any]]:
        rng = random.Random(self.seed)
        plan: list[tuple[str, Any]] = []
        for i in range(self.tasks):
            task_type = pick(TASK_TYPES, rng)
            prompt = rng.choice(PROMPTS[task_type])
            if i % 60 == 37:  # too long for any model's context: the task fails for real
                prompt = "Please read all of this. " + "lorem ipsum dolor sit amet " * 700
            body = {
                "type": task_type,
                "prompt": prompt,
                "priority": pick(PRIORITIES, rng),
                "user_id": f"user{rng.randint(1, 25):02d}",
            }
            plan.append(("task", body))
            if rng.random() < 0.45:
                plan.append(("get", None))
        extras: list[tuple[str, Any]] = []
        extras += [
            ("login", (f"user{rng.randint(1, 25):02d}", rng.random() < 0.75)) for _ in range(self.tasks // 8)
        ]
        extras += [("event", rng.choice(EVENTS)) for _ in range(self.tasks // 10)]
        extras += [("bad", request) for request in BAD_REQUESTS for _ in range(2)]
        for extra in extras:
            plan.insert(rng.randrange(len(plan) + 1), extra)
        return plan

    async def run(self, client: httpx.AsyncClient) -> None:
        rng = random.Random(self.seed + 1)
        pending: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(16)

        async def act(kind: str, arg: Any) -> None:
            async with limit:
                try:
                    await self._act(client, rng, kind, arg)
                except httpx.HTTPError as error:
                    self.errors.append(f"{kind}: {type(error).__name__}: {error}")

        for kind, arg in self.actions():
            task = asyncio.create_task(act(kind, arg))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if kind == "task":
                self.submitted += 1
                await asyncio.sleep(1.0 / self.rate)
        await asyncio.gather(*pending)

    async def _act(self, client: httpx.AsyncClient, rng: random.Random, kind: str, arg: Any) -> None:
        if kind == "task":
            response = await client.post("/tasks", json=arg)
            if response.status_code == 202:
                self.accepted.append(response.json()["id"])
            self.results[f"POST /tasks {response.status_code}"] += 1
        elif kind == "get" and self.accepted:
            # half of the reads poll a recent task (often still running: a miss), half re-read
            # one of the first tasks (finished and cached after its first read: a hit)
            task_id = rng.choice(self.accepted[-30:] if rng.random() < 0.5 else self.accepted[:15])
            response = await client.get(f"/tasks/{task_id}")
            self.results[
                f"GET /tasks/{{id}} {response.status_code} {response.headers.get('x-cache', '')}"
            ] += 1
        elif kind == "login":
            user, right = arg
            password = f"password-{user[4:]}" if right else "guess"
            response = await client.post("/login", json={"username": user, "password": password})
            self.results[f"POST /login {response.status_code}"] += 1
        elif kind == "event":
            platform, event_type = arg
            body = {
                "event_type": event_type,
                "payload": {"title": f"{platform} {event_type} #{rng.randint(1, 999)}"},
            }
            response = await client.post(f"/integrations/{platform}/events", json=body)
            if response.status_code == 202 and response.json().get("task_id"):
                self.accepted.append(response.json()["task_id"])
            self.results[f"POST /integrations {response.status_code}"] += 1
        elif kind == "bad":
            method, path, kwargs = arg
            response = await client.request(method, path, **kwargs)
            self.results[f"bad request {response.status_code}"] += 1


# --- progress, outage and waiting -----------------------------------------------------------------
class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.tty = sys.stderr.isatty()
        self._last_decile = -1

    def show(self, done: int, submitted: int, depth: float, note: str) -> None:
        width = 30
        filled = int(width * min(done, self.total) / max(self.total, 1))
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} tasks done, "
            f"{submitted} submitted, queue {depth:.0f}{'  ' + note if note else ''}"
        )
        if self.tty:
            print("\r" + line.ljust(110), end="", file=sys.stderr, flush=True)
        elif (decile := 10 * done // max(self.total, 1)) != self._last_decile:
            self._last_decile = decile
            say(line)

    def end(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)


async def drive(run: Run, args: argparse.Namespace) -> tuple[Load, dict[str, Any]]:
    load = Load(args.tasks, args.rate, args.seed)
    progress = Progress(args.tasks)
    outage = run.providers["openai"]
    timeline: dict[str, Any] = {"peak_queue": 0.0}
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=run.url, timeout=30) as client:
        loader = asyncio.create_task(load.run(client))
        outage_state = "before"
        while True:
            metrics = await Metrics.scrape(client)
            done = int(metrics.total("amas_task_duration_seconds_count"))
            depth = metrics.total("amas_task_queue_depth")
            timeline["peak_queue"] = max(timeline["peak_queue"], depth)
            # the primary provider goes down from 30 % to 55 % of the tasks done
            if outage_state == "before" and done >= 0.30 * args.tasks:
                await asyncio.to_thread(outage.outage, True)
                outage_state, timeline["outage_start"] = "down", time.monotonic() - started
            elif outage_state == "down" and done >= 0.55 * args.tasks:
                await asyncio.to_thread(outage.outage, False)
                outage_state, timeline["outage_end"] = "after", time.monotonic() - started
            note = "openai DOWN (outage)" if outage_state == "down" else ""
            if loader.done():  # integration events started tasks too
                progress.total = max(progress.total, len(load.accepted))
            progress.show(done, load.submitted, depth, note)
            if loader.done() and done >= len(load.accepted):
                break
            if time.monotonic() - started > args.timeout:
                progress.end()
                say(f"demo: timed out after {args.timeout:.0f} s with {done}/{len(load.accepted)} tasks done")
                break
            await asyncio.sleep(0.25)
        if outage_state == "down":
            await asyncio.to_thread(outage.outage, False)
        await loader
        progress.end()
        timeline["seconds"] = time.monotonic() - started
        timeline["metrics"] = await Metrics.scrape(client)
    return load, timeline


# --- the summary -----------------------------------------------------------------------------------
def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = (
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  " + "  ".join(cells)

    return "\n".join([fmt(header), *(fmt(r) for r in rows)])


def read_logs(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(raw))
    return lines


def summary(run: Run, load: Load, timeline: dict[str, Any]) -> str:
    m: Metrics = timeline["metrics"]
    out: list[str] = []
    add = out.append
    tasks_done = int(m.total("amas_task_duration_seconds_count"))
    add(
        f"\nAMAS demo: {load.submitted} tasks submitted ({len(load.accepted)} accepted, incl. ones "
        f"started by integration events), {tasks_done} finished in {timeline['seconds']:.1f} s"
    )
    if "outage_start" in timeline:
        add(
            f"openai outage from {timeline['outage_start']:.1f} s "
            f"to {timeline.get('outage_end', timeline['seconds']):.1f} s; "
            f"peak queue depth {timeline['peak_queue']:.0f}"
        )

    # HTTP
    rows = []
    keys = ("http_request_method", "http_route", "http_response_status_code")
    for (method, route, status), count in sorted(
        m.by("http_server_request_duration_seconds_count", *keys).items()
    ):
        where = dict(zip(keys, (method, route, status), strict=True))
        rows.append(
            [
                f"{method} {route}",
                status,
                f"{count:.0f}",
                ms(m.quantile("http_server_request_duration_seconds", 0.5, **where)),
                ms(m.quantile("http_server_request_duration_seconds", 0.95, **where)),
            ]
        )
    add("\nHTTP requests (http_server_request_duration_seconds)")
    add(table(rows, ["route", "status", "count", "p50", "p95"]))

    # tasks
    rows = []
    for (task_type, error), count in sorted(
        m.by("amas_task_duration_seconds_count", "amas_task_type", "error_type").items()
    ):
        where = {"amas_task_type": task_type, "error_type": error or None}
        quality = m.total("amas_task_quality_score_sum", amas_task_type=task_type)
        quality_n = m.total("amas_task_quality_score_count", amas_task_type=task_type)
        rows.append(
            [
                task_type,
                f"failed: {error}" if error else "completed",
                f"{count:.0f}",
                ms(m.quantile("amas_task_duration_seconds", 0.5, **where)),
                ms(m.quantile("amas_task_duration_seconds", 0.95, **where)),
                f"{quality / quality_n:.2f}" if quality_n and not error else "",
            ]
        )
    add("\nTasks by outcome (amas_task_duration_seconds, amas_task_quality_score)")
    add(table(rows, ["type", "outcome", "count", "p50", "p95", "avg quality"]))

    # providers
    rows = []
    keys = ("gen_ai_provider_name", "gen_ai_request_model")
    for (provider, model), calls in sorted(
        m.by("gen_ai_client_operation_duration_seconds_count", *keys).items()
    ):
        where = {"gen_ai_provider_name": provider, "gen_ai_request_model": model}
        errors = m.total("gen_ai_client_operation_duration_seconds_count", **where) - m.total(
            "gen_ai_client_operation_duration_seconds_count", **where, error_type=None
        )
        rows.append(
            [
                provider,
                model,
                f"{calls:.0f}",
                f"{errors:.0f}",
                ms(m.quantile("gen_ai_client_operation_duration_seconds", 0.5, **where, error_type=None)),
                ms(m.quantile("gen_ai_client_operation_duration_seconds", 0.95, **where, error_type=None)),
                f"{m.total('gen_ai_client_token_usage_sum', **where, gen_ai_token_type='input'):.0f}",
                f"{m.total('gen_ai_client_token_usage_sum', **where, gen_ai_token_type='output'):.0f}",
                f"{m.total('amas_ai_cost_usd_total', **where):.4f}",
            ]
        )
    add(
        "\nAI providers (gen_ai_client_operation_duration_seconds, gen_ai_client_token_usage, "
        "amas_ai_cost_usd_total)"
    )
    add(
        table(
            rows,
            [
                "provider",
                "model",
                "calls",
                "errors",
                "p50 ok",
                "p95 ok",
                "input tokens",
                "output tokens",
                "cost USD",
            ],
        )
    )
    errors = m.by("gen_ai_client_operation_duration_seconds_count", "gen_ai_provider_name", "error_type")
    failed = ", ".join(f"{p} {e} {n:.0f}" for (p, e), n in sorted(errors.items()) if e)
    if failed:
        add(f"  failed calls: {failed}")

    # fallbacks and breakers
    fallbacks = m.by("amas_ai_fallbacks_total", "amas_ai_fallback_from", "gen_ai_provider_name")
    add(
        "\nFallbacks (amas_ai_fallbacks_total): "
        + (", ".join(f"{a} -> {b}: {n:.0f}" for (a, b), n in sorted(fallbacks.items())) or "none")
    )
    logs = read_logs(run.service_log)
    opened = Counter(
        line["message"].split()[2]
        for line in logs
        if line.get("message", "").startswith("circuit breaker") and " opened " in line["message"]
    )
    names = {0: "closed", 1: "open", 2: "half-open"}
    breakers = m.by("amas_ai_breaker_state", "gen_ai_provider_name")
    add(
        "Circuit breakers now (amas_ai_breaker_state): "
        + ", ".join(
            f"{p} {names.get(int(v), v)} (opened {opened.get(p, 0)}x during the run)"
            for (p,), v in sorted(breakers.items())
        )
    )

    # cache, logins, integrations, database
    cache = m.by("amas_cache_operations_total", "db_operation_name", "amas_cache_result")
    hits, misses = cache.get(("GET", "hit"), 0), cache.get(("GET", "miss"), 0)
    add(
        f"\nCache (amas_cache_operations_total): GET hit {hits:.0f}, miss {misses:.0f}"
        + (f" (hit ratio {hits / (hits + misses):.0%})" if hits + misses else "")
    )
    logins = m.by("amas_user_logins_total", "amas_login_result")
    add("Logins (amas_user_logins_total): " + ", ".join(f"{r} {n:.0f}" for (r,), n in sorted(logins.items())))
    triggers = m.by(
        "amas_integration_triggers_total", "amas_integration_platform", "amas_integration_event_type"
    )
    add(
        "Integration events (amas_integration_triggers_total): "
        + ", ".join(f"{p}/{e} {n:.0f}" for (p, e), n in sorted(triggers.items()))
    )
    db = m.by("db_client_operation_duration_seconds_count", "db_system_name", "db_operation_name")
    rows = []
    for (system, operation), count in sorted(db.items()):
        where = {"db_system_name": system, "db_operation_name": operation}
        rows.append([system, operation, f"{count:.0f}",
                     ms(m.quantile("db_client_operation_duration_seconds", 0.5, **where)),
                     ms(m.quantile("db_client_operation_duration_seconds", 0.95, **where))])  # fmt: skip
    add("\nDatabase and Redis operations (db_client_operation_duration_seconds)")
    add(table(rows, ["system", "operation", "count", "p50", "p95"]))
    pool = m.by("db_client_connection_count", "db_client_connection_state")
    add(
        f"DB pool now: {pool.get(('used',), 0):.0f} used, {pool.get(('idle',), 0):.0f} idle of "
        f"{m.total('db_client_connection_max'):.0f}; active users {m.total('amas_users_active'):.0f}"
    )

    # a sample trace, with all of its log lines: the task that opened a breaker, else one
    # that needed a fallback, else any finished task
    def first_trace(test: Callable[[str], bool]) -> str | None:
        return next(
            (line["trace_id"] for line in logs if line.get("trace_id") and test(line.get("message", ""))),
            None,
        )

    sample = (
        first_trace(lambda msg: msg.startswith("circuit breaker") and " opened " in msg)
        or first_trace(lambda msg: msg.startswith("served by fallback"))
        or first_trace(lambda msg: " completed: " in msg)
    )
    if sample:
        lines = [line for line in logs if line.get("trace_id") == sample]
        add(f"\nSample trace {sample}: {len(lines)} log lines (from {run.service_log})")
        for line in lines[:30]:
            add(
                f"  {line['timestamp'][11:23]} {line['level']:<7} {line['logger']:<22} "
                f"{line['message'][:120]}"
            )
        timeline["sample_trace"] = sample

    client_side = ", ".join(f"{k} {v}" for k, v in sorted(load.results.items()))
    add(f"\nClient side: {client_side}")
    if load.errors:
        add(f"Client errors: {len(load.errors)}, first: {load.errors[0]}")
    add(f"\nMetrics: {run.url}/metrics   (service logs: {run.service_log})")
    return "\n".join(out)


def stack_links(trace_id: str | None, stack_dir: Path) -> list[str]:
    """Jaeger / Prometheus / VictoriaLogs links when the native stack runs (scripts/native_stack.py)."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return []
    links = [f"Telemetry also went to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}"]
    try:
        sys.path.insert(0, str(REPO_ROOT / "scripts"))
        from native_stack import NativeStack

        stack = NativeStack.load(stack_dir)
    except Exception:  # no native stack state: only the endpoint is known
        return links
    if trace_id:
        links.append(f"  trace:   {stack.jaeger_url}/trace/{trace_id}")
        links.append(f'  logs:    {stack.victorialogs_url}/select/vmui/#/?query=trace_id:"{trace_id}"')
    links.append(
        f"  metrics: {stack.prometheus_url}/query?g0.expr="
        "sum+by+(amas_task_type)(rate(amas_task_duration_seconds_count[5m]))"
    )
    return links


# --- stop a kept-running demo -------------------------------------------------------------------
def stop_kept(run_dir: Path) -> int:
    state_path = run_dir / STATE_FILE
    if not state_path.exists():
        say(f"nothing to stop: no {state_path}")
        return 0
    state = json.loads(state_path.read_text())
    for name, (pid, sig, word) in state["pids"].items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if word in cmdline:  # still the process we started, not a reused pid
            say(f"stopping {name} (pid {pid})")
            stop_pid(pid, sig, timeout=20)
    state_path.unlink()
    return 0


STACK_COMPONENTS = ("victorialogs", "jaeger", "prometheus", "collector")


def start_stack(stack_dir: Path) -> Any:
    """The native stack (scripts/native_stack.py) when its binaries are built, else None.

    Standard ports when they are free, random ones otherwise. The service then exports
    OTLP to its Collector, and the summary ends with links into Jaeger, VictoriaLogs and
    Prometheus.
    """
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import native_stack

    try:
        for component in STACK_COMPONENTS:
            native_stack.binary(component)
    except native_stack.BinaryMissing:
        say("native stack not built (bash scripts/build_binaries.sh): telemetry stays on /metrics and stdout")
        return None
    ports = native_stack.Ports()
    if any(native_stack.port_in_use(port) for port in ports.as_dict().values()):
        ports = native_stack.Ports.random()
    stack = native_stack.NativeStack(stack_dir, ports, STACK_COMPONENTS)
    say(f"starting the native stack (Collector, Prometheus, Jaeger, VictoriaLogs) in {stack_dir} ...")
    stack.up(timeout=120)
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{stack.otlp_grpc_endpoint}"
    os.environ.setdefault("AMAS_METRIC_EXPORT_INTERVAL", "5")
    return stack


def infrastructure_env(run: Run, interval: str = "15s") -> dict[str, str]:
    """Collector settings that point its pgstats and redis receivers at the PostgreSQL and
    Redis of ``run`` (credentials by environment, as in compose)."""
    return {
        "AMAS_INFRA_INTERVAL": interval,
        "AMAS_POSTGRES_ENDPOINT": f"127.0.0.1:{run.postgres.port}",
        "AMAS_POSTGRES_USER": run.postgres.user,
        "AMAS_POSTGRES_PASSWORD": run.postgres.password,
        "AMAS_POSTGRES_DATABASE": run.postgres.database,
        "AMAS_REDIS_ENDPOINT": f"127.0.0.1:{run.redis.port}",
        "AMAS_REDIS_PASSWORD": run.redis.password,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=300, help="tasks to submit (default 300)")
    parser.add_argument("--rate", type=float, default=25.0, help="task submissions per second (default 25)")
    parser.add_argument("--workers", type=int, default=4, help="service task workers (default 4)")
    parser.add_argument(
        "--latency-scale", type=float, default=1.0, help="multiplies the fake providers' latency"
    )
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="default ./run/demo")
    parser.add_argument(
        "--stack-dir",
        type=Path,
        default=REPO_ROOT / "run" / "stack",
        help="run folder of scripts/native_stack.py, for links (default ./run/stack)",
    )
    parser.add_argument(
        "--no-stack",
        action="store_true",
        help="do not start the native stack even when its binaries are built",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up waiting for tasks after this (s)"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install anything")
    parser.add_argument("--keep-running", action="store_true", help="leave everything up after the summary")
    parser.add_argument("--stop", action="store_true", help="stop what a --keep-running demo left up")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if args.stop:
        return stop_kept(run_dir)
    if (run_dir / STATE_FILE).exists():
        say("stopping the previous demo left running ...")
        stop_kept(run_dir)
    ensure_servers(allow_install=not args.no_install)

    stack = None
    if not args.no_stack and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        stack = start_stack(args.stack_dir.resolve())
    try:
        run = start_everything(run_dir, args.workers, args.latency_scale)
        if stack is not None:  # the Collector's receivers now scrape this PostgreSQL and Redis
            stack.collector_env.update(infrastructure_env(run))
            stack.restart("collector")
    except BaseException:
        if stack is not None:
            stack.down()
        raise
    keep = False
    try:
        load, timeline = asyncio.run(drive(run, args))
        print(summary(run, load, timeline))
        for line in stack_links(timeline.get("sample_trace"), args.stack_dir):
            print(line)
        keep = args.keep_running
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    finally:
        if keep:
            (run_dir / STATE_FILE).write_text(json.dumps({"pids": run.pids(), "url": run.url}, indent=2))
            script = Path(sys.argv[0]).resolve()
            print(
                f"\nStill running: service {run.url}, PostgreSQL 127.0.0.1:{run.postgres.port}, "
                f"Redis 127.0.0.1:{run.redis.port}. Stop everything with:\n"
                f"  {sys.executable} {script} --stop --run-dir {run_dir}"
            )
            if stack is not None:
                stack_script = REPO_ROOT / "scripts" / "native_stack.py"
                print("The native stack too:")
                print(f"  {sys.executable} {stack_script} down --run-dir {stack.run_dir}")
        else:
            say("stopping everything the demo started ...")
            run.stop()
            if stack is not None:
                stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
