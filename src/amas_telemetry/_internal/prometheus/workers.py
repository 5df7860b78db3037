"""Several workers, one /metrics: each worker's metric state in a file, merged at scrape time.

Under ``uvicorn --workers N`` or gunicorn every worker is its own process with its own SDK
state. Each worker writes a snapshot of it (:mod:`.snapshots`) to
``<metrics_dir>/<service>-<supervisor pid>/<pid>-<start time>.snap``: when a scrape it answers
collects anyway, and from a daemon thread at most every :data:`FLUSH_INTERVAL` seconds when
something was measured since its last write (gauges at least every
:data:`GAUGE_REFRESH_INTERVAL`). The worker that answers a scrape uses its own live state and
reads the files of the others (parsed again only when a file changed). So another worker's
counts are at most ``FLUSH_INTERVAL`` (+ the time of one flush) behind.

Files of workers that exited stay, so their counts stay in the totals, as prometheus_client's
multiprocess mode does; a scrape folds them into ``retired.snap`` (under a file lock, naming
the files it absorbed so that nothing is counted twice). Directories of supervisors that no
longer run are deleted by the next app group that starts.

Which process is a worker: a child that uvicorn's supervisor spawned, a gunicorn worker, or a
child forked from a gunicorn master that ran ``configure()`` (``--preload``); how that is told
lives in :mod:`.server_internals`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import marshal
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from amas_telemetry._internal.compat.servers import in_gunicorn, in_gunicorn_worker, in_uvicorn_worker
from amas_telemetry._internal.prometheus.snapshots import Snapshot

__all__ = ["FLUSH_INTERVAL", "SnapshotStore", "default_metrics_dir", "supervisor_pid"]

_log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
"""Seconds between a worker's flushes when it measured something (its lag in other workers' scrapes)."""
GAUGE_REFRESH_INTERVAL = 10.0
"""Seconds after which an idle worker writes anyway, so that its gauges stay current."""
_FORMAT = 1
_RETIRED = "retired.snap"


def default_metrics_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"amas-telemetry-metrics-{os.getuid()}")


def supervisor_pid() -> int | None:
    """The pid of the server supervising this process as one of its workers, else None."""
    if in_uvicorn_worker() or in_gunicorn_worker():
        return os.getppid()
    return None


def forked_worker_group() -> int | None:
    """In a child just forked from a gunicorn master that ran configure() (``--preload``): the group."""
    return os.getppid() if in_gunicorn() else None


def _start_time(pid: int) -> str | None:
    """The process start time (clock ticks since boot), so a reused pid is a different process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return now is None or start == "0" or now == start


_NAME = re.compile(r"^(\d+)-(\d+)\.snap$")


class SnapshotStore:
    """One app group's directory: this worker's file, the others', the retired total."""

    def __init__(self, base: str, service_name: str, group: int) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", service_name)
        self.base = Path(base)
        self.directory = self.base / f"{safe}-{group}"
        self.group = group
        pid = os.getpid()
        self.pid = pid
        self.name = f"{pid}-{_start_time(pid) or 0}.snap"
        self._cache: dict[str, tuple[float, int, Snapshot]] = {}
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._remove_dead_groups()

    def _remove_dead_groups(self) -> None:
        for entry in self.base.iterdir():
            supervisor = entry.name.rsplit("-", 1)[-1]
            if entry == self.directory or not supervisor.isdigit():
                continue
            try:
                os.kill(int(supervisor), 0)
            except ProcessLookupError:
                shutil.rmtree(entry, ignore_errors=True)
            except PermissionError:
                continue

    def write(self, snap: Snapshot) -> None:
        """Atomically replace this worker's file."""
        path = self.directory / self.name
        temporary = path.with_suffix(f".tmp{threading.get_ident()}")
        temporary.write_bytes(marshal.dumps((_FORMAT, (), snap)))
        os.replace(temporary, path)

    def _load(self, path: Path) -> tuple[tuple[str, ...], Snapshot] | None:
        try:
            stat = path.stat()
            cached = self._cache.get(path.name)
            if cached is not None and cached[0] == stat.st_mtime and cached[1] == stat.st_size:
                return cached[2]
            version, absorbed, snap = marshal.loads(path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if version != _FORMAT:
            return None
        self._cache[path.name] = (stat.st_mtime, stat.st_size, (tuple(absorbed), snap))
        return tuple(absorbed), snap

    def others(self) -> list[tuple[int, bool, Snapshot]]:
        """(pid, alive, snapshot) of every other worker's file, live and exited; retired as one."""
        retired = self._load(self.directory / _RETIRED)
        absorbed = set(retired[0]) if retired else set()
        parts, dead = [], []
        for entry in os.listdir(self.directory):
            match = _NAME.match(entry)
            if match is None or entry == self.name or entry in absorbed:
                continue
            pid, start = int(match.group(1)), match.group(2)
            loaded = self._load(self.directory / entry)
            if loaded is None:
                continue
            alive = _alive(pid, start)
            parts.append((pid, alive, loaded[1]))
            if not alive:
                dead.append(entry)
        if retired:
            parts.append((0, False, retired[1]))
        if dead:
            self._retire(dead)
        return parts

    def _retire(self, dead: list[str]) -> None:
        """Fold exited workers' files into ``retired.snap``, which names the files it absorbed."""
        from amas_telemetry._internal.prometheus.snapshots import merge

        with open(self.directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            retired = self._load(self.directory / _RETIRED)
            absorbed = list(retired[0]) if retired else []
            parts = [(0, False, retired[1])] if retired else []
            todo = []
            for entry in dead:
                loaded = None if entry in absorbed else self._load(self.directory / entry)
                if loaded is not None:
                    parts.append((0, False, loaded[1]))
                    todo.append(entry)
            if todo:
                total = merge([(0, True, {}), *parts])  # an empty live part: dead ones keep only counts
                path = self.directory / _RETIRED
                temporary = path.with_suffix(".tmp")
                temporary.write_bytes(marshal.dumps((_FORMAT, tuple(absorbed + todo), total)))
                os.replace(temporary, path)
            for entry in dead:
                with contextlib.suppress(OSError):
                    (self.directory / entry).unlink()
                self._cache.pop(entry, None)


class Flusher:
    """A daemon thread that writes this worker's snapshot when something changed."""

    def __init__(self, flush: Callable[[], None], changed: Callable[[], bool]) -> None:
        self._flush = flush
        self._changed = changed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="amas-telemetry-metrics-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        idle = 0.0
        while not self._stop.wait(FLUSH_INTERVAL):
            idle += FLUSH_INTERVAL
            if self._changed() or idle >= GAUGE_REFRESH_INTERVAL:
                idle = 0.0
                try:
                    self._flush()
                except Exception:  # never kill the thread: the next round tries again
                    _log.exception("amas_telemetry: writing this worker's metrics failed")

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and thread.is_alive():
            thread.join(timeout=5)
        self._thread = None
