"""configure(app) with a piece missing: no contrib FastAPI instrumentation needed; a failure
while instrumenting the app is one clear error, and nothing stays wired."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

PRELUDE = """
import logging, sys
sys.modules[{blocked!r}] = None   # as on an install without it
from fastapi import FastAPI
import amas_telemetry
from amas_telemetry._internal.tracing.provider import global_tracer_provider
handlers = list(logging.getLogger().handlers)
"""


def _run(blocked: str, body: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env = {k: v for k, v in env.items() if not k.startswith(("OTEL_", "AMAS_"))}
    script = textwrap.dedent(PRELUDE.format(blocked=blocked)) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )


def test_no_contrib_fastapi_instrumentation_is_needed():
    result = _run(
        "opentelemetry.instrumentation.fastapi",
        """
        telemetry = amas_telemetry.configure(FastAPI(), otlp_endpoint=None, json_logs=False)
        telemetry.shutdown()
        print("configured")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert "configured" in result.stdout


def test_a_failure_while_instrumenting_the_app_is_one_error_and_rolls_back():
    result = _run(
        "amas_telemetry._internal.integrations.asgi",
        """
        try:
            amas_telemetry.configure(FastAPI(), otlp_endpoint=None, json_logs=False)
        except ImportError:
            assert global_tracer_provider().active is None, "a tracer provider stayed wired"
            assert logging.getLogger().handlers == handlers, "a log handler stayed attached"
            print("rolled back", file=sys.stderr)
            raise
        """,
    )
    assert result.returncode == 1
    assert "rolled back" in result.stderr
    assert result.stderr.count("Traceback") == 1, result.stderr
    assert "During handling" not in result.stderr
