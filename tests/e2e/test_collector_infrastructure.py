"""The infrastructure and the pipeline itself, observed by the Collector's own receivers.

- Without PostgreSQL and Redis the Collector starts, serves OTLP and logs the failed scrapes;
  host metrics and its own telemetry still reach Prometheus.
- In the fed stack (tests/e2e/fed_stack.py) the pgstats and redis receivers scrape the REAL
  PostgreSQL and Redis the service uses: values Prometheus holds match the servers. Every
  dashboard and rule expression runs there too (test_dashboard_queries.py).
- Faults fire the alerts (Prometheus's ALERTS series), in a stack with a PostgreSQL and a
  Redis of its own: connections held near max_connections, a deadlock, Redis written past
  maxmemory (evictions), a trace store down until the Collector's small queue fills and it
  refuses data, a service that stops sending. Redis and PostgreSQL stopped:
  test_infrastructure_alerts.py (after the normal-load query tests, since it needs the
  faulted fed stack; this file must run before those, as its name makes it do).

The alert waits are minutes long by nature (2-5 minute windows, `for` durations); each is
bounded, and every process is stopped by the fixture that started it.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from fed_stack import Fed, firing, prom_query, prom_value, wait_firing, wait_for
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import free_port
from amas_devstack.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.e2e


# ---------------------------------------------------------------------------------------
# helpers


def _kv(key: str, value: str) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def trace_request(spans: int) -> bytes:
    trace_id, now = os.urandom(16), time.time_ns()
    items = [
        trace_pb2.Span(
            trace_id=trace_id,
            span_id=os.urandom(8),
            name="infra-e2e",
            start_time_unix_nano=now - 1_000_000,
            end_time_unix_nano=now,
        )
        for _ in range(spans)
    ]
    resource = resource_pb2.Resource(attributes=[_kv("service.name", "infra-e2e")])
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=items)])
        ]
    ).SerializeToString()


def request_count_metric(service: str, count: int, start_ns: int) -> bytes:
    """A cumulative http.server.request.duration histogram point, as an SDK would export."""
    point = metrics_pb2.HistogramDataPoint(
        start_time_unix_nano=start_ns,
        time_unix_nano=time.time_ns(),
        count=count,
        sum=0.01 * count,
        explicit_bounds=[0.1],
        bucket_counts=[count, 0],
        attributes=[_kv("http.request.method", "GET"), _kv("http.route", "/health")],
    )
    metric = metrics_pb2.Metric(
        name="http.server.request.duration",
        unit="s",
        histogram=metrics_pb2.Histogram(
            data_points=[point],
            aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE,
        ),
    )
    resource = resource_pb2.Resource(
        attributes=[_kv("service.name", service), _kv("service.instance.id", f"{service}-1")]
    )
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=resource, scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metric])]
            )
        ]
    ).SerializeToString()


def post(port: int, path: str, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-protobuf"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def collector_metric(stack: NativeStack, pattern: str) -> float:
    """Sum of the Collector's own /metrics samples whose line matches ``pattern`` (there the
    names carry no ``_total`` and no unit; Prometheus adds ``_total`` on the way in)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.collector_metrics}/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(rf"^{pattern}\S* (\S+)$", text, re.M))


# ---------------------------------------------------------------------------------------
# the Collector without its scrape targets


def test_collector_starts_and_serves_without_postgresql_and_redis(
    stack_factory: Callable[..., NativeStack],
) -> None:
    absent_pg, absent_redis = free_port(), free_port()  # nothing listens there
    stack = stack_factory(
        collector_env={
            "AMAS_INFRA_INTERVAL": "2s",
            "AMAS_POSTGRES_ENDPOINT": f"127.0.0.1:{absent_pg}",
            "AMAS_POSTGRES_PASSWORD": "not-used",
            "AMAS_REDIS_ENDPOINT": f"127.0.0.1:{absent_redis}",
        }
    )
    # healthy (stack_factory waited for the health check) and acknowledging OTLP
    assert post(stack.ports.collector_http, "/v1/traces", trace_request(5)) == 200
    log = stack.log_path("collector")

    def scrape_errors() -> set[str]:
        lines = [line for line in log.read_text().splitlines() if "Error scraping metrics" in line]
        return {
            r for r in ("pgstats", "redis") if any(f'"otelcol.component.id": "{r}"' in li for li in lines)
        }

    wait_for(
        "the failed pgstats and redis scrapes in the Collector's log",
        lambda: scrape_errors() == {"pgstats", "redis"},
        timeout=60,
    )
    text = log.read_text()
    assert f"127.0.0.1:{absent_pg}: connect: connection refused" in text
    # what is there still arrives: host metrics, the Collector's and Prometheus's own
    for expr in (
        'system_cpu_time_seconds_total{job="host"}',
        'otelcol_exporter_queue_capacity{job="otelcol-amas"}',
        'prometheus_tsdb_head_series{job="prometheus"}',
        'up{job="otelcol-amas"} == 1',
    ):
        wait_for(f"{expr} in Prometheus", lambda e=expr: prom_query(stack, e), timeout=90, interval=2)
    assert not prom_query(stack, 'postgresql_connection_max{job="postgresql"}')
    assert stack.is_running("collector")


