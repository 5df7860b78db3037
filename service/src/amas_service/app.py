"""The FastAPI app factory: routes, telemetry, state gauges, and the lifespan that runs workers."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

import amas_telemetry
from amas_service import routes
from amas_service.db import POOL_NAME
from amas_service.queue import PRIORITIES
from amas_service.services import Services
from amas_service.settings import Settings, SettingsError
from amas_telemetry import Telemetry
from amas_telemetry import semconv as sc

__all__ = ["SERVICE_NAME", "create_app", "otlp_token_headers"]

_log = logging.getLogger(__name__)

SERVICE_NAME = "amas-service"
EXCLUDED_URLS = ("/metrics", "/health")
"""Neither traced nor counted: scrapes and probes are not traffic."""


def otlp_token_headers(env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The bearer token of a secured Collector, from the file ``AMAS_OTLP_TOKEN_FILE`` names
    (compose mounts the one its ``certs`` service made; the first word, as the Collector reads
    its token file): a secret the app passes in code (``otlp_headers``) rather than in a
    variable every process of the container can read. None when the variable is not set."""
    env = os.environ if env is None else env
    path = env.get("AMAS_OTLP_TOKEN_FILE")
    if not path:
        return None
    try:
        words = Path(path).read_text().split()
    except OSError as error:
        raise SettingsError(
            f"Invalid AMAS_OTLP_TOKEN_FILE: cannot read {path!r} ({error.strerror})"
        ) from None
    if not words:
        raise SettingsError(f"Invalid AMAS_OTLP_TOKEN_FILE: {path!r} holds no token")
    return {"authorization": f"Bearer {words[0]}"}


def _default_telemetry(app: FastAPI) -> Telemetry:
    return amas_telemetry.configure(
        app, service_name=SERVICE_NAME, excluded_urls=EXCLUDED_URLS, otlp_headers=otlp_token_headers()
    )


def _register_gauges(app: FastAPI, telemetry: Telemetry) -> None:
    """State gauges, read at collection time from what the app holds (nothing before startup)."""

    def services() -> Services | None:
        return getattr(app.state, "services", None)

    def queue_depth() -> list[tuple[float, dict[str, str]]]:
        s = services()
        depth = s.queue.depth() if s else dict.fromkeys(PRIORITIES, 0)
        return [(float(n), {sc.AMAS_TASK_PRIORITY: p}) for p, n in depth.items()]

    def pool(index: int, state: str | None) -> list[tuple[float, dict[str, str]]]:
        s = services()
        if s is None:
            return []
        attributes = {sc.DB_CLIENT_CONNECTION_POOL_NAME: POOL_NAME}
        if state is not None:
            attributes[sc.DB_CLIENT_CONNECTION_STATE] = state
        return [(float(s.db.connection_counts()[index]), attributes)]

    telemetry.observe(sc.AMAS_TASK_QUEUE_DEPTH, queue_depth)
    telemetry.observe(sc.AMAS_TASKS_ACTIVE, lambda: s.activity.active_tasks() if (s := services()) else [])
    telemetry.observe(sc.AMAS_USERS_ACTIVE, lambda: s.activity.active_users() if (s := services()) else 0)
    telemetry.observe(
        sc.AMAS_AI_BREAKER_STATE, lambda: s.providers.breaker_states() if (s := services()) else []
    )
    telemetry.observe(sc.DB_CLIENT_CONNECTION_COUNT, lambda: pool(0, "used") + pool(1, "idle"))
    telemetry.observe(sc.DB_CLIENT_CONNECTION_MAX, lambda: pool(2, None))


def create_app(
    settings: Settings | None = None,
    *,
    telemetry: Callable[[FastAPI], Telemetry] | None = None,
) -> FastAPI:
    """The AMAS service. ``telemetry(app)`` replaces the default ``amas_telemetry.configure``
    call (tests pass in-memory exporters); the caller then owns that handle's shutdown."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await Services.start(settings)
        try:
            yield
        finally:
            services, app.state.services = app.state.services, None
            await services.stop()
            if owns_telemetry:
                handle.shutdown()

    # FastAPI's own telemetry off: amas_telemetry makes the server span (see instrument.FASTAPI_SCOPE)
    app = FastAPI(
        title="AMAS",
        version="0.1.0",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.services = None
    routes.install(app)
    owns_telemetry = telemetry is None
    handle = (telemetry or _default_telemetry)(app)
    app.state.telemetry = handle
    try:
        _register_gauges(app, handle)
    except BaseException:
        if owns_telemetry:
            handle.shutdown()
        raise
    return app
