"""Domain span helpers: the attributes the span-metric rules read, set in one place.

Each helper is a context manager around ``tracer.start_as_current_span`` that uses the
global OTel API (so it follows the active ``configure()``), marks the span with
``amas.operation`` and, on an exception, sets ``error.type`` before re-raising.
Agents and tools follow the GenAI conventions (``invoke_agent`` / ``execute_tool`` spans with
``gen_ai.agent.*`` / ``gen_ai.tool.*``). The tokens and cost of every model call that ends
inside an agent run (ours or an instrumented SDK's) are summed onto the agent span by the
span-metrics processor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Link, Span, SpanKind

from amas_telemetry import semconv as sc
from amas_telemetry._internal.genai.calls import agent_totals
from amas_telemetry._internal.tracing.provider import tracer_delegate

__all__ = [
    "agent_span",
    "genai_span",
    "integration_span",
    "login_span",
    "record_fallback",
    "record_genai_usage",
    "record_quality",
    "set_login_result",
    "task_span",
    "tool_span",
]

_tracer = tracer_delegate().get_tracer("amas_telemetry")


@contextmanager
def _domain_span(
    name: str,
    attributes: dict[str, Any],
    kind: SpanKind = SpanKind.INTERNAL,
    links: Sequence[Link] | None = None,
) -> Iterator[Span]:
    attributes = {k: v for k, v in attributes.items() if v is not None}
    with _tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        links=links,
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            # an error.type the app chose (e.g. the provider's HTTP status) wins
            if sc.ERROR_TYPE not in (getattr(span, "attributes", None) or {}):
                span.set_attribute(sc.ERROR_TYPE, type(exc).__qualname__)
            raise


@contextmanager
def task_span(
    task_type: str,
    *,
    task_id: str | None = None,
    priority: str | None = None,
    links: Sequence[Link] | None = None,
) -> Iterator[Span]:
    """One AMAS task, from dequeue to result: ``amas.task.duration`` by type and error.type.

    ``links``: start a new trace linked to the request that queued the task, instead of
    continuing the request's trace (for long-delayed or batched work).
    """
    with _domain_span(
        f"task {task_type}",
        {
            sc.AMAS_OPERATION: sc.AmasOperation.TASK.value,
            sc.AMAS_TASK_TYPE: task_type,
            sc.AMAS_TASK_ID: task_id,
            sc.AMAS_TASK_PRIORITY: priority,
        },
        links=links,
    ) as span:
        yield span


def record_quality(span: Span, score: float) -> None:
    """Quality score (0..1) of a task: ``amas.task.quality_score``."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"quality score must be within 0..1, got {score!r}")
    span.set_attribute(sc.AMAS_TASK_QUALITY_SCORE, float(score))


@contextmanager
def agent_span(agent_name: str, *, agent_id: str | None = None) -> Iterator[Span]:
    """One agent run: an ``invoke_agent {name}`` span. The tokens and cost of the model calls
    that end inside it are set on it when it ends (``amas.agent.*`` metrics)."""
    with (
        agent_totals() as totals,
        _domain_span(
            f"invoke_agent {agent_name}",
            {
                sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT.value,
                sc.GEN_AI_AGENT_NAME: agent_name,
                sc.GEN_AI_AGENT_ID: agent_id,
            },
        ) as span,
    ):
        try:
            yield span
        finally:
            span.set_attributes(
                {
                    sc.GEN_AI_USAGE_INPUT_TOKENS: totals.input_tokens,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: totals.output_tokens,
                    sc.AMAS_AI_COST_USD: totals.cost_usd,
                }
            )


@contextmanager
def tool_span(tool_name: str, *, call_id: str | None = None) -> Iterator[Span]:
    """One tool call: an ``execute_tool {name}`` span (``amas.tool.duration``)."""
    with _domain_span(
        f"execute_tool {tool_name}",
        {
            sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.EXECUTE_TOOL.value,
            sc.GEN_AI_TOOL_NAME: tool_name,
            sc.GEN_AI_TOOL_CALL_ID: call_id,
        },
    ) as span:
        yield span


@contextmanager
def genai_span(provider: str, model: str, *, operation: str = "chat") -> Iterator[Span]:
    """One call to an AI provider (a CLIENT span named ``{operation} {model}``)."""
    with _domain_span(
        f"{operation} {model}",
        {
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model,
        },
        kind=SpanKind.CLIENT,
    ) as span:
        yield span


def record_genai_usage(
    span: Span,
    *,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float | None = None,
    response_model: str | None = None,
    cache_read_tokens: int | None = None,
    reasoning_tokens: int | None = None,
) -> None:
    """Token usage of one GenAI call (``input_tokens`` includes cached ones, ``output_tokens``
    reasoning ones, as in the conventions). ``cost_usd``: the app's price, which wins over
    the price table; leave it out to have genai-prices price the call."""
    attributes: dict[str, Any] = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
    }
    if cost_usd is not None:
        attributes[sc.AMAS_AI_COST_USD] = float(cost_usd)
    if response_model is not None:
        attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
    if cache_read_tokens is not None:
        attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read_tokens
    if reasoning_tokens is not None:
        attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning_tokens
    span.set_attributes(attributes)


def record_fallback(span: Span, from_provider: str) -> None:
    """This GenAI call is served by a fallback, after ``from_provider`` failed."""
    span.set_attribute(sc.AMAS_AI_FALLBACK_FROM, from_provider)


@contextmanager
def integration_span(platform: str, event_type: str) -> Iterator[Span]:
    """An incoming integration event (``amas.integration.triggers``)."""
    with _domain_span(
        f"integration {platform}",
        {
            sc.AMAS_OPERATION: sc.AmasOperation.INTEGRATION.value,
            sc.AMAS_INTEGRATION_PLATFORM: platform,
            sc.AMAS_INTEGRATION_EVENT_TYPE: event_type,
        },
    ) as span:
        yield span


@contextmanager
def login_span() -> Iterator[Span]:
    """A login attempt; call ``set_login_result`` inside (a refused login is not an error)."""
    with _domain_span("user.login", {sc.AMAS_OPERATION: sc.AmasOperation.LOGIN.value}) as span:
        yield span


def set_login_result(span: Span, success: bool) -> None:
    span.set_attribute(sc.AMAS_LOGIN_RESULT, "success" if success else "failure")
