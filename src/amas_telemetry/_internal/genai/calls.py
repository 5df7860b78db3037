"""Context for GenAI calls whose span someone else makes (an SDK instrumentation).

``opentelemetry-instrumentation-openai-v2`` and ``-anthropic`` start their own span inside
the SDK call; the app never holds it. Two things still need it:

* attributes only the app knows (``amas.ai.fallback_from``; ``server.address``/``server.port``,
  which openai-v2 2.4b0 cannot read from an SDK built on httpx2): inside ``with
  genai_call(...)`` the span-metrics processor adds them to every GenAI span that starts
  (values the instrumentation set win), and remembers the span on the :class:`GenAICall`;
* streaming times: ``call.stream(chunks)`` (or :func:`time_stream` with a span of ours)
  passes the chunks through and writes ``gen_ai.request.stream``,
  ``gen_ai.response.time_to_first_chunk`` (from the span's start) and the chunk count on the
  span while it is still open (the instrumentation ends it when the stream ends).

The agent run in progress (:func:`current_agent`) is kept here too: the processor adds the
tokens and cost of every model call that ends inside it, whoever made the span.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry.trace import Span

from amas_telemetry import semconv as sc

__all__ = ["AgentTotals", "GenAICall", "current_agent", "current_call", "genai_call", "time_stream"]

T = TypeVar("T")


@dataclass
class AgentTotals:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost_usd += cost_usd or 0.0


@dataclass
class GenAICall:
    """One GenAI call made through an instrumented SDK."""

    attributes: dict[str, Any] = field(default_factory=dict)
    """Added to the GenAI span when it starts, where the instrumentation set no value."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Set on the GenAI span when it starts, over the instrumentation's value."""
    span: Span | None = None
    """The instrumentation's span, once it has started (None without amas_telemetry configured)."""

    def stream(self, chunks: Any) -> Any:
        """``chunks`` (sync or async iterable) passed through, timed onto :attr:`span`."""
        return time_stream(chunks, lambda: self.span)


_call: ContextVar[GenAICall | None] = ContextVar("amas_genai_call", default=None)
_agent: ContextVar[AgentTotals | None] = ContextVar("amas_agent_totals", default=None)


def current_call() -> GenAICall | None:
    return _call.get()


def current_agent() -> AgentTotals | None:
    return _agent.get()


@contextmanager
def agent_totals() -> Iterator[AgentTotals]:
    totals = AgentTotals()
    token = _agent.set(totals)
    try:
        yield totals
    finally:
        _agent.reset(token)


@contextmanager
def genai_call(
    *,
    fallback_from: str | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
    provider_name: str | None = None,
) -> Iterator[GenAICall]:
    """Marks the GenAI call made inside (by an instrumented SDK); see the module docstring.

    ``provider_name``: the provider behind an SDK that speaks for several (openai-v2 says
    ``openai`` for every OpenAI-compatible endpoint, Mistral's too)."""
    attributes = {
        sc.AMAS_AI_FALLBACK_FROM: fallback_from,
        sc.SERVER_ADDRESS: server_address,
        sc.SERVER_PORT: server_port,
    }
    call = GenAICall(
        {k: v for k, v in attributes.items() if v is not None},
        {sc.GEN_AI_PROVIDER_NAME: provider_name} if provider_name else {},
    )
    token = _call.set(call)
    try:
        yield call
    finally:
        _call.reset(token)


class _StreamClock:
    """Writes the stream attributes on the span as chunks arrive."""

    __slots__ = ("chunks", "span_of")

    def __init__(self, span_of: Any) -> None:
        self.span_of = span_of
        self.chunks = 0

    def tick(self) -> None:
        self.chunks += 1
        span = self.span_of()
        if span is None or not span.is_recording():
            return
        if self.chunks == 1:
            start = getattr(span, "start_time", None)
            first = (time.time_ns() - start) / 1e9 if start else None
            attributes: dict[str, Any] = {sc.GEN_AI_REQUEST_STREAM: True, sc.AMAS_AI_RESPONSE_CHUNKS: 1}
            if first is not None:
                attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = first
            span.set_attributes(attributes)
        else:
            span.set_attribute(sc.AMAS_AI_RESPONSE_CHUNKS, self.chunks)


def time_stream(chunks: Any, span: Any) -> Any:
    """``chunks`` passed through; times it onto ``span`` (a span, or a callable returning one).

    The result iterates the way the caller does (``for`` or ``async for``): stream wrappers
    of the instrumentations define both protocols, and only the caller knows which is real.
    Other attributes (``close()``, ``response``…) and ``with`` reach the stream.
    """
    clock = _StreamClock(span if callable(span) and not isinstance(span, Span) else (lambda: span))
    return _TimedStream(chunks, clock)


class _TimedStream:
    __slots__ = ("_chunks", "_clock")

    def __init__(self, chunks: Any, clock: _StreamClock) -> None:
        self._chunks = chunks
        self._clock = clock

    def __iter__(self) -> Iterator[Any]:
        for chunk in self._chunks:
            self._clock.tick()
            yield chunk

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for chunk in self._chunks:
            self._clock.tick()
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chunks, name)

    def __enter__(self) -> _TimedStream:
        self._chunks.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._chunks.__exit__(*exc)

    async def __aenter__(self) -> _TimedStream:
        await self._chunks.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self._chunks.__aexit__(*exc)
