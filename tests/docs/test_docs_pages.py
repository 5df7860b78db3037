"""What the README and the docs pages say agrees with the files that own the facts."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from fastapi.telemetry import TelemetryConfig

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
ORIGINAL_METRICS = Path(__file__).with_name("original_metrics.txt")


def test_every_original_metric_has_a_home():
    lines = ORIGINAL_METRICS.read_text().splitlines()
    original = {line for line in lines if line and not line.startswith("#")}
    assert len(original) > 30
    page = (DOCS / "metrics.md").read_text()
    inventory = page.split("## From the original AMAS", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in original if f"`{name}" not in inventory)
    assert not missing, f"original metrics without a row in the inventory of docs/metrics.md: {missing}"


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 210


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_words_that_mean_nothing_outside_the_team(page: Path):
    text = page.read_text()
    found = re.findall(r"\bissue[- ]\d+\b|\bthese machines\b|\bthe proxy here\b", text, re.IGNORECASE)
    assert not found, f"{page.relative_to(ROOT)}: {found}"


def test_the_readme_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("bash scripts/test.sh", "bash scripts/demo.sh"):
        assert command in ci and command in README, command


def test_the_compose_quick_start_names_every_required_variable():
    compose = (ROOT / "compose.yaml").read_text()
    header = compose.split("# Required environment", 1)[1].split("# Set, possibly empty", 1)[0]
    required = set(re.findall(r"^#\s+(AMAS_\w+)", header, re.MULTILINE))
    assert len(required) == 3, required
    quick_start = README.split("## The whole stack with containers", 1)[1].split("\n## ", 1)[0]
    assert {var for var in required if f"{var}=" in quick_start} == required


def test_the_extras_table_lists_the_extras_of_the_package():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    table = README.split("<!-- --8<-- [start:extras] -->", 1)[1].split("<!-- --8<-- [end:extras] -->", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([\w-]+)`", row.split("|")[1])}
    assert listed == extras


def _fastapi_telemetry_switch(source: str) -> dict:
    """The dict literal given as ``FastAPI(telemetry=...)`` in a module's source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "FastAPI":
            for keyword in node.keywords:
                if keyword.arg == "telemetry":
                    return ast.literal_eval(keyword.value)
    raise AssertionError("no FastAPI(telemetry=...) call")


def test_the_example_and_the_warning_switch_fastapi_telemetry_off_alike():
    example = _fastapi_telemetry_switch((ROOT / "examples" / "bookshop.py").read_text())
    asgi = (ROOT / "src/amas_telemetry/_internal/integrations/asgi.py").read_text()
    warned = re.search(r"FastAPI\(telemetry=(\{[^}]*\})\)", asgi)
    assert warned is not None
    assert ast.literal_eval(warned.group(1)) == example == {"tracing": False, "metrics": False, "logs": False}
    assert set(example) <= set(TelemetryConfig.__annotations__), "keys the installed FastAPI does not take"


def test_the_design_page_describes_the_layout_as_it_is():
    page = (DOCS / "design.md").read_text()
    layout = page.split("## The layout", 1)[1]
    rooms = set(re.findall(r"^\| `(\w+)` \| ", layout, re.MULTILINE))
    public = set(re.findall(r"^\| `(amas_telemetry(?:\.\w+)?)` \| ", layout, re.MULTILINE))
    internal = ROOT / "src" / "amas_telemetry" / "_internal"
    packages = {p.parent.name for p in internal.glob("*/__init__.py")}
    assert rooms - {"amas_telemetry"} == packages, "the rooms of _internal and the design page differ"
    modules = {p.stem for p in (ROOT / "src" / "amas_telemetry").glob("*.py") if not p.stem.startswith("_")}
    assert public == {"amas_telemetry", *(f"amas_telemetry.{m}" for m in modules)}
