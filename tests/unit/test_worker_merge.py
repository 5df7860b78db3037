"""Merging workers' snapshots: what is summed, what only live workers say, nothing twice."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys

from amas_telemetry import semconv as sc
from amas_telemetry._internal.prometheus.exposition import render
from amas_telemetry._internal.prometheus.snapshots import GAUGE_MERGE, merge, subtract
from amas_telemetry._internal.prometheus.workers import SnapshotStore

BOUNDS = (0.1, 1.0)
ROUTE = (("http_route", "/a"),)
QUEUE = "amas_task_queue_depth"


def _worker(requests: int, *, active: float = 0, queue: float = 0, rss: float = 0) -> dict:
    return {
        "http_server_request_duration_seconds": [
            "histogram",
            "Duration.",
            "seconds",
            {ROUTE: [BOUNDS, [requests, 0, 0], 1.0, requests]},
            {ROUTE: {0: ("a" * 32, "b" * 16, 0.05, float(requests))}},
        ],
        "shop_orders": ["counter", "Orders.", "", {(): float(requests)}, {}],
        "http_server_active_requests": ["updown", "Active.", "", {(): active}, {}],
        QUEUE: ["gauge", "Queue.", "", {(): queue}, {}],
        "process_memory_usage": ["gauge", "RSS.", "bytes", {(): rss}, {}],
    }


def test_counters_and_histograms_add_up_over_live_and_exited_workers():
    merged = merge([(1, True, _worker(3)), (2, True, _worker(4)), (3, False, _worker(5))])
    histogram = merged["http_server_request_duration_seconds"][3][ROUTE]
    assert histogram == [BOUNDS, [12, 0, 0], 3.0, 12]
    assert merged["shop_orders"][3][()] == 12


def test_gauges_come_from_live_workers_as_their_meaning_says():
    assert GAUGE_MERGE[QUEUE] == "max"
    merged = merge(
        [
            (1, True, _worker(1, active=2, queue=7, rss=100)),
            (2, True, _worker(1, active=1, queue=7, rss=200)),
            (3, False, _worker(1, active=5, queue=99, rss=300)),
        ]
    )
    assert merged["http_server_active_requests"][3] == {(): 3}  # summed over live workers
    assert merged[QUEUE][3] == {(): 7}  # one shared queue: not 14, and not the dead one's 99
    assert merged["process_memory_usage"][3] == {(("worker", "1"),): 100, (("worker", "2"),): 200}


def test_the_newest_exemplar_of_a_bucket_wins():
    merged = merge([(1, True, _worker(3)), (2, True, _worker(9))])
    assert merged["http_server_request_duration_seconds"][4][ROUTE][0][3] == 9.0


def test_a_forked_child_subtracts_what_it_inherited():
    child = subtract(_worker(10), _worker(4))
    assert child["shop_orders"][3][()] == 6
    assert child["http_server_request_duration_seconds"][3][ROUTE][1] == [6, 0, 0]


def test_merged_text_sums_a_family_once():
    body, _ = render(merge([(1, True, _worker(3)), (2, True, _worker(4))]), openmetrics=False)
    text = body.decode()
    assert text.count("# TYPE http_server_request_duration_seconds histogram") == 1
    assert 'http_server_request_duration_seconds_count{http_route="/a"} 7.0' in text
    assert "shop_orders_total 7.0" in text


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_exited_workers_are_retired_once(tmp_path):
    me = SnapshotStore(str(tmp_path), "svc", group=os.getpid())
    dead = _dead_pid()
    (me.directory / f"{dead}-1.snap").write_bytes(marshal.dumps((1, (), _worker(5))))
    other = SnapshotStore(str(tmp_path), "svc", group=os.getpid())  # same process, so "alive"
    other.name = f"{os.getppid()}-0.snap"  # stands for a live sibling worker
    other.write(_worker(2))

    for _ in range(3):  # the first scrape folds the dead file into retired.snap; later ones read it
        parts = me.others()
        merged = merge([(me.pid, True, _worker(1)), *parts])
        assert merged["shop_orders"][3][()] == 8
    assert not (me.directory / f"{dead}-1.snap").exists()
    assert (me.directory / "retired.snap").exists()


def test_directories_of_stopped_app_groups_are_removed(tmp_path):
    gone = tmp_path / f"svc-{_dead_pid()}"
    gone.mkdir()
    SnapshotStore(str(tmp_path), "svc", group=os.getpid())
    assert not gone.exists()
    assert (tmp_path / f"svc-{os.getpid()}").is_dir()


def test_gauge_merge_names_real_metrics():
    names = {sc.AMAS_TASK_QUEUE_DEPTH.replace(".", "_"), sc.SYSTEM_NETWORK_IO.replace(".", "_")}
    assert names <= set(GAUGE_MERGE)


def test_a_lone_process_is_no_worker():
    from amas_telemetry._internal.prometheus.workers import forked_worker_group, supervisor_pid

    assert supervisor_pid() is None
    assert forked_worker_group() is None  # not under gunicorn


def test_an_unwritable_metrics_dir_leaves_the_worker_lone(tmp_path, monkeypatch, caplog):
    from amas_telemetry._internal.prometheus import worker_group
    from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setattr(worker_group, "supervisor_pid", lambda: 12345)
    endpoint = PrometheusEndpoint()
    member = worker_group.Membership(endpoint, str(blocked), "svc", list, lambda: 0, lambda: 0)
    member.start()
    assert endpoint.store is None
    assert "cannot share metrics" in caplog.text
    member.leave()
