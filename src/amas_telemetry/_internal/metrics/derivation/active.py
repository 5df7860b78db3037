"""``http.server.active_requests``: HTTP server spans started and not yet ended.

Counted in a dict on span start and end, read at collection time (an observable
up-down counter), so the request path only touches a dict under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from amas_telemetry import semconv as sc
from amas_telemetry._internal.metrics.derivation.rules import first, is_http_server, plain_attributes
from amas_telemetry.catalog import spec

__all__ = ["ActiveRequestsProcessor"]

_MAX_METHODS = 64
"""Distinct methods counted apart; the rest fold into ``_OTHER`` (the HTTP conventions' value)."""


class ActiveRequestsProcessor(SpanProcessor):
    def __init__(self, meter: Meter) -> None:
        self._active: dict[Any, int] = {}
        self._lock = threading.Lock()
        self._shutdown = False
        spec(sc.HTTP_SERVER_ACTIVE_REQUESTS).observe(meter, [self._observe])

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = list(self._active.items())
        return [Observation(count, {sc.HTTP_REQUEST_METHOD: method}) for method, count in counts]

    def _count(self, attrs: Any, delta: int) -> None:
        method = first(attrs, sc.HTTP_REQUEST_METHOD, sc.LEGACY_HTTP_METHOD)
        with self._lock:
            if method not in self._active and len(self._active) >= _MAX_METHODS:
                method = "_OTHER"
            self._active[method] = self._active.get(method, 0) + delta

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._shutdown or span.kind is not SpanKind.SERVER:
            return
        attrs = plain_attributes(span)
        if sc.HTTP_REQUEST_METHOD in attrs or sc.LEGACY_HTTP_METHOD in attrs:
            self._count(attrs, 1)

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown or span.kind is not SpanKind.SERVER:
            return
        attrs = plain_attributes(span)
        if is_http_server(span, attrs):
            self._count(attrs, -1)

    def shutdown(self) -> None:
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
