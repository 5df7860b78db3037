"""AMAS / AI providers: calls, errors, latency, tokens, cost, fallbacks, streaming."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, statetimeline
from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult

from dashboards import metrics as m
from dashboards import recording as rec
from dashboards.panels import (
    PROMETHEUS,
    Target,
    assemble,
    dollars_per_hour,
    events_per_second,
    failures_per_second,
    graph,
    legend,
    p95,
    ratio,
    recorded_error_ratio,
    service_board,
    single_stat,
    threshold_config,
    with_targets,
)
from dashboards.promql import (
    eq,
    increase,
    quantile,
    rate,
    selector,
    sum_by,
)

UID = "amas-ai-providers"
TITLE = "AMAS / AI providers"

BREAKER_STATES = ValueMap(
    {
        "0": ValueMappingResult(text="closed", color="green", index=0),
        "1": ValueMappingResult(text="open", color="red", index=1),
        "2": ValueMappingResult(text="half-open", color="orange", index=2),
    }
)


def ai_providers() -> dashboard.Dashboard:
    by_model = [m.PROVIDER, m.MODEL]
    input_tokens = sum_by(by_model, rate(f"{m.GEN_AI_TOKEN_USAGE}_sum", eq(m.TOKEN_TYPE, "input")))
    calls = [
        events_per_second("Calls/s by model", m.GEN_AI_DURATION, by_model, span=8),
        recorded_error_ratio("Error ratio by provider", rec.PROVIDER_ERROR_RATIO, m.PROVIDER, 0.5),
        failures_per_second("Errors/s by provider and error type", m.GEN_AI_DURATION, m.PROVIDER),
        p95("Latency p95 by model", m.GEN_AI_DURATION, by_model, threshold=10),
        with_targets(
            statetimeline.Panel()
            .title("Circuit breaker")
            .description("0 closed, 1 open (calls fail fast or fall back), 2 half-open.")
            .datasource(PROMETHEUS)
            .span(12)
            .height(8)
            .mappings([BREAKER_STATES])
            .thresholds(threshold_config((None, "green"))),
            [Target(f"max by ({m.PROVIDER}) ({selector(m.AI_BREAKER_STATE)})", "{{gen_ai_provider_name}}")],
        ),
    ]
    tokens_and_cost = [
        graph(
            "Tokens/s by model and type",
            Target(
                sum_by([*by_model, m.TOKEN_TYPE], rate(f"{m.GEN_AI_TOKEN_USAGE}_sum")),
                "{{gen_ai_provider_name}} {{gen_ai_request_model}} {{gen_ai_token_type}}",
            ),
            span=8,
        ),
        graph(
            "Tokens per call (p95)",
            Target(quantile(0.95, m.GEN_AI_TOKEN_USAGE, [m.TOKEN_TYPE]), "{{gen_ai_token_type}}"),
            span=8,
        ),
        dollars_per_hour("Cost per hour by model", m.AI_COST, by_model, span=8),
        graph(
            "Fallbacks/s",
            Target(
                sum_by([m.FALLBACK_FROM, m.PROVIDER], rate(m.AI_FALLBACKS)),
                "{{amas_ai_fallback_from}} → {{gen_ai_provider_name}}",
            ),
            description="Calls served by a fallback provider, by the provider that failed first.",
            unit="ops",
            span=16,
            no_value="0",
        ),
        single_stat(
            "Cost, last 24h",
            Target(sum_by((), increase(m.AI_COST, window="24h")), instant=True),
            unit="currencyUSD",
            span=8,
            height=8,
        ),
    ]
    # streaming, cost by agent, prompt cache, unpriced calls (issue 13)
    streaming = [
        p95(
            "Time to first token p95 by model",
            m.GEN_AI_TIME_TO_FIRST_CHUNK,
            by_model,
            description="Streamed calls: time from the request to the first chunk of the answer "
            "(gen_ai.client.operation.time_to_first_chunk). Dots are exemplars.",
            span=8,
            threshold=5,
        ),
        p95(
            "Time per output chunk p95 by model",
            m.GEN_AI_TIME_PER_OUTPUT_CHUNK,
            by_model,
            description="Streamed calls: time between chunks after the first "
            "(gen_ai.client.operation.time_per_output_chunk).",
            span=8,
        ),
        graph(
            "Cost burn, $/h",
            Target(selector(rec.COST_PER_HOUR_5M), "last 5 minutes"),
            Target(selector(rec.COST_PER_HOUR_1H), "last hour"),
            description="Spending pace in dollars per hour; AICostOverBudget fires above $20/h in both.",
            unit="currencyUSD",
            span=8,
            thresholds=[(20, "red")],
        ),
        dollars_per_hour(
            "Cost per hour by agent",
            m.AGENT_COST,
            [m.AGENT],
            description="Sum of the model calls made inside each agent run (invoke_agent spans).",
            span=8,
        ),
        ratio(
            "Share of cached input tokens by model",
            Target(f"{sum_by(by_model, rate(m.AI_CACHE_READ_TOKENS))} / {input_tokens}", legend(*by_model)),
            description="Input tokens read from the provider's prompt cache, where the "
            "instrumentation reports them (anthropic does; openai-v2 2.4b0 does not).",
            span=8,
        ),
        graph(
            "Unpriced calls/s by model",
            Target(sum_by(by_model, rate(m.AI_UNPRICED_CALLS)), legend(*by_model)),
            description="Calls with no app-supplied cost and no price in genai-prices: their "
            "cost is missing from every cost panel, never guessed.",
            unit="ops",
            span=8,
        ),
    ]
    board = service_board(UID, TITLE, "Calls, errors, latency, tokens, cost, fallbacks.")
    return assemble(
        board,
        ("Calls", calls),
        ("Tokens and cost", tokens_and_cost),
        ("Streaming, cost by agent, prompt cache", streaming),
    )
