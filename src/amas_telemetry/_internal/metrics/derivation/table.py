"""The default derivation table: which spans become which metric points (the README table).

Each row names a catalog metric (its instrument lives in :mod:`amas_telemetry.catalog`),
the spans it reads, the value and the attributes.
"""

from __future__ import annotations

from amas_telemetry import semconv as sc
from amas_telemetry._internal.genai import span_attributes as genai
from amas_telemetry._internal.metrics.derivation.rules import (
    AttributeIs,
    Getter,
    MetricRule,
    Predicate,
    amas_operation,
    attr,
    cache_result,
    const,
    db_collection,
    db_operation,
    duration_seconds,
    error_type,
    http_error_type,
    is_cache_client,
    is_db_client,
    is_genai,
    is_genai_fallback,
    is_http_server,
    number,
    one,
    rule,
)

__all__ = ["DEFAULT_RULES"]

Attrs = tuple[tuple[str, Getter], ...]

HTTP: Attrs = (
    (sc.HTTP_REQUEST_METHOD, attr(sc.HTTP_REQUEST_METHOD, sc.LEGACY_HTTP_METHOD)),
    (sc.HTTP_ROUTE, attr(sc.HTTP_ROUTE)),
    (sc.HTTP_RESPONSE_STATUS_CODE, attr(sc.HTTP_RESPONSE_STATUS_CODE, sc.LEGACY_HTTP_STATUS_CODE)),
    (sc.ERROR_TYPE, http_error_type),
)
DB: Attrs = (
    (sc.DB_SYSTEM_NAME, attr(sc.DB_SYSTEM_NAME, sc.LEGACY_DB_SYSTEM)),
    (sc.DB_OPERATION_NAME, db_operation),
    (sc.DB_COLLECTION_NAME, db_collection),
    (sc.ERROR_TYPE, error_type),
)
GENAI: Attrs = (
    (sc.GEN_AI_OPERATION_NAME, attr(sc.GEN_AI_OPERATION_NAME)),
    (sc.GEN_AI_PROVIDER_NAME, genai.provider_name),
    (sc.GEN_AI_REQUEST_MODEL, attr(sc.GEN_AI_REQUEST_MODEL)),
    (sc.GEN_AI_RESPONSE_MODEL, attr(sc.GEN_AI_RESPONSE_MODEL)),
    (sc.SERVER_ADDRESS, attr(sc.SERVER_ADDRESS)),
    (sc.SERVER_PORT, attr(sc.SERVER_PORT)),
)
"""The attributes the GenAI conventions put on the gen_ai.client.* metrics."""
COST: Attrs = (
    (sc.GEN_AI_PROVIDER_NAME, genai.provider_name),
    (sc.GEN_AI_REQUEST_MODEL, attr(sc.GEN_AI_REQUEST_MODEL)),
)
AGENT: Attrs = ((sc.GEN_AI_AGENT_NAME, attr(sc.GEN_AI_AGENT_NAME)),)
ERROR: Attrs = ((sc.ERROR_TYPE, error_type),)

is_task = amas_operation(sc.AmasOperation.TASK)
is_agent = AttributeIs(sc.GEN_AI_OPERATION_NAME, sc.GenAiOperation.INVOKE_AGENT.value)
is_tool = AttributeIs(sc.GEN_AI_OPERATION_NAME, sc.GenAiOperation.EXECUTE_TOOL.value)


