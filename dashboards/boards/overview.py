"""AMAS / Overview: RED per route, tasks, errors and resources of one AMAS service."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, gauge

from dashboards import metrics as m
from dashboards import recording as rec
from dashboards.boards.http_api import BURN_THRESHOLDS, HTTP_5XX, burn_rate_targets
from dashboards.panels import (
    PROMETHEUS,
    Target,
    assemble,
    graph,
    latency,
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
        graph(
            "Requests/s by route",
            Target(count_rate(m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE]), "{{http_route}}"),
            unit="reqps",
            span=8,
        ),
        graph(
            "5xx ratio by route",
            Target(selector(rec.ROUTE_ERROR_RATIO), "{{http_route}}"),
            unit="percentunit",
            span=8,
            thresholds=[(0.05, "red")],
        ),
        latency(
            "p95 latency by route",
            Target(quantile(0.95, m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE]), "{{http_route}}"),
            span=8,
            threshold=2,
        ),
    ]
    tasks_and_errors = [
        graph(
            "Tasks/s by type",
            Target(count_rate(m.TASK_DURATION, [m.TASK_TYPE]), "{{amas_task_type}}"),
            unit="ops",
            span=8,
        ),
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
        graph(
            "CPU utilization",
            Target(selector(m.SYSTEM_CPU_UTILIZATION), "{{instance}}"),
            unit="percentunit",
            min_value=0,
            max_value=1,
            thresholds=[(0.8, "orange"), (0.95, "red")],
        ),
        graph(
            "Memory utilization",
            Target(selector(m.SYSTEM_MEMORY_UTILIZATION), "{{instance}}"),
            unit="percentunit",
            min_value=0,
            max_value=1,
            thresholds=[(0.85, "orange"), (0.95, "red")],
        ),
    ]
    board = service_board(
        "amas-overview",
        "AMAS / Overview",
        "RED per route, tasks, errors and resources of one AMAS service.",
    )
    return assemble(
        board,
        [
            ("Service health", service_health),
            ("RED per route", red_per_route),
            ("Tasks and errors", tasks_and_errors),
            ("Resources", resources),
        ],
    )
