"""AMAS / Overview: RED per route, tasks, errors and resources of one AMAS service."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, gauge

from dashboards import metrics as m
from dashboards.boards.http_api import BURN_THRESHOLDS, HTTP_5XX, burn_rate_targets, route_error_ratio
from dashboards.boards.system import CPU_BUSY, MEMORY_FULL
from dashboards.boards.tasks_agents import tasks_per_second
from dashboards.panels import (
    PROMETHEUS,
    Target,
    assemble,
    events_per_second,
    graph,
    p95,
    ratio,
    service_board,
    single_stat,
    threshold_config,
)
from dashboards.promql import (
    count_rate,
    error_ratio,
    has,
    quantile,
    selector,
    sum_by,
)

UID = "amas-overview"
TITLE = "AMAS / Overview"


def overview() -> dashboard.Dashboard:
    task_failed = has(m.ERROR_TYPE)
    service_health = [
        single_stat("Requests/s", Target(count_rate(m.HTTP_SERVER_DURATION)), unit="reqps"),
        single_stat(
            "5xx ratio",
            Target(error_ratio(m.HTTP_SERVER_DURATION, HTTP_5XX)),
            unit="percentunit",
            decimals=2,
            thresholds=((None, "green"), (0.01, "orange"), (0.05, "red")),
        ),
        single_stat(
            "p95 latency",
            Target(quantile(0.95, m.HTTP_SERVER_DURATION)),
            unit="s",
            thresholds=((None, "green"), (1, "orange"), (2, "red")),
        ),
        gauge.Panel()
        .title("Task success ratio")
        .datasource(PROMETHEUS)
        .unit("percentunit")
        .min(0)
        .max(1)
        .span(4)
        .height(4)
        .thresholds(threshold_config((None, "red"), (0.7, "yellow"), (0.9, "green")))
        .with_target(Target(f"1 - ({error_ratio(m.TASK_DURATION, task_failed)})").build("A")),
        single_stat("Active tasks", Target(sum_by((), selector(m.TASKS_ACTIVE)))),
        single_stat(
            "Queue depth",
            Target(sum_by((), selector(m.TASK_QUEUE_DEPTH))),
            thresholds=((None, "green"), (100, "red")),
        ),
    ]
    red_per_route = [
        events_per_second(
            "Requests/s by route", m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE], unit="reqps", span=8
        ),
        route_error_ratio(),
        p95("p95 latency by route", m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE], span=8, threshold=2),
    ]
    tasks_and_errors = [
        tasks_per_second(),
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
        ),
        graph(
            "Error budget burn rate",
            *burn_rate_targets("1h", "6h"),
            description="Multiples of the 0.5 % error budget (99.5 % SLO). "
            "Page at 14.4 (1h), ticket at 6 (6h).",
            span=8,
            thresholds=BURN_THRESHOLDS,
        ),
    ]
    resources = [
        ratio(
            "CPU utilization", Target(selector(m.SYSTEM_CPU_UTILIZATION), "{{instance}}"), thresholds=CPU_BUSY
        ),
        ratio(
            "Memory utilization",
            Target(selector(m.SYSTEM_MEMORY_UTILIZATION), "{{instance}}"),
            thresholds=MEMORY_FULL,
        ),
    ]
    board = service_board(UID, TITLE, "RED per route, tasks, errors and resources of one AMAS service.")
    return assemble(
        board,
        ("Service health", service_health),
        ("RED per route", red_per_route),
        ("Tasks and errors", tasks_and_errors),
        ("Resources", resources),
    )
