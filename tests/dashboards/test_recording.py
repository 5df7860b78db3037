"""Recording-rule names: the dashboards, rules/recording.yml and the docs agree.

The dashboards spell recording-rule names once, in dashboards/recording.py; the rules spell
them in YAML. Every name the dashboards, their JSON or the docs use must be a ``record``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from dashboards.generate import build_all  # noqa: E402

from dashboards import recording  # noqa: E402

#: level:metric:operations (https://prometheus.io/docs/practices/rules/)
RECORD_NAME = re.compile(r"\b[a-z_]+:[a-z_0-9]+:[a-z_0-9]+\b")
RECORDS = {
    rule["record"]
    for group in yaml.safe_load((REPO_ROOT / "rules" / "recording.yml").read_text())["groups"]
    for rule in group["rules"]
    if "record" in rule
}


def test_the_pattern_finds_names():
    assert RECORD_NAME.findall("1 - job_agent:amas_agent_errors:ratio_rate5m{job='x'}") == [
        "job_agent:amas_agent_errors:ratio_rate5m"
    ]
    assert not RECORD_NAME.findall("https://prometheus.io/docs at 06:55:00")
    assert len(RECORDS) > 20


def test_every_constant_is_a_recording_rule():
    names = recording.ALL
    assert len(set(names)) == len(names), names
    assert len(names) >= 10, names
    unknown = sorted(set(names) - RECORDS)
    assert not unknown, f"dashboards/recording.py names rules that rules/recording.yml lacks: {unknown}"


def test_every_recording_rule_a_dashboard_queries_exists():
    panels = [panel for model in build_all().values() for panel in model["panels"]]
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    used = {name for expr in exprs for name in RECORD_NAME.findall(expr)}
    assert used, "the dashboards read no recording rule"
    assert used <= set(recording.ALL), sorted(used - set(recording.ALL))
    assert not used - RECORDS, f"dashboards query recording rules that do not exist: {sorted(used - RECORDS)}"


def test_dashboard_code_spells_no_recording_rule_name_but_in_recording_py():
    sources = [p for p in (REPO_ROOT / "dashboards").rglob("*.py") if p.name != "recording.py"]
    raw = {f"{p.relative_to(REPO_ROOT)}: {n}" for p in sources for n in RECORD_NAME.findall(p.read_text())}
    assert not raw, f"use the constants of dashboards/recording.py: {sorted(raw)}"


def test_every_recording_rule_the_docs_name_exists():
    rules = [REPO_ROOT / "rules" / name for name in ("RUNBOOK.md", "alerts.yml", "infrastructure.yml")]
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md")), *rules]:
        unknown = sorted(set(RECORD_NAME.findall(path.read_text())) - RECORDS)
        assert not unknown, f"{path.relative_to(REPO_ROOT)} names recording rules nobody records: {unknown}"
    inventory = (REPO_ROOT / "docs" / "metrics.md").read_text().split("## From the original AMAS", 1)[1]
    assert RECORD_NAME.findall(inventory), "the inventory of docs/metrics.md names no recording rule any more"
