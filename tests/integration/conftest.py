"""Integration fixtures: real PostgreSQL, Redis and fake AI providers, and the service in-process.

Session scope: one PostgreSQL, one Redis and three fake providers (openai, anthropic,
mistral_ai), each on a free 127.0.0.1 port in its own temporary folder, always stopped.
Function scope: ``start_service(...)`` builds the app with in-memory telemetry
(``amas_telemetry.testing.capture``), runs its lifespan (workers included) and returns a
:class:`Service` to drive it over ASGI and read what it exported.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from amas_devstack.providers import FakeProviderProcess
from amas_devstack.servers import PostgresServer, RedisServer
from amas_service.app import EXCLUDED_URLS, SERVICE_NAME, create_app
from amas_service.settings import Settings, api_key_env_var
from amas_telemetry import untraced
from amas_telemetry.testing import CapturedTelemetry, capture

PROVIDER_NAMES = ("openai", "anthropic", "mistral_ai")
PROVIDER_LATENCY_MS = 5


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


# --- secrets: what must never leave the process --------------------------------------------
@pytest.fixture(scope="session")
def api_keys() -> dict[str, str]:
    """One key shape the redactor knows (sk-…), and two it does not: the service must not leak any."""
    return {
        "openai": "sk-proj-" + secrets.token_hex(16),
        "anthropic": "anthropic-key-" + secrets.token_hex(12),
        "mistral_ai": "mistral" + secrets.token_hex(14),
    }


@pytest.fixture(scope="session")
def user_password() -> str:
    return "wonderland-" + secrets.token_hex(6)


# --- servers -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def run_dir() -> Iterator[Path]:
    """Not pytest's tmp_path: under root that is 0700, and PostgreSQL runs as the postgres user."""
    path = Path(tempfile.mkdtemp(prefix="amas-it-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(run_dir: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(run_dir / "postgresql")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(run_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(run_dir / "redis")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def providers(run_dir: Path, api_keys: dict[str, str]) -> Iterator[dict[str, FakeProviderProcess]]:
    started: dict[str, FakeProviderProcess] = {}
    try:
        for seed, name in enumerate(PROVIDER_NAMES):
            started[name] = FakeProviderProcess(
                run_dir, name, latency_ms=PROVIDER_LATENCY_MS, api_key=api_keys[name], seed=seed
            ).start()
        yield started
    finally:
        for provider in started.values():
            provider.stop()


# --- the service under test ------------------------------------------------------------------
class Service:
    """A running app: an ASGI client, its settings, and everything it exported."""

    def __init__(
        self,
        app: FastAPI,
        captured: CapturedTelemetry,
        logs: io.StringIO,
        settings: Settings,
        stack: AsyncExitStack,
    ) -> None:
        self.app = app
        self._stack = stack
        self.captured = captured
        self.settings = settings
        self._logs = logs
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://amas.test")

    async def stop(self) -> None:
        """Stops workers and closes the client; the exported telemetry stays readable."""
        await self._stack.aclose()

    # requests
    async def submit(self, task_type: str = "summarize", **fields: Any) -> str:
        body = {
            "type": task_type,
            "prompt": f"{task_type} the quarterly report",
            "user_id": "alice",
            **fields,
        }
        response = await self.client.post("/tasks", json=body)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    async def task_row(self, task_id: str) -> dict[str, Any] | None:
        """The row as stored, read untraced (polling must not add spans or metrics)."""
        with untraced():
            return await self.app.state.services.db.get_task(uuid.UUID(task_id))

    async def task_count(self) -> int:
        with untraced():
            return await self.app.state.services.db.pool.fetchval("SELECT count(*) FROM tasks")

    async def wait_done(self, task_ids: list[str], timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = [await self.task_row(t) for t in task_ids]
            if all(r is not None and r["status"] in ("completed", "failed") for r in rows):
                return rows  # type: ignore[return-value]
            if time.monotonic() > deadline:
                pending = [
                    t
                    for t, r in zip(task_ids, rows, strict=True)
                    if not r or r["status"] not in ("completed", "failed")
                ]
                raise AssertionError(f"tasks not done within {timeout} s: {pending}")
            await asyncio.sleep(0.05)

    # exported telemetry
    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.captured.spans()

    def server_span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.kind is SpanKind.SERVER and s.name == name]
        assert len(found) == 1, f"{len(found)} server spans named {name!r}"
        return found[0]

    def trace_spans(self, trace_id: int) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.context.trace_id == trace_id]

    def points(self, metric: str, attributes: Mapping[str, Any] | None = None) -> list[Any]:
        wanted = dict(attributes or {})
        return [
            p for p in self.captured.points(metric)
            if all((p.attributes or {}).get(k) == v for k, v in wanted.items())
        ]  # fmt: skip

    def count(self, metric: str, attributes: Mapping[str, Any] | None = None) -> int:
        """Histogram count summed over matching series."""
        return sum(p.count for p in self.points(metric, attributes))

    def total(self, metric: str, attributes: Mapping[str, Any] | None = None) -> float:
        """Counter value, or histogram sum, summed over matching series."""
        return sum(p.sum if hasattr(p, "sum") else p.value for p in self.points(metric, attributes))

    def log_lines(self) -> list[str]:
        return [line for line in self._logs.getvalue().splitlines() if line.strip()]

    def logs(self) -> list[dict[str, Any]]:
        """The service's JSON log lines (stdout handler), parsed."""
        return [json.loads(line) for line in self.log_lines()]

    async def metrics_text(self) -> str:
        response = await self.client.get("/metrics")
        assert response.status_code == 200
        return response.text

    async def prometheus(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        """Samples of one name as ``/metrics`` serves them: labels (minus otel_scope_*) → value."""
        found = {}
        for family in text_string_to_metric_families(await self.metrics_text()):
            for sample in family.samples:
                if sample.name == name:
                    labels = frozenset(
                        (k, v) for k, v in sample.labels.items() if not k.startswith("otel_scope")
                    )
                    found[labels] = sample.value
        return found


@pytest.fixture
def service_env(
    monkeypatch: pytest.MonkeyPatch,
    postgres: PostgresServer,
    redis_server: RedisServer,
    providers: dict[str, FakeProviderProcess],
    api_keys: dict[str, str],
    user_password: str,
) -> dict[str, str]:
    """A clean environment with the service's settings (and secrets) in AMAS_* variables."""
    for var in list(os.environ):
        if var.startswith(("OTEL_", "AMAS_")):
            monkeypatch.delenv(var)
    env = {
        "AMAS_DATABASE_URL": postgres.dsn,
        "AMAS_REDIS_URL": redis_server.url,
        "AMAS_PROVIDERS": ",".join(f"{name}={p.base_url}" for name, p in providers.items()),
        "AMAS_USERS": f"alice:{user_password},bob:builder-{user_password}",
        "AMAS_SYSTEM_METRICS": "false",
        **{api_key_env_var(name): key for name, key in api_keys.items()},
    }
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    return env


def _reset_state(postgres: PostgresServer, providers: Mapping[str, FakeProviderProcess]) -> None:
    postgres.psql(
        "DO $$ BEGIN IF to_regclass('tasks') IS NOT NULL THEN "
        "TRUNCATE integration_events, tasks, users; END IF; END $$"
    )
    for provider in providers.values():
        provider.outage(False)
        provider.configure(latency_ms=PROVIDER_LATENCY_MS, error_rate=0.0)
        provider.admin("/admin/reset", {})


@pytest.fixture
async def start_service(
    service_env: dict[str, str], postgres: PostgresServer, providers: dict[str, FakeProviderProcess]
) -> AsyncIterator[Callable[..., Any]]:
    """``await start_service(workers=2, **settings)``: a running service with fresh tables and queues.

    Several may be started in one test (one after another: a restart); all are stopped.
    """
    _reset_state(postgres, providers)
    prefix = f"it-{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Service:
            telemetry_options = overrides.pop("telemetry", {})
            settings = Settings.from_env(**{"key_prefix": prefix, "workers": 2, **overrides})
            holder: dict[str, CapturedTelemetry] = {}

            def telemetry(app: FastAPI) -> Any:
                holder["captured"] = capture(
                    app, service_name=SERVICE_NAME, json_logs=True, excluded_urls=list(EXCLUDED_URLS),
                    **telemetry_options,
                )  # fmt: skip
                return holder["captured"].telemetry

            app = create_app(settings, telemetry=telemetry)
            captured = holder["captured"]
            stack.callback(captured.shutdown)  # last: after the service's own stop
            service_stack = await stack.enter_async_context(AsyncExitStack())
            logs = captured.json_stream  # the JSON lines the handler writes
            await service_stack.enter_async_context(app.router.lifespan_context(app))
            service = Service(app, captured, logs, settings, service_stack)
            service_stack.push_async_callback(service.client.aclose)
            return service

        yield start
