"""Metrics past one Prometheus: Thanos receive (3 ingestors, replication factor 2) behind
Prometheus's remote write, read through Thanos Query (fixture ``scaled``: scaled_stack.py).

What ``kill -9`` of one ingestor means for writes: with replication factor 2, Thanos v0.42
needs ONE replica to take a series, not floor(RF/2)+1 = 2 (``writeQuorum()`` in
pkg/receive/handler.go makes RF 2 the exception), so every write still succeeds while one of
three ingestors is down: each series has its other replica on a live node. The dead node
misses the samples of its outage (its own acknowledged samples survive in its WAL); Query's
deduplication along ``receive_replica`` fills that gap from the other replica. The tests
prove each step: the router failed forwards while the node was down, Prometheus's remote
write failed nothing, the restarted replica has fewer samples than its twin, and the
deduplicated counters equal the app's own totals.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from dashboards.queries import Query, all_queries
from scaled_stack import REQUESTS, SERVICE, Scaled, query, value, wait_for

from amas_devstack.demo.metrics import Metrics
from amas_devstack.thanos import REPLICA_LABEL

pytestmark = pytest.mark.scale

#: the counters the app derives from spans, as the app's own /metrics totals them; Query
#: must give the same sums (labels: the Prometheus names; histograms by their _count)
DERIVED_COUNTERS = (
    "http_server_request_duration_seconds_count",
    "amas_task_duration_seconds_count",
    "amas_agent_duration_seconds_count",
    "gen_ai_client_operation_duration_seconds_count",
    "gen_ai_client_token_usage_sum",
    "db_client_operation_duration_seconds_count",
    "amas_cache_operations_total",
)


def test_query_counts_every_request_after_an_ingestor_was_killed(scaled: Scaled):
    through_query = wait_for(
        f"Thanos Query to count {scaled.requests_sent} requests",
        lambda: (v := value(scaled.thanos.query_url, REQUESTS)) == scaled.requests_sent and v,
        timeout=60,
    )
    assert through_query == scaled.requests_sent


@pytest.mark.parametrize("name", DERIVED_COUNTERS)
def test_derived_counters_through_query_equal_the_apps_totals(scaled: Scaled, name: str):
    app_total = scaled.app_metrics().total(name)
    assert app_total > 0, f"the load made no {name}"
    expr = f'sum({name}{{job="{SERVICE}"}})'
    assert wait_for(
        f"{expr} = {app_total} through Query",
        lambda: value(scaled.thanos.query_url, expr) == app_total,
        timeout=60,
    )


def test_writes_went_on_while_an_ingestor_was_down(scaled: Scaled, scale_summary: list[str]):
    """The router's forwards to the dead node failed, yet no remote write failed: one live
    replica per series is the write quorum at replication factor 2."""
    # the router's own /metrics (nothing scrapes it here)
    router = Metrics(httpx.get(f"{scaled.thanos.http_url('thanos-router')}/metrics", timeout=10).text)
    forward_errors = router.total("thanos_receive_forward_requests_total", result="error")
    prometheus = scaled.stack.prometheus_url
    sent = value(prometheus, 'sum(prometheus_remote_storage_samples_total{job="prometheus"})')
    failed = value(prometheus, 'sum(prometheus_remote_storage_samples_failed_total{job="prometheus"})')
    retried = value(prometheus, 'sum(prometheus_remote_storage_samples_retried_total{job="prometheus"})')
    outage = scaled.ingestor_outage.back_at - scaled.ingestor_outage.killed_at
    scale_summary.append(
        f"Thanos, kill -9 of an ingestor for {outage:.0f} s: router forwards failed {forward_errors:.0f}; "
        f"remote write sent {sent:.0f} samples, failed {failed:.0f}, retried {retried:.0f}"
    )
    assert forward_errors > 0
    assert sent and sent > 0
    assert failed == 0
    assert scaled.ingestor_outage.observed["query_requests"], "Query did not answer while the node was down"


def test_the_killed_replica_missed_samples_and_deduplication_filled_them(
    scaled: Scaled, scale_summary: list[str]
):
    killed = scaled.thanos.node(scaled.ingestor_outage.component).name
    window = f"{int(time.time() - scaled.load_started_at) + 30}s"
    series = query(
        scaled.thanos.query_url,
        f'count_over_time(http_server_request_duration_seconds_count{{job="{SERVICE}"}}[{window}])',
        dedup="false",
    )
    samples: dict[tuple, dict[str, float]] = defaultdict(dict)
    for row in series:
        labels = dict(row["metric"])
        replica = labels.pop(REPLICA_LABEL)
        samples[tuple(sorted(labels.items()))][replica] = float(row["value"][1])
    twins = {
        key: by_replica
        for key, by_replica in samples.items()
        if killed in by_replica and len(by_replica) == 2
    }
    assert twins, f"no series has replica {killed} and a twin: {dict(samples)}"
    short = [key for key, r in twins.items() if r[killed] < max(v for k, v in r.items() if k != killed)]
    assert short, "the killed ingestor holds as many samples as its twins: it missed nothing?"
    missed = sum(max(r.values()) - r[killed] for r in twins.values())
    scale_summary.append(
        f"Thanos: the killed replica missed {missed:.0f} samples of {len(twins)} request-count series "
        f"({len(short)} short), filled by deduplication"
    )
    assert all(r[killed] <= max(r.values()) for r in twins.values())


# -- rules and dashboards: the same answers through Query as through Prometheus -----------------
QUERIES = all_queries()


@pytest.fixture(scope="module")
def compare_at(scaled: Scaled) -> float:
    """One evaluation time for both sides, old enough that remote write delivered it."""
    time.sleep(10)
    return time.time() - 5


def _comparable(result: list[dict]) -> dict[tuple, float]:
    rows = {}
    for row in result:
        labels = tuple(sorted(row["metric"].items()))
        rows[labels] = float(row["value"][1])
    return rows


@pytest.mark.parametrize("q", QUERIES, ids=[q.id for q in QUERIES])
def test_query_answers_as_prometheus(scaled: Scaled, compare_at: float, q: Query):
    at = {"time": f"{compare_at:.3f}"}
    direct = _comparable(query(scaled.stack.prometheus_url, q.expr, **at))
    through = _comparable(query(scaled.thanos.query_url, q.expr, **at))
    assert through.keys() == direct.keys(), (
        f"{q.id}: other series through Query\n{q.expr}\n{through}\n{direct}"
    )
    for labels, v in direct.items():
        assert math.isclose(through[labels], v, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(v) and math.isnan(through[labels])
        ), f"{q.id} {labels}: Prometheus {v}, Query {through[labels]}\n{q.expr}"


def test_most_queries_had_data_to_compare(scaled: Scaled, compare_at: float, scale_summary: list[str]):
    """The comparison above is not vacuous: most dashboard and rule queries return series."""
    at = {"time": f"{compare_at:.3f}"}
    with_data = [q.id for q in QUERIES if query(scaled.stack.prometheus_url, q.expr, **at)]
    scale_summary.append(
        f"Thanos Query = Prometheus for {len(QUERIES)} queries, {len(with_data)} of them with data"
    )
    assert len(with_data) >= 0.7 * len(QUERIES), f"only {len(with_data)} of {len(QUERIES)} queries had data"


def test_alerts_and_recorded_series_reach_the_cluster(scaled: Scaled, compare_at: float):
    """Rules are evaluated by Prometheus; their results (recorded series, ALERTS) travel by
    remote write like every other series."""
    recorded = query(scaled.thanos.query_url, '{__name__=~"job.*:.+"}', time=f"{compare_at:.3f}")
    assert recorded, "no recorded series through Query"
    alerts_direct = _comparable(query(scaled.stack.prometheus_url, "ALERTS", time=f"{compare_at:.3f}"))
    alerts_through = _comparable(query(scaled.thanos.query_url, "ALERTS", time=f"{compare_at:.3f}"))
    assert alerts_through == alerts_direct


# -- the object store: blocks of a stopped ingestor stay queryable -----------------------------
def test_a_stopped_ingestors_blocks_are_served_from_the_bucket(scaled: Scaled):
    """On a graceful stop an ingestor cuts its head into a block and uploads it; the store
    gateway then serves that replica's series from the bucket while the ingestor is down."""
    ingestor = scaled.thanos.ingestors[0]
    replica = ingestor.name
    expr = f'count({{{REPLICA_LABEL}="{replica}",job="{SERVICE}"}})'
    before = value(scaled.thanos.query_url, expr, dedup="false")
    assert before and before > 0
    scaled.stack.stop(ingestor.component)
    try:
        metas = wait_for(
            "a block of the stopped ingestor in the bucket",
            lambda: [
                p for p in Path(scaled.thanos.bucket).glob("*/meta.json") if f'"{replica}"' in p.read_text()
            ],
            timeout=60,
        )
        assert metas
        after = wait_for(
            "the store gateway to serve that replica",
            lambda: value(scaled.thanos.query_url, expr, dedup="false"),
            timeout=60,
        )
        assert after == before
    finally:
        scaled.stack.start(ingestor.component, timeout=60)


def test_exemplars_answer_through_query(scaled: Scaled):
    """Prometheus remote-writes the exemplars the Collector brought (send_exemplars); the
    ingestors keep them (--tsdb.max-exemplars), so Grafana's exemplar -> trace links work
    through Query."""
    import urllib.parse

    from scaled_stack import get_json

    params = urllib.parse.urlencode(
        {
            "query": f'http_server_request_duration_seconds_bucket{{job="{SERVICE}"}}',
            "start": f"{scaled.load_started_at - 60:.0f}",
            "end": f"{time.time():.0f}",
        }
    )
    body = get_json(f"{scaled.thanos.query_url}/api/v1/query_exemplars?{params}")
    assert body["status"] == "success", body
    trace_ids = {e["labels"].get("trace_id") for series in body["data"] for e in series["exemplars"]}
    assert trace_ids - {None}, f"no exemplar with a trace_id through Query: {body['data'][:2]}"
