"""AMAS / Tasks & agents: task throughput, outcome, latency; agents and their tools."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, timeseries

from dashboards import metrics as m
from dashboards import recording as rec
from dashboards.panels import (
    Target,
    assemble,
    counter_per_second,
    dollars_per_hour,
    events_per_second,
    failures_per_second,
    gauge_sum,
    graph,
    latency,
    p95,
    ratio,
    recorded_error_ratio,
    service_board,
)
from dashboards.promql import (
    count_rate,
    quantile,
    rate,
    selector,
    sum_by,
)

UID = "amas-tasks-agents"
TITLE = "AMAS / Tasks & agents"


def tasks_per_second() -> timeseries.Panel:
    """Finished tasks/s by type (the overview shows it too)."""
    return events_per_second("Tasks/s by type", m.TASK_DURATION, [m.TASK_TYPE], span=8)


def tasks_agents() -> dashboard.Dashboard:
    tasks = [
        tasks_per_second(),
        ratio(
            "Task success ratio by type",
            Target(selector(rec.TASK_SUCCESS_RATIO), "{{amas_task_type}}"),
            span=8,
        ),
        failures_per_second("Task failures by error type", m.TASK_DURATION, m.TASK_TYPE),
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
        gauge_sum(
            "Queue depth by priority",
            m.TASK_QUEUE_DEPTH,
            [m.TASK_PRIORITY],
            span=8,
            stacked=True,
            thresholds=[(100, "red")],
        ),
        gauge_sum(
            "Active tasks by type",
            m.TASKS_ACTIVE,
            [m.TASK_TYPE],
            span=8,
            stacked=True,
        ),
        counter_per_second(
            "Integration triggers/s",
            m.INTEGRATION_TRIGGERS,
            [m.INTEGRATION_PLATFORM, m.INTEGRATION_EVENT],
            unit="ops",
            span=8,
        ),
    ]
    agents = [
        events_per_second("Agent runs/s", m.AGENT_DURATION, [m.AGENT], span=8),
        recorded_error_ratio("Agent error ratio", rec.AGENT_ERROR_RATIO, m.AGENT, 0.15),
        p95("Agent p95", m.AGENT_DURATION, [m.AGENT], span=8),
        counter_per_second("Agent tokens/s", m.AGENT_TOKEN_USAGE, [m.AGENT, m.TOKEN_TYPE]),
        dollars_per_hour("Agent cost per hour", m.AGENT_COST, [m.AGENT], thresholds=[(10, "red")]),
    ]
    tools = [
        # execute_tool spans (issue 13)
        events_per_second("Tool calls/s", m.TOOL_DURATION, [m.TOOL]),
        p95("Tool p95", m.TOOL_DURATION, [m.TOOL]),
    ]
    board = service_board(UID, TITLE, "Task throughput, outcome, latency; agents.")
    return assemble(board, ("Tasks", tasks), ("Agents", agents), ("Tools", tools))
