"""AMAS / Infrastructure: the host, PostgreSQL and Redis, from the Collector's receivers.

hostmetrics (job ``host``), pgstats (job ``postgresql``) and redis (job ``redis``), what
node-exporter, postgres-exporter and redis-exporter gave the original plan. Each section
has its own instance variable; the panels carry the fixed job of their source.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.boards import names as n
from dashboards.panels import Target as T
from dashboards.panels import assemble, board, graph, ratio, source_variable
from dashboards.promql import eq, max_by, share, sum_by

UID = "amas-infrastructure"
TITLE = "AMAS / Infrastructure"

#: template variable -> (job, a metric every instance of that job sends)
SOURCES: dict[str, tuple[str, str]] = {
    "host": (n.HOST_JOB, n.CPU_LOGICAL_COUNT),
    "postgresql": (n.POSTGRESQL_JOB, n.PG_CONNECTION_MAX),
    "redis": (n.REDIS_JOB, n.REDIS_UPTIME),
}


def of(variable: str, metric: str, *matchers: str) -> str:
    """``metric{job="<source job>", instance=~"$<variable>", ...}``."""
    matchers = (eq("job", SOURCES[variable][0]), f'instance=~"${variable}"', *matchers)
    return f"{metric}{{{','.join(matchers)}}}"


def rate_of(variable: str, metric: str, *matchers: str) -> str:
    return f"rate({of(variable, metric, *matchers)}[$__rate_interval])"


def instance_variable(variable: str, label: str) -> dashboard.QueryVariable:
    job, metric = SOURCES[variable]
    description = f"instance of job {job} (service.instance.id set in collector/config.yaml)"
    return source_variable(variable, label, job, metric, description)


#: the memory states that add up to the total (the slab_* states overlap them)
TOTAL_MEMORY_STATES = f'{n.STATE}=~"used|free|buffered|cached"'


def host_panels() -> list:
    cpus = max_by(["instance"], of("host", n.CPU_LOGICAL_COUNT))
    busy = rate_of("host", n.CPU_TIME, f'{n.STATE}!="idle"')
    return [
        graph(
            "CPU by state",
            T(
                f"{sum_by(['instance', n.STATE], busy)}\n/ on (instance) group_left\n{cpus}",
                "{{instance}} {{state}}",
            ),
            unit="percentunit",
            stacked=True,
            span=8,
            description="Share of all CPUs per state (idle left out); high wait means I/O.",
        ),
        graph(
            "Load per CPU",
            *(
                T(
                    f"{max_by(['instance'], of('host', load))}\n/ on (instance)\n{cpus}",
                    f"{{{{instance}}}} {w}",
                )
                for load, w in ((n.LOAD_1M, "1m"), (n.LOAD_5M, "5m"), (n.LOAD_15M, "15m"))
            ),
            span=4,
            thresholds=[(2, "red")],
            description="HostHighLoad fires above 2 per logical CPU for 15 minutes.",
        ),
        ratio(
            "Memory used",
            T(
                f"{sum_by(['instance'], of('host', n.MEMORY_USAGE, eq(n.STATE, 'used')))}"
                f"\n/\n{sum_by(['instance'], of('host', n.MEMORY_USAGE, TOTAL_MEMORY_STATES))}",
                "{{instance}}",
            ),
            span=4,
        ),
        ratio(
            "Filesystem free",
            T(
                f"{sum_by(['instance', n.MOUNTPOINT], of('host', n.FILESYSTEM_USAGE, eq(n.STATE, 'free')))}"
                f"\n/\n{sum_by(['instance', n.MOUNTPOINT], of('host', n.FILESYSTEM_USAGE))}",
                "{{instance}} {{mountpoint}}",
            ),
            span=4,
            description="HostDiskWillFillIn4Hours watches the trend of filesystems below 40 % free.",
        ),
        graph(
            "Processes by status",
            T(sum_by(["instance", n.STATUS], of("host", n.PROCESSES)), "{{instance}} {{status}}"),
            span=4,
        ),
        graph(
            "Disk I/O",
            T(
                sum_by(["instance", n.DEVICE, n.DIRECTION], rate_of("host", n.DISK_IO)),
                "{{device}} {{direction}}",
            ),
            unit="Bps",
            span=4,
        ),
        graph(
            "Network I/O",
            T(sum_by(["instance", n.DIRECTION], rate_of("host", n.NETWORK_IO)), "{{instance}} {{direction}}"),
            unit="Bps",
            span=4,
        ),
        graph(
            "Network errors and drops",
            T(sum_by(["instance", n.DIRECTION], rate_of("host", n.NETWORK_ERRORS)), "errors {{direction}}"),
            T(sum_by(["instance", n.DIRECTION], rate_of("host", n.NETWORK_DROPPED)), "dropped {{direction}}"),
            unit="pps",
            span=4,
        ),
    ]


def postgresql_panels() -> list:
    index_scans = sum_by(["instance", n.TABLE], rate_of("postgresql", n.PG_INDEX_SCANS))
    seq_scans = sum_by(["instance", n.TABLE], rate_of("postgresql", n.PG_SEQ_SCANS))
    return [
        graph(
            "Connections vs max_connections",
            T(sum_by(["instance", n.DB], of("postgresql", n.PG_BACKENDS)), "{{instance}} {{db_namespace}}"),
            T(max_by(["instance"], of("postgresql", n.PG_CONNECTION_MAX)), "{{instance}} max_connections"),
            span=6,
            description="PostgreSQLTooManyConnections fires above 80 % of max_connections for 5 minutes.",
        ),
        graph(
            "Commits and rollbacks/s",
            T(sum_by(["instance"], rate_of("postgresql", n.PG_COMMITS)), "{{instance}} commits"),
            T(sum_by(["instance"], rate_of("postgresql", n.PG_ROLLBACKS)), "{{instance}} rollbacks"),
            unit="ops",
            span=6,
        ),
        graph(
            "Deadlocks",
            T(
                sum_by(["instance", n.DB], f"increase({of('postgresql', n.PG_DEADLOCKS)}[$__rate_interval])"),
                "{{instance}} {{db_namespace}}",
            ),
            span=4,
            no_value="0",
        ),
        graph(
            "Locks by mode",
            T(sum_by(["instance", n.LOCK_MODE], of("postgresql", n.PG_LOCKS)), "{{instance}} {{mode}}"),
            span=4,
            stacked=True,
        ),
        graph(
            "Database size",
            T(sum_by(["instance", n.DB], of("postgresql", n.PG_DB_SIZE)), "{{instance}} {{db_namespace}}"),
            unit="bytes",
            span=4,
        ),
        graph(
            "Largest tables",
            T(f"topk(10, {of('postgresql', n.PG_TABLE_SIZE)})", "{{db_namespace}} {{db_collection_name}}"),
            unit="bytes",
            span=6,
        ),
        ratio(
            "Index use by table",
            T(share(index_scans, seq_scans), "{{db_collection_name}}"),
            span=6,
            description="Share of scans that used an index; a busy table near 0 % needs one.",
        ),
    ]


def redis_panels() -> list:
    hits = sum_by(["instance"], rate_of("redis", n.REDIS_HITS))
    misses = sum_by(["instance"], rate_of("redis", n.REDIS_MISSES))
    return [
        graph(
            "Redis memory",
            T(max_by(["instance"], of("redis", n.REDIS_MEMORY_USED)), "{{instance}} used"),
            T(max_by(["instance"], of("redis", n.REDIS_MEMORY_RSS)), "{{instance}} RSS"),
            T(max_by(["instance"], of("redis", n.REDIS_MAXMEMORY)), "{{instance}} maxmemory (0: none)"),
            unit="bytes",
            span=6,
            description="RedisMemoryNearMax fires above 90 % of maxmemory for 5 minutes.",
        ),
        graph(
            "Evictions and expirations/s",
            T(sum_by(["instance"], rate_of("redis", n.REDIS_EVICTED)), "{{instance}} evicted"),
            T(sum_by(["instance"], rate_of("redis", n.REDIS_EXPIRED)), "{{instance}} expired"),
            span=6,
            description="Any eviction fires RedisEvictingKeys: queued tasks live in this Redis.",
        ),
        ratio(
            "Keyspace hit ratio",
            T(share(hits, misses), "{{instance}}"),
            span=4,
        ),
        graph(
            "Clients",
            T(max_by(["instance"], of("redis", n.REDIS_CLIENTS)), "{{instance}} connected"),
            T(max_by(["instance"], of("redis", n.REDIS_BLOCKED_CLIENTS)), "{{instance}} blocked"),
            span=4,
        ),
        graph(
            "Commands/s",
            T(sum_by(["instance"], rate_of("redis", n.REDIS_COMMANDS)), "{{instance}}"),
            unit="ops",
            span=4,
        ),
        graph(
            "Keys by database",
            T(sum_by(["instance", n.REDIS_DB], of("redis", n.REDIS_KEYS)), "{{instance}} {{db}}"),
            span=12,
            height=6,
        ),
    ]


def infrastructure() -> dashboard.Dashboard:
    scraped = (
        board(UID, TITLE, "The host, PostgreSQL and Redis, scraped by the Collector's own receivers.")
        .with_variable(instance_variable("host", "Host"))
        .with_variable(instance_variable("postgresql", "PostgreSQL"))
        .with_variable(instance_variable("redis", "Redis"))
    )
    sections = [
        ("Host (hostmetrics)", host_panels()),
        ("PostgreSQL (pgstats)", postgresql_panels()),
        ("Redis (redis)", redis_panels()),
    ]
    return assemble(scraped, *sections)
