"""Running next to a TracerProvider / MeterProvider the app (or Pydantic Logfire) set up first.

The OTel globals can be set once per process, so each case runs in a fresh interpreter. The
documented behaviour (docs: "Next to another OpenTelemetry setup"):

- amas_telemetry's own spans (the server span, the span helpers, the instrumented clients)
  go to amas_telemetry's pipeline: derived metrics, tail decision, export;
- spans the app makes with ``trace.get_tracer()`` go to the provider the app set first, and
  instruments made with ``metrics.get_meter()`` to its MeterProvider; amas_telemetry neither
  sees nor counts them, and says so once in a warning;
- ``Telemetry.tracer()`` / ``Telemetry.meter()`` hand out amas_telemetry's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import json, logging, sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import metrics, trace
import amas_telemetry
from amas_telemetry.testing import capture

warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING and "was set before configure()" in record.getMessage():
            warnings.append(record.getMessage())
logging.getLogger("amas_telemetry").addHandler(Keep())

app = FastAPI(telemetry={"tracing": False, "metrics": False})

@app.get("/items/{item_id}")
def item(item_id: int):
    with amas_telemetry.task_span("lookup"):
        with trace.get_tracer("the.app").start_as_current_span("app's own span"):
            pass
    metrics.get_meter("the.app").create_counter("app.lookups").add(1)
    return {"id": item_id}
"""

AMAS_AND_THE_APP = """
ours = capture(app)
client = TestClient(app)
for i in range(3):
    assert client.get(f"/items/{i}").status_code == 200
ours.telemetry.meter("the.app").create_counter("app.ours").add(2)
result = {
    "warnings": warnings,
    "our_span_names": sorted({s.name for s in ours.spans()}),
    "requests_counted": ours.histogram_count("http.server.request.duration"),
    "tasks_counted": ours.histogram_count("amas.task.duration", amas__task__type="lookup"),
    "our_metric_names": sorted({n for n in ("app.lookups", "app.ours") if ours.points(n)}),
    "rendered": "app_ours_total" in ours.telemetry.render_metrics().decode(),
}
"""


def _run(*parts: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AMAS_"))}
    code = "".join(textwrap.dedent(part) for part in (PRELUDE, *parts)) + "\nprint(json.dumps(result))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_next_to_an_sdk_tracer_and_meter_provider_the_app_set_first():
    result = _run(
        """
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        theirs_spans, theirs_reader = InMemorySpanExporter(), InMemoryMetricReader()
        theirs = TracerProvider()
        theirs.add_span_processor(SimpleSpanProcessor(theirs_spans))
        trace.set_tracer_provider(theirs)
        metrics.set_meter_provider(MeterProvider(metric_readers=[theirs_reader]))
        """,
        AMAS_AND_THE_APP,
        """
        result["their_span_names"] = sorted({s.name for s in theirs_spans.get_finished_spans()})
        data = theirs_reader.get_metrics_data()
        result["their_metric_names"] = sorted(
            {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        )
        """
    )
    assert result["our_span_names"] == ["GET /items/{item_id}", "task lookup"]
    assert result["requests_counted"] == 3 and result["tasks_counted"] == 3
    assert result["their_span_names"] == ["app's own span"]
    assert result["their_metric_names"] == ["app.lookups"]
    assert result["our_metric_names"] == ["app.ours"] and result["rendered"]
    assert len(result["warnings"]) == 2
    assert any("TracerProvider" in w and "trace.get_tracer()" in w for w in result["warnings"])
    assert any("MeterProvider" in w and "metrics.get_meter()" in w for w in result["warnings"])


def test_next_to_pydantic_logfire_configured_first():
    pytest.importorskip("logfire", reason="logfire is in the locked test tools (uv sync)")
    result = _run(
        """
        import logfire

        logfire.configure(send_to_logfire=False, console=False, metrics=False)
        """,
        AMAS_AND_THE_APP,
        """
        with logfire.span("logfire's own span"):
            pass
        result["logfire_span_is_not_ours"] = "logfire's own span" not in {s.name for s in ours.spans()}
        """
    )
    assert result["our_span_names"] == ["GET /items/{item_id}", "task lookup"]
    assert result["requests_counted"] == 3 and result["tasks_counted"] == 3
    assert result["logfire_span_is_not_ours"]
    assert result["our_metric_names"] == ["app.ours"] and result["rendered"]
    assert any("TracerProvider" in w for w in result["warnings"])
