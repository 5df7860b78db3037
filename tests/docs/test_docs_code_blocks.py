"""Every Python block of README.md and docs/ runs as written, in a process of its own.

A block that defines ``test_*`` functions runs under pytest with the ``amas_telemetry.testing``
plugin (as a user's test file would); any other block runs with ``python``. A block that is a
fragment (it names what the page around it defines) says so on the line before its fence,
``<!-- fragment: why -->``, and is only compiled; there are few of them. A block that is
``--8<-- "file:section"`` shows a file a test of its own runs.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_FRAGMENT = re.compile(r"<!-- fragment: [^>]+ -->\s*$")
INCLUDED_AND_TESTED = {"examples/bookshop.py": "tests/examples/test_example_bookshop.py"}
MAX_FRAGMENTS = 5


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str
    fragment: bool

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def python_blocks() -> list[Block]:
    blocks = []
    for page in PAGES:
        text = page.read_text()
        for match in _FENCE.finditer(text):
            if match.group(1) not in ("python", "py", "python3"):
                continue
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            line = text.count("\n", 0, match.start()) + 1
            blocks.append(Block(page, line, match.group(2), bool(_FRAGMENT.search(before))))
    return blocks


BLOCKS = python_blocks()


def _env(tmp_path: Path) -> dict[str, str]:
    """No OTLP endpoint or setting from the machine; temporary files in the test's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMAS_", "OTEL_"))}
    return env | {"TMPDIR": str(tmp_path)}


def test_the_pages_have_python_blocks_and_few_fragments():
    assert len(BLOCKS) >= 8, [b.id for b in BLOCKS]
    fragments = [b.id for b in BLOCKS if b.fragment]
    assert len(fragments) <= MAX_FRAGMENTS, f"too many fragments, make them run: {fragments}"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id)
def test_the_block_runs_as_written(block: Block, tmp_path: Path):
    included = re.fullmatch(r'--8<-- "([^":]+)(?::\w+)?"\n', block.code)
    if included:
        assert included.group(1) in INCLUDED_AND_TESTED, f"{block.id}: who runs {included.group(1)}?"
        assert (ROOT / INCLUDED_AND_TESTED[included.group(1)]).exists()
        return
    if block.fragment:  # compiled as a notebook would (a fragment may await)
        compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        return
    env = _env(tmp_path)
    if re.search(r"^def test_", block.code, re.MULTILINE):
        path = tmp_path / "test_block.py"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "amas_telemetry.testing", str(path)]
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # this machine's test plugins are not the user's
    else:
        path = tmp_path / "block.py"
        command = [sys.executable, str(path)]
    path.write_text(block.code)
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{block.id} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_a_block_that_fails_is_seen(tmp_path: Path):
    """The runner is not blind: a block with a name it never defines fails."""
    (tmp_path / "block.py").write_text("import amas_telemetry\nprint(undefined_name)\n")
    done = subprocess.run([sys.executable, "block.py"], cwd=tmp_path, env=_env(tmp_path), capture_output=True)
    assert done.returncode != 0
