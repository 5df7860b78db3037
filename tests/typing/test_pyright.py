"""The public API type-checks under pyright strict (config: [tool.pyright] in pyproject.toml).

The positive case is the whole configured set (the public modules and public_api.py, an app's
use of them); the negative cases show that the types carry meaning: a misspelled setting, a
wrongly typed value and an unknown handle method are errors an app's type checker reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYRIGHT = Path(sys.executable).with_name("pyright")


def _pyright(*args: str, cwd: Path = ROOT) -> dict:
    if not PYRIGHT.exists():
        pytest.fail(f"no pyright in {PYRIGHT.parent} (the lint group of uv.lock)", pytrace=False)
    done = subprocess.run(
        [str(PYRIGHT), "--outputjson", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return json.loads(done.stdout)


def test_the_public_api_type_checks_strictly():
    report = _pyright()
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert errors == [], errors
    assert report["summary"]["filesAnalyzed"] >= 7


@pytest.mark.parametrize(
    ("line", "reported"),
    [
        ("amas_telemetry.configure(sampling_rate=0.1)", "sampling_rate"),
        ('amas_telemetry.configure(sampling_ratio="all")', "sampling_ratio"),
        ("amas_telemetry.configure().observe_gauge('x', lambda: 1)", "observe_gauge"),
    ],
)
def test_a_wrong_use_is_a_type_error(tmp_path, line, reported):
    (tmp_path / "app.py").write_text(f"import amas_telemetry\n\n{line}\n")
    config = {"typeCheckingMode": "strict", "pythonVersion": "3.11", "venvPath": str(ROOT), "venv": ".venv"}
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    report = _pyright(cwd=tmp_path)
    messages = [d["message"] for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert any(reported in m for m in messages), messages
