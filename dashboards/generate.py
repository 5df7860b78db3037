"""AMAS Grafana dashboards as code (grafana-foundation-sdk), written to dashboards/json/.

    python -m dashboards.generate            # (re)write dashboards/json/*.json
    python -m dashboards.generate --check    # exit 1 if the committed JSON is stale

Grafana loads the JSON through dashboards/provisioning/dashboards/provider.yaml. Every
query goes to the Prometheus data source with the fixed UID ``prometheus`` (see
provisioning/datasources/datasources.yaml); latency panels request exemplars, which link to
the trace in Tempo. Metric and label names come from :mod:`dashboards.metrics`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard, gauge, prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders.common import (
    GraphThresholdsStyleConfig,
    StackingConfig,
    VizLegendOptions,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from dashboards import metrics as m
from dashboards.boards.infrastructure import infrastructure
from dashboards.boards.pipeline import pipeline
from dashboards.promql import (
    INSTANCES,
    any_of,
    count_rate,
    eq,
    error_ratio,
    has,
    increase,
    lacks,
    match,
    quantile,
    rate,
    selector,
    sum_by,
)

JSON_DIR = Path(__file__).resolve().parent / "json"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
DEFAULT_JOB = "amas-service"
SLO_ERROR_BUDGET = 0.005  # availability SLO 99.5 % (rules/alerts.yml, APIErrorBudgetBurn)
HTTP_5XX = match(m.HTTP_STATUS, "5..")

# --- panel helpers -------------------------------------------------------------------------------


class Target:
    """One PromQL query of a panel; ``exemplar`` asks Prometheus for trace exemplars."""

    def __init__(self, expr: str, legend: str = "", *, exemplar: bool = False, instant: bool = False) -> None:
        self.expr, self.legend, self.exemplar, self.instant = expr, legend, exemplar, instant

    def build(self, ref_id: str) -> prometheus.Dataquery:
        query = prometheus.Dataquery().expr(self.expr).ref_id(ref_id).datasource(PROMETHEUS)
        if self.legend:
            query = query.legend_format(self.legend)
        if self.exemplar:
            query = query.exemplar(True)
        if self.instant:
            query = query.instant()
        return query


def _thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def _with_targets(panel: Any, targets: Sequence[Target]) -> Any:
    for ref_id, target in zip("ABCDEFGH", targets, strict=False):
        panel = panel.with_target(target.build(ref_id))
    return panel


def graph(
    title: str,
    *targets: Target,
    unit: str = "short",
    description: str = "",
    span: int = 12,
    height: int = 8,
    stacked: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
    thresholds: Sequence[tuple[float | None, str]] = (),
    no_value: str | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .unit(unit)
        .span(span)
        .height(height)
        .fill_opacity(10)
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if description:
        panel = panel.description(description)
    if stacked:
        panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if thresholds:
        panel = panel.thresholds(_thresholds((None, "green"), *thresholds)).thresholds_style(
            GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        )
    if no_value is not None:
        panel = panel.no_value(no_value)
    return _with_targets(panel, targets)


def latency(
    title: str, *targets: Target, description: str = "", span: int = 12, threshold: float | None = None
) -> Any:
    """A latency graph in seconds; every query asks for exemplars (dot → trace in Tempo)."""
    for target in targets:
        target.exemplar = True
    return graph(
        title,
        *targets,
        unit="s",
        description=description or "Dots are exemplars: click one to open its trace in Tempo.",
        span=span,
        thresholds=[(threshold, "red")] if threshold is not None else (),
    )


def single_stat(
    title: str,
    target: Target,
    *,
    unit: str = "short",
    span: int = 4,
    height: int = 4,
    thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
    decimals: int | None = None,
    description: str = "",
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .unit(unit)
        .span(span)
        .height(height)
        .thresholds(_thresholds(*thresholds))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if description:
        panel = panel.description(description)
    return _with_targets(panel, [target])


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


def job_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("job")
        .label("Service")
        .description("service.name of the AMAS process")
        .datasource(PROMETHEUS)
        .query(f"label_values({m.HTTP_SERVER_DURATION}_count, {m.JOB})")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .current(VariableOption(selected=True, text=DEFAULT_JOB, value=DEFAULT_JOB))
    )


def instance_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("instance")
        .label("Instance")
        .description("service.instance.id")
        .datasource(PROMETHEUS)
        .query(f'label_values({m.SYSTEM_CPU_UTILIZATION}{{{m.JOB}="$job"}}, {m.INSTANCE})')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def new_dashboard(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["amas"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard.DashboardLink("AMAS dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["amas"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(job_variable())
    )


def burn_rate_targets(*windows: str) -> list[Target]:
    """Error-budget burn rate of the availability SLO over the recorded windows."""
    return [
        Target(f'job:http_server_request_errors:ratio_rate{w}{{job="$job"}} / {SLO_ERROR_BUDGET}', w)
        for w in windows
    ]


BURN_THRESHOLDS = ((6, "orange"), (14.4, "red"))

# --- dashboards ----------------------------------------------------------------------------------


def overview() -> dashboard.Dashboard:
    task_failed = has(m.ERROR_TYPE)
    return (
        new_dashboard(
            "amas-overview",
            "AMAS / Overview",
            "RED per route, tasks, errors and resources of one AMAS service.",
        )
        .with_row(row("Service health"))
        .with_panel(single_stat("Requests/s", Target(count_rate(m.HTTP_SERVER_DURATION)), unit="reqps"))
        .with_panel(
            single_stat(
                "5xx ratio",
                Target(error_ratio(m.HTTP_SERVER_DURATION, HTTP_5XX)),
                unit="percentunit",
                decimals=2,
                thresholds=((None, "green"), (0.01, "orange"), (0.05, "red")),
            )
        )
        .with_panel(
            single_stat(
                "p95 latency",
                Target(quantile(0.95, m.HTTP_SERVER_DURATION)),
                unit="s",
                thresholds=((None, "green"), (1, "orange"), (2, "red")),
            )
        )
        .with_panel(
            gauge.Panel()
            .title("Task success ratio")
            .datasource(PROMETHEUS)
            .unit("percentunit")
            .min(0)
            .max(1)
            .span(4)
            .height(4)
            .thresholds(_thresholds((None, "red"), (0.7, "yellow"), (0.9, "green")))
            .with_target(Target(f"1 - ({error_ratio(m.TASK_DURATION, task_failed)})").build("A"))
        )
        .with_panel(single_stat("Active tasks", Target(sum_by((), selector(m.TASKS_ACTIVE)))))
        .with_panel(
            single_stat(
                "Queue depth",
                Target(sum_by((), selector(m.TASK_QUEUE_DEPTH))),
                thresholds=((None, "green"), (100, "red")),
            )
        )
        .with_row(row("RED per route"))
        .with_panel(
            graph(
                "Requests/s by route",
                Target(count_rate(m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE]), "{{http_route}}"),
                unit="reqps",
                span=8,
            )
        )
        .with_panel(
            graph(
                "5xx ratio by route",
                Target('job_route:http_server_request_errors:ratio_rate5m{job="$job"}', "{{http_route}}"),
                unit="percentunit",
                span=8,
                thresholds=[(0.05, "red")],
            )
        )
        .with_panel(
            latency(
                "p95 latency by route",
                Target(quantile(0.95, m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE]), "{{http_route}}"),
                span=8,
                threshold=2,
            )
        )
        .with_row(row("Tasks and errors"))
        .with_panel(
            graph(
                "Tasks/s by type",
                Target(count_rate(m.TASK_DURATION, [m.TASK_TYPE]), "{{amas_task_type}}"),
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Errors/s by kind",
                Target(count_rate(m.HTTP_SERVER_DURATION, (), HTTP_5XX), "HTTP 5xx"),
                Target(count_rate(m.TASK_DURATION, (), task_failed), "failed tasks"),
                Target(count_rate(m.AGENT_DURATION, (), task_failed), "failed agent runs"),
                Target(count_rate(m.GEN_AI_DURATION, (), task_failed), "failed AI calls"),
                Target(count_rate(m.DB_CLIENT_DURATION, (), task_failed), "failed DB operations"),
                unit="ops",
                span=8,
                no_value="0",
            )
        )
        .with_panel(
            graph(
                "Error budget burn rate",
                *burn_rate_targets("1h", "6h"),
                description="Multiples of the 0.5 % error budget (99.5 % SLO). "
                "Page at 14.4 (1h), ticket at 6 (6h).",
                span=8,
                thresholds=BURN_THRESHOLDS,
            )
        )
        .with_row(row("Resources"))
        .with_panel(
            graph(
                "CPU utilization",
                Target(selector(m.SYSTEM_CPU_UTILIZATION), "{{instance}}"),
                unit="percentunit",
                min_value=0,
                max_value=1,
                thresholds=[(0.8, "orange"), (0.95, "red")],
            )
        )
        .with_panel(
            graph(
                "Memory utilization",
                Target(selector(m.SYSTEM_MEMORY_UTILIZATION), "{{instance}}"),
                unit="percentunit",
                min_value=0,
                max_value=1,
                thresholds=[(0.85, "orange"), (0.95, "red")],
            )
        )
    )


def tasks_agents() -> dashboard.Dashboard:
    failed = has(m.ERROR_TYPE)
    return (
        new_dashboard(
            "amas-tasks-agents", "AMAS / Tasks & agents", "Task throughput, outcome, latency; agents."
        )
        .with_row(row("Tasks"))
        .with_panel(
            graph(
                "Tasks/s by type",
                Target(count_rate(m.TASK_DURATION, [m.TASK_TYPE]), "{{amas_task_type}}"),
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Task success ratio by type",
                Target('job_task_type:amas_task_success:ratio_rate5m{job="$job"}', "{{amas_task_type}}"),
                unit="percentunit",
                span=8,
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            graph(
                "Task failures by error type",
                Target(
                    count_rate(m.TASK_DURATION, [m.TASK_TYPE, m.ERROR_TYPE], failed),
                    "{{amas_task_type}}: {{error_type}}",
                ),
                unit="ops",
                span=8,
                no_value="0",
            )
        )
        .with_panel(
            latency(
                "Task duration",
                Target(quantile(0.5, m.TASK_DURATION, [m.TASK_TYPE]), "p50 {{amas_task_type}}"),
                Target(quantile(0.95, m.TASK_DURATION, [m.TASK_TYPE]), "p95 {{amas_task_type}}"),
                threshold=300,
            )
        )
        .with_panel(
            graph(
                "Task quality score (mean)",
                Target(
                    f"{sum_by([m.TASK_TYPE], rate(f'{m.TASK_QUALITY}_sum'))}\n/\n"
                    f"{count_rate(m.TASK_QUALITY, [m.TASK_TYPE])}",
                    "{{amas_task_type}}",
                ),
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            graph(
                "Queue depth by priority",
                Target(sum_by([m.TASK_PRIORITY], selector(m.TASK_QUEUE_DEPTH)), "{{amas_task_priority}}"),
                span=8,
                stacked=True,
                thresholds=[(100, "red")],
            )
        )
        .with_panel(
            graph(
                "Active tasks by type",
                Target(sum_by([m.TASK_TYPE], selector(m.TASKS_ACTIVE)), "{{amas_task_type}}"),
                span=8,
                stacked=True,
            )
        )
        .with_panel(
            graph(
                "Integration triggers/s",
                Target(
                    sum_by([m.INTEGRATION_PLATFORM, m.INTEGRATION_EVENT], rate(m.INTEGRATION_TRIGGERS)),
                    "{{amas_integration_platform}} {{amas_integration_event_type}}",
                ),
                unit="ops",
                span=8,
            )
        )
        .with_row(row("Agents"))
        .with_panel(
            graph(
                "Agent runs/s",
                Target(count_rate(m.AGENT_DURATION, [m.AGENT]), "{{gen_ai_agent_name}}"),
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Agent error ratio",
                Target('job_agent:amas_agent_errors:ratio_rate5m{job="$job"}', "{{gen_ai_agent_name}}"),
                unit="percentunit",
                span=8,
                thresholds=[(0.15, "red")],
            )
        )
        .with_panel(
            latency(
                "Agent p95",
                Target(quantile(0.95, m.AGENT_DURATION, [m.AGENT]), "{{gen_ai_agent_name}}"),
                span=8,
            )
        )
        .with_panel(
            graph(
                "Agent tokens/s",
                Target(
                    sum_by([m.AGENT, m.TOKEN_TYPE], rate(m.AGENT_TOKEN_USAGE)),
                    "{{gen_ai_agent_name}} {{gen_ai_token_type}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Agent cost per hour",
                Target(f"3600 * {sum_by([m.AGENT], rate(m.AGENT_COST))}", "{{gen_ai_agent_name}}"),
                unit="currencyUSD",
                thresholds=[(10, "red")],
            )
        )
        # --- tools (execute_tool spans; issue 13) ---------------------------------------------
        .with_row(row("Tools"))
        .with_panel(
            graph(
                "Tool calls/s",
                Target(count_rate(m.TOOL_DURATION, [m.TOOL]), "{{gen_ai_tool_name}}"),
                unit="ops",
            )
        )
        .with_panel(
            latency("Tool p95", Target(quantile(0.95, m.TOOL_DURATION, [m.TOOL]), "{{gen_ai_tool_name}}"))
        )
    )


BREAKER_STATES = ValueMap(
    {
        "0": ValueMappingResult(text="closed", color="green", index=0),
        "1": ValueMappingResult(text="open", color="red", index=1),
        "2": ValueMappingResult(text="half-open", color="orange", index=2),
    }
)


def ai_providers() -> dashboard.Dashboard:
    failed = has(m.ERROR_TYPE)
    by_model = [m.PROVIDER, m.MODEL]
    return (
        new_dashboard(
            "amas-ai-providers", "AMAS / AI providers", "Calls, errors, latency, tokens, cost, fallbacks."
        )
        .with_row(row("Calls"))
        .with_panel(
            graph(
                "Calls/s by model",
                Target(
                    count_rate(m.GEN_AI_DURATION, by_model),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Error ratio by provider",
                Target(
                    'job_provider:gen_ai_client_operation_errors:ratio_rate5m{job="$job"}',
                    "{{gen_ai_provider_name}}",
                ),
                unit="percentunit",
                span=8,
                thresholds=[(0.5, "red")],
            )
        )
        .with_panel(
            graph(
                "Errors/s by provider and error type",
                Target(
                    count_rate(m.GEN_AI_DURATION, [m.PROVIDER, m.ERROR_TYPE], failed),
                    "{{gen_ai_provider_name}}: {{error_type}}",
                ),
                unit="ops",
                span=8,
                no_value="0",
            )
        )
        .with_panel(
            latency(
                "Latency p95 by model",
                Target(
                    quantile(0.95, m.GEN_AI_DURATION, by_model),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                threshold=10,
            )
        )
        .with_panel(
            _with_targets(
                statetimeline.Panel()
                .title("Circuit breaker")
                .description("0 closed, 1 open (calls fail fast or fall back), 2 half-open.")
                .datasource(PROMETHEUS)
                .span(12)
                .height(8)
                .mappings([BREAKER_STATES])
                .thresholds(_thresholds((None, "green"))),
                [
                    Target(
                        f"max by ({m.PROVIDER}) ({selector(m.AI_BREAKER_STATE)})", "{{gen_ai_provider_name}}"
                    )
                ],
            )
        )
        .with_row(row("Tokens and cost"))
        .with_panel(
            graph(
                "Tokens/s by model and type",
                Target(
                    sum_by([*by_model, m.TOKEN_TYPE], rate(f"{m.GEN_AI_TOKEN_USAGE}_sum")),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}} {{gen_ai_token_type}}",
                ),
                span=8,
            )
        )
        .with_panel(
            graph(
                "Tokens per call (p95)",
                Target(quantile(0.95, m.GEN_AI_TOKEN_USAGE, [m.TOKEN_TYPE]), "{{gen_ai_token_type}}"),
                span=8,
            )
        )
        .with_panel(
            graph(
                "Cost per hour by model",
                Target(
                    f"3600 * {sum_by(by_model, rate(m.AI_COST))}",
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                unit="currencyUSD",
                span=8,
            )
        )
        .with_panel(
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
            )
        )
        .with_panel(
            single_stat(
                "Cost, last 24h",
                Target(sum_by((), increase(m.AI_COST, window="24h")), instant=True),
                unit="currencyUSD",
                span=8,
                height=8,
            )
        )
        # --- streaming, cost by agent, prompt cache, unpriced calls (issue 13) -----------------
        .with_row(row("Streaming, cost by agent, prompt cache"))
        .with_panel(
            latency(
                "Time to first token p95 by model",
                Target(
                    quantile(0.95, m.GEN_AI_TIME_TO_FIRST_CHUNK, by_model),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                description="Streamed calls: time from the request to the first chunk of the answer "
                "(gen_ai.client.operation.time_to_first_chunk). Dots are exemplars.",
                span=8,
                threshold=5,
            )
        )
        .with_panel(
            latency(
                "Time per output chunk p95 by model",
                Target(
                    quantile(0.95, m.GEN_AI_TIME_PER_OUTPUT_CHUNK, by_model),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                description="Streamed calls: time between chunks after the first "
                "(gen_ai.client.operation.time_per_output_chunk).",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Cost burn, $/h",
                Target('job:amas_ai_cost_usd_per_hour:rate5m{job="$job"}', "last 5 minutes"),
                Target('job:amas_ai_cost_usd_per_hour:rate1h{job="$job"}', "last hour"),
                description="Spending pace in dollars per hour; AICostOverBudget fires above $20/h in both.",
                unit="currencyUSD",
                span=8,
                thresholds=[(20, "red")],
            )
        )
        .with_panel(
            graph(
                "Cost per hour by agent",
                Target(f"3600 * {sum_by([m.AGENT], rate(m.AGENT_COST))}", "{{gen_ai_agent_name}}"),
                description="Sum of the model calls made inside each agent run (invoke_agent spans).",
                unit="currencyUSD",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Share of cached input tokens by model",
                Target(
                    f"{sum_by(by_model, rate(m.AI_CACHE_READ_TOKENS))}"
                    f" / {sum_by(by_model, rate(f'{m.GEN_AI_TOKEN_USAGE}_sum', eq(m.TOKEN_TYPE, 'input')))}",
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                description="Input tokens read from the provider's prompt cache, where the "
                "instrumentation reports them (anthropic does; openai-v2 2.4b0 does not).",
                unit="percentunit",
                span=8,
                min_value=0,
                max_value=1,
            )
        )
        .with_panel(
            graph(
                "Unpriced calls/s by model",
                Target(
                    sum_by(by_model, rate(m.AI_UNPRICED_CALLS)),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                ),
                description="Calls with no app-supplied cost and no price in genai-prices: their "
                "cost is missing from every cost panel, never guessed.",
                unit="ops",
                span=8,
            )
        )
    )


def http_api() -> dashboard.Dashboard:
    total_30d = sum_by((), increase(f"{m.HTTP_SERVER_DURATION}_count", window="30d"))
    failed_30d = sum_by((), increase(f"{m.HTTP_SERVER_DURATION}_count", HTTP_5XX, window="30d"))
    availability_30d = f"1 - (({failed_30d} or vector(0)) / {total_30d})"
    return (
        new_dashboard(
            "amas-http-api", "AMAS / HTTP API", "Traffic, errors, latency and the availability SLO."
        )
        .with_row(row("Traffic"))
        .with_panel(
            graph(
                "Requests/s by route and method",
                Target(
                    count_rate(m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE, m.HTTP_METHOD]),
                    "{{http_request_method}} {{http_route}}",
                ),
                unit="reqps",
            )
        )
        .with_panel(
            graph(
                "Requests/s by status code",
                Target(count_rate(m.HTTP_SERVER_DURATION, [m.HTTP_STATUS]), "{{http_response_status_code}}"),
                unit="reqps",
                stacked=True,
            )
        )
        .with_panel(
            graph(
                "Active requests",
                Target(sum_by([m.HTTP_METHOD], selector(m.HTTP_ACTIVE_REQUESTS)), "{{http_request_method}}"),
                span=8,
            )
        )
        .with_panel(
            graph(
                "5xx ratio by route",
                Target('job_route:http_server_request_errors:ratio_rate5m{job="$job"}', "{{http_route}}"),
                unit="percentunit",
                span=8,
                thresholds=[(0.05, "red")],
            )
        )
        .with_panel(
            graph(
                "5xx/s by route and error type",
                Target(
                    count_rate(m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE, m.ERROR_TYPE], HTTP_5XX),
                    "{{http_route}}: {{error_type}}",
                ),
                unit="reqps",
                span=8,
                no_value="0",
            )
        )
        .with_row(row("Latency"))
        .with_panel(
            latency(
                "Latency p50 / p95 / p99",
                Target(quantile(0.5, m.HTTP_SERVER_DURATION), "p50"),
                Target(quantile(0.95, m.HTTP_SERVER_DURATION), "p95"),
                Target(quantile(0.99, m.HTTP_SERVER_DURATION), "p99"),
                threshold=2,
            )
        )
        .with_panel(
            latency(
                "p95 latency by route",
                Target(quantile(0.95, m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE]), "{{http_route}}"),
                threshold=2,
            )
        )
        .with_row(row("Availability SLO: 99.5 % of requests not 5xx"))
        .with_panel(
            single_stat(
                "Availability, 30 days",
                Target(availability_30d, instant=True),
                unit="percentunit",
                decimals=3,
                span=6,
                height=8,
                thresholds=((None, "red"), (1 - SLO_ERROR_BUDGET, "green")),
            )
        )
        .with_panel(
            single_stat(
                "Error budget left, 30 days",
                Target(f"1 - ({failed_30d} or vector(0)) / {total_30d} / {SLO_ERROR_BUDGET}", instant=True),
                unit="percentunit",
                span=6,
                height=8,
                thresholds=((None, "red"), (0.25, "orange"), (0.5, "green")),
            )
        )
        .with_panel(
            graph(
                "Error budget burn rate",
                *burn_rate_targets("5m", "30m", "1h", "6h"),
                description="Multiples of the 0.5 % error budget. "
                "Page: 1h and 5m above 14.4. Ticket: 6h and 30m above 6.",
                thresholds=BURN_THRESHOLDS,
            )
        )
        .with_row(row("Users"))
        .with_panel(
            graph(
                "Logins/s by result",
                Target(sum_by([m.LOGIN_RESULT], rate(m.USER_LOGINS)), "{{amas_login_result}}"),
                unit="ops",
            )
        )
        .with_panel(graph("Active users", Target(sum_by((), selector(m.USERS_ACTIVE)), "users")))
    )


def database_cache() -> dashboard.Dashboard:
    failed = has(m.ERROR_TYPE)
    lookups = match(m.CACHE_RESULT, "hit|miss")
    hits = sum_by((), rate(m.CACHE_OPERATIONS, eq(m.CACHE_RESULT, "hit")))
    return (
        new_dashboard(
            "amas-database-cache", "AMAS / Database & cache", "PostgreSQL and Redis operations, pool, cache."
        )
        .with_row(row("Database"))
        .with_panel(
            graph(
                "Operations/s by system and operation",
                Target(
                    count_rate(m.DB_CLIENT_DURATION, [m.DB_SYSTEM, m.DB_OPERATION]),
                    "{{db_system_name}} {{db_operation_name}}",
                ),
                unit="ops",
            )
        )
        .with_panel(
            latency(
                "Operation p95 by operation and collection",
                Target(
                    quantile(0.95, m.DB_CLIENT_DURATION, [m.DB_SYSTEM, m.DB_OPERATION, m.DB_COLLECTION]),
                    "{{db_system_name}} {{db_operation_name}} {{db_collection_name}}",
                ),
                threshold=1,
            )
        )
        .with_panel(
            graph(
                "Errors/s by system and error type",
                Target(
                    count_rate(m.DB_CLIENT_DURATION, [m.DB_SYSTEM, m.ERROR_TYPE], failed),
                    "{{db_system_name}}: {{error_type}}",
                ),
                unit="ops",
                span=8,
                no_value="0",
            )
        )
        .with_panel(
            graph(
                "Pool connections",
                Target(
                    sum_by([m.POOL_NAME, m.POOL_STATE], selector(m.DB_CONNECTION_COUNT)),
                    "{{db_client_connection_pool_name}} {{db_client_connection_state}}",
                ),
                Target(
                    sum_by([m.POOL_NAME], selector(m.DB_CONNECTION_MAX)),
                    "{{db_client_connection_pool_name}} max",
                ),
                span=8,
            )
        )
        .with_panel(
            graph(
                "Pool usage (used / max)",
                Target(
                    'job_instance_pool:db_client_connections_used:ratio{job="$job"}',
                    "{{instance}} {{db_client_connection_pool_name}}",
                ),
                unit="percentunit",
                span=8,
                min_value=0,
                max_value=1,
                thresholds=[(0.9, "red")],
            )
        )
        .with_row(row("Cache"))
        .with_panel(
            graph(
                "Cache hit ratio",
                Target(
                    f"({hits} or vector(0))\n/\n{sum_by((), rate(m.CACHE_OPERATIONS, lookups))}", "hit ratio"
                ),
                description="Hits over lookups (hit + miss); writes do not count.",
                unit="percentunit",
                span=8,
                min_value=0,
                max_value=1,
                thresholds=[(0.7, "red")],
            )
        )
        .with_panel(
            graph(
                "Cache operations/s by operation and result",
                Target(
                    sum_by([m.DB_OPERATION, m.CACHE_RESULT], rate(m.CACHE_OPERATIONS)),
                    "{{db_operation_name}} {{amas_cache_result}}",
                ),
                unit="ops",
                span=16,
                stacked=True,
            )
        )
    )


def system() -> dashboard.Dashboard:
    host = (INSTANCES,)
    by_mount = [m.INSTANCE, m.FS_MOUNTPOINT]
    return (
        new_dashboard(
            "amas-system", "AMAS / System", "Host and process resources; the telemetry pipeline itself."
        )
        .with_variable(instance_variable())
        .with_row(row("Host and process"))
        .with_panel(
            graph(
                "CPU utilization",
                Target(selector(m.SYSTEM_CPU_UTILIZATION, *host), "{{instance}} host"),
                Target(selector(m.PROCESS_CPU_UTILIZATION, *host), "{{instance}} process"),
                unit="percentunit",
                min_value=0,
                max_value=1,
                thresholds=[(0.8, "orange"), (0.95, "red")],
            )
        )
        .with_panel(
            graph(
                "Memory utilization",
                Target(selector(m.SYSTEM_MEMORY_UTILIZATION, *host), "{{instance}}"),
                unit="percentunit",
                min_value=0,
                max_value=1,
                thresholds=[(0.85, "orange"), (0.95, "red")],
            )
        )
        .with_panel(
            graph(
                "Memory by state, process RSS",
                Target(
                    sum_by([m.INSTANCE, m.MEMORY_STATE], selector(m.SYSTEM_MEMORY_USAGE, *host)),
                    "{{instance}} {{system_memory_state}}",
                ),
                Target(selector(m.PROCESS_MEMORY_USAGE, *host), "{{instance}} process RSS"),
                unit="bytes",
                span=8,
            )
        )
        .with_panel(
            graph(
                "Filesystem usage",
                Target(
                    f"{sum_by(by_mount, selector(m.SYSTEM_FILESYSTEM_USAGE, eq(m.FS_STATE, 'used'), *host))}"
                    f"\n/\n{sum_by(by_mount, selector(m.SYSTEM_FILESYSTEM_USAGE, *host))}",
                    "{{instance}} {{system_filesystem_mountpoint}}",
                ),
                unit="percentunit",
                span=8,
                min_value=0,
                max_value=1,
                thresholds=[(0.9, "red")],
            )
        )
        .with_panel(
            graph(
                "Network I/O",
                Target(
                    sum_by([m.INSTANCE, m.NETWORK_DIRECTION], rate(m.SYSTEM_NETWORK_IO, *host)),
                    "{{instance}} {{network_io_direction}}",
                ),
                unit="Bps",
                span=8,
            )
        )
        .with_row(row("Telemetry pipeline"))
        .with_panel(
            graph(
                "Span-derived measurements/s",
                Target(sum_by([m.INSTANCE], rate(m.SPAN_METRICS_RECORDED, *host)), "{{instance}}"),
                description="Measurements derived from finished spans (every span, sampled or not).",
                unit="ops",
                span=6,
            )
        )
        .with_panel(
            graph(
                "Telemetry exported/s",
                Target(
                    sum_by(
                        [m.SDK_COMPONENT_TYPE],
                        f"rate({any_of(m.SDK_EXPORTED, lacks(m.ERROR_TYPE), *host)}[$__rate_interval])",
                    ),
                    "{{otel_component_type}}",
                ),
                description="Spans, log records and metric points the SDK exported to the Collector.",
                unit="ops",
                span=6,
            )
        )
        .with_panel(
            graph(
                "Telemetry dropped/s",
                Target(
                    sum_by(
                        [m.INSTANCE, m.SDK_COMPONENT_TYPE, m.ERROR_TYPE],
                        f"rate({any_of((*m.SDK_PROCESSED, *m.SDK_EXPORTED), has(m.ERROR_TYPE), *host)}"
                        "[$__rate_interval])",
                    ),
                    "{{instance}} {{otel_component_type}}: {{error_type}}",
                ),
                description="Items a batch processor dropped (queue full) or an exporter failed to send.",
                unit="ops",
                span=6,
                no_value="0",
            )
        )
        .with_panel(
            graph(
                "Export spool",
                Target(
                    sum_by([m.INSTANCE, m.TELEMETRY_SIGNAL], selector(m.EXPORT_SPOOL_SIZE, *host)),
                    "{{instance}} {{amas_telemetry_signal}}: bytes waiting",
                ),
                Target(
                    sum_by([m.INSTANCE, m.TELEMETRY_SIGNAL], rate(m.EXPORT_SPOOL_DROPPED, *host)),
                    "{{instance}} {{amas_telemetry_signal}}: dropped/s",
                ),
                description="OTLP exports waiting on disk while the Collector is away (replayed in "
                "order when it answers), and items dropped past export_spool_max_mb.",
                span=6,
                no_value="0",
            )
        )
        .with_panel(
            graph(
                "Tail decision",
                Target(
                    sum_by([m.INSTANCE, m.TAIL_DECISION], rate(m.TAIL_TRACES, *host)),
                    "{{instance}} {{amas_tail_decision}}/s",
                ),
                Target(sum_by([m.INSTANCE], selector(m.TAIL_HELD, *host)), "{{instance}}: spans held"),
                Target(
                    sum_by([m.INSTANCE, m.TAIL_OVERFLOW_BOUND], rate(m.TAIL_OVERFLOW, *host)),
                    "{{instance}} overflow ({{amas_tail_overflow_bound}})/s",
                ),
                description="Unsampled local traces the tail decision kept (an error, slow, a rule) or "
                "dropped, the spans it holds until their root ends, and spans dropped past its bounds.",
                span=6,
                no_value="0",
            )
        )
        .with_panel(
            graph(
                "Series over the cardinality limit",
                Target(
                    f'count by (__name__) ({{{m.JOB}="$job",{m.OVERFLOW}="true"}})',
                    "{{__name__}}",
                ),
                description='Series labelled otel_metric_overflow="true": attribute sets past the limit.',
                span=6,
                no_value="0",
            )
        )
    )


DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "overview.json": overview,
    "tasks-agents.json": tasks_agents,
    "ai-providers.json": ai_providers,
    "http-api.json": http_api,
    "database-cache.json": database_cache,
    "system.json": system,
    "infrastructure.json": infrastructure,
    "pipeline.json": pipeline,
}


def _number_panels(model: dict[str, Any]) -> dict[str, Any]:
    """Stable panel ids (1, 2, ...) in layout order: links to a panel survive regeneration."""
    for panel_id, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = panel_id
    return model


def build_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model, as plain data."""
    models = {}
    for file_name, make in DASHBOARDS.items():
        models[file_name] = _number_panels(json.loads(json.dumps(make().build(), cls=JSONEncoder)))
    return models


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if dashboards/json differs from the generator"
    )
    args = parser.parse_args(argv)
    stale = []
    for file_name, model in build_all().items():
        path = JSON_DIR / file_name
        text = render(model)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            JSON_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("stale (run python -m dashboards.generate):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
