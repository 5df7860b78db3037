"""The demo's report: what the service's own /metrics and JSON logs say about the run.

``summary`` joins one function a section; each section reads one scrape (``Metrics``) and
returns its lines.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amas_devstack.demo import names
from amas_devstack.demo.load import Load
from amas_devstack.demo.metrics import Metrics
from amas_devstack.demo.service import Run

Logs = list[dict[str, Any]]
BREAKER_STATES = {0: "closed", 1: "open", 2: "half-open"}


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = (
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  " + "  ".join(cells)

    return "\n".join([fmt(header), *(fmt(r) for r in rows)])


def read_logs(path: Path) -> Logs:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(raw))
    return lines


def p50_p95(m: Metrics, histogram: str, **where: str | None) -> list[str]:
    """The median and the 95th percentile of a histogram's matching series, as table cells."""
    return [ms(m.quantile(histogram, 0.5, **where)), ms(m.quantile(histogram, 0.95, **where))]


def headline(m: Metrics, load: Load, timeline: dict[str, Any]) -> list[str]:
    tasks_done = int(m.total(f"{names.TASK_DURATION}_count"))
    out = [
        f"\nAMAS demo: {load.submitted} tasks submitted ({len(load.accepted)} accepted, incl. ones "
        f"started by integration events), {tasks_done} finished in {timeline['seconds']:.1f} s"
    ]
    if "outage_start" in timeline:
        out.append(
            f"openai outage from {timeline['outage_start']:.1f} s "
            f"to {timeline.get('outage_end', timeline['seconds']):.1f} s; "
            f"peak queue depth {timeline['peak_queue']:.0f}"
        )
    return out


def http_section(m: Metrics) -> list[str]:
    rows = []
    keys = ("http_request_method", "http_route", "http_response_status_code")
    for (method, route, status), count in sorted(m.by(f"{names.HTTP_DURATION}_count", *keys).items()):
        where = dict(zip(keys, (method, route, status), strict=True))
        rows.append(
            [
                f"{method} {route}",
                status,
                f"{count:.0f}",
                *p50_p95(m, names.HTTP_DURATION, **where),
            ]
        )
    return [
        f"\nHTTP requests ({names.HTTP_DURATION})",
        table(rows, ["route", "status", "count", "p50", "p95"]),
    ]


def tasks_section(m: Metrics) -> list[str]:
    rows = []
    for (task_type, error), count in sorted(
        m.by(f"{names.TASK_DURATION}_count", "amas_task_type", "error_type").items()
    ):
        where = {"amas_task_type": task_type, "error_type": error or None}
        quality = m.total(f"{names.TASK_QUALITY}_sum", amas_task_type=task_type)
        quality_n = m.total(f"{names.TASK_QUALITY}_count", amas_task_type=task_type)
        rows.append(
            [
                task_type,
                f"failed: {error}" if error else "completed",
                f"{count:.0f}",
                *p50_p95(m, names.TASK_DURATION, **where),
                f"{quality / quality_n:.2f}" if quality_n and not error else "",
            ]
        )
    return [
        f"\nTasks by outcome ({names.TASK_DURATION}, {names.TASK_QUALITY})",
        table(rows, ["type", "outcome", "count", "p50", "p95", "avg quality"]),
    ]


def providers_section(m: Metrics) -> list[str]:
    calls_metric = f"{names.GEN_AI_DURATION}_count"
    rows = []
    for (provider, model), calls in sorted(
        m.by(calls_metric, "gen_ai_provider_name", "gen_ai_request_model").items()
    ):
        where = {"gen_ai_provider_name": provider, "gen_ai_request_model": model}
        errors = m.total(calls_metric, **where) - m.total(calls_metric, **where, error_type=None)
        rows.append(
            [
                provider,
                model,
                f"{calls:.0f}",
                f"{errors:.0f}",
                *p50_p95(m, names.GEN_AI_DURATION, **where, error_type=None),
                f"{m.total(f'{names.GEN_AI_TOKEN_USAGE}_sum', **where, gen_ai_token_type='input'):.0f}",
                f"{m.total(f'{names.GEN_AI_TOKEN_USAGE}_sum', **where, gen_ai_token_type='output'):.0f}",
                f"{m.total(names.AI_COST, **where):.4f}",
            ]
        )
    header = [
        "provider",
        "model",
        "calls",
        "errors",
        "p50 ok",
        "p95 ok",
        "input tokens",
        "output tokens",
        "cost USD",
    ]
    out = [
        f"\nAI providers ({names.GEN_AI_DURATION}, {names.GEN_AI_TOKEN_USAGE}, {names.AI_COST})",
        table(rows, header),
    ]
    errors_by = m.by(calls_metric, "gen_ai_provider_name", "error_type")
    failed = ", ".join(f"{p} {e} {n:.0f}" for (p, e), n in sorted(errors_by.items()) if e)
    if failed:
        out.append(f"  failed calls: {failed}")
    return out


def breaker_opened(message: str) -> bool:
    return message.startswith("circuit breaker") and " opened " in message


