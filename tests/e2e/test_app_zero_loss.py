"""App → Collector → stores: a Collector away for 60 s under load loses nothing the app produced.

The reference service (2 worker processes, sampling 1.0, the export spool on in a tmp folder)
runs under a steady task load; the Collector is stopped for 60 s in the middle and started
again. Afterwards:

- **spans**: the app's own ledger is the SDK's count of spans its batch processors took
  (``otel_sdk_processor_span_processed_total``, over OTLP to Prometheus once the Collector is
  back); Jaeger must hold exactly that many distinct span ids, including every span id a log
  line refers to. Jaeger rows beyond the distinct ids are duplicates (reported).
- **logs**: the ledger is the service's JSON lines on stdout (the same records the OTLP handler
  exports); VictoriaLogs must hold each one, matched by (trace id, span id, message), and
  rows beyond that count as duplicates (reported).

Without the spool this loses a minute of telemetry (the SDK drops a batch after its 5 s
export timeout): see ``test_without_the_spool_the_same_outage_loses_data``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import httpx
import pytest
from fed_stack import _service_env, prom_query, prom_value, wait_for

from amas_devstack.demo.load import Load
from amas_devstack.demo.metrics import Metrics
from amas_devstack.demo.report import read_logs
from amas_devstack.demo.service import Run, start_everything
from amas_devstack.native_stack import NativeStack

pytestmark = pytest.mark.e2e

OUTAGE_S = 60.0
LOAD_TASKS, LOAD_RATE = 180, 2.0  # ~90 s of load: before, during and after the outage
SERVICE = "amas-service"
PROCESSED = f'sum(otel_sdk_processor_span_processed_total{{job="{SERVICE}",error_type=""}})'
DROPPED = f'sum(otel_sdk_processor_span_processed_total{{job="{SERVICE}",error_type!=""}})'
QUEUED = f'sum(otel_sdk_processor_span_queue_size{{job="{SERVICE}"}})'
SERVICE_LOG_TAIL = 60  # lines of the service log printed when a run fails
_NOT_EXPORTED = ("opentelemetry.", "grpc.")  # loggers the OTLP handler leaves out (logs.py)


@dataclass
class Outcome:
    produced: int
    distinct: int
    rows: int
    missing: int
    unresolved: int = 0
    """Span ids that a log line refers to and the store does not hold."""

    @property
    def duplicates(self) -> int:
        return self.rows - self.distinct


def jaeger_span_ids(stack: NativeStack, start_s: float) -> tuple[Counter[str], set[str]]:
    """Span id → rows in Jaeger, and the trace ids, for every trace of the service."""
    query = urllib.parse.urlencode(
        {
            "service": SERVICE,
            "start": int(start_s * 1e6),
            "end": int((time.time() + 60) * 1e6),
            "limit": 100000,
        }
    )
    with urllib.request.urlopen(f"{stack.jaeger_url}/api/traces?{query}", timeout=60) as response:
        data = json.load(response)["data"] or []
    rows: Counter[str] = Counter()
    for trace in data:
        rows.update(span["spanID"] for span in trace["spans"])
    return rows, {trace["traceID"] for trace in data}


def victorialogs_rows(stack: NativeStack) -> Counter[tuple[str, str, str]]:
    query = urllib.parse.urlencode(
        {"query": f'service.name:="{SERVICE}" | fields trace_id, span_id, _msg', "limit": "10000000"}
    )
    with urllib.request.urlopen(f"{stack.victorialogs_url}/select/logsql/query?{query}", timeout=60) as r:
        lines = [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]
    return Counter((row.get("trace_id", ""), row.get("span_id", ""), row.get("_msg", "")) for row in lines)


def produced_log_lines(run: Run) -> Counter[tuple[str, str, str]]:
    return Counter(
        (line.get("trace_id") or "", line.get("span_id") or "", line.get("message", ""))
        for line in read_logs(run.service_log)
        if "message" in line and not str(line.get("logger", "")).startswith(_NOT_EXPORTED)
    )


def _drive(url: str, stop: threading.Event, errors: list[str], accepted: list[str]) -> None:
    async def run() -> None:
        load = Load(LOAD_TASKS, rate=LOAD_RATE, seed=15)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await load.run(client)
        errors.extend(load.errors)
        accepted.extend(load.accepted)

    try:
        asyncio.run(run())
    except Exception as error:  # reported by the test
        errors.append(repr(error))
    finally:
        stop.set()


def _final_processed_count(stack: NativeStack, run: Run, tasks: int) -> int:
    """The batch processor's count once it is final: every accepted task has finished (the
    service's own /metrics), then Prometheus holds a collection made after that moment whose
    processor queue is empty. Only then has every span the run makes been handed to the
    exporter: the processor counts a span when it exports it, up to its 5 s schedule delay
    after the span ended, and the count then travels through a metric export, the Collector and
    Prometheus, so a count that merely stood still for a while can still be short."""

    def tasks_done() -> bool:
        metrics = Metrics(httpx.get(run.url + "/metrics", timeout=10).text)
        return metrics.total("amas_task_duration_seconds_count") >= tasks

    wait_for("every accepted task to finish", tasks_done, timeout=180)
    done_at = time.time()

    def final() -> float | None:
        processed, queued = prom_query(stack, PROCESSED), prom_query(stack, QUEUED)
        if not processed or not queued:
            return None
        (processed_at, count), (queued_at, in_queue) = processed[0]["value"], queued[0]["value"]
        after = min(float(processed_at), float(queued_at)) > done_at
        return float(count) if after and float(in_queue) == 0 else None

    return int(wait_for("the final count of processed spans", final, timeout=180))


def _run_outage(
    stack_factory: Callable[..., NativeStack],
    spool_mb: str,
    e2e_summary: list[str],
    title: str,
    patience: float,
) -> tuple[Outcome, Outcome, int]:
    """One run; ``patience``: seconds to wait for the stores to hold everything."""
    base = Path(tempfile.mkdtemp(prefix="amas-e2e-spool-"))
    base.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its folder
    stack = stack_factory()
    env = {
        **_service_env(stack),
        "OTEL_TRACES_SAMPLER_ARG": "1.0",
        "AMAS_EXPORT_SPOOL_DIR": str(base / "spool"),
        "AMAS_EXPORT_SPOOL_MAX_MB": spool_mb,
    }
    run: Run | None = None
    t0 = time.time()
    try:
        with patch.dict(os.environ, env):  # the service's processes take the environment of the moment
            run = start_everything(base / "service", workers=2, latency_scale=0.5)
        errors: list[str] = []
        load_done = threading.Event()
        accepted: list[str] = []
        driver = threading.Thread(target=_drive, args=(run.url, load_done, errors, accepted), daemon=True)
        driver.start()
        time.sleep(10)
        stack.stop("collector")
        time.sleep(OUTAGE_S)
        spooled = sum(1 for _ in (base / "spool").glob("*.otlp")) if (base / "spool").exists() else 0
        stack.start("collector", timeout=60)
        driver.join(timeout=300)
        assert load_done.is_set() and not errors, errors[:3]

        produced_spans = _final_processed_count(stack, run, len(accepted))
        produced_logs = produced_log_lines(run)
        logged_span_ids = {span_id for _, span_id, _ in produced_logs if span_id}

        def spans_done() -> tuple[Counter[str], set[str]] | None:
            # the count is a lower bound (a span ending after it, e.g. the worker's last queue
            # poll, is exported too): wait for it and for every span a log line names
            rows, traces = jaeger_span_ids(stack, t0 - 60)
            return (rows, traces) if len(rows) >= produced_spans and logged_span_ids <= rows.keys() else None

        with contextlib.suppress(AssertionError):
            wait_for("every span in Jaeger", spans_done, timeout=patience, interval=3)
        span_rows, _ = jaeger_span_ids(stack, t0 - 60)

        def logs_done() -> Counter[tuple[str, str, str]] | None:
            rows = victorialogs_rows(stack)
            return rows if not (produced_logs - rows) else None

        with contextlib.suppress(AssertionError):
            wait_for("every log line in VictoriaLogs", logs_done, timeout=patience, interval=3)
        log_rows = victorialogs_rows(stack)

        spans = Outcome(
            produced_spans,
            len(span_rows),
            sum(span_rows.values()),
            max(0, produced_spans - len(span_rows)),
            len(logged_span_ids - set(span_rows)),
        )
        logs = Outcome(
            sum(produced_logs.values()),
            sum((log_rows & produced_logs).values()),
            sum(log_rows[key] for key in produced_logs),
            sum((produced_logs - log_rows).values()),
        )
        dropped = prom_value(stack, DROPPED) or 0
        e2e_summary.extend(
            [
                f"[{title}] Collector stopped {OUTAGE_S:.0f} s under load; "
                f"{spooled} requests on disk at restart",
                f"  spans produced {spans.produced:6d}   in Jaeger {spans.distinct:6d} distinct"
                f"   missing {spans.missing:5d}   duplicates {spans.duplicates:5d}"
                f"   span ids of log lines not found {spans.unresolved}",
                f"  logs  produced {logs.produced:6d}   in VictoriaLogs {logs.distinct:6d}"
                f"   missing {logs.missing:5d}   duplicates {logs.duplicates:5d}",
                f"  spans the SDK dropped before export: {dropped:.0f}; total {time.time() - t0:.0f} s",
            ]
        )
        print("\n" + "\n".join(e2e_summary[-4:]))
        return spans, logs, spooled
    except BaseException:
        if run is not None and run.service_log.exists():  # why a request failed, or the counts differ
            tail = run.service_log.read_text(errors="replace").splitlines()[-SERVICE_LOG_TAIL:]
            print(f"\n--- last {len(tail)} lines of {run.service_log} ---\n" + "\n".join(tail))
        raise
    finally:
        if run is not None:
            run.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_a_collector_away_for_60s_under_load_loses_no_span_and_no_log(
    stack_factory: Callable[..., NativeStack], e2e_summary: list[str]
) -> None:
    spans, logs, spooled = _run_outage(stack_factory, "32", e2e_summary, "app spool on", patience=180)
    assert spooled > 0, "the outage did not reach the spool"
    assert spans.produced > 0 and logs.produced > 0
    assert spans.missing == 0, f"{spans.missing} spans the app produced are not in Jaeger"
    assert logs.missing == 0, f"{logs.missing} log records the app produced are not in VictoriaLogs"
    assert spans.unresolved == 0, "a log line refers to a span Jaeger does not hold"
    assert spans.distinct >= spans.produced  # more: spans that ended after the final count


def test_without_the_spool_the_same_outage_loses_data(
    stack_factory: Callable[..., NativeStack], e2e_summary: list[str]
) -> None:
    """The control: the same run with the spool off (0 MB) loses the outage's telemetry.

    A lost span shows as missing against the processor's count, or, when that count (a lower
    bound, read through the same lossy export) is short too, as a span a log line names that
    Jaeger never got."""
    spans, logs, _ = _run_outage(stack_factory, "0", e2e_summary, "app spool off", patience=20)
    assert spans.missing + spans.unresolved > 0, "no span was lost without the spool"
    assert logs.missing > 0, "no log record was lost without the spool"
