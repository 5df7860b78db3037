"""Unit-test fixtures: every test gets its own in-memory telemetry and a clean root logger."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _restore_root_logger():
    """configure() attaches handlers to the root logger; each test starts and ends clean."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No OTEL_*/AMAS_* variable of the machine leaks into a unit test; the export spool of
    a test that exports over OTLP lives in its own tmp folder, not the shared default."""
    import os

    for var in list(os.environ):
        if var.startswith(("OTEL_", "AMAS_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AMAS_EXPORT_SPOOL_DIR", str(tmp_path / "export-spool"))
