"""Shared fixtures of the end-to-end tests: the native stack on random free ports.

The binaries come from scripts/build_binaries.sh (``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``).
When one is missing, the test fails (never skips) with the command that builds it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from amas_devstack.binaries import BinaryMissing, binary
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports

REPO_ROOT = Path(__file__).resolve().parents[2]
# scripts/ on the path: the tests that start the demo's servers use its shim (`import demo`)
if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))

#: lines the e2e tests report (sent / acked / found ...), shown at the end of the run
E2E_SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if E2E_SUMMARY:
        terminalreporter.section("end-to-end numbers")
        for line in E2E_SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture
def e2e_summary() -> list[str]:
    """Append report lines here; they are printed at the end of the pytest run."""
    return E2E_SUMMARY


#: what the e2e tests need by default (Alertmanager is left out: nothing here alerts)
E2E_COMPONENTS = ("victorialogs", "jaeger", "prometheus", "collector")


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., NativeStack]]:
    """Start stacks on random free ports in tmp run folders; all are stopped at teardown.

    ``stack_factory(components=..., collector_env=...)`` returns a healthy stack.
    """
    started: list[NativeStack] = []

    def make(components: tuple[str, ...] = E2E_COMPONENTS, **kwargs: object) -> NativeStack:
        stack = NativeStack(tmp_path / f"stack{len(started)}", Ports.random(), components, **kwargs)  # type: ignore[arg-type]
        started.append(stack)
        stack.up(timeout=90)
        return stack

    try:
        yield make
    finally:
        errors = []
        for stack in reversed(started):
            try:
                stack.down()
            except Exception as e:  # stop every stack even if one fails
                errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture
def stack(stack_factory: Callable[..., NativeStack]) -> NativeStack:
    """The whole native stack (Collector, Prometheus, Jaeger, VictoriaLogs), healthy."""
    return stack_factory()


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    """The built otelcol-amas; fails with the build command when it is missing."""
    try:
        return binary("collector")
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)


# The native stack fed by the reference service (session-scoped; see fed_stack.py).
from fed_stack import (  # noqa: E402, F401  (fixtures are registered by being imported here)
    faulted_prometheus_url,
    faulted_stack,
    fed_prometheus_url,
    fed_stack,
)
