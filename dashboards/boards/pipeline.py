"""AMAS / Telemetry pipeline health: the Collector's own telemetry and Prometheus's own health.

Both are scraped by the Collector's ``prometheus`` receiver (jobs ``otelcol`` and
``prometheus``) and reach Prometheus over OTLP like everything else. Plus the age of each
service's newest request metrics: pushed metrics have no ``up``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import metrics as m
from dashboards.boards import names as n
from dashboards.panels import Target as T
from dashboards.panels import assemble, graph, ratio, service_board, source_variable
from dashboards.promql import eq, max_by, sum_by

UID = "amas-pipeline"
TITLE = "AMAS / Telemetry pipeline health"


def collector(metric: str, *matchers: str) -> str:
    """A Collector self-metric of the selected Collector instances."""
    scope = (eq("job", n.COLLECTOR_JOB), 'instance=~"$collector"', *matchers)
    return f"{metric}{{{','.join(scope)}}}"


def prom(metric: str, *matchers: str) -> str:
    scope = (eq("job", n.PROMETHEUS_JOB), 'instance=~"$prometheus"', *matchers)
    return f"{metric}{{{','.join(scope)}}}"


def per_second(selector: str) -> str:
    return f"rate({selector}[$__rate_interval])"


def per_signal(prefix: str, by: list[str]) -> str:
    """Items/s of a counter kept per signal (``<prefix>_spans_total`` ...), summed by ``by``
    and ``signal``. One receiver counts every signal under the same labels, so each rate gets
    its ``signal`` label before the ``or`` (which would otherwise keep only the first)."""
    terms = [
        f'label_replace({per_second(collector(f"{prefix}_{signal}_total"))}, "signal", "{signal}", "", "")'
        for signal in n.SIGNALS
    ]
    return sum_by([*by, "signal"], "\nor ".join(terms))


def zero_unless_failed(failed: str, baseline: str, by: list[str]) -> str:
    """Failure rates that read 0 (not "no data") until the first failure: the Collector
    creates a failure counter only when something fails."""
    return f"{per_signal(failed, by)}\nor\n0 * {per_signal(baseline, by)}"


def instance_variable(name: str, label: str, job: str, metric: str) -> dashboard.QueryVariable:
    description = f"instance of job {job}, scraped by the Collector's prometheus receiver"
    return source_variable(name, label, job, metric, description)


def service_panels() -> list:
    newest = f'max_over_time(timestamp({m.HTTP_SERVER_DURATION}_count{{job="$job"}})[1h:30s])'
    return [
        graph(
            "Age of the newest request metrics",
            T(f"time() - max by (job) ({newest})", "{{job}}"),
            unit="dtdurations",  # an age, not a latency (no exemplars)
            span=12,
            height=6,
            thresholds=[(300, "red")],
            description=(
                "Seconds since the service last exported its request metrics (every export "
                "interval, requests or not). ServiceStoppedSending fires above 5 minutes."
            ),
        ),
    ]


def collector_panels() -> list:
    by_exporter = ["instance", n.EXPORTER]
    by_receiver = ["instance", n.RECEIVER]
    return [
        ratio(
            "Queue fill",
            T(
                f"{max_by(['instance', 'exporter'], collector(n.QUEUE_SIZE))}\n/ on (instance, exporter)\n"
                f"{max_by(['instance', 'exporter'], collector(n.QUEUE_CAPACITY))}",
                "{{exporter}}",
            ),
            thresholds=[(0.8, "red")],
            span=6,
            description="Persistent sending queues (on disk). At 100 % the Collector refuses data.",
        ),
        graph(
            "Sent vs failed",
            T(per_signal(n.SENT, by_exporter), "sent {{exporter}}"),
            T(zero_unless_failed(n.SEND_FAILED, n.SENT, by_exporter), "failed {{exporter}}"),
            T(zero_unless_failed(n.ENQUEUE_FAILED, n.SENT, by_exporter), "queue full {{exporter}}"),
            span=6,
            description="Items/s sent by each exporter; failed: given up on (lost); queue full: refused.",
        ),
        graph(
            "Accepted vs refused",
            T(per_signal(n.ACCEPTED, by_receiver), "accepted {{receiver}} {{signal}}"),
            T(zero_unless_failed(n.REFUSED, n.ACCEPTED, by_receiver), "refused {{receiver}} {{signal}}"),
            span=6,
            description="Items/s the OTLP receiver acknowledged or refused (memory limit, full queue).",
        ),
        graph(
            "Scrapes by receiver",
            T(sum_by(by_receiver, per_second(collector(n.SCRAPED))), "scraped {{receiver}}"),
            T(
                f"{sum_by(by_receiver, per_second(collector(n.SCRAPE_ERRORS)))}\nor\n"
                f"0 * {sum_by(by_receiver, per_second(collector(n.SCRAPED)))}",
                "errors {{receiver}}",
            ),
            span=6,
            description=(
                "Metric points/s from hostmetrics, redis, pgstats. A source that is down shows "
                "no points (its scrape fails whole) and a log line in the Collector."
            ),
        ),
        graph(
            "Collector memory",
            T(max_by(["instance"], collector(n.COLLECTOR_RSS)), "{{instance}} RSS"),
            unit="bytes",
            span=4,
        ),
        graph(
            "Collector CPU",
            T(sum_by(["instance"], per_second(collector(n.COLLECTOR_CPU))), "{{instance}}"),
            unit="percentunit",
            span=4,
        ),
        graph(
            "Scrape targets up",
            T(max_by(["instance"], collector(n.UP)), "collector {{instance}}"),
            T(max_by(["instance"], prom(n.UP)), "prometheus {{instance}}"),
            min_value=0,
            max_value=1,
            span=4,
        ),
    ]


def prometheus_panels() -> list:
    otlp = prom(n.HTTP_REQUESTS, eq("handler", n.OTLP_HANDLER))
    return [
        graph(
            "Rule evaluation failures",
            T(
                sum_by([n.RULE_GROUP], f"increase({prom(n.RULE_FAILURES)}[$__rate_interval])"),
                "{{rule_group}}",
            ),
            span=6,
            description="PrometheusRuleEvaluationFailures fires on any failure in 5 minutes.",
        ),
        graph(
            "OTLP ingestion by status",
            T(sum_by(["instance", n.CODE], per_second(otlp)), "{{instance}} {{code}}"),
            unit="reqps",
            span=6,
            description="Requests/s to /api/v1/otlp/v1/metrics; 4xx/5xx are rejected batches.",
        ),
        graph(
            "Samples appended/s",
            T(sum_by(["instance"], per_second(prom(n.SAMPLES_APPENDED))), "{{instance}}"),
            span=4,
        ),
        graph(
            "Head series",
            T(max_by(["instance"], prom(n.HEAD_SERIES)), "{{instance}}"),
            span=4,
        ),
        graph(
            "TSDB problems",
            T(sum_by(["instance"], per_second(prom(n.OUT_OF_ORDER))), "{{instance}} out-of-order samples/s"),
            T(
                sum_by(["instance"], f"increase({prom(n.COMPACTIONS_FAILED)}[$__rate_interval])"),
                "{{instance}} failed compactions",
            ),
            T(max_by(["instance"], prom(n.WAL_CORRUPTIONS)), "{{instance}} WAL corruptions"),
            span=4,
        ),
    ]


def pipeline() -> dashboard.Dashboard:
    description = "The Collector's own telemetry, Prometheus's own health, silent services."
    health = (
        service_board(UID, TITLE, description)
        .with_variable(instance_variable("collector", "Collector", n.COLLECTOR_JOB, n.QUEUE_CAPACITY))
        .with_variable(instance_variable("prometheus", "Prometheus", n.PROMETHEUS_JOB, n.HEAD_SERIES))
    )
    sections = [
        ("Services", service_panels()),
        ("Collector", collector_panels()),
        ("Prometheus", prometheus_panels()),
    ]
    return assemble(health, *sections)