def token_rules(metric: str, *, when: Predicate, attributes: Attrs) -> tuple[MetricRule, ...]:
    """One rule per token type, sharing one instrument."""
    return tuple(
        rule(
            metric,
            when=when,
            value=number(key),
            attributes=(*attributes, (sc.GEN_AI_TOKEN_TYPE, const(token_type.value))),
        )
        for token_type, key in (
            (sc.TokenType.INPUT, sc.GEN_AI_USAGE_INPUT_TOKENS),
            (sc.TokenType.OUTPUT, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        )
    )


DEFAULT_RULES: tuple[MetricRule, ...] = (
    rule(sc.HTTP_SERVER_REQUEST_DURATION, when=is_http_server, value=duration_seconds, attributes=HTTP),
    rule(sc.DB_CLIENT_OPERATION_DURATION, when=is_db_client, value=duration_seconds, attributes=DB),
    rule(
        sc.AMAS_CACHE_OPERATIONS,
        when=is_cache_client,
        value=one,
        attributes=((sc.DB_OPERATION_NAME, db_operation), (sc.AMAS_CACHE_RESULT, cache_result)),
    ),
    rule(
        sc.GEN_AI_CLIENT_OPERATION_DURATION,
        when=is_genai,
        value=duration_seconds,
        attributes=(*GENAI, *ERROR),
    ),
    *token_rules(sc.GEN_AI_CLIENT_TOKEN_USAGE, when=is_genai, attributes=GENAI),
    rule(
        sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        when=genai.is_streamed_model_call,
        value=genai.time_to_first_chunk,
        attributes=GENAI,
    ),
    rule(
        sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        when=genai.is_streamed_model_call,
        value=genai.time_per_output_chunk,
        attributes=GENAI,
        repeat=genai.output_chunks_after_first,
    ),
    rule(sc.AMAS_AI_COST, when=is_genai, value=genai.cost_usd, attributes=COST),
    rule(sc.AMAS_AI_UNPRICED_CALLS, when=genai.is_unpriced, value=one, attributes=COST),
    rule(sc.AMAS_AI_CACHE_READ_INPUT_TOKENS, when=is_genai, value=genai.cache_read_tokens, attributes=COST),
    rule(
        sc.AMAS_AI_FALLBACKS,
        when=is_genai_fallback,
        value=one,
        attributes=(
            (sc.AMAS_AI_FALLBACK_FROM, attr(sc.AMAS_AI_FALLBACK_FROM)),
            (sc.GEN_AI_PROVIDER_NAME, genai.provider_name),
        ),
    ),
    rule(
        sc.AMAS_TASK_DURATION,
        when=is_task,
        value=duration_seconds,
        attributes=((sc.AMAS_TASK_TYPE, attr(sc.AMAS_TASK_TYPE)), *ERROR),
    ),
    rule(
        sc.AMAS_TASK_QUALITY,
        when=is_task,
        value=number(sc.AMAS_TASK_QUALITY_SCORE),
        attributes=((sc.AMAS_TASK_TYPE, attr(sc.AMAS_TASK_TYPE)),),
    ),
    rule(sc.AMAS_AGENT_DURATION, when=is_agent, value=duration_seconds, attributes=(*AGENT, *ERROR)),
    *token_rules(sc.AMAS_AGENT_TOKEN_USAGE, when=is_agent, attributes=AGENT),
    rule(sc.AMAS_AGENT_COST, when=is_agent, value=number(sc.AMAS_AI_COST_USD), attributes=AGENT),
    rule(
        sc.AMAS_TOOL_DURATION,
        when=is_tool,
        value=duration_seconds,
        attributes=((sc.GEN_AI_TOOL_NAME, attr(sc.GEN_AI_TOOL_NAME)), *ERROR),
    ),
    rule(
        sc.AMAS_INTEGRATION_TRIGGERS,
        when=amas_operation(sc.AmasOperation.INTEGRATION),
        value=one,
        attributes=(
            (sc.AMAS_INTEGRATION_PLATFORM, attr(sc.AMAS_INTEGRATION_PLATFORM)),
            (sc.AMAS_INTEGRATION_EVENT_TYPE, attr(sc.AMAS_INTEGRATION_EVENT_TYPE)),
            *ERROR,
        ),
    ),
    rule(
        sc.AMAS_USER_LOGINS,
        when=amas_operation(sc.AmasOperation.LOGIN),
        value=one,
        attributes=((sc.AMAS_LOGIN_RESULT, attr(sc.AMAS_LOGIN_RESULT)),),
    ),
)
