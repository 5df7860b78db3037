"""Fixtures of the browser tests: a small demo left running with the native stack, its
printed links, and one headless Chromium for the session.

Screenshots go to ``$AMAS_SCREENSHOT_DIR`` (default ``run/screenshots``), kept as
artifacts; ``scripts/pictures.sh`` copies the ones the docs show.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from amas_devstack.binaries import BinaryMissing, binary
from amas_devstack.native_stack import NativeStack
from browser import Browser

REPO_ROOT = Path(__file__).resolve().parents[2]
#: a small run: the links need a few traces, logs and metric points (scripts/pictures.py asks more)
DEMO_TASKS = int(os.environ.get("AMAS_BROWSER_DEMO_TASKS", "40"))
LINK_LINE = re.compile(r"^\s+(trace|logs|metrics|latency|exemplars|traces):\s+(\S+)", re.MULTILINE)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return Path(os.environ.get("AMAS_SCREENSHOT_DIR") or REPO_ROOT / "run" / "screenshots").resolve()


@pytest.fixture(scope="session")
def chromium(artifacts: Path) -> Iterator[Browser]:
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(path).exists():
            pytest.fail(f"{path} missing: apt-get install chromium chromium-driver (scripts/setup.sh)")
    browser = Browser(artifacts)
    try:
        yield browser
    finally:
        browser.quit()


def demo_command() -> list[str]:
    """The demo's console script of this environment (`amas-demo`)."""
    return [str(Path(sys.executable).parent / "amas-demo")]


@pytest.fixture(scope="session")
def demo() -> Iterator[dict[str, str]]:
    """A demo run with the native stack, left running: the links it printed, by name
    (trace, logs, metrics, latency, exemplars, traces) plus ``jaeger``, ``prometheus`` and
    ``victorialogs`` base URLs. Everything is stopped at teardown."""
    for component in ("collector", "prometheus", "jaeger", "victorialogs"):
        try:
            binary(component)
        except BinaryMissing as e:
            pytest.fail(str(e), pytrace=False)
    # not under pytest's 0700 tmp root: PostgreSQL runs as the postgres user and must reach it
    base = Path(tempfile.mkdtemp(prefix="amas-browser-"))
    base.chmod(0o755)
    run_dir, stack_dir = base / "run", base / "stack"
    env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
    command = [*demo_command(), "--run-dir", str(run_dir), "--stack-dir", str(stack_dir)]
    try:
        done = subprocess.run(
            [*command, "--tasks", str(DEMO_TASKS), "--keep-running", "--no-install"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"demo failed ({done.returncode}):\n{done.stderr[-3000:]}"
        found = dict(LINK_LINE.findall(done.stdout))
        assert {"trace", "logs", "metrics", "exemplars"} <= set(found), f"links missing in:\n{done.stdout}"
        stack = NativeStack.load(stack_dir)
        yield {
            **found,
            "jaeger": stack.jaeger_url,
            "prometheus": stack.prometheus_url,
            "victorialogs": stack.victorialogs_url,
        }
    finally:
        subprocess.run([*command, "--stop"], env=env, cwd=REPO_ROOT, timeout=120, check=False)
        if (stack_dir / "stack.json").exists():
            NativeStack.load(stack_dir).down()
        shutil.rmtree(base, ignore_errors=True)
