"""A worker forked while the parent's metric reader exports still exports (gunicorn --preload).

The SDK restarts a periodic reader's thread in a forked child but not the lock the reader
exports under: a child forked mid-export inherited it held, and its reader blocked on it for
ever (one worker's OTLP metrics never arrived). ``configure()`` holds that lock across forks.
"""

from __future__ import annotations

import os
import threading

import amas_telemetry
from amas_telemetry._internal.compat.sdk import export_lock


def test_a_child_forked_during_an_export_gets_the_export_lock_free():
    telemetry = amas_telemetry.configure(
        otlp_endpoint="http://127.0.0.1:9",  # nothing listens: exports fail, spooled
        export_spool_max_mb=0,
        metric_export_interval=3600,
        json_logs=False,
        system_metrics=False,
    )
    try:
        lock = export_lock(telemetry._push_readers[0])
        exporting, done = threading.Event(), threading.Event()

        def an_export_in_flight() -> None:
            with lock:  # what the reader's thread holds while it exports
                exporting.set()
                done.wait(0.5)

        exporter = threading.Thread(target=an_export_in_flight)
        exporter.start()
        exporting.wait(5)
        pid = os.fork()  # waits for the export to end, then forks
        if pid == 0:
            os._exit(0 if lock.acquire(timeout=5) else 1)
        done.set()
        exporter.join(5)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child inherited the export lock held"
        assert lock.acquire(timeout=5), "the parent's lock is free again after the fork"
        lock.release()
    finally:
        telemetry.shutdown()
