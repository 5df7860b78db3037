"""What the span-metric rules read from GenAI spans, whoever made them.

Spans come from our helpers (:mod:`.spans`), from ``opentelemetry-instrumentation-openai-v2``
(which still writes the older ``gen_ai.system`` unless opted in to the latest conventions)
and from ``opentelemetry-instrumentation-anthropic``. The getters here read the current
attribute names first and fall back to the older ones, so all three derive the same series.

Model calls (``chat``, ``text_completion``, ``embeddings``…) feed the ``gen_ai.client.*``
metrics; ``invoke_agent`` and ``execute_tool`` spans wrap model calls and feed the agent and
tool metrics instead, so no token or dollar is counted twice. Cost is the app's
``amas.ai.cost_usd`` when the span has one, else the price of its usage in genai-prices; a
model without a price is counted in ``amas.ai.unpriced_calls`` and never guessed.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from amas_telemetry import semconv as sc
from amas_telemetry._internal.genai.pricing import PriceTable, TokenUsage

__all__ = [
    "PRICES",
    "SeenResponses",
    "cache_read_tokens",
    "cost_usd",
    "is_model_call",
    "is_streamed_model_call",
    "is_unpriced",
    "output_chunks_after_first",
    "provider_name",
    "time_per_output_chunk",
    "time_to_first_chunk",
    "usage_of",
]

PRICES = PriceTable()
"""Rates per (provider, model), shared by every processor of the process (a pure cache)."""


def provider_name(span: ReadableSpan, attrs: Any) -> str | None:
    """``gen_ai.provider.name``, else the older ``gen_ai.system``, lowercase and renamed as the
    conventions list it (``az.ai.openai`` → ``azure.ai.openai``)."""
    value = attrs.get(sc.GEN_AI_PROVIDER_NAME)
    if value is None:
        value = attrs.get(sc.LEGACY_GEN_AI_SYSTEM)
        if value is None:
            return None
    name = str(value).lower()
    return sc.LEGACY_GEN_AI_PROVIDERS.get(name, name)


def is_model_call(span: ReadableSpan, attrs: Any) -> bool:
    """GenAI model calls: spans with a ``gen_ai.operation.name`` other than ``invoke_agent`` and
    ``execute_tool`` (ours, openai-v2's, anthropic's)."""
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    return operation is not None and operation not in sc.NOT_A_MODEL_CALL


def _int(attrs: Any, key: str) -> int:
    value = attrs.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(attrs: Any) -> TokenUsage | None:
    """Token usage the span reports, or None when it reports none (e.g. a failed call)."""
    if sc.GEN_AI_USAGE_INPUT_TOKENS not in attrs and sc.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs:
        return None
    return TokenUsage(
        input_tokens=_int(attrs, sc.GEN_AI_USAGE_INPUT_TOKENS),
        output_tokens=_int(attrs, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        cache_read_tokens=_int(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        cache_write_tokens=_int(attrs, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)
        or _int(attrs, sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
        reasoning_tokens=_int(attrs, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    )


def _models(attrs: Any) -> tuple[Any, ...]:
    """The response model (the exact version) first, then the requested one."""
    return tuple(m for m in (attrs.get(sc.GEN_AI_RESPONSE_MODEL), attrs.get(sc.GEN_AI_REQUEST_MODEL)) if m)


def _app_cost(attrs: Any) -> float | None:
    value = attrs.get(sc.AMAS_AI_COST_USD)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def cost_usd(span: ReadableSpan, attrs: Any) -> float | None:
    """The app's cost, else the price table's; None when neither knows (see :func:`is_unpriced`)."""
    app = _app_cost(attrs)
    if app is not None:
        return app
    usage = usage_of(attrs)
    if usage is None:
        return None
    provider = provider_name(span, attrs)
    for model in _models(attrs):
        cost = PRICES.cost(provider, str(model), usage)
        if cost is not None:
            return cost
    return None


def is_unpriced(span: ReadableSpan, attrs: Any) -> bool:
    """A model call that used tokens but has no app cost and no price in the table."""
    if not is_model_call(span, attrs) or _app_cost(attrs) is not None or usage_of(attrs) is None:
        return False
    provider = provider_name(span, attrs)
    return not any(PRICES.knows(provider, str(model)) for model in _models(attrs))


def cache_read_tokens(span: ReadableSpan, attrs: Any) -> float | None:
    """``gen_ai.usage.cache_read.input_tokens``, when the span reports it."""
    value = _int(attrs, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    return float(value) if sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS in attrs else None


class SeenResponses:
    """The last responses counted, by (provider, ``gen_ai.response.id``).

    One call can make two spans: the anthropic SDK (2.x) traces its own calls, and
    ``opentelemetry-instrumentation-anthropic`` wraps the same call in another span. The
    second span of a response already counted is a duplicate and derives nothing.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: dict[tuple[Any, Any], str] = {}
        self._lock = threading.Lock()

    def is_duplicate(self, span: ReadableSpan, attrs: Any) -> bool:
        """Was this response counted from a span of another instrumentation scope?

        Two spans of one scope with one response id are two calls (a provider may repeat ids)."""
        response_id = attrs.get(sc.GEN_AI_RESPONSE_ID)
        if response_id is None or not is_model_call(span, attrs):
            return False
        key = (provider_name(span, attrs), response_id)
        scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
        with self._lock:
            first = self._seen.get(key)
            if first is not None:
                return first != scope
            self._seen[key] = scope
            if len(self._seen) > self._size:
                del self._seen[next(iter(self._seen))]
        return False


# --- Streaming -------------------------------------------------------------------------------


def is_streamed_model_call(span: ReadableSpan, attrs: Any) -> bool:
    """Streamed model calls: model calls with a time to first chunk (``genai_call().stream()``)."""
    return sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in attrs and is_model_call(span, attrs)


def time_to_first_chunk(span: ReadableSpan, attrs: Any) -> float | None:
    """The span's time to first chunk, in seconds."""
    value = attrs.get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def output_chunks_after_first(span: ReadableSpan, attrs: Any) -> int:
    """One point per chunk after the first."""
    return max(0, _int(attrs, sc.AMAS_AI_RESPONSE_CHUNKS) - 1)


def time_per_output_chunk(span: ReadableSpan, attrs: Any) -> float | None:
    """Mean time between chunks after the first: (end - first chunk) / (chunks - 1).

    The conventions record one point per chunk after the first; the span carries the first
    chunk's time and the chunk count, so the rule records this mean once per such chunk:
    count and sum are exact, the spread within one stream is not kept.
    """
    first = time_to_first_chunk(span, attrs)
    later = output_chunks_after_first(span, attrs)
    if first is None or not later or span.end_time is None or span.start_time is None:
        return None
    streaming = (span.end_time - span.start_time) / 1e9 - first
    return max(0.0, streaming) / later
