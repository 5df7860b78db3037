"""The dashboards' schema version, for the Grafana compose.yaml runs.

dashboards/generate.py uses grafana-foundation-sdk's "Grafana next" build of 2026-01-29 (no
build labelled 12.x or 13.x is on PyPI; the labelled ones stop at 11.6); it writes dashboard
schemaVersion 41. Grafana migrates every stored or provisioned dashboard from its
schemaVersion up to its own latest on load (apps/dashboard/pkg/migration/schemaversion in
grafana/grafana: from 9 up to 43 in the newest sources read, not the v13.0.1 tag). The two
steps past 41 rewrite only what our boards do not use, so Grafana 13 shows them as written:
V42 sets ``hideFrom.tooltip`` where an override hides a field from the visualization, V43
turns ``formatTime`` transformations into ``convertFieldType``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

JSON_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "json"
BOARDS = sorted(JSON_DIR.glob("*.json"))
#: what the SDK build writes; Grafana's migrations after it are checked below
SCHEMA_VERSION = 41


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in model.get("panels", []):
        out.append(panel)
        out += _panels(panel)  # a row's nested panels
    return out


def _hides_from_viz(panel: dict[str, Any]) -> bool:
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        for prop in override.get("properties", []):
            if prop.get("id") == "custom.hideFrom" and (prop.get("value") or {}).get("viz"):
                return True
    return False


@pytest.mark.parametrize("path", BOARDS, ids=[p.name for p in BOARDS])
def test_boards_are_written_at_the_sdk_schema_version(path):
    assert json.loads(path.read_text())["schemaVersion"] == SCHEMA_VERSION


@pytest.mark.parametrize("path", BOARDS, ids=[p.name for p in BOARDS])
def test_grafanas_later_migrations_change_nothing_on_our_boards(path):
    panels = _panels(json.loads(path.read_text()))
    assert not [p.get("title") for p in panels if _hides_from_viz(p)], "V42 would add hideFrom.tooltip"
    formats = [
        p.get("title") for p in panels for t in p.get("transformations", []) if t.get("id") == "formatTime"
    ]
    assert not formats, "V43 would turn formatTime into convertFieldType"


def test_the_migration_check_sees_what_it_looks_for():
    panel = {
        "fieldConfig": {"overrides": [{"properties": [{"id": "custom.hideFrom", "value": {"viz": True}}]}]},
        "transformations": [{"id": "formatTime"}],
    }
    assert _hides_from_viz(panel)
    assert _panels({"panels": [{"type": "row", "panels": [panel]}]})[1] is panel