# ---------------------------------------------------------------------------------------
# the real PostgreSQL and Redis of the fed stack


def test_postgresql_and_redis_values_are_those_of_the_real_servers(fed_stack: Fed) -> None:
    stack, pg, redis = fed_stack.stack, fed_stack.run.postgres, fed_stack.run.redis
    pg_instance, redis_instance = f"127.0.0.1:{pg.port}", f"127.0.0.1:{redis.port}"
    selector = f'job="postgresql",instance="{pg_instance}"'

    # amas_devstack.servers starts PostgreSQL with max_connections=60
    assert (
        wait_for("max_connections", lambda: prom_value(stack, f"postgresql_connection_max{{{selector}}}"))
        == 60
    )
    backends = prom_value(stack, f'sum(postgresql_backends{{{selector},db_namespace="{pg.database}"}})')
    assert backends is not None and backends >= 1  # the service's pool and our scraper
    commits = prom_value(stack, f'postgresql_commits_total{{{selector},db_namespace="{pg.database}"}}')
    server_commits = float(
        pg.psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{pg.database}'")
    )
    assert commits is not None and 0 < commits <= server_commits
    tables = {
        s["metric"]["db_collection_name"]
        for s in prom_query(stack, f"postgresql_table_size_bytes{{{selector}}}")
    }
    server_tables = set(pg.psql("SELECT schemaname || '.' || relname FROM pg_stat_user_tables").split())
    assert tables == server_tables and tables
    assert prom_query(stack, f"postgresql_index_scans_total{{{selector}}}")

    redis_selector = f'job="redis",instance="{redis_instance}"'
    # a limit far above what the test uses: the receiver reports what the server says
    assert redis.command("CONFIG", "SET", "maxmemory", "1000000000") == "+OK"
    wait_for(
        "maxmemory in Prometheus",
        lambda: prom_value(stack, f"redis_maxmemory_bytes{{{redis_selector}}}") == 1e9,
        timeout=60,
    )
    clients = prom_value(stack, f"redis_clients_connected{{{redis_selector}}}")
    assert clients is not None and clients >= 1
    assert prom_value(stack, f"redis_commands_processed_total{{{redis_selector}}}") > 0


# ---------------------------------------------------------------------------------------
# a store down until the Collector refuses data; a service that stops sending


QUEUE_ITEMS = 2000
HELD_CONNECTIONS = 50  # of max_connections=60 (amas_devstack.servers): with the scraper's, over 80 %


class HeldConnections(threading.Thread):
    """Opens ``count`` idle PostgreSQL connections and holds them until :meth:`release`."""

    def __init__(self, dsn: str, count: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.count = dsn, count
        self.ready, self.done = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._hold())
        except BaseException as e:  # reported by the test
            self.error = e
            self.ready.set()

    async def _hold(self) -> None:
        connections = [await asyncpg.connect(self.dsn) for _ in range(self.count)]
        self.ready.set()
        try:
            while not self.done.is_set():
                await asyncio.sleep(0.2)
        finally:
            for connection in connections:
                await connection.close()

    def release(self) -> None:
        self.done.set()
        self.join(timeout=30)


async def cause_a_deadlock(dsn: str) -> list[object]:
    """Two transactions that lock two rows in opposite order: PostgreSQL aborts one."""
    a, b = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await a.execute("CREATE TABLE deadlock_demo (id int PRIMARY KEY, v int)")
        await a.execute("INSERT INTO deadlock_demo VALUES (1, 0), (2, 0)")
        await a.execute("BEGIN; UPDATE deadlock_demo SET v = v + 1 WHERE id = 1")
        await b.execute("BEGIN; UPDATE deadlock_demo SET v = v + 1 WHERE id = 2")
        return await asyncio.gather(
            a.execute("UPDATE deadlock_demo SET v = v + 1 WHERE id = 2"),
            b.execute("UPDATE deadlock_demo SET v = v + 1 WHERE id = 1"),
            return_exceptions=True,
        )
    finally:
        await a.close()
        await b.close()


def fill_redis_past_maxmemory(redis: RedisServer, maxmemory: str = "2mb", keys: int = 300) -> None:
    assert redis.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == "+OK"
    assert redis.command("CONFIG", "SET", "maxmemory", maxmemory) == "+OK"
    value = "x" * 20_000
    for i in range(keys):  # 6 MB into 2 MB: evictions
        assert redis.command("SET", f"fill:{i}", value) == "+OK"


