"""/metrics scrape cost against prometheus_client holding the same series, 1 and 4 workers.

Four variants, each in its own process (spawned), driven round by round in interleaved order:

- ``ours:1``   one ``configure()`` handle; N HTTP server spans, one per route (N series of
  ``http.server.request.duration``); a scrape is ``render_metrics()`` (deferred drain, SDK
  collection, snapshot, prometheus_client's text exposition).
- ``prom:1``   prometheus_client with the same series: a ``Histogram`` of the same name, labels
  and buckets holding the same N label sets, plus the same small families (active requests,
  the self-metric, ``target_info``); a scrape is ``generate_latest(registry)``.
- ``ours:4``   the same handle as one of four workers of an app group: three more worker
  processes hold the same N series each and write their snapshot files; a scrape merges the
  live state with the three files (``amas_telemetry._internal.prometheus.workers``).
- ``prom:4``   prometheus_client's multiprocess mode: four processes (this one and three
  helpers) write their mmap files with the same series; a scrape is ``generate_latest`` of a
  registry with a ``MultiProcessCollector``.

Before every round each process (helpers included) records one more observation on 1 % of
its series, as traffic between two scrapes would (so neither side scrapes unchanged state).
Only the scrape is timed: as CPU time of the scraping thread (``time.thread_time``, so that
other processes loading the machine do not count) and as wall time. Every request lasts
exactly 12 ms on both sides (same values, so the sizes compare formats, not digits);
prometheus_client's ``_created`` series are off (ours has none). The final scrape of each
variant is checked: the same number of series and the same total count on both sides.

    python -m benchmarks.scrape_workers [--quick]
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from unittest.mock import patch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

FULL = {"series": 10_000, "rounds": 9}
QUICK = {"series": 2_000, "rounds": 3}
LABELS = ("http_request_method", "http_response_status_code", "http_route")
TOUCH_SHARE = 100  # 1 in 100 series gets one more observation before each round
DURATION_NS = 12_000_000
DURATION_S = DURATION_NS / 1e9


# --- what each process holds -------------------------------------------------------------------


class Ours:
    """A configure() handle with N series; optionally a worker of an app group."""

    def __init__(self, series: int, group_dir: str | None = None) -> None:
        import amas_telemetry

        with contextlib.redirect_stdout(io.StringIO()):
            self.telemetry = amas_telemetry.configure(
                service_name="amas-bench-scrape",
                json_logs=False,
                otlp_endpoint=None,
                system_metrics=False,
                cardinality_limit=series * 2,
            )
        self.tracer = self.telemetry.tracer("bench")
        self.series = series
        self.round = 0
        for i in range(series):
            self.observe(i)
        if group_dir is not None:
            from amas_telemetry._internal.prometheus.workers import SnapshotStore

            store = SnapshotStore(group_dir, "amas-bench-scrape", group=os.getppid())
            self.telemetry.prometheus.join_workers(store, changed=lambda: False)
            self.telemetry.prometheus.flush()

    def observe(self, i: int) -> None:
        """One request of exactly DURATION_S, as prometheus_client observes it (same values, same size)."""
        from opentelemetry.trace import SpanKind

        from amas_telemetry import semconv as sc

        start = time.time_ns()
        span = self.tracer.start_span(
            "GET",
            kind=SpanKind.SERVER,
            attributes={sc.HTTP_REQUEST_METHOD: "GET", sc.HTTP_ROUTE: f"/r/{i}"},
            start_time=start,
        )
        span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, 200)
        span.end(end_time=start + DURATION_NS)

    def touch(self) -> None:
        self.round += 1
        for i in range(self.round % TOUCH_SHARE, self.series, TOUCH_SHARE):
            self.observe(i)

    def flush(self) -> None:
        self.telemetry.prometheus.flush()

    def scrape(self) -> bytes:
        return self.telemetry.render_metrics()


class Prom:
    """prometheus_client with the same series (multiprocess mode if its env var is set)."""

    def __init__(self, series: int) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        from amas_telemetry import catalog

        self.multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry
        self.histogram = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            LABELS,
            buckets=catalog.HTTP_DURATION_BUCKETS,
            registry=own,
        )
        # the same help texts and small families as ours, so that sizes compare like for like
        live = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        active = Gauge(
            "http_server_active_requests",
            "Number of active HTTP server requests.",
            ["http_request_method"],
            registry=own,
            **live,
        )
        active.labels("GET").set(0)
        self.recorded = Counter(
            "amas_telemetry_span_metrics_recorded",
            "Measurements derived from spans and recorded (self-observability).",
            registry=own,
        )
        resource = {
            "deployment_environment_name": "development",
            "service_name": "amas-bench-scrape",
            "telemetry_sdk_language": "python",
            "telemetry_sdk_name": "opentelemetry",
            "telemetry_sdk_version": "1.45.1",
        }
        if not self.multiprocess:  # one process: its instance id too, as ours shows
            resource["service_instance_id"] = str(uuid.uuid4())
        one = {"multiprocess_mode": "max"} if self.multiprocess else {}
        Gauge("target_info", "Target metadata", list(resource), registry=own, **one).labels(**resource).set(1)
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
        self.series = series
        self.round = 0
        for i in range(series):
            self.observe(i)

    def observe(self, i: int) -> None:
        self.histogram.labels("GET", "200", f"/r/{i}").observe(DURATION_S)
        self.recorded.inc()

    def touch(self) -> None:
        self.round += 1
        for i in range(self.round % TOUCH_SHARE, self.series, TOUCH_SHARE):
            self.observe(i)

    def flush(self) -> None:
        return None

    def scrape(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


# --- processes ---------------------------------------------------------------------------------


def helper(conn: Any, kind: str, series: int, group_dir: str | None) -> None:
    """Another worker of the app group: holds N series, touches and flushes on request."""
    held = Ours(series, group_dir) if kind == "ours" else Prom(series)
    conn.send("ready")
    while conn.recv() == "touch":
        held.touch()
        held.flush()
        conn.send("done")


def variant(conn: Any, kind: str, series: int, group_dir: str | None) -> None:
    """The scraping worker of a variant: answers "round" with (scrape seconds, size, totals)."""
    held = Ours(series, group_dir) if kind == "ours" else Prom(series)
    held.scrape()  # warm-up
    conn.send("ready")
    while conn.recv() == "round":
        held.touch()
        cpu, wall = time.thread_time(), time.perf_counter()
        body = held.scrape()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        conn.send((cpu, wall, len(body), _totals(body)))


def _totals(body: bytes) -> tuple[int, float]:
    """(series, total count) of the HTTP histogram in an exposition."""
    counts = c.prometheus_samples(body.decode(), "http_server_request_duration_seconds_count")
    return len(counts), sum(v for _, v in counts)


def run(plan: dict[str, Any]) -> dict[str, Any]:
    series = plan["series"]
    base = Path(tempfile.mkdtemp(prefix="amas-bench-scrape-"))
    last: dict[str, Any] = {}
    walls: dict[str, list[float]] = {}
    try:
        with contextlib.ExitStack() as stack:
            conns: dict[str, Any] = {}
            helpers: dict[str, list[Any]] = {}
            for kind, workers in (("ours", 1), ("prom", 1), ("ours", 4), ("prom", 4)):
                name = f"{kind}:{workers}"
                group_dir = str(base / "ours") if kind == "ours" and workers > 1 else None
                # no _created series: ours has none, and they would make the baseline bigger
                env = {"PROMETHEUS_DISABLE_CREATED_SERIES": "True"}
                if kind == "prom" and workers > 1:
                    (base / "prom").mkdir()
                    env["PROMETHEUS_MULTIPROC_DIR"] = str(base / "prom")
                with patch.dict(os.environ, env):  # spawned children take the environment of the moment
                    helpers[name] = [
                        stack.enter_context(c.child(helper, kind, series, group_dir))[1]
                        for _ in range(workers - 1)
                    ]
                    _, conns[name] = stack.enter_context(c.child(variant, kind, series, group_dir))
            for name, conn in conns.items():
                for helper_conn in helpers[name]:
                    c.receive(helper_conn, 900, f"a helper of {name}")
                c.receive(conn, 900, name)
                print(f"  {name} ready", file=sys.stderr)

            def timed(name: str) -> Any:
                def one() -> float:
                    for helper_conn in helpers[name]:  # the other workers' traffic, written out
                        helper_conn.send("touch")
                    for helper_conn in helpers[name]:
                        c.receive(helper_conn, 600, f"a helper of {name}")
                    conns[name].send("round")
                    cpu, wall, size, totals = c.receive(conns[name], 600, name)
                    last[name] = {"bytes": size, "series": totals[0], "count": totals[1]}
                    walls.setdefault(name, []).append(wall)
                    return cpu

                return one

            samples = c.interleaved({name: timed(name) for name in conns}, plan["rounds"])
            for conn in [*conns.values(), *(h for hs in helpers.values() for h in hs)]:
                conn.send("stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {"series": series, "samples": samples, "wall": walls, "last": last}


def _ratios(samples: dict[str, list[float]], name: str, base: str) -> list[float]:
    return [a / b for a, b in zip(samples[name], samples[base], strict=False) if b > 0]


def _iqr(values: list[float]) -> str:
    import statistics

    if len(values) < 4:
        return "n/a"
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.2f} to {q[2]:.2f}"


def report(results: dict[str, Any]) -> str:
    samples, walls, last = results["samples"], results["wall"], results["last"]
    rows = []
    for workers in (1, 4):
        ours, prom = f"ours:{workers}", f"prom:{workers}"
        ratios = _ratios(samples, ours, prom)
        wall_ratios = _ratios(walls, ours, prom)
        rows.append(
            [
                workers,
                f"{last[ours]['series']:,}",
                f"{c.median(samples[ours]) * 1e3:,.0f}",
                f"{c.median(samples[prom]) * 1e3:,.0f}",
                f"{c.median(ratios):.2f}",
                _iqr(ratios),
                f"{c.median(wall_ratios):.2f} ({_iqr(wall_ratios)})",
                f"{last[ours]['bytes'] / 1024:,.0f} / {last[prom]['bytes'] / 1024:,.0f} KiB",
                f"{last[ours]['bytes'] / last[prom]['bytes']:.2f}",
                "equal" if last[ours]["count"] == last[prom]["count"] else "DIFFER",
            ]
        )
    headers = [
        "workers",
        "series",
        "ours CPU ms",
        "prometheus_client CPU ms",
        "CPU ratio (median)",
        "IQR",
        "wall ratio (IQR)",
        "size ours / prometheus_client",
        "size ratio",
        "total count",
    ]
    return c.table(headers, rows)


def main() -> None:
    args = c.parse_args(__doc__.splitlines()[0])
    plan = QUICK if args.quick else FULL
    c.print_header("/metrics scrape: ours vs prometheus_client, 1 and 4 workers")
    started = time.monotonic()
    results = run(plan)
    print(report(results))
    print(f"\n({len(results['samples']['ours:1'])} rounds, total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "scrape_workers", **results})


if __name__ == "__main__":
    main()
