"""What a derivation rule is, and the predicates, getters and values the rule table uses.

A rule reads: for spans where ``when`` holds, record ``value`` into the instrument of
``metric`` (its kind, unit, description and buckets come from :mod:`amas_telemetry.catalog`)
with ``attributes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from amas_telemetry import semconv as sc
from amas_telemetry._internal.compat.sdk import plain_attributes
from amas_telemetry._internal.genai import span_attributes as genai
from amas_telemetry._internal.metrics.derivation.sql import parse_statement
from amas_telemetry.catalog import MetricSpec, spec

__all__ = ["MetricRule", "plain_attributes", "rule"]

Attributes = dict[str, AttributeValue]
Getter = Callable[[ReadableSpan, Any], AttributeValue | None]
Predicate = Callable[[ReadableSpan, Any], bool]
ValueFn = Callable[[ReadableSpan, Any], float | None]


@dataclass(frozen=True)
class MetricRule:
    """One row of the derivation table."""

    metric: MetricSpec
    """The instrument (from the catalog)."""
    when: Predicate
    """Which spans this rule applies to."""
    value: ValueFn
    """The recorded value; None records nothing for this span."""
    attributes: tuple[tuple[str, Getter], ...] = ()
    """(metric attribute name, getter) pairs; a getter returning None leaves the key out."""
    repeat: Callable[[ReadableSpan, Any], int] | None = None
    """How many points of ``value`` the span stands for (one per streamed chunk); None: one."""


def rule(
    metric: str | MetricSpec,
    *,
    when: Predicate,
    value: ValueFn,
    attributes: tuple[tuple[str, Getter], ...] = (),
    repeat: Callable[[ReadableSpan, Any], int] | None = None,
) -> MetricRule:
    """A rule recording into ``metric``: the name of a catalog metric, or a
    :class:`~amas_telemetry.MetricSpec` the app declares (a histogram, counter or up-down counter)."""
    declared = metric if isinstance(metric, MetricSpec) else spec(metric)
    return MetricRule(declared, when, value, attributes, repeat)


def first(attrs: Any, *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


# --- Predicates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeIs:
    """Predicate: the span has ``key`` set to ``value``.

    The processor indexes these by key, so any number of them costs one lookup per span.
    """

    key: str
    value: str

    def __call__(self, span: ReadableSpan, attrs: Any) -> bool:
        return attrs.get(self.key) == self.value


def amas_operation(operation: sc.AmasOperation) -> Predicate:
    return AttributeIs(sc.AMAS_OPERATION, operation.value)


def has_attribute(key: str) -> Predicate:
    return lambda span, attrs: key in attrs


def is_http_server(span: ReadableSpan, attrs: Any) -> bool:
    """HTTP server spans: kind SERVER with an HTTP request method."""
    return span.kind is SpanKind.SERVER and (
        sc.HTTP_REQUEST_METHOD in attrs or sc.LEGACY_HTTP_METHOD in attrs
    )


def is_db_client(span: ReadableSpan, attrs: Any) -> bool:
    """Database client spans: kind CLIENT with a ``db.system.name`` (asyncpg, redis)."""
    return span.kind is SpanKind.CLIENT and (sc.DB_SYSTEM_NAME in attrs or sc.LEGACY_DB_SYSTEM in attrs)


def is_cache_client(span: ReadableSpan, attrs: Any) -> bool:
    """Client spans the redis hooks marked as cache commands (queue traffic is not caching)."""
    return span.kind is SpanKind.CLIENT and sc.AMAS_CACHE_RESULT in attrs


def is_genai_fallback(span: ReadableSpan, attrs: Any) -> bool:
    """Model calls served by a fallback: with ``amas.ai.fallback_from``."""
    return sc.AMAS_AI_FALLBACK_FROM in attrs and genai.is_model_call(span, attrs)


is_genai = genai.is_model_call

# --- Getters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class attr:  # lowercase: reads as a function in the rule table
    """Getter: the first of ``keys`` present on the span (one key is read inline)."""

    keys: tuple[str, ...]

    def __init__(self, *keys: str) -> None:
        object.__setattr__(self, "keys", keys)

    def __call__(self, span: ReadableSpan, attrs: Any) -> Any:
        return first(attrs, *self.keys)


def const(value: str) -> Getter:
    return lambda span, attrs: value


def error_type(span: ReadableSpan, attrs: Any) -> str | None:
    """``error.type`` as the conventions define it: the attribute, else the exception, else _OTHER."""
    value = attrs.get(sc.ERROR_TYPE)
    if value is not None:
        return str(value)
    if span.status.status_code is not StatusCode.ERROR:
        return None
    for event in reversed(span.events):
        if event.name == "exception" and event.attributes:
            exc_type = event.attributes.get("exception.type")
            if exc_type:
                return str(exc_type).rsplit(".", 1)[-1]
    return "_OTHER"


def http_error_type(span: ReadableSpan, attrs: Any) -> str | None:
    """The status code for a 5xx answer (as the HTTP conventions say), else as :func:`error_type`."""
    if sc.ERROR_TYPE not in attrs:
        status = first(attrs, sc.HTTP_RESPONSE_STATUS_CODE, sc.LEGACY_HTTP_STATUS_CODE)
        if isinstance(status, int) and status >= 500:
            return str(status)
    return error_type(span, attrs)


def _statement(attrs: Any) -> str | None:
    value = first(attrs, sc.DB_QUERY_TEXT, sc.LEGACY_DB_STATEMENT)
    return value if isinstance(value, str) else None


def db_operation(span: ReadableSpan, attrs: Any) -> str | None:
    value = first(attrs, sc.DB_OPERATION_NAME, sc.LEGACY_DB_OPERATION)
    if value is not None:
        return str(value)
    statement = _statement(attrs)
    if statement:
        return parse_statement(statement)[0]
    return span.name.split(" ", 1)[0] or None


def db_collection(span: ReadableSpan, attrs: Any) -> str | None:
    value = first(attrs, sc.DB_COLLECTION_NAME, sc.LEGACY_DB_SQL_TABLE)
    if value is not None:
        return str(value)
    statement = _statement(attrs)
    return parse_statement(statement)[1] if statement else None


def cache_result(span: ReadableSpan, attrs: Any) -> str:
    value = attrs.get(sc.AMAS_CACHE_RESULT)
    if value is not None:
        return str(value)
    return (
        sc.CacheResult.ERROR.value if span.status.status_code is StatusCode.ERROR else sc.CacheResult.OK.value
    )


# --- Values ------------------------------------------------------------------------------------


def duration_seconds(span: ReadableSpan, attrs: Any) -> float | None:
    """The span's duration, in seconds."""
    if span.end_time is None or span.start_time is None:
        return None
    return (span.end_time - span.start_time) / 1e9


def one(span: ReadableSpan, attrs: Any) -> float:
    """1 per span."""
    return 1.0


def number(key: str) -> ValueFn:
    def read(span: ReadableSpan, attrs: Any) -> float | None:
        value = attrs.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    read.__doc__ = f"The span's ``{key}``."
    return read