@pytest.fixture
def servers() -> Iterator[tuple[PostgresServer, RedisServer]]:
    """A PostgreSQL and a Redis of this test's own (it exhausts, deadlocks and fills them)."""
    base = Path(tempfile.mkdtemp(prefix="amas-infra-"))
    base.chmod(0o755)  # PostgreSQL runs as the postgres user when we are root
    pg, redis = PostgresServer(base / "postgresql"), RedisServer(base / "redis")
    try:
        yield pg.start(), redis.start()
    finally:
        redis.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_faults_fire_the_infrastructure_and_pipeline_alerts(
    stack_factory: Callable[..., NativeStack],
    servers: tuple[PostgresServer, RedisServer],
    e2e_summary: list[str],
) -> None:
    pg, redis = servers
    stack = stack_factory(
        collector_env={
            "AMAS_INFRA_INTERVAL": "2s",
            "AMAS_COLLECTOR_QUEUE_ITEMS": str(QUEUE_ITEMS),
            "AMAS_POSTGRES_ENDPOINT": f"127.0.0.1:{pg.port}",
            "AMAS_POSTGRES_USER": pg.user,
            "AMAS_POSTGRES_PASSWORD": pg.password,
            "AMAS_POSTGRES_DATABASE": pg.database,
            "AMAS_REDIS_ENDPOINT": f"127.0.0.1:{redis.port}",
            "AMAS_REDIS_PASSWORD": redis.password,
        }
    )
    port, t0 = stack.ports.collector_http, time.monotonic()
    held = HeldConnections(pg.dsn, HELD_CONNECTIONS)
    try:
        # PostgreSQL: connections near max_connections, and one deadlock
        held.start()
        assert held.ready.wait(60) and held.error is None, held.error
        results = asyncio.run(cause_a_deadlock(pg.dsn))
        assert any(isinstance(r, asyncpg.exceptions.DeadlockDetectedError) for r in results), results
        # Redis: written past maxmemory with an eviction policy
        fill_redis_past_maxmemory(redis)

        # a service "canary" exports its request metrics three times, then goes silent
        start_ns = time.time_ns()
        for count in (1, 2, 3):
            assert post(port, "/v1/metrics", request_count_metric("canary", count, start_ns)) == 200
            time.sleep(2)
        wait_for(
            "canary's request metrics",
            lambda: prom_query(stack, 'http_server_request_duration_seconds_count{job="canary"}'),
        )

        # spans flow while the trace store is up, so the exporter has sent some
        for _ in range(3):
            assert post(port, "/v1/traces", trace_request(10)) == 200
        wait_for(
            "spans sent to Jaeger",
            lambda: collector_metric(stack, r"otelcol_exporter_sent_spans\{[^}]*otlp_grpc/traces") >= 30,
        )

        # the trace store goes away; the exporter's consumers block on retries with small
        # batches, then the queue fills to its capacity and the receiver refuses
        stack.stop("jaeger")
        statuses: dict[int, int] = {}
        for i in range(400):
            status = post(port, "/v1/traces", trace_request(10))
            statuses[status] = statuses.get(status, 0) + 1
            time.sleep(0.3 if i < 8 else 0.01)
        assert statuses.get(200, 0) > 0 and sum(v for k, v in statuses.items() if k != 200) > 0, statuses
        queued = collector_metric(stack, r"otelcol_exporter_queue_size\{[^}]*otlp_grpc/traces")
        assert queued > 0.8 * QUEUE_ITEMS, f"queue holds {queued} of {QUEUE_ITEMS}"

        fired = {}
        pg_instance, redis_instance = f"127.0.0.1:{pg.port}", f"127.0.0.1:{redis.port}"
        for alert, labels in (
            ("PostgreSQLDeadlocks", {"instance": pg_instance, "db_namespace": pg.database}),
            ("RedisEvictingKeys", {"instance": redis_instance}),
            ("CollectorQueueFilling", {"exporter": "otlp_grpc/traces"}),
            ("CollectorRefusingData", {"receiver": "otlp"}),
            ("CollectorExportFailing", {"exporter": "otlp_grpc/traces"}),
            ("PostgreSQLTooManyConnections", {"instance": pg_instance}),
            ("RedisMemoryNearMax", {"instance": redis_instance}),
            ("ServiceStoppedSending", {"job": "canary"}),
        ):
            wait_firing(stack, alert, **labels)
            fired[alert] = round(time.monotonic() - t0)
        # the metrics and logs exporters keep sending: no false "export failing" for them
        assert not firing(stack, "CollectorExportFailing", exporter="otlp_http/metrics")
    finally:
        held.release()
    e2e_summary.append(
        f"[infrastructure] {HELD_CONNECTIONS} connections held, a deadlock, Redis past maxmemory, trace "
        f"store down with a queue of {QUEUE_ITEMS} items (responses {statuses}), a silent service; "
        f"alerts firing after (s): {fired}"
    )
