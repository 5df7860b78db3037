"""Every PromQL expression of the dashboards and the rules, ready to run against Prometheus.

:func:`all_queries` is what the end-to-end test (tests/e2e/test_dashboard_queries.py) runs
against a Prometheus fed by the reference service: each query must return at least one
series, which proves that the metric and label names it uses are the ones Prometheus
really stores.

- Dashboard queries get their template variables replaced by concrete values
  (:data:`VARIABLES`); a ``label_values(metric, label)`` variable becomes
  ``group by (label) (metric)``.
- Recording rules run as written.
- An alert runs as an existence probe: its comparisons with a threshold get the ``bool``
  modifier (``x > 0.2`` becomes ``x > bool 0.2``), so the query returns the series the
  alert watches, firing or not.

Some queries only have data when something goes wrong (a failed task, a 5xx, a fallback,
an overflow): :data:`FAULT_ONLY` lists them with the fault of :data:`FAULTS` that produces
the data. They run against a Prometheus fed by the reference service with those faults
injected (fixture ``faulted_prometheus_url``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dashboards.generate import build_all

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"

VARIABLES: dict[str, str] = {
    "job": "amas-service",
    "instance": ".+",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    # instances of the scraped sources (dashboards/boards/): all of them
    "host": ".+",
    "postgresql": ".+",
    "redis": ".+",
    "collector": ".+",
    "prometheus": ".+",
}
"""Concrete values of the dashboards' template variables (Grafana's and ours)."""

FAULTS: dict[str, str] = {
    "http-5xx": "PostgreSQL stopped while GET /tasks/{task_id} requests come in (they answer 500)",
    "task-failures": "a fake AI provider down or failing, so some tasks fail",
    "agent-failures": "a fake AI provider down or failing, so some agent runs fail",
    "ai-provider-errors": "a fake AI provider down or returning errors (--down / --error-rate)",
    "ai-fallbacks": "the primary fake provider down, so a fallback provider serves the calls",
    "db-errors": "Redis stopped while requests come in (cache operations fail; a stopped "
    "PostgreSQL fails before any DB span starts)",
    "cardinality-overflow": "more task types than AMAS_CARDINALITY_LIMIT (e.g. limit 3, ten types)",
    "telemetry-drops": "the Collector stopped for ~10 s while requests come in, then restarted; "
    "an instance with a tiny export spool (AMAS_EXPORT_SPOOL_MAX_MB=0.001) drops and counts what "
    "it cannot hold (the counts reach Prometheus once the Collector is back)",
}
"""Faults the faulted Prometheus must have seen; each makes some queries return data.
Each was checked by hand against the native stack fed by the demo (amas-demo) (which already
includes a provider outage): with all of them, every query of :func:`all_queries` returned
series."""

FAULT_ONLY: dict[str, str] = {
    # overview
    "amas-overview/Errors/s by kind/A": "http-5xx",
    "amas-overview/Errors/s by kind/B": "task-failures",
    "amas-overview/Errors/s by kind/C": "agent-failures",
    "amas-overview/Errors/s by kind/D": "ai-provider-errors",
    "amas-overview/Errors/s by kind/E": "db-errors",
    # tasks & agents
    "amas-tasks-agents/Task failures by error type/A": "task-failures",
    # AI providers
    "amas-ai-providers/Errors/s by provider and error type/A": "ai-provider-errors",
    "amas-ai-providers/Fallbacks/s/A": "ai-fallbacks",
    # HTTP API
    "amas-http-api/5xx/s by route and error type/A": "http-5xx",
    # database & cache
    "amas-database-cache/Errors/s by system and error type/A": "db-errors",
    # system: the telemetry pipeline
    "amas-system/Telemetry dropped/s/A": "telemetry-drops",
    "amas-system/Export spool/B": "telemetry-drops",
    "amas-system/Series over the cardinality limit/A": "cardinality-overflow",
    # alerts whose watched series exist only after the fault
    "rules/alerts.yml/MetricCardinalityOverflow[warning]": "cardinality-overflow",
    "rules/alerts.yml/TelemetryDataDropped[warning]": "telemetry-drops",
    "rules/alerts.yml/TelemetrySpoolDropping[warning]": "telemetry-drops",
}
"""Query id -> fault (a key of :data:`FAULTS`) that gives the query data."""

PROVEN_ELSEWHERE: dict[str, str] = {
    # refused credentials: the fed stack takes OTLP without authentication, so nothing there is
    # refused. These tests refuse real clients on a secured gateway (and a real app) and read
    # the very names and label values the alerts use from the Collector's and the app's metrics.
    "rules/alerts.yml/TelemetryExportRefused[critical]": "tests/e2e/test_secure_export.py",
    "rules/infrastructure.yml/CollectorRefusingCredentials[warning]": "tests/e2e/test_collector_security.py",
    "rules/infrastructure.yml/CollectorExportRefused[critical]": "tests/e2e/test_collector_security.py",
}
"""Query id -> the test that proves its names against real data the fed stack cannot make."""


@dataclass(frozen=True)
class Query:
    id: str
    """Where the expression comes from: ``<dashboard uid>/<panel title>/<refId>``,
    ``<dashboard uid>/$<variable>``, ``rules/<file>/<record or alert>[...]``."""
    expr: str
    """Concrete PromQL, runnable as is."""
    fault: str | None
    """``None``: has data under normal load; else the :data:`FAULTS` entry it needs."""
    proven_by: str | None = None
    """A test that proves it elsewhere (:data:`PROVEN_ELSEWHERE`): not run against the fed stack."""


def substitute(expr: str) -> str:
    """Replace Grafana template variables (``$name`` and ``${name}``) by :data:`VARIABLES`."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise KeyError(f"no concrete value for template variable ${name} in {expr!r}")
        return VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