def resilience_section(m: Metrics, logs: Logs) -> list[str]:
    """Fallbacks, and each breaker's state now with how often it opened (from the logs)."""
    fallbacks = m.by(names.AI_FALLBACKS, "amas_ai_fallback_from", "gen_ai_provider_name")
    opened = Counter(line["message"].split()[2] for line in logs if breaker_opened(line.get("message", "")))
    breakers = m.by(names.AI_BREAKER_STATE, "gen_ai_provider_name")
    return [
        f"\nFallbacks ({names.AI_FALLBACKS}): "
        + (", ".join(f"{a} -> {b}: {n:.0f}" for (a, b), n in sorted(fallbacks.items())) or "none"),
        f"Circuit breakers now ({names.AI_BREAKER_STATE}): "
        + ", ".join(
            f"{p} {BREAKER_STATES.get(int(v), v)} (opened {opened.get(p, 0)}x during the run)"
            for (p,), v in sorted(breakers.items())
        ),
    ]


def counters_section(m: Metrics) -> list[str]:
    """Cache, logins and integration events."""
    cache = m.by(names.CACHE_OPERATIONS, "db_operation_name", "amas_cache_result")
    hits, misses = cache.get(("GET", "hit"), 0), cache.get(("GET", "miss"), 0)
    logins = m.by(names.USER_LOGINS, "amas_login_result")
    triggers = m.by(names.INTEGRATION_TRIGGERS, "amas_integration_platform", "amas_integration_event_type")
    return [
        f"\nCache ({names.CACHE_OPERATIONS}): GET hit {hits:.0f}, miss {misses:.0f}"
        + (f" (hit ratio {hits / (hits + misses):.0%})" if hits + misses else ""),
        f"Logins ({names.USER_LOGINS}): " + ", ".join(f"{r} {n:.0f}" for (r,), n in sorted(logins.items())),
        f"Integration events ({names.INTEGRATION_TRIGGERS}): "
        + ", ".join(f"{p}/{e} {n:.0f}" for (p, e), n in sorted(triggers.items())),
    ]


def database_section(m: Metrics) -> list[str]:
    db = m.by(f"{names.DB_DURATION}_count", "db_system_name", "db_operation_name")
    rows = []
    for (system, operation), count in sorted(db.items()):
        where = {"db_system_name": system, "db_operation_name": operation}
        rows.append([system, operation, f"{count:.0f}", *p50_p95(m, names.DB_DURATION, **where)])
    pool = m.by(names.DB_CONNECTION_COUNT, "db_client_connection_state")
    return [
        f"\nDatabase and Redis operations ({names.DB_DURATION})",
        table(rows, ["system", "operation", "count", "p50", "p95"]),
        f"DB pool now: {pool.get(('used',), 0):.0f} used, {pool.get(('idle',), 0):.0f} idle of "
        f"{m.total(names.DB_CONNECTION_MAX):.0f}; active users {m.total(names.USERS_ACTIVE):.0f}",
    ]


def sample_trace_id(logs: Logs) -> str | None:
    """The trace of the task that opened a breaker, else of one that needed a fallback, else
    of any finished task."""

    def first_trace(test: Callable[[str], bool]) -> str | None:
        return next(
            (line["trace_id"] for line in logs if line.get("trace_id") and test(line.get("message", ""))),
            None,
        )

    return (
        first_trace(breaker_opened)
        or first_trace(lambda msg: msg.startswith("served by fallback"))
        or first_trace(lambda msg: " completed: " in msg)
    )


def trace_section(trace_id: str, logs: Logs, log_path: Path) -> list[str]:
    """A sample trace with all of its log lines."""
    lines = [line for line in logs if line.get("trace_id") == trace_id]
    return [
        f"\nSample trace {trace_id}: {len(lines)} log lines (from {log_path})",
        *(
            f"  {line['timestamp'][11:23]} {line['level']:<7} {line['logger']:<22} {line['message'][:120]}"
            for line in lines[:30]
        ),
    ]


def client_section(load: Load, run: Run) -> list[str]:
    client_side = ", ".join(f"{k} {v}" for k, v in sorted(load.results.items()))
    out = [f"\nClient side: {client_side}"]
    if load.errors:
        out.append(f"Client errors: {len(load.errors)}, first: {load.errors[0]}")
    out.append(f"\nMetrics: {run.url}/metrics   (service logs: {run.service_log})")
    return out


def summary(run: Run, load: Load, timeline: dict[str, Any]) -> str:
    """The report; sets ``timeline["sample_trace"]`` to the trace it shows (for the links)."""
    m: Metrics = timeline["metrics"]
    logs = read_logs(run.service_log)
    out = [
        *headline(m, load, timeline),
        *http_section(m),
        *tasks_section(m),
        *providers_section(m),
        *resilience_section(m, logs),
        *counters_section(m),
        *database_section(m),
    ]
    sample = sample_trace_id(logs)
    if sample:
        out += trace_section(sample, logs, run.service_log)
        timeline["sample_trace"] = sample
    out += client_section(load, run)
    return "\n".join(out)
