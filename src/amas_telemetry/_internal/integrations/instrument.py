"""FastAPI wiring (our server-span middleware) and asyncpg, redis and httpx instrumentation
(the contrib instrumentors).

Client libraries are patched process-wide, once, against the delegating global tracer
provider, and reference-counted: the last ``shutdown()`` un-patches them. A library that
is not installed is skipped; an installed library whose instrumentor is missing gets a
warning naming the pip extra. Apps are instrumented per app, with the handle's own
provider, and un-instrumented symmetrically.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span, TracerProvider

from amas_telemetry import semconv as sc
from amas_telemetry._internal.compat.starlette import unwrap_middleware_stack, wrap_middleware_stack
from amas_telemetry._internal.tracing.provider import global_tracer_provider

__all__ = [
    "FASTAPI_SCOPE",
    "LIBRARIES",
    "acquire_libraries",
    "instrument_fastapi",
    "release_libraries",
    "uninstrument_fastapi",
    "untraced",
]

_log = logging.getLogger(__name__)

FASTAPI_SCOPE = "fastapi"
"""The instrumentation scope of FastAPI's own telemetry (FastAPI >= 0.16x): its server span
and its dependency/endpoint/serialization spans. FastAPI switches it on for every app once a
global tracer provider exists, and offers no public switch after ``FastAPI(telemetry=...)``;
so, as Pydantic Logfire does, the global tracer provider hands this scope a no-op tracer
while an app is wired by ``configure()``: no second server span, no extra spans. FastAPI's
per-request bookkeeping still runs (benchmarks/RESULTS.md, the ``+native`` variant); building
the app with ``FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})``, its
public switch, skips it (it meters through the global MeterProvider too, whose meter for this
scope is a no-op: see :mod:`amas_telemetry._internal.metrics.global_provider`; and it logs
through a global LoggerProvider when the app set one), and the middleware warns once when
FastAPI's telemetry runs on a request."""

CACHE_READS = frozenset({"GET", "HGET", "MGET", "HMGET", "GETEX", "GETDEL", "HGETALL", "EXISTS"})
"""Redis commands counted as cache reads (hit or miss)."""
CACHE_WRITES = frozenset(
    {"SET", "SETEX", "PSETEX", "SETNX", "MSET", "HSET", "HMSET", "DEL", "UNLINK", "EXPIRE"}
)
"""Redis commands counted as cache writes; queue, pub/sub and admin commands are not cache operations."""


def _command(span: Span) -> str:
    return getattr(span, "name", "").split(" ", 1)[0].upper()


def redis_request_hook(span: Span, instance: Any, args: Any, kwargs: Any) -> None:
    """Cache commands start as "error": the response hook only runs when the call succeeds."""
    if span.is_recording() and _command(span) in CACHE_READS | CACHE_WRITES:
        span.set_attribute(sc.AMAS_CACHE_RESULT, sc.CacheResult.ERROR.value)


def redis_response_hook(span: Span, instance: Any, response: Any) -> None:
    """Marks cache reads hit or miss and cache writes ok, so the cache rule counts them."""
    if not span.is_recording():
        return
    command = _command(span)
    if command in CACHE_READS:
        values = response.values() if isinstance(response, dict) else response
        empty = (
            response is None
            or response == 0
            or (isinstance(response, list | dict) and all(v is None for v in values))
        )
        span.set_attribute(sc.AMAS_CACHE_RESULT, (sc.CacheResult.MISS if empty else sc.CacheResult.HIT).value)
    elif command in CACHE_WRITES:
        span.set_attribute(sc.AMAS_CACHE_RESULT, sc.CacheResult.OK.value)


def untraced() -> AbstractContextManager[None]:
    """Inside this block, instrumentations make no spans (so no derived metrics either).

    For housekeeping I/O nobody asked for: idle queue polling, health probes, pool resets.
    """
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def _quiet_asyncpg_reset() -> tuple[Callable[[], None], Callable[[], None]]:
    """Runs ``Connection.reset`` (the pool's query on every release) without a span.

    Traced, it adds one ``SELECT`` span per pooled query and doubles the DB metrics.
    Returns (install, remove).
    """
    import asyncpg

    original = asyncpg.Connection.reset

    async def reset(self: Any, *args: Any, **kwargs: Any) -> Any:
        with untraced():
            return await original(self, *args, **kwargs)

    def install() -> None:
        asyncpg.Connection.reset = reset

    def remove() -> None:
        if asyncpg.Connection.reset is reset:
            asyncpg.Connection.reset = original

    return install, remove


