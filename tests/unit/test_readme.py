"""The README's tables are kept in step with the code they describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from amas_telemetry._internal.config.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ORIGINAL_METRICS = Path(__file__).with_name("original_metrics.txt")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_with_its_variables(setting):
    row = next((line for line in README.splitlines() if line.startswith(f"| `{setting.name}` |")), None)
    assert row is not None, f"README has no row for {setting.name}"
    for var in setting.env_vars:
        assert f"`{var}`" in row
    assert setting.doc.split(";")[0] in row


def test_every_original_metric_has_a_home():
    lines = ORIGINAL_METRICS.read_text().splitlines()
    original = {line for line in lines if line and not line.startswith("#")}
    assert len(original) > 30
    inventory = README.split("## Metric inventory", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in original if f"`{name}" not in inventory)
    assert not missing, f"original metrics without a row in the README inventory: {missing}"
