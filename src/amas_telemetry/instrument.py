"""FastAPI, asyncpg, redis and httpx instrumentation, through the contrib instrumentors.

Client libraries are patched process-wide, once, against the delegating global tracer
provider, and reference-counted: the last ``shutdown()`` un-patches them. A library that
is not installed is skipped; an installed library whose instrumentor is missing gets a
warning naming the pip extra. Apps are instrumented per app, with the handle's own
provider, and un-instrumented symmetrically.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import Span, TracerProvider

from amas_telemetry import semconv as sc

__all__ = [
    "LIBRARIES",
    "acquire_libraries",
    "instrument_fastapi",
    "release_libraries",
    "uninstrument_fastapi",
    "untraced",
]

_log = logging.getLogger(__name__)

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


def _excluded_urls_pattern(paths: tuple[str, ...]) -> str | None:
    """Exact paths (query string allowed), not the substring match the contrib default does.

    The contrib middleware searches the pattern in the full URL (``http://host/api/metrics``):
    anchored at the URL's start, ``/metrics`` excludes ``/metrics`` and ``/metrics?x`` only.
    """
    if not paths:
        return None
    return ",".join(rf"^(?:[a-z][a-z0-9+.\-]*://[^/?#]*)?{re.escape(p)}(?:\?.*)?$" for p in paths)


def is_fastapi_app(app: Any) -> bool:
    try:
        from fastapi import FastAPI
    except ImportError:
        return False
    return isinstance(app, FastAPI)


def instrument_fastapi(
    app: Any,
    tracer_provider: TracerProvider,
    excluded_urls: tuple[str, ...],
    send_receive_spans: bool,
) -> None:
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError:
        raise ImportError("FastAPI instrumentation needs: pip install 'amas-telemetry[fastapi]'") from None
    _native_telemetry_off(app)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        meter_provider=NoOpMeterProvider(),  # the spans already say it; metrics come from spans
        excluded_urls=_excluded_urls_pattern(excluded_urls),
        exclude_spans=None if send_receive_spans else ["send", "receive"],
    )
    # instrument_app only patches build_middleware_stack; a stack that is already built (a
    # second configure() after shutdown()) would keep serving without the middleware.
    app.middleware_stack = None


def uninstrument_fastapi(app: Any) -> None:
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError:  # the extra is missing: nothing was instrumented (instrument_fastapi said so)
        FastAPIInstrumentor = None
    if FastAPIInstrumentor is not None:
        FastAPIInstrumentor.uninstrument_app(app)
    _native_telemetry_restore(app)


_NATIVE_SWITCHES = ("tracing", "metrics", "logs")


def _native_telemetry_off(app: Any) -> None:
    """FastAPI >= 0.16x traces itself once a global provider exists (three extra spans per
    request: dependencies, endpoint, serialization). The contrib instrumentor already
    records the request, so the app's native telemetry is switched off while we wire it."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict) and "_amas_saved" not in config:
        config["_amas_saved"] = {k: config.get(k) for k in _NATIVE_SWITCHES}
        config.update(dict.fromkeys(_NATIVE_SWITCHES, False))


def _native_telemetry_restore(app: Any) -> None:
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict) and "_amas_saved" in config:
        config.update(config.pop("_amas_saved"))
