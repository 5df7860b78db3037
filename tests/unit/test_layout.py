"""The package layout docs/design.md describes holds in the code.

Rooms of ``amas_telemetry._internal`` import only rooms above them in the design page's list
(plus the public leaves ``semconv`` and ``catalog`` and the shared modules), and each room's
docstring names exactly the rooms it imports. No source file is over 400 lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = ROOT / "src" / "amas_telemetry" / "_internal"
SHARED = {"errors", "forking", "_version", "semconv", "catalog"}
MAX_LINES = 400


def _room_order() -> list[str]:
    layout = (ROOT / "docs" / "design.md").read_text().split("## The layout", 1)[1]
    table = layout.split("| room | owns |", 1)[1]
    return re.findall(r"^\| `(\w+)` \| ", table, re.MULTILINE)


def _runtime_imports(path: Path) -> set[str]:
    """``amas_telemetry`` modules a file imports when it runs (not those under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "amas_telemetry":
                found.update(f"amas_telemetry.{a.name}" for a in node.names)
            elif node.module.startswith("amas_telemetry."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("amas_telemetry."))
    return found


def _target(module: str) -> str:
    """The room (or shared module) an imported ``amas_telemetry`` module belongs to."""
    parts = module.split(".")
    return parts[2] if parts[1] == "_internal" and len(parts) > 2 else parts[1]


def _rooms_used(room: str) -> set[str]:
    used: set[str] = set()
    for path in (INTERNAL / room).rglob("*.py"):
        used.update(_target(m) for m in _runtime_imports(path))
    return used - {room}


ORDER = _room_order()


def test_the_design_page_lists_every_room():
    assert sorted(ORDER) == sorted(p.parent.name for p in INTERNAL.glob("*/__init__.py"))


@pytest.mark.parametrize("room", ORDER)
def test_a_room_imports_only_rooms_above_it(room):
    above = set(ORDER[: ORDER.index(room)])
    wrong = _rooms_used(room) - above - SHARED
    assert not wrong, f"{room} imports {sorted(wrong)}: not above it in docs/design.md's list"


@pytest.mark.parametrize("room", ORDER)
def test_a_room_s_docstring_names_the_rooms_it_imports(room):
    doc = ast.get_docstring(ast.parse((INTERNAL / room / "__init__.py").read_text())) or ""
    match = re.search(r"\(import: ([^)]*)\)", doc)
    assert match, f"{room}/__init__.py: no '(import: ...)' in its docstring"
    declared = set(re.findall(r"``(\w+)``", match[1])) - SHARED
    assert declared == _rooms_used(room) - SHARED


def test_the_checks_see_an_upward_import(tmp_path):
    """The import reader finds runtime imports and leaves type-only ones out."""
    path = tmp_path / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "from amas_telemetry._internal.metrics.state_gauges import x\n"
        "def f():\n    from amas_telemetry import semconv\n"
        "if TYPE_CHECKING:\n    from amas_telemetry._internal.logs.root import y\n"
    )
    assert {_target(m) for m in _runtime_imports(path)} == {"metrics", "semconv"}


@pytest.mark.parametrize("package", ["src", "service/src", "devstack/src"])
def test_no_source_file_is_over_400_lines(package):
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / package).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by job: {long}"
