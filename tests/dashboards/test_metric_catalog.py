"""Every metric name the docs' tables, the rules and the dashboards use exists.

A name exists when the catalog (amas_telemetry.catalog) defines it (as Prometheus stores it),
a recording rule records it, or dashboards/external_metrics.py lists it as someone else's
(Collector receivers, SDK self-metrics). Histogram series suffixes are accepted on catalog
histograms only.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from dashboards.external_metrics import EXTERNAL_METRICS  # noqa: E402
from dashboards.promql_names import metric_names  # noqa: E402

from amas_telemetry.catalog import CATALOG, STATE_GAUGE_NAMES, InstrumentKind, prometheus_name  # noqa: E402
from dashboards import metrics  # noqa: E402

RULE_FILES = sorted((REPO_ROOT / "rules").glob("*.yml"))
RULE_GROUPS = [
    (path.name, group)
    for path in RULE_FILES
    for group in (yaml.safe_load(path.read_text()) or {}).get("groups", [])
]
RECORDED = {rule["record"] for _, group in RULE_GROUPS for rule in group["rules"] if "record" in rule}
OURS = {prometheus_name(spec) for spec in CATALOG.values()}
HISTOGRAMS = {prometheus_name(s) for s in CATALOG.values() if s.kind is InstrumentKind.HISTOGRAM}
KNOWN = OURS | RECORDED | EXTERNAL_METRICS

def unknown(names: set[str]) -> list[str]:
    def exists(name: str) -> bool:
        if name in KNOWN:
            return True
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return base in HISTOGRAMS

    return sorted(name for name in names if not exists(name))


def test_the_extractor_finds_metrics_not_functions_or_labels():
    expr = (
        "histogram_quantile(0.95, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket"
        '{job="$job",http_route=~"/a|/b"}[$__rate_interval]))) / on(job) group_left '
        'up{job="x"} or vector(0) > 1e9 and {__name__=~"amas_tasks_active|a_(b|c)_d|e"}'
    )
    assert metric_names(expr) == {
        "http_server_request_duration_seconds_bucket",
        "up",
        "amas_tasks_active",
        "a_b_d",
        "a_c_d",
        "e",
    }
    assert metric_names('label_values(amas_tasks_active{job="a"}, job)') == {"amas_tasks_active"}
    assert unknown({"http_server_request_duration_seconds_bucket", "amas_no_such_metric_total"}) == [
        "amas_no_such_metric_total"
    ]


def test_dashboards_constants_are_the_catalog():
    assert set(metrics.AMAS_METRICS) == OURS
    assert len(metrics.AMAS_METRICS) == len(CATALOG)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rules_name_only_existing_metrics(path):
    groups = (yaml.safe_load(path.read_text()) or {}).get("groups", [])
    names = {name for group in groups for rule in group["rules"] for name in metric_names(rule["expr"])}
    assert not unknown(names), f"{path.name} names metrics nothing defines: {unknown(names)}"


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "dashboards" / "json").glob("*.json")), ids=lambda p: p.name
)
def test_dashboards_name_only_existing_metrics(path):
    board = json.loads(path.read_text())
    exprs = [t["expr"] for panel in board["panels"] for t in panel.get("targets", []) if t.get("expr")]
    exprs += [
        v["query"] for v in board.get("templating", {}).get("list", []) if isinstance(v.get("query"), str)
    ]
    names = {name for expr in exprs for name in metric_names(expr)}
    assert names, "no metric found: the extractor is broken"
    assert not unknown(names), f"{path.name} queries metrics nothing defines: {unknown(names)}"


def _tables(path: Path) -> dict[str, list[list[str]]]:
    """Markdown tables of a page by the heading above them, as rows of cells."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not re.fullmatch(r"[|\-: ]+", line):
            tables.setdefault(heading, []).append([c.strip() for c in line.strip("|").split("|")])
    return tables


METRICS_PAGE = REPO_ROOT / "docs" / "metrics.md"
METRIC_COLUMNS = {
    "From the original AMAS monitoring plan": 1,  # ours
    "The infrastructure and the pipeline itself": 2,  # the metrics (as Prometheus stores them)
}


