"""Dashboards as code: committed JSON matches the generator; every panel queries; names agree.

The PromQL of every dashboard and rule (dashboards.queries.all_queries) is parsed by
promtool here; tests/e2e/test_dashboard_queries.py runs it against a live Prometheus.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from dashboards.generate import JSON_DIR, build_all, render  # noqa: E402
from dashboards.promql_names import metric_names  # noqa: E402
from dashboards.queries import FAULT_ONLY, FAULTS, PROVEN_ELSEWHERE, all_queries, as_probe, substitute  # noqa: E402

from dashboards import metrics  # noqa: E402

MODELS = build_all()
PANELS = [(model["uid"], panel) for model in MODELS.values() for panel in model["panels"]]
QUERY_PANELS = [(uid, panel) for uid, panel in PANELS if panel["type"] != "row"]


def _panel_id(item: tuple[str, dict]) -> str:
    return f"{item[0]}/{item[1]['title']}"


def test_committed_json_is_what_the_generator_writes():
    stale = [name for name, model in MODELS.items() if not (JSON_DIR / name).is_file()
             or (JSON_DIR / name).read_text() != render(model)]  # fmt: skip
    assert not stale, f"dashboards/json is stale for {stale}: run `python -m dashboards.generate`"
    extra = sorted(p.name for p in JSON_DIR.glob("*.json") if p.name not in MODELS)
    assert not extra, f"dashboards/json has files the generator does not write: {extra}"


def test_check_mode_agrees():
    proc = subprocess.run(
        [sys.executable, "-m", "dashboards.generate", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_dashboards_are_distinct_and_tagged():
    uids = [m["uid"] for m in MODELS.values()]
    titles = [m["title"] for m in MODELS.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)
    for model in MODELS.values():
        assert "amas" in model["tags"]
        names = [v["name"] for v in model["templating"]["list"]]
        exprs = [t["expr"] for p in model["panels"] for t in p.get("targets", [])]
        pinned = all(re.search(r'job="[\w-]+"', e) for e in exprs)  # infrastructure: fixed source jobs
        assert "job" in names or pinned, f"{model['uid']}: no job variable"


@pytest.mark.parametrize("item", QUERY_PANELS, ids=_panel_id)
def test_every_panel_has_a_prometheus_query_scoped_to_the_job(item):
    _, panel = item
    targets = panel.get("targets", [])
    assert targets, "panel without a query"
    for target in targets:
        assert target["expr"].strip()
        assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        # the service's $job, or the fixed job of a scraped source (dashboards/boards/)
        assert re.search(r'job="(\$job|[\w-]+)"', target["expr"]), f"{target['refId']}: not scoped to a job"
    assert len({t["refId"] for t in targets}) == len(targets)


@pytest.mark.parametrize("item", QUERY_PANELS, ids=_panel_id)
def test_latency_panels_show_exemplars(item):
    _, panel = item
    if panel["type"] == "timeseries" and panel["fieldConfig"]["defaults"].get("unit") == "s":
        assert all(t.get("exemplar") is True for t in panel["targets"])


def test_panel_titles_are_unique_per_dashboard_and_ids_stable():
    for model in MODELS.values():
        titles = [p["title"] for p in model["panels"] if p["type"] != "row"]
        assert len(titles) == len(set(titles)), model["uid"]
        assert [p["id"] for p in model["panels"]] == list(range(1, len(model["panels"]) + 1))


def test_every_amas_metric_is_on_a_dashboard():
    exprs = "\n".join(t["expr"] for _, panel in QUERY_PANELS for t in panel["targets"])
    missing = [
        name for name in metrics.AMAS_METRICS if not re.search(rf"\b{name}(_bucket|_sum|_count)?\b", exprs)
    ]
    assert not missing, f"metrics without a panel: {missing}"


def test_every_metric_name_in_semconv_is_in_the_catalog():
    """semconv.py names the metrics (its metric sections); the catalog describes each of them."""
    from amas_telemetry import semconv as sc
    from amas_telemetry.catalog import CATALOG

    source = (REPO_ROOT / "src" / "amas_telemetry" / "semconv.py").read_text()
    metric_sections = source[source.index("# --- Metrics derived") :]  # the metric sections end the file
    named = re.findall(r'^(\w+): Final = "', metric_sections, re.M)
    named += re.findall(r"^# (\w+) \(imported above\)", metric_sections, re.M)
    assert len(named) == len(set(named))
    assert {getattr(sc, constant) for constant in named} == set(CATALOG)


# --- all_queries() -------------------------------------------------------------------------------


QUERIES = all_queries()


def test_all_queries_covers_every_dashboard_target_and_rule():
    ids = {q.id for q in QUERIES}
    for uid, panel in QUERY_PANELS:
        for target in panel["targets"]:
            assert f"{uid}/{panel['title']}/{target['refId']}" in ids
    rule_count = sum(
        len(group["rules"])
        for name in ("recording.yml", "alerts.yml", "infrastructure.yml")
        for group in yaml.safe_load((REPO_ROOT / "rules" / name).read_text())["groups"]
    )
    assert sum(q.id.startswith("rules/") for q in QUERIES) == rule_count


def test_dashboard_queries_are_concrete():
    for query in QUERIES:
        if not query.id.startswith("rules/"):
            assert "$" not in query.expr, f"{query.id}: {query.expr}"
    assert substitute('rate(x{job="$job"}[$__rate_interval])') == 'rate(x{job="amas-service"}[1m])'
    assert substitute("${job}") == "amas-service"
    with pytest.raises(KeyError):
        substitute("$nope")


@pytest.mark.parametrize(
    ("alert", "probe"),
    [
        ("x > 0.2", "x > bool 0.2"),
        ('a{e!=""} / b < 2', 'a{e!=""} / b < bool 2'),
        ("a == 1", "a == bool 1"),
        ("a > (14.4 * 0.005) and b >= 3", "a > bool (14.4 * 0.005) and b >= bool 3"),
        ('m{le="+Inf",c=~"5.."} > bool 1', 'm{le="+Inf",c=~"5.."} > bool 1'),
    ],
)
def test_alert_conditions_become_probes(alert, probe):
    assert as_probe(alert) == probe


def test_fault_only_mapping_refers_to_existing_queries_and_faults():
    ids = {q.id for q in QUERIES}
    assert not set(FAULT_ONLY) - ids, f"stale FAULT_ONLY ids: {sorted(set(FAULT_ONLY) - ids)}"
    assert set(FAULT_ONLY.values()) <= set(FAULTS)
    assert set(FAULTS) == set(FAULT_ONLY.values()), "a fault no query needs"


def test_queries_proven_elsewhere_name_a_test_that_reads_their_metrics():
    """Each is proven by a test that exists and reads the query's metrics (by name, ``_total``
    or not), and none is also fault-only."""
    by_id = {q.id: q for q in QUERIES}
    assert not set(PROVEN_ELSEWHERE) - set(by_id), "stale PROVEN_ELSEWHERE ids"
    assert not set(PROVEN_ELSEWHERE) & set(FAULT_ONLY)
    for query_id, test_file in PROVEN_ELSEWHERE.items():
        source = (REPO_ROOT / test_file).read_text()
        names = {re.sub(r"_total$", "", name) for name in metric_names(by_id[query_id].expr)}
        assert any(name in source for name in names), f"{test_file} reads none of {sorted(names)}"


def test_queries_needing_errors_are_fault_only():
    """A selector on error_type!="" or a 5xx status has data only when something fails."""
    for query in QUERIES:
        needs_failure = 'error_type!=""' in query.expr or 'otel_metric_overflow="true"' in query.expr
        guarded = "or vector(0)" in query.expr or "or 0 *" in query.expr or " bool " in query.expr
        if needs_failure and not guarded:
            assert query.fault, f"{query.id} only has data under a fault; add it to FAULT_ONLY"


def test_every_query_parses():
    """promtool parses each query (as a recording rule): names may be wrong, syntax is not."""
    root = Path(os.environ.get("AMAS_BUILD_DIR", "~/.cache/amas-telemetry")).expanduser()
    promtool = root / "bin" / "promtool"
    if not os.access(promtool, os.X_OK):
        pytest.fail(
            f"{promtool} not found: build it with `bash scripts/build_binaries.sh promtool`", pytrace=False
        )
    rules = {"groups": [{"name": "all-queries", "rules": [
        {"record": f"query_{i}", "expr": q.expr} for i, q in enumerate(QUERIES)
    ]}]}  # fmt: skip
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"amas-all-queries-{os.getpid()}.yml"
    path.write_text(yaml.safe_dump(rules))
    try:
        proc = subprocess.run([str(promtool), "check", "rules", str(path)], capture_output=True, text=True)
    finally:
        path.unlink()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runbook_names_only_panels_and_dashboards_that_exist():
    """rules/RUNBOOK.md points on-call at panels in *italics*: each must exist."""
    runbook = (REPO_ROOT / "rules" / "RUNBOOK.md").read_text()
    named = set(re.findall(r"\*([^* ][^*]*)\*", runbook))
    known = {p["title"] for _, p in PANELS} | {m["title"] for m in MODELS.values()}
    grafana_ui = {"AMAS", "Logs for this span"}  # the dashboards folder; a trace-view link
    assert not named - known - grafana_ui, (
        f"RUNBOOK.md names unknown panels: {sorted(named - known - grafana_ui)}"
    )
