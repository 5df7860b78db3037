"""``metrics_port`` under several workers, real servers: the app's port serves no metrics; the
metrics port, bound by every worker (``SO_REUSEPORT``) and by neither the supervisor nor a
``--preload`` master, shows the app's totals on every scrape, also after a worker is replaced.

Each scrape goes to whichever worker the kernel picks; with both workers listening, twenty
scrapes all landing on one of them has a chance of 2 ** -19, so "every scrape shows the
totals" is "every worker's answer is the totals".
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.workers.test_workers import COMMANDS, ROUTE, _free_port, _get, _poll, _workers, serving

REQUESTS = 200
SCRAPES = 20


def _listeners(port: int) -> set[int]:
    """The processes listening on 127.0.0.1:``port``."""
    found = set()
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            found.add(connection.pid)
    return found


def _totals(port: int) -> tuple[float, float]:
    """(requests, orders) of one scrape of the metrics port."""
    status, _, body = _get(port, "/metrics")
    assert status == 200
    requests = orders = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "http_server_request_duration_seconds_count":
                requests += sample.value if sample.labels["http_route"] == ROUTE else 0
            elif sample.name == "shop_orders_total":
                orders += sample.value
    return requests, orders


@pytest.fixture(params=sorted(COMMANDS))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two workers on 127.0.0.1, metrics on a port of their own; stopped (the process group) after."""
    port, metrics_port = _free_port(), _free_port()
    with serving(request.param, port, tmp_path, {"AMAS_METRICS_PORT": str(metrics_port)}) as process:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"server exited: {(tmp_path / 'server.log').read_text()[-3000:]}")
            workers = _workers(process.pid)
            return len(workers) == 2 and _listeners(metrics_port) == workers and _app_answers(port)

        _poll("both workers to serve the app and listen on the metrics port", ready)
        yield {"port": port, "metrics_port": metrics_port, "process": process}


def _app_answers(port: int) -> bool:
    try:
        return _get(port, "/metrics")[0] == 404  # excluded from the counts
    except OSError:
        return False


def test_every_worker_serves_the_app_s_totals_on_the_metrics_port_and_none_on_the_app_s(server):
    port, metrics_port, process = server["port"], server["metrics_port"], server["process"]
    supervisor = process.pid
    assert supervisor not in _listeners(metrics_port)  # nor a --preload master
    assert _get(port, "/metrics")[0] == 404

    served_by = set()
    for i in range(REQUESTS):
        status, headers, _ = _get(port, f"/orders/{i}")
        assert status == 200
        served_by.add(int(headers["x-worker-pid"]))
    assert len(served_by) == 2, "both workers must have served requests for this test to mean anything"

    full = (float(REQUESTS), float(REQUESTS))
    _poll("a scrape with every worker's counts", lambda: _totals(metrics_port) == full)
    assert [_totals(metrics_port) for _ in range(SCRAPES)] == [full] * SCRAPES

    # a worker killed: its replacement listens, the counts stay, every scrape still shows them
    victim = sorted(_workers(supervisor))[0]
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        workers = _workers(supervisor)
        return len(workers) == 2 and victim not in workers and _listeners(metrics_port) == workers

    _poll("a replacement worker listening on the metrics port", replaced)
    _poll("a scrape with every worker's counts again", lambda: _totals(metrics_port) == full)
    assert [_totals(metrics_port) for _ in range(SCRAPES)] == [full] * SCRAPES
    assert _get(port, "/metrics")[0] == 404
