"""Prometheus names of the metrics the Collector's own receivers produce, as Prometheus stores
them (OTLP translation ``UnderscoreEscapingWithSuffixes``, as in :mod:`dashboards.metrics`).

The OTel names and units come from each receiver's ``metadata.yaml`` (hostmetrics v0.160.0,
redis v0.161.0, our pgstats with the contrib postgresql receiver's names) and from the
Collector's and Prometheus's own ``/metrics`` (scraped by the ``prometheus`` receiver, whose
names come back unchanged). tests/e2e/test_collector_infrastructure.py and the query e2e test
(test_dashboard_queries.py) run every expression that uses them against a live Prometheus.
"""

from __future__ import annotations

from typing import Final

# --- jobs (service.name set by collector/config.yaml) -------------------------------------------
HOST_JOB: Final = "host"
POSTGRESQL_JOB: Final = "postgresql"
REDIS_JOB: Final = "redis"
COLLECTOR_JOB: Final = "otelcol-amas"  # its own service.name; instance: its service.instance.id
PROMETHEUS_JOB: Final = "prometheus"

# --- hostmetrics ----------------------------------------------------------------------------------
CPU_TIME: Final = "system_cpu_time_seconds_total"  # by cpu, state
CPU_LOGICAL_COUNT: Final = "system_cpu_logical_count"
LOAD_1M: Final = "system_cpu_load_average_1m"
LOAD_5M: Final = "system_cpu_load_average_5m"
LOAD_15M: Final = "system_cpu_load_average_15m"
MEMORY_USAGE: Final = "system_memory_usage_bytes"  # by state
FILESYSTEM_USAGE: Final = "system_filesystem_usage_bytes"  # by device, mountpoint, state, type, mode
DISK_IO: Final = "system_disk_io_bytes_total"  # by device, direction
NETWORK_IO: Final = "system_network_io_bytes_total"  # by device, direction
NETWORK_ERRORS: Final = "system_network_errors_total"
NETWORK_DROPPED: Final = "system_network_dropped_total"
PROCESSES: Final = "system_processes_count"  # by status

# --- pgstats (the contrib postgresql receiver's names) -------------------------------------------
PG_BACKENDS: Final = "postgresql_backends"  # by db_namespace
PG_CONNECTION_MAX: Final = "postgresql_connection_max"
PG_COMMITS: Final = "postgresql_commits_total"
PG_ROLLBACKS: Final = "postgresql_rollbacks_total"
PG_DEADLOCKS: Final = "postgresql_deadlocks_total"
PG_LOCKS: Final = "postgresql_database_locks"  # by relation, mode, lock_type, db_namespace
PG_DB_SIZE: Final = "postgresql_db_size_bytes"
PG_TABLE_SIZE: Final = "postgresql_table_size_bytes"  # by db_namespace, db_collection_name
PG_SEQ_SCANS: Final = "postgresql_sequential_scans_total"
PG_INDEX_SCANS: Final = "postgresql_index_scans_total"  # + postgresql_index_name
PG_INDEX_SIZE: Final = "postgresql_index_size_bytes"

# --- redis ------------------------------------------------------------------------------------------
REDIS_MEMORY_USED: Final = "redis_memory_used_bytes"
REDIS_MEMORY_RSS: Final = "redis_memory_rss_bytes"
REDIS_MAXMEMORY: Final = "redis_maxmemory_bytes"  # 0 = no limit
REDIS_EVICTED: Final = "redis_keys_evicted_total"
REDIS_EXPIRED: Final = "redis_keys_expired_total"
REDIS_HITS: Final = "redis_keyspace_hits_total"
REDIS_MISSES: Final = "redis_keyspace_misses_total"
REDIS_CLIENTS: Final = "redis_clients_connected"
REDIS_BLOCKED_CLIENTS: Final = "redis_clients_blocked"
REDIS_COMMANDS: Final = "redis_commands_processed_total"
REDIS_KEYS: Final = "redis_db_keys"  # by db
REDIS_UPTIME: Final = "redis_uptime_seconds_total"

# --- the Collector's own telemetry (its :8888/metrics) ---------------------------------------------
QUEUE_SIZE: Final = "otelcol_exporter_queue_size"  # by exporter
QUEUE_CAPACITY: Final = "otelcol_exporter_queue_capacity"
# counted per signal: <prefix>_<signal>_total, signal in SIGNALS
SIGNALS: Final = ("spans", "metric_points", "log_records")
SENT: Final = "otelcol_exporter_sent"  # by exporter
SEND_FAILED: Final = "otelcol_exporter_send_failed"
ENQUEUE_FAILED: Final = "otelcol_exporter_enqueue_failed"
ACCEPTED: Final = "otelcol_receiver_accepted"  # by receiver, transport
REFUSED: Final = "otelcol_receiver_refused"
SCRAPED: Final = "otelcol_scraper_scraped_metric_points_total"  # by receiver, scraper
SCRAPE_ERRORS: Final = "otelcol_scraper_errored_metric_points_total"
COLLECTOR_RSS: Final = "otelcol_process_memory_rss"  # no unit on its /metrics: none added
COLLECTOR_CPU: Final = "otelcol_process_cpu_seconds_total"
UP: Final = "up"  # the prometheus receiver's scrape health of Prometheus and the Collector
# its OTLP receivers' calls (gRPC and HTTP), refused ones included (by status code)
GRPC_SERVER_CALLS: Final = "rpc_server_call_duration_count"
HTTP_SERVER_REQUESTS: Final = "http_server_request_duration_count"

# --- Prometheus's own /metrics ------------------------------------------------------------------------
RULE_FAILURES: Final = "prometheus_rule_evaluation_failures_total"  # by rule_group
HTTP_REQUESTS: Final = "prometheus_http_requests_total"  # by handler, code
OTLP_HANDLER: Final = "/api/v1/otlp/v1/metrics"
HEAD_SERIES: Final = "prometheus_tsdb_head_series"
SAMPLES_APPENDED: Final = "prometheus_tsdb_head_samples_appended_total"
OUT_OF_ORDER: Final = "prometheus_tsdb_out_of_order_samples_total"
COMPACTIONS_FAILED: Final = "prometheus_tsdb_compactions_failed_total"
WAL_CORRUPTIONS: Final = "prometheus_tsdb_wal_corruptions_total"

# --- labels ---------------------------------------------------------------------------------------------
STATE: Final = "state"
MOUNTPOINT: Final = "mountpoint"
DEVICE: Final = "device"
DIRECTION: Final = "direction"
STATUS: Final = "status"
DB: Final = "db_namespace"
TABLE: Final = "db_collection_name"
LOCK_MODE: Final = "mode"
REDIS_DB: Final = "db"
EXPORTER: Final = "exporter"
RECEIVER: Final = "receiver"
RULE_GROUP: Final = "rule_group"
CODE: Final = "code"