@pytest.mark.parametrize("heading", METRIC_COLUMNS)
def test_docs_metric_tables_name_only_existing_metrics(heading):
    rows = _tables(METRICS_PAGE)[heading][1:]
    assert rows, f"docs/metrics.md has no table under {heading!r}"
    column = METRIC_COLUMNS[heading]
    otel, prom = set(), set()
    for row in rows:
        for by, code in re.findall(r"(\bby )?`([^`]+)`", row[column]):
            if by:  # a label: "… by `gen_ai_agent_name`"
                continue
            if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", code):
                otel.add(code)
            else:
                # `system_cpu_load_average_{1m,5m,15m}`, `otelcol_exporter_sent_*_total`: expand the pattern
                code = re.sub(r"_\{([\w,]+)\}", lambda m: "_" + m.group(1).split(",")[0], code)
                if "*" in code:
                    prefix, suffix = code.split("*", 1)
                    matches = {k for k in KNOWN if k.startswith(prefix) and k.endswith(suffix)}
                    assert matches, f"docs/metrics.md {heading!r}: {code} matches no known metric"
                    continue
                prom |= metric_names(code.removeprefix("recording rule "))
    assert not [name for name in otel if name not in CATALOG], f"not in the catalog: {otel - set(CATALOG)}"
    assert not unknown(prom), f"docs/metrics.md {heading!r} names metrics nothing defines: {unknown(prom)}"


def test_docs_state_gauges_are_the_catalog_state_gauges():
    section = METRICS_PAGE.read_text().split("## State gauges", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section))
    assert named == set(STATE_GAUGE_NAMES), f"docs/metrics.md: {sorted(named ^ set(STATE_GAUGE_NAMES))}"
    assert all(CATALOG[name].kind is InstrumentKind.GAUGE for name in named)


# --- the demo's report reads /metrics by the catalog's names -----------------------------------

DEMO = REPO_ROOT / "devstack" / "src" / "amas_devstack" / "demo"
DEMO_READERS = [DEMO / name for name in ("report.py", "drive.py")]
_SCRAPE_READS = {"total", "by", "select", "quantile"}  # the methods of amas_devstack.demo.metrics.Metrics


def _scrape_reads(tree: ast.Module) -> list[tuple[int, ast.expr, list[str]]]:
    """(line, metric argument, label names) of every read of a scrape: ``m.total(metric, label=…)``,
    ``m.by(metric, "label", …)``, ``p50_p95(m, metric, …)``."""
    reads = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in _SCRAPE_READS:
            args = node.args
        elif isinstance(node.func, ast.Name) and node.func.id == "p50_p95":
            args = node.args[1:]
        else:
            continue
        labels = [a.value for a in args[1:] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        labels += [k.arg for k in node.keywords if k.arg is not None]
        reads.append((node.lineno, args[0], labels))
    return reads


def _demo_metric(expr: ast.expr, assigned: dict[str, ast.expr]) -> str | None:
    """The metric name an argument evaluates to (None: a parameter, checked at its callers)."""
    from amas_devstack.demo import names

    if isinstance(expr, ast.Name) and expr.id in assigned:
        expr = assigned[expr.id]
    namespace = {"names": names, **{k: v for k, v in vars(names).items() if k.isupper()}}
    try:
        return eval(compile(ast.Expression(expr), "<demo>", "eval"), namespace)
    except NameError:
        return None


@pytest.mark.parametrize("path", DEMO_READERS, ids=lambda p: p.name)
def test_demo_report_reads_only_catalog_metrics_by_derived_names(path):
    """Each metric the demo reads from /metrics is a catalog metric under the name /metrics
    gives it (no name spelled by hand), and each label it reads is an attribute of that metric."""
    from amas_telemetry._internal.compat.sdk import sanitize_attribute
    from amas_telemetry._internal.prometheus.exposition import exposed_name

    served = {}
    for spec in CATALOG.values():
        name = exposed_name(spec)
        served[name] = spec
        if spec.kind is InstrumentKind.HISTOGRAM:
            served.update({f"{name}_{suffix}": spec for suffix in ("bucket", "sum", "count")})
    tree = ast.parse(path.read_text())
    assigned = {
        target.id: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    reads = _scrape_reads(tree)
    assert reads, f"{path.name} reads no metric: the test looks for the wrong calls"
    for line, expr, labels in reads:
        assert not isinstance(expr, ast.Constant), f"{path.name}:{line}: a metric name spelled by hand"
        metric = _demo_metric(expr, assigned)
        if metric is None:
            continue
        spec = served.get(metric)
        assert spec is not None, f"{path.name}:{line}: {metric} is no metric of the catalog"
        attributes = {sanitize_attribute(a) for a in spec.attributes}
        unknown_labels = set(labels) - attributes
        assert not unknown_labels, f"{path.name}:{line}: {metric} has no label {sorted(unknown_labels)}"
