"""AMAS / HTTP API: traffic, errors, latency and the availability SLO (99.5 % of requests not 5xx).

The SLO's error budget and burn-rate panel are shared with the overview board.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, timeseries

from dashboards import metrics as m
from dashboards import recording as rec
from dashboards.panels import (
    Target,
    assemble,
    counter_per_second,
    events_per_second,
    failures_per_second,
    gauge_sum,
    graph,
    latency,
    legend,
    p95,
    recorded_error_ratio,
    service_board,
    single_stat,
)
from dashboards.promql import (
    increase,
    match,
    quantile,
    selector,
    sum_by,
)

UID = "amas-http-api"
TITLE = "AMAS / HTTP API"

HTTP_5XX = match(m.HTTP_STATUS, "5..")
SLO_ERROR_BUDGET = 0.005  # availability SLO 99.5 % (rules/alerts.yml, APIErrorBudgetBurn)
BURN_THRESHOLDS = ((6, "orange"), (14.4, "red"))


def burn_rate_targets(*windows: str) -> list[Target]:
    """Error-budget burn rate of the availability SLO over the recorded windows."""
    return [Target(f"{selector(rec.SERVICE_ERROR_RATIO[w])} / {SLO_ERROR_BUDGET}", w) for w in windows]


def route_error_ratio() -> timeseries.Panel:
    """5xx ratio by route (the overview shows it too)."""
    return recorded_error_ratio("5xx ratio by route", rec.ROUTE_ERROR_RATIO, m.HTTP_ROUTE, 0.05)


def http_api() -> dashboard.Dashboard:
    total_30d = sum_by((), increase(f"{m.HTTP_SERVER_DURATION}_count", window="30d"))
    failed_30d = sum_by((), increase(f"{m.HTTP_SERVER_DURATION}_count", HTTP_5XX, window="30d"))
    availability_30d = f"1 - (({failed_30d} or vector(0)) / {total_30d})"
    traffic = [
        events_per_second(
            "Requests/s by route and method",
            m.HTTP_SERVER_DURATION,
            [m.HTTP_ROUTE, m.HTTP_METHOD],
            unit="reqps",
            legend_format=legend(m.HTTP_METHOD, m.HTTP_ROUTE),
        ),
        events_per_second(
            "Requests/s by status code", m.HTTP_SERVER_DURATION, [m.HTTP_STATUS], unit="reqps", stacked=True
        ),
        gauge_sum(
            "Active requests",
            m.HTTP_ACTIVE_REQUESTS,
            [m.HTTP_METHOD],
            span=8,
        ),
        route_error_ratio(),
        failures_per_second(
            "5xx/s by route and error type",
            m.HTTP_SERVER_DURATION,
            m.HTTP_ROUTE,
            failed=HTTP_5XX,
            unit="reqps",
        ),
    ]
    latencies = [
        latency(
            "Latency p50 / p95 / p99",
            Target(quantile(0.5, m.HTTP_SERVER_DURATION), "p50"),
            Target(quantile(0.95, m.HTTP_SERVER_DURATION), "p95"),
            Target(quantile(0.99, m.HTTP_SERVER_DURATION), "p99"),
            threshold=2,
        ),
        p95("p95 latency by route", m.HTTP_SERVER_DURATION, [m.HTTP_ROUTE], threshold=2),
    ]
    slo = [
        single_stat(
            "Availability, 30 days",
            Target(availability_30d, instant=True),
            unit="percentunit",
            decimals=3,
            span=6,
            height=8,
            thresholds=((None, "red"), (1 - SLO_ERROR_BUDGET, "green")),
        ),
        single_stat(
            "Error budget left, 30 days",
            Target(f"1 - ({failed_30d} or vector(0)) / {total_30d} / {SLO_ERROR_BUDGET}", instant=True),
            unit="percentunit",
            span=6,
            height=8,
            thresholds=((None, "red"), (0.25, "orange"), (0.5, "green")),
        ),
        graph(
            "Error budget burn rate",
            *burn_rate_targets("5m", "30m", "1h", "6h"),
            description="Multiples of the 0.5 % error budget. "
            "Page: 1h and 5m above 14.4. Ticket: 6h and 30m above 6.",
            thresholds=BURN_THRESHOLDS,
        ),
    ]
    users = [
        counter_per_second(
            "Logins/s by result",
            m.USER_LOGINS,
            [m.LOGIN_RESULT],
            unit="ops",
        ),
        graph("Active users", Target(sum_by((), selector(m.USERS_ACTIVE)), "users")),
    ]
    board = service_board(UID, TITLE, "Traffic, errors, latency and the availability SLO.")
    return assemble(
        board,
        ("Traffic", traffic),
        ("Latency", latencies),
        ("Availability SLO: 99.5 % of requests not 5xx", slo),
        ("Users", users),
    )
