"""Every metric name the README tables, the rules and the dashboards use exists.

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

from amas_telemetry.catalog import CATALOG, InstrumentKind, prometheus_name  # noqa: E402
from amas_telemetry.spanmetrics import DEFAULT_RULES  # noqa: E402
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

_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
    | {"inf", "nan", "Inf", "NaN"}
)
_NAME_REGEX = re.compile(r'__name__\s*=~?\s*"([^"]*)"')
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _expand(regex: str) -> set[str]:
    """The names a ``__name__`` regex of alternatives matches: ``a_(b|c)_d|e`` → a_b_d, a_c_d, e."""
    group = re.search(r"\(([^()]*)\)", regex)
    if group is None:
        return set(regex.split("|"))
    head, tail = regex[: group.start()], regex[group.end() :]
    head_alt, _, head_last = head.rpartition("|")
    tail_first, _, tail_alt = tail.partition("|")
    expanded = {name for alt in group.group(1).split("|") for name in _expand(head_last + alt + tail_first)}
    rest = "|".join(part for part in (head_alt, tail_alt) if part)
    return expanded | (_expand(rest) if rest else set())


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords left out)."""
    names = {name for regex in _NAME_REGEX.findall(expr) for name in _expand(regex)}
    expr = re.sub(r",\s*\w+\s*\)", ")", expr) if expr.startswith("label_values(") else expr
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)  # Grafana variables
    expr = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?", " ", expr)  # numbers, durations
    for match in _IDENTIFIER.finditer(expr):
        rest = expr[match.end() :].lstrip()
        if match.group() not in _KEYWORDS and not rest.startswith("("):
            names.add(match.group())
    return names


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


def _readme_tables() -> dict[str, list[list[str]]]:
    """Markdown tables of README.md by the heading above them, as rows of cells."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not re.fullmatch(r"[|\-: ]+", line):
            tables.setdefault(heading, []).append([c.strip() for c in line.strip("|").split("|")])
    return tables


README = _readme_tables()
README_METRIC_COLUMNS = {
    "Metrics derived from spans": 1,  # instrument (OTel name → Prometheus name)
    "Metric inventory: the original plan → ours": 1,  # ours
    "The infrastructure and the pipeline itself": 2,  # the metrics (as Prometheus stores them)
}


@pytest.mark.parametrize("heading", README_METRIC_COLUMNS)
def test_readme_metric_tables_name_only_existing_metrics(heading):
    rows = README[heading][1:]
    assert rows, f"README has no table under {heading!r}"
    column = README_METRIC_COLUMNS[heading]
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
                    assert matches, f"README {heading!r}: {code} matches no known metric"
                    continue
                prom |= metric_names(code.removeprefix("recording rule "))
    assert not [name for name in otel if name not in CATALOG], f"not in the catalog: {otel - set(CATALOG)}"
    assert not unknown(prom), f"README {heading!r} names metrics nothing defines: {unknown(prom)}"


def test_readme_state_gauges_are_catalog_gauges():
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("### State gauges (callbacks)", 1)[1].split("\n### ", 1)[0]
    named = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section))
    assert named, "the State gauges section names no gauge"
    assert all(CATALOG[name].kind is InstrumentKind.GAUGE for name in named)


def test_readme_span_metrics_table_gives_each_metric_its_catalog_unit_and_prometheus_name():
    rows = README["Metrics derived from spans"][1:]
    pairs = []  # (OTel name, " (s)" or "", Prometheus name); "`a` (s), `b` → `x`, `y`" pairs a-x, b-y
    for row in rows:
        for part in row[1].split(";"):
            if "→" in part:
                left, right = part.split("→", 1)
                otel = re.findall(r"`([a-z_.]+)`( \(s\))?", left)
                prom = re.findall(r"`(\w+)`", right)[: len(otel)]
                pairs += [(o, s, p) for (o, s), p in zip(otel, prom, strict=True)]
    assert len(pairs) >= 15, "the table's 'OTel name → Prometheus name' pairs were not found"
    for otel, seconds, prom in pairs:
        spec = CATALOG[otel]
        assert prometheus_name(spec) == prom, (
            f"README: {otel} → {prom}, the catalog says {prometheus_name(spec)}"
        )
        assert (spec.unit == "s") == bool(seconds), f"README: {otel} unit, the catalog says {spec.unit}"
    listed = {name for row in rows for name in re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", row[1])}
    derived = {rule.metric.name for rule in DEFAULT_RULES} | {"http.server.active_requests"}
    assert listed == derived, f"README lists {sorted(listed - derived)}, misses {sorted(derived - listed)}"


# --- the demo's report reads /metrics by the catalog's names -----------------------------------

DEMO_READERS = [REPO_ROOT / "src" / "amas_devstack" / "demo" / name for name in ("report.py", "drive.py")]
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
