"""The metric names the demo reads: the names ``/metrics`` gives the catalog's metrics.

From :func:`amas_telemetry._internal.prometheus.exposition.exposed_name`; histograms by their base name (the
samples append ``_bucket``, ``_sum``, ``_count``).
"""

from __future__ import annotations

from typing import Final

from amas_telemetry import semconv as sc
from amas_telemetry._internal.prometheus.exposition import exposed_name
from amas_telemetry.catalog import CATALOG


def served_name(name: str) -> str:
    """The ``/metrics`` name of the catalog metric ``name`` (KeyError: not in the catalog)."""
    return exposed_name(CATALOG[name])


HTTP_DURATION: Final = served_name(sc.HTTP_SERVER_REQUEST_DURATION)
DB_DURATION: Final = served_name(sc.DB_CLIENT_OPERATION_DURATION)
GEN_AI_DURATION: Final = served_name(sc.GEN_AI_CLIENT_OPERATION_DURATION)
GEN_AI_TOKEN_USAGE: Final = served_name(sc.GEN_AI_CLIENT_TOKEN_USAGE)
TASK_DURATION: Final = served_name(sc.AMAS_TASK_DURATION)
TASK_QUALITY: Final = served_name(sc.AMAS_TASK_QUALITY)
AI_COST: Final = served_name(sc.AMAS_AI_COST)
AI_FALLBACKS: Final = served_name(sc.AMAS_AI_FALLBACKS)
AI_BREAKER_STATE: Final = served_name(sc.AMAS_AI_BREAKER_STATE)
CACHE_OPERATIONS: Final = served_name(sc.AMAS_CACHE_OPERATIONS)
USER_LOGINS: Final = served_name(sc.AMAS_USER_LOGINS)
INTEGRATION_TRIGGERS: Final = served_name(sc.AMAS_INTEGRATION_TRIGGERS)
DB_CONNECTION_COUNT: Final = served_name(sc.DB_CLIENT_CONNECTION_COUNT)
DB_CONNECTION_MAX: Final = served_name(sc.DB_CLIENT_CONNECTION_MAX)
USERS_ACTIVE: Final = served_name(sc.AMAS_USERS_ACTIVE)
TASK_QUEUE_DEPTH: Final = served_name(sc.AMAS_TASK_QUEUE_DEPTH)
