"""Fixtures of the scaling tests: the distributed stores under load (scaled_stack.py, one
session), and the report lines they print. A binary that is not built fails the session (never
skips) with the command that builds it."""

from __future__ import annotations

import pytest

# the session fixture of the distributed stack (registered by being imported here)
from scaled_stack import scaled  # noqa: F401

#: measured numbers the scaling tests report, printed at the end of the pytest run
SCALE_SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCALE_SUMMARY:
        terminalreporter.section("scaling numbers")
        for line in SCALE_SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture
def scale_summary() -> list[str]:
    """Append report lines here; they are printed at the end of the pytest run."""
    return SCALE_SUMMARY
