"""Prometheus and Alertmanager configuration in rules/: validity, unit tests, coverage, metadata.

promtool and amtool come from scripts/build_binaries.sh (``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``);
a missing binary fails the test with the command that builds it (never a skip).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "rules"
ALERTS = RULES / "alerts.yml"
INFRASTRUCTURE = RULES / "infrastructure.yml"
ALERT_FILES = (ALERTS, INFRASTRUCTURE)
RECORDING = RULES / "recording.yml"
RUNBOOK = RULES / "RUNBOOK.md"
TEST_FILES = sorted((RULES / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning", "info"}


def _binary(name: str) -> str:
    root = Path(os.environ.get("AMAS_BUILD_DIR", "~/.cache/amas-telemetry")).expanduser()
    path = root / "bin" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{name} not found at {path}: build it with `bash scripts/build_binaries.sh promtool amtool`",
            pytrace=False,
        )
    return str(path)


def _run(*args: str) -> str:
    proc = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed (exit {proc.returncode}):\n{output}"
    return output


def _duration_seconds(text: str | None) -> int:
    """Prometheus duration ("1h30m", "90s", "0s") in seconds; None is 0."""
    if not text:
        return 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text))
    assert "".join(n + u for n, u in parts) == str(text), f"bad duration {text!r}"
    return int(sum(int(n) * units[u] for n, u in parts))


def _alert_rules() -> list[dict]:
    groups = [group for path in ALERT_FILES for group in yaml.safe_load(path.read_text())["groups"]]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _recording_rules() -> list[dict]:
    groups = yaml.safe_load(RECORDING.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


# --- the binaries ------------------------------------------------------------------------------


def test_prometheus_config_is_valid():
    out = _run(_binary("promtool"), "check", "config", "rules/prometheus.yml")
    assert "3 rule files found" in out


def test_rule_files_are_valid_and_lint_clean():
    files = [str(RECORDING), *map(str, ALERT_FILES)]
    _run(_binary("promtool"), "check", "rules", "--lint=all", "--lint-fatal", *files)


def test_promtool_unit_tests_pass():
    assert TEST_FILES, "no rules/tests/*.yml"
    _run(_binary("promtool"), "test", "rules", *map(str, TEST_FILES))


def test_alertmanager_config_is_valid():
    _run(_binary("amtool"), "check-config", "rules/alertmanager.yml")


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "component=database"], "oncall-pager,team-slack"),
        (["severity=critical", "component=ai-provider"], "oncall-pager,ai-team-slack"),
        (["severity=warning", "component=agent"], "ai-team-slack"),
        (["severity=info", "component=agent-cost"], "ai-team-slack"),
        (["severity=info", "component=cache"], "info-slack"),
        (["severity=warning", "component=api"], "team-slack"),
    ],
)
def test_alertmanager_routes_by_severity_and_component(labels, receivers):
    out = _run(_binary("amtool"), "config", "routes", "test", "--config.file=rules/alertmanager.yml", *labels)
    assert out.strip() == receivers


def test_alertmanager_config_holds_no_secret():
    config = yaml.safe_load((RULES / "alertmanager.yml").read_text())
    text = (RULES / "alertmanager.yml").read_text()
    assert "hooks.slack.com" not in text and "api_url:" not in text.replace("api_url_file:", "")
    for receiver in config["receivers"]:
        for kind, configs in receiver.items():
            if kind == "name":
                continue
            for cfg in configs:
                assert not {"url", "api_url", "service_key", "routing_key", "auth_password"} & set(cfg), (
                    f"{receiver['name']}: secrets must come from *_file settings"
                )


# --- coverage of the unit tests ----------------------------------------------------------------


def _test_cases() -> list[tuple[str, int, set[str]]]:
    """(alertname, eval time in s, severities expected to fire) for every alert_rule_test case."""
    cases = []
    for path in TEST_FILES:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                severities = {a["exp_labels"]["severity"] for a in case.get("exp_alerts") or []}
                cases.append((case["alertname"], _duration_seconds(case["eval_time"]), severities))
    return cases


def test_every_alert_fires_in_a_test_and_stays_silent_in_another():
    """Each (alert, severity) rule: one case where it fires, one past its `for` where it does not."""
    cases = _test_cases()
    missing = []
    for rule in _alert_rules():
        name, severity, hold = rule["alert"], rule["labels"]["severity"], _duration_seconds(rule.get("for"))
        mine = [(t, sev) for alert, t, sev in cases if alert == name]
        if not any(severity in sev for _, sev in mine):
            missing.append(f"{name} ({severity}): no case where it fires")
        if not any(severity not in sev and t > hold for t, sev in mine):
            missing.append(f"{name} ({severity}): no silent case evaluated after `for: {rule.get('for')}`")
    assert not missing, "\n".join(missing)


def test_every_recording_rule_has_a_value_test():
    exprs = [
        case["expr"]
        for path in TEST_FILES
        for group in yaml.safe_load(path.read_text())["tests"]
        for case in group.get("promql_expr_test", [])
    ]
    records = {rule["record"] for rule in _recording_rules()}
    untested = sorted(r for r in records if not any(re.search(rf"\b{re.escape(r)}\b", e) for e in exprs))
    assert not untested, f"recording rules without a promql_expr_test: {untested}"


def test_every_alert_name_in_tests_exists():
    names = {rule["alert"] for rule in _alert_rules()}
    unknown = sorted({alert for alert, _, _ in _test_cases()} - names)
    assert not unknown, f"tests refer to alerts that do not exist: {unknown}"


# --- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: f"{r['alert']}-{r['labels']['severity']}")
def test_alert_has_labels_annotations_and_runbook(rule):
    name = rule["alert"]
    labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
    assert labels.get("severity") in SEVERITIES
    assert re.fullmatch(r"[a-z][a-z-]*", labels.get("component", "")), "component label missing"
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{name}: annotation {key} missing"
    assert annotations["runbook_url"] == f"rules/RUNBOOK.md#runbook-{name.lower()}"


def test_runbook_has_a_section_per_alert_and_no_orphans():
    anchors = {_github_slug(h) for h in re.findall(r"^#{2,4} (Runbook: .+)$", RUNBOOK.read_text(), re.M)}
    wanted = {f"runbook-{rule['alert'].lower()}" for rule in _alert_rules()}
    assert wanted <= anchors, f"RUNBOOK.md lacks sections: {sorted(wanted - anchors)}"
    assert anchors <= wanted, f"RUNBOOK.md sections without an alert: {sorted(anchors - wanted)}"


def test_tiers_under_one_name_share_component_so_inhibition_applies():
    by_name: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rule in _alert_rules():
        by_name[rule["alert"]].add((rule["labels"]["severity"], rule["labels"]["component"]))
    for name, tiers in by_name.items():
        assert len({component for _, component in tiers}) == 1, f"{name}: tiers differ in component"
        assert len(tiers) == len({severity for severity, _ in tiers}), f"{name}: duplicate severity"


def test_prometheus_config_matches_the_stack():
    config = yaml.safe_load((RULES / "prometheus.yml").read_text())
    assert config["rule_files"] == ["recording.yml", "alerts.yml", "infrastructure.yml"]
    promoted = set(config["otlp"]["promote_resource_attributes"])
    assert {"service.version", "deployment.environment.name"} <= promoted
    assert config["storage"]["exemplars"]["max_exemplars"] > 0
    alertmanagers = config["alerting"]["alertmanagers"]
    targets = [t for am in alertmanagers for static in am["static_configs"] for t in static["targets"]]
    # natively and in compose (Alertmanager shares Prometheus's network namespace)
    assert targets == ["127.0.0.1:9093"]
    assert not config.get("scrape_configs"), "metrics arrive by OTLP only; nothing scrapes the app"


def test_unit_tests_evaluate_recording_rules_before_alerts():
    """promtool evaluates groups in no fixed order; alerts reading recorded series that
    change between evaluations would flake. Every test file orders the recording groups first."""
    recording = [g["name"] for g in yaml.safe_load(RECORDING.read_text())["groups"]]
    alerting = [g["name"] for path in ALERT_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    assert not set(recording) & set(alerting), "group names must be unique across rule files"
    for path in TEST_FILES:
        assert yaml.safe_load(path.read_text()).get("group_eval_order") == recording, path.name
