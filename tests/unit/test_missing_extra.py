"""configure(app) without the FastAPI extra: one clear ImportError, nothing left wired."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# The contrib FastAPI instrumentation made unimportable, as on an install without the extra.
SCRIPT = textwrap.dedent(
    """
    import logging, sys
    sys.modules["opentelemetry.instrumentation.fastapi"] = None
    from fastapi import FastAPI
    from opentelemetry import trace
    import amas_telemetry
    from amas_telemetry.tracing import global_tracer_provider

    handlers = list(logging.getLogger().handlers)
    try:
        amas_telemetry.configure(FastAPI(), otlp_endpoint=None, json_logs=False)
    except ImportError:
        assert global_tracer_provider().active is None, "a tracer provider stayed wired"
        assert logging.getLogger().handlers == handlers, "a log handler stayed attached"
        print("rolled back", file=sys.stderr)
        raise
    """
)


def test_missing_fastapi_extra_raises_one_clear_error_and_rolls_back():
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env = {k: v for k, v in env.items() if not k.startswith(("OTEL_", "AMAS_"))}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 1
    stderr = result.stderr
    assert "rolled back" in stderr
    assert stderr.count("Traceback") == 1, stderr
    assert "ImportError: FastAPI instrumentation needs: pip install 'amas-telemetry[fastapi]'" in stderr
    assert "ModuleNotFoundError" not in stderr
    assert "During handling" not in stderr
