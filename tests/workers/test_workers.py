"""Several workers, real servers: /metrics shows the app's totals whatever worker answers.

``uvicorn --workers 2`` and ``gunicorn -k uvicorn.workers.UvicornWorker -w 2 --preload`` on
127.0.0.1 serve ``tests/workers/app.py``; 400 requests on fresh connections; then every scrape
shows exactly 400, also after one worker is killed and replaced. Over OTLP (a small OTLP/HTTP
receiver in this test) every worker is its own ``service.instance.id`` and the per-instance
totals add up to 400. The wait is bounded: each worker writes its state within
``FLUSH_INTERVAL`` of measuring, so the test polls (with a timeout) until every live worker has
answered one scrape with the full count, and only then asserts on ten scrapes in a row.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 400
ROUTE = "/orders/{order_id}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _poll(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Calls ``check`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


class OtlpReceiver:
    """OTLP/HTTP metrics receiver: the newest cumulative totals per service.instance.id."""

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/metrics":
                    receiver.take(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def take(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource_metrics in request.resource_metrics:
            attributes = {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
            totals: dict[str, float] = {}
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "http.server.request.duration":
                        totals["requests"] = sum(p.count for p in metric.histogram.data_points)
                    elif metric.name == "shop.orders":
                        totals["orders"] = sum(p.as_int or p.as_double for p in metric.sum.data_points)
            with self._lock:
                self.totals.setdefault(attributes["service.instance.id"], {}).update(totals)

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: dict(v) for k, v in self.totals.items()}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"connection": "close"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _scrape(port: int) -> tuple[int, float, float]:
    """(answering worker pid, requests counted, orders counted) of one /metrics scrape."""
    status, headers, body = _get(port, "/metrics")
    assert status == 200
    requests = orders = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            name, labels = sample.name, sample.labels
            if name == "http_server_request_duration_seconds_count" and labels["http_route"] == ROUTE:
                requests += sample.value
            elif sample.name == "shop_orders_total":
                orders += sample.value
    return int(headers["x-worker-pid"]), requests, orders


def _workers(supervisor: int) -> set[int]:
    """The live worker processes of a supervisor (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == supervisor and fields[0] != "Z" and b"resource_tracker" not in cmdline:
                found.add(int(entry.name))
    return found


COMMANDS = {
    "uvicorn": ["-m", "uvicorn", "tests.workers.app:app", "--workers", "2", "--host", "127.0.0.1", "--port"],
    "gunicorn": [
        "-m",
        "gunicorn",
        "-k",
        "uvicorn.workers.UvicornWorker",
        "-w",
        "2",
        "--preload",
        "tests.workers.app:app",
        "-b",
    ],
}


@pytest.fixture(params=sorted(COMMANDS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A real server with two workers on 127.0.0.1; stopped (the whole process group) afterwards."""
    receiver = OtlpReceiver()
    port = _free_port()
    extra = {
        "AMAS_OTLP_ENDPOINT": receiver.endpoint,
        "AMAS_OTLP_PROTOCOL": "http/protobuf",
        "AMAS_METRIC_EXPORT_INTERVAL": "0.5",
    }
    try:
        with serving(request.param, port, tmp_path, extra) as process:
            _poll("the server to answer", lambda: _try_metrics(port, process, tmp_path))
            yield {"port": port, "process": process, "receiver": receiver, "log": tmp_path / "server.log"}
    finally:
        receiver.close()


@contextlib.contextmanager
def serving(kind: str, port: int, tmp_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``kind`` (uvicorn, gunicorn) serving tests.workers.app with two workers on 127.0.0.1:``port``,
    its metrics state in ``tmp_path``, ``env`` on top of a clean environment; the whole process
    group stopped afterwards, also on failure. Its output goes to ``tmp_path/server.log``."""
    address = str(port) if kind == "uvicorn" else f"127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AMAS_"))}
    clean.update(
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]),
        AMAS_METRICS_DIR=str(tmp_path / "metrics"),
        AMAS_INSTRUMENTATIONS="",
        **env,
    )
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *COMMANDS[kind], address],
            cwd=REPO,
            env=clean,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _stop(process)


