"""AMAS / Tasks & agents: task throughput, outcome, latency; agents and their tools."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import metrics as m
from dashboards import recording as rec
from dashboards.panels import (
    Target,
    assemble,
    graph,
    latency,
    service_board,
)
from dashboards.promql import (
    count_rate,
    has,
    quantile,
    rate,
    selector,
    sum_by,
)


def tasks_agents() -> dashboard.Dashboard:
    failed = has(m.ERROR_TYPE)
    tasks = [
        graph(
            "Tasks/s by type",
            Target(count_rate(m.TASK_DURATION, [m.TASK_TYPE]), "{{amas_task_type}}"),
            unit="ops",
            span=8,
        ),
        graph(
            "Task success ratio by type",
            Target(selector(rec.TASK_SUCCESS_RATIO), "{{amas_task_type}}"),
            unit="percentunit",
            span=8,
            min_value=0,
            max_value=1,
        ),
        graph(
            "Task failures by error type",
            Target(
                count_rate(m.TASK_DURATION, [m.TASK_TYPE, m.ERROR_TYPE], failed),
                "{{amas_task_type}}: {{error_type}}",
            ),
            unit="ops",
            span=8,
            no_value="0",
        ),
        latency(
            "Task duration",
            Target(quantile(0.5, m.TASK_DURATION, [m.TASK_TYPE]), "p50 {{amas_task_type}}"),
            Target(quantile(0.95, m.TASK_DURATION, [m.TASK_TYPE]), "p95 {{amas_task_type}}"),
            threshold=300,
        ),
        graph(
            "Task quality score (mean)",
            Target(
                f"{sum_by([m.TASK_TYPE], rate(f'{m.TASK_QUALITY}_sum'))}\n/\n"
                f"{count_rate(m.TASK_QUALITY, [m.TASK_TYPE])}",
                "{{amas_task_type}}",
            ),
            min_value=0,
            max_value=1,
        ),
        graph(
            "Queue depth by priority",
            Target(sum_by([m.TASK_PRIORITY], selector(m.TASK_QUEUE_DEPTH)), "{{amas_task_priority}}"),
            span=8,
            stacked=True,
            thresholds=[(100, "red")],
        ),
        graph(
            "Active tasks by type",
            Target(sum_by([m.TASK_TYPE], selector(m.TASKS_ACTIVE)), "{{amas_task_type}}"),
            span=8,
            stacked=True,
        ),
        graph(
            "Integration triggers/s",
            Target(
                sum_by([m.INTEGRATION_PLATFORM, m.INTEGRATION_EVENT], rate(m.INTEGRATION_TRIGGERS)),
                "{{amas_integration_platform}} {{amas_integration_event_type}}",
            ),
            unit="ops",
            span=8,
        ),
    ]
    agents = [
        graph(
            "Agent runs/s",
            Target(count_rate(m.AGENT_DURATION, [m.AGENT]), "{{gen_ai_agent_name}}"),
            unit="ops",
            span=8,
        ),
        graph(
            "Agent error ratio",
            Target(selector(rec.AGENT_ERROR_RATIO), "{{gen_ai_agent_name}}"),
            unit="percentunit",
            span=8,
            thresholds=[(0.15, "red")],
        ),
        latency(
            "Agent p95",
            Target(quantile(0.95, m.AGENT_DURATION, [m.AGENT]), "{{gen_ai_agent_name}}"),
            span=8,
        ),
        graph(
            "Agent tokens/s",
            Target(
                sum_by([m.AGENT, m.TOKEN_TYPE], rate(m.AGENT_TOKEN_USAGE)),
                "{{gen_ai_agent_name}} {{gen_ai_token_type}}",
            ),
        ),
        graph(
            "Agent cost per hour",
            Target(f"3600 * {sum_by([m.AGENT], rate(m.AGENT_COST))}", "{{gen_ai_agent_name}}"),
            unit="currencyUSD",
            thresholds=[(10, "red")],
        ),
        # --- tools (execute_tool spans; issue 13) ---------------------------------------------
    ]
    tools = [
        graph(
            "Tool calls/s",
            Target(count_rate(m.TOOL_DURATION, [m.TOOL]), "{{gen_ai_tool_name}}"),
            unit="ops",
        ),
        latency("Tool p95", Target(quantile(0.95, m.TOOL_DURATION, [m.TOOL]), "{{gen_ai_tool_name}}")),
    ]
    board = service_board(
        "amas-tasks-agents", "AMAS / Tasks & agents", "Task throughput, outcome, latency; agents."
    )
    return assemble(
        board,
        [
            ("Tasks", tasks),
            ("Agents", agents),
            ("Tools", tools),
        ],
    )