@dataclass(frozen=True)
class Library:
    """A client library we patch: its import name, instrumentor and pip extra."""

    name: str
    module: str
    instrumentor: str
    extra: str
    options: Callable[[], dict[str, Any]] = dict
    patch: Callable[[], tuple[Any, Any]] | None = None
    """Extra patching next to the instrumentor's: returns (install, remove)."""

    def make(self) -> Any:
        module_name, _, cls = self.instrumentor.rpartition(".")
        return getattr(importlib.import_module(module_name), cls)()


LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        Library(
            "asyncpg",
            "asyncpg",
            "opentelemetry.instrumentation.asyncpg.AsyncPGInstrumentor",
            "asyncpg",
            patch=_quiet_asyncpg_reset,
        ),
        Library(
            "redis",
            "redis",
            "opentelemetry.instrumentation.redis.RedisInstrumentor",
            "redis",
            lambda: {"request_hook": redis_request_hook, "response_hook": redis_response_hook},
        ),
        Library("httpx", "httpx", "opentelemetry.instrumentation.httpx.HTTPXClientInstrumentor", "httpx"),
    )
}

_lock = threading.Lock()
_users: dict[str, int] = {}
_instrumentors: dict[str, Any] = {}
_patches: dict[str, Any] = {}


def _available(library: Library) -> bool:
    if importlib.util.find_spec(library.module) is None:
        return False
    if importlib.util.find_spec(library.instrumentor.rpartition(".")[0]) is None:
        _log.warning(
            "amas_telemetry: %s is installed but not instrumented; pip install 'amas-telemetry[%s]'",
            library.name,
            library.extra,
        )
        return False
    return True


def acquire_libraries(names: tuple[str, ...], tracer_provider: TracerProvider) -> tuple[str, ...]:
    """Instrument each library on first use; returns the names this caller now holds."""
    held = []
    with _lock:
        for name in names:
            library = LIBRARIES[name]
            if _users.get(name, 0) == 0:
                if not _available(library):
                    continue
                instrumentor = library.make()
                instrumentor.instrument(tracer_provider=tracer_provider, **library.options())
                _instrumentors[name] = instrumentor
                if library.patch is not None:
                    install, remove = library.patch()
                    install()
                    _patches[name] = remove
            _users[name] = _users.get(name, 0) + 1
            held.append(name)
    return tuple(held)


def release_libraries(names: tuple[str, ...]) -> None:
    with _lock:
        for name in names:
            _users[name] -= 1
            if _users[name] == 0:
                _instrumentors.pop(name).uninstrument()
                remove = _patches.pop(name, None)
                if remove is not None:
                    remove()


def is_fastapi_app(app: Any) -> bool:
    try:
        from fastapi import FastAPI
    except ImportError:
        return False
    return isinstance(app, FastAPI)


_CONTRIB_MARK = "_is_instrumented_by_opentelemetry"
"""The flag the contrib ``FastAPIInstrumentor.instrument_app`` checks before wiring an app:
set, a later contrib call leaves the app alone instead of adding a second server span."""


def instrument_fastapi(
    app: Any,
    tracer_provider: TracerProvider,
    excluded_urls: tuple[str, ...],
    send_receive_spans: bool,
    captured_headers: tuple[str, ...] = (),
) -> None:
    """Wrap the app's whole middleware stack in :class:`ServerSpanMiddleware`.

    The stack is rebuilt, wrapped, on the next request (``compat.starlette``). FastAPI's own
    telemetry stays off for the app's requests through the global tracer provider (see
    ``FASTAPI_SCOPE``).
    """
    from amas_telemetry._internal.integrations.asgi import ServerSpanMiddleware

    tracer = tracer_provider.get_tracer("amas_telemetry.asgi")
    excluded = frozenset(excluded_urls)

    def wrap(stack: Any) -> Any:
        return ServerSpanMiddleware(stack, tracer, excluded, captured_headers, send_receive_spans)

    if not wrap_middleware_stack(app, wrap):
        _log.warning("amas_telemetry: this app's middleware stack is already wrapped; left as it is")
        return
    setattr(app, _CONTRIB_MARK, True)
    global_tracer_provider().suppress(FASTAPI_SCOPE)


def uninstrument_fastapi(app: Any) -> None:
    if not unwrap_middleware_stack(app):
        return
    if getattr(app, _CONTRIB_MARK, False):
        delattr(app, _CONTRIB_MARK)
    global_tracer_provider().unsuppress(FASTAPI_SCOPE)