_COMPARISON = re.compile(r"(?<![=!<>~])(==|!=|>=|<=|>|<)(?!\s*bool\b)(?=\s*[-+0-9.(])")


def as_probe(expr: str) -> str:
    """An alert condition as a query that returns its series whatever their value.

    ``x > 0.2`` becomes ``x > bool 0.2``; label matchers (``a!="b"``, ``a=~"c"``) are not
    comparisons and stay as they are.
    """
    return _COMPARISON.sub(r"\1 bool", expr)


def _label_values_probe(query: str) -> str:
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
    if not match:
        raise ValueError(f"unsupported variable query {query!r}")
    return f"group by ({match.group(2)}) ({match.group(1)})"


def _dashboard_queries(uid: str, model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield f"{uid}/${variable['name']}", substitute(_label_values_probe(variable["query"]))
    for panel in model.get("panels", []):
        for target in panel.get("targets", []):
            yield f"{uid}/{panel['title']}/{target['refId']}", substitute(target["expr"])


def _rule_queries() -> Iterator[tuple[str, str]]:
    for path in sorted(RULES_DIR.glob("*.yml")):
        document = yaml.safe_load(path.read_text())
        if not isinstance(document, dict) or "groups" not in document:
            continue  # prometheus.yml, alertmanager.yml
        for group in document["groups"]:
            for rule in group["rules"]:
                labels = rule.get("labels", {})
                if "record" in rule:
                    suffix = "".join(f"[{k}={v}]" for k, v in sorted(labels.items()))
                    yield f"rules/{path.name}/{rule['record']}{suffix}", rule["expr"].strip()
                else:
                    yield (
                        f"rules/{path.name}/{rule['alert']}[{labels['severity']}]",
                        as_probe(rule["expr"].strip()),
                    )


def all_queries() -> list[Query]:
    """Every PromQL expression of every dashboard and every rule, runnable as is."""
    pairs: list[tuple[str, str]] = []
    for model in build_all().values():
        pairs.extend(_dashboard_queries(model["uid"], model))
    pairs.extend(_rule_queries())
    ids = [query_id for query_id, _ in pairs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"query ids must be unique: {duplicates}")
    return [
        Query(query_id, expr, FAULT_ONLY.get(query_id), PROVEN_ELSEWHERE.get(query_id))
        for query_id, expr in pairs
    ]
