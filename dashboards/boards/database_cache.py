"""AMAS / Database & cache: PostgreSQL and Redis operations, the connection pool, the cache."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import metrics as m
from dashboards import recording as rec
from dashboards.panels import (
    Target,
    assemble,
    counter_per_second,
    events_per_second,
    failures_per_second,
    graph,
    p95,
    ratio,
    service_board,
)
from dashboards.promql import (
    eq,
    match,
    rate,
    selector,
    sum_by,
)

UID = "amas-database-cache"
TITLE = "AMAS / Database & cache"


def database_cache() -> dashboard.Dashboard:
    lookups = match(m.CACHE_RESULT, "hit|miss")
    hits = sum_by((), rate(m.CACHE_OPERATIONS, eq(m.CACHE_RESULT, "hit")))
    database = [
        events_per_second(
            "Operations/s by system and operation", m.DB_CLIENT_DURATION, [m.DB_SYSTEM, m.DB_OPERATION]
        ),
        p95(
            "Operation p95 by operation and collection",
            m.DB_CLIENT_DURATION,
            [m.DB_SYSTEM, m.DB_OPERATION, m.DB_COLLECTION],
            threshold=1,
        ),
        failures_per_second("Errors/s by system and error type", m.DB_CLIENT_DURATION, m.DB_SYSTEM),
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
        ),
        ratio(
            "Pool usage (used / max)",
            Target(
                selector(rec.POOL_USAGE),
                "{{instance}} {{db_client_connection_pool_name}}",
            ),
            span=8,
            thresholds=[(0.9, "red")],
        ),
    ]
    cache = [
        ratio(
            "Cache hit ratio",
            Target(f"({hits} or vector(0))\n/\n{sum_by((), rate(m.CACHE_OPERATIONS, lookups))}", "hit ratio"),
            description="Hits over lookups (hit + miss); writes do not count.",
            span=8,
            thresholds=[(0.7, "red")],
        ),
        counter_per_second(
            "Cache operations/s by operation and result",
            m.CACHE_OPERATIONS,
            [m.DB_OPERATION, m.CACHE_RESULT],
            unit="ops",
            span=16,
            stacked=True,
        ),
    ]
    board = service_board(UID, TITLE, "PostgreSQL and Redis operations, pool, cache.")
    return assemble(board, ("Database", database), ("Cache", cache))
