"""Grafana provisioning: fixed data source UIDs and the links between metrics, traces and logs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

PROVISIONING = Path(__file__).resolve().parents[2] / "dashboards" / "provisioning"
DATASOURCES_FILE = PROVISIONING / "datasources" / "datasources.yaml"
DATASOURCES = {ds["uid"]: ds for ds in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]}


def test_fixed_uids():
    assert {"prometheus", "tempo", "loki"} <= set(DATASOURCES)
    assert DATASOURCES["prometheus"]["type"] == "prometheus"
    assert DATASOURCES["tempo"]["type"] == "tempo"
    assert DATASOURCES["loki"]["type"] == "loki"
    assert [uid for uid, ds in DATASOURCES.items() if ds.get("isDefault")] == ["prometheus"]


def test_exemplars_link_to_tempo():
    (dest,) = DATASOURCES["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert dest["datasourceUid"] == "tempo" and dest["name"] == "trace_id"


def test_traces_link_to_logs_metrics_and_service_map():
    tempo = DATASOURCES["tempo"]["jsonData"]
    logs = tempo["tracesToLogsV2"]
    assert logs["datasourceUid"] == "loki"
    assert {"key": "service.name", "value": "service_name"} in logs["tags"]
    assert "trace_id=" in logs["query"] and "__trace.traceId" in logs["query"]
    assert tempo["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert all("$__tags" in q["query"] for q in tempo["tracesToMetrics"]["queries"])
    assert tempo["serviceMap"]["datasourceUid"] == "prometheus"
    assert tempo["nodeGraph"]["enabled"] is True


def test_logs_link_to_traces_by_structured_metadata():
    (field,) = DATASOURCES["loki"]["jsonData"]["derivedFields"]
    assert field["datasourceUid"] == "tempo"
    assert field["matcherType"] == "label" and field["matcherRegex"] == "trace_id"
    assert field["url"] == "$${__value.raw}"  # ${__value.raw} once Grafana has read the file


def test_template_variables_are_escaped_from_env_expansion():
    """Grafana expands $VAR and ${VAR} in provisioning files; literal ones are written $$."""
    for path in PROVISIONING.rglob("*.yaml"):
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        unescaped = re.findall(r"(?<!\$)\$(?!\$)[{\w]", text)
        assert not unescaped, f"{path.name}: unescaped $ would be expanded by Grafana"


def test_dashboard_provider_points_at_the_mounted_json():
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "provider.yaml").read_text())["providers"]
    assert provider["type"] == "file" and provider["folder"] == "AMAS"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/amas"
    assert provider["allowUiUpdates"] is False