def _try_metrics(port: int, process: subprocess.Popen[bytes], tmp_path: Path) -> bool:
    if process.poll() is not None:
        pytest.fail(f"server exited: {(tmp_path / 'server.log').read_text()[-3000:]}")
    try:
        return _get(port, "/metrics")[0] == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass


def _every_live_worker_shows(port: int, supervisor: int, total: int) -> Callable[[], Any]:
    """A check: every live worker has answered a scrape with ``total`` since this check was made."""
    seen: dict[int, tuple[float, float]] = {}

    def check() -> Any:
        pid, requests, orders = _scrape(port)
        seen[pid] = (requests, orders)
        workers = _workers(supervisor)
        full = {p for p, counts in seen.items() if counts == (total, total)}
        return workers if len(workers) == 2 and workers <= full else None

    return check


def _app_own_metrics(port: int) -> tuple[float, float, int]:
    """(the app's span-derived order requests, its open-carts gauge, series of the gauge) of one scrape."""
    derived = carts = 0.0
    series = 0
    for family in text_string_to_metric_families(_get(port, "/metrics")[2].decode()):
        for sample in family.samples:
            if sample.name == "shop_order_requests_total":
                derived += sample.value
            elif sample.name == "shop_open_carts":
                carts += sample.value
                series += 1
    return derived, carts, series


def _ten_scrapes(port: int) -> list[tuple[int, float, float]]:
    return [_scrape(port) for _ in range(10)]


def test_every_scrape_shows_the_totals_of_all_workers(server: dict[str, Any]) -> None:
    port, process, receiver = server["port"], server["process"], server["receiver"]
    served_by = set()
    for i in range(REQUESTS):
        status, headers, _ = _get(port, f"/orders/{i}")
        assert status == 200
        served_by.add(int(headers["x-worker-pid"]))
    assert len(served_by) == 2, "both workers must have served requests for this test to mean anything"

    workers = _poll("every worker to show 400", _every_live_worker_shows(port, process.pid, REQUESTS))
    scrapes = _ten_scrapes(port)
    assert [(r, o) for _, r, o in scrapes] == [(REQUESTS, REQUESTS)] * 10
    # the app's own span-derived counter adds up like ours; its gauge merges as it declared (sum)
    assert [_app_own_metrics(port) for _ in range(4)] == [(REQUESTS, 2.0, 1)] * 4

    # OTLP: one service.instance.id per process; per-instance totals add up to the truth
    def otlp_totals() -> Any:
        totals = receiver.snapshot()
        requests = sum(t.get("requests", 0) for t in totals.values())
        orders = sum(t.get("orders", 0) for t in totals.values())
        return totals if (requests, orders) == (REQUESTS, REQUESTS) else None

    try:
        totals = _poll("OTLP totals of 400", otlp_totals)
    except pytest.fail.Exception as failure:  # say what did arrive, per instance
        raise AssertionError(f"{failure}; received per instance: {receiver.snapshot()}") from None
    serving = [instance for instance, t in totals.items() if t.get("requests")]
    assert len(serving) == len(served_by) == 2

    # one worker killed: the supervisor replaces it, its counts stay
    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)
    _poll("a replacement worker", lambda: (w := _workers(process.pid)) and len(w) == 2 and victim not in w)
    replaced = _poll("every worker to show 400 again", _every_live_worker_shows(port, process.pid, REQUESTS))
    assert victim not in replaced
    scrapes = _ten_scrapes(port)
    assert [(r, o) for _, r, o in scrapes] == [(REQUESTS, REQUESTS)] * 10
    assert {pid for pid, _, _ in scrapes} <= replaced
