"""Every dashboard and rule expression returns data from a Prometheus the reference service feeds.

This is where metric and label names are proven: dashboards/metrics.py and rules/*.yml spell
them, and a query whose names Prometheus does not store returns nothing.

Fixtures (tests/e2e/conftest.py):
- ``fed_prometheus_url``: Prometheus (with rules/prometheus.yml, so recording rules run)
  fed over OTLP by the reference service under normal load;
- ``faulted_prometheus_url``: the same, after the faults of ``dashboards.queries.FAULTS``
  were injected. Queries listed in ``FAULT_ONLY`` run there; the mapping lives in
  dashboards/queries.py, nowhere else.
Queries in ``PROVEN_ELSEWHERE`` (refused credentials: the fed stack has no authentication) are
proven by the secured-Collector tests that name them.
Both should be session-scoped: every query here is a separate test.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from dashboards.queries import FAULTS, Query, all_queries  # noqa: E402

pytestmark = pytest.mark.e2e

QUERIES = all_queries()
NORMAL = [q for q in QUERIES if q.fault is None and q.proven_by is None]
FAULTED = [q for q in QUERIES if q.fault is not None]

#: recording rules run every 15 s and 5m rates need two samples: give fresh data a moment
WAIT_SECONDS = 60.0


def _instant_query(base_url: str, expr: str) -> list[dict]:
    url = f"{base_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # 400: bad query, with Prometheus's reason
        reason = error.read().decode(errors="replace")
        raise AssertionError(f"Prometheus refused the query: {reason}") from error
    assert body["status"] == "success", body
    data = body["data"]
    assert data["resultType"] == "vector", f"expected an instant vector, got {data['resultType']}"
    return data["result"]


def _assert_has_series(base_url: str, query: Query, context: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        series = _instant_query(base_url, query.expr)
        if series:
            return
        if time.monotonic() >= deadline:
            pytest.fail(
                f"{query.id}: no series {context}.\nQuery: {query.expr}\n"
                "Either a metric or label name is not what Prometheus stores (fix dashboards/metrics.py "
                "or rules/*.yml), or the data only exists under a fault (add the query id to FAULT_ONLY "
                "in dashboards/queries.py).",
                pytrace=False,
            )
        time.sleep(5)


@pytest.mark.parametrize("query", NORMAL, ids=[q.id for q in NORMAL])
def test_query_returns_series_under_normal_load(query: Query, fed_prometheus_url: str) -> None:
    _assert_has_series(fed_prometheus_url, query, "under normal load")


@pytest.mark.parametrize("query", FAULTED, ids=[q.id for q in FAULTED])
def test_query_returns_series_under_its_fault(query: Query, faulted_prometheus_url: str) -> None:
    _assert_has_series(faulted_prometheus_url, query, f"after fault {query.fault!r} ({FAULTS[query.fault]})")
