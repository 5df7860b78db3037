"""A bounded on-disk spool of serialized OTLP export requests, one per process and signal.

Each entry is one request body in its own file, written to a temporary name and renamed,
so a reader never sees half a request. Files are named
``<signal>-<pid>-<token>-<seq>-<items>.otlp``: the sequence number keeps the order, the item
count is what a drop costs. Nothing is created until the first entry is written, so a
healthy app never touches the disk.

Several processes may share one directory (the workers of one app) without sharing a file:
each spool writes under its own ``<pid>-<token>`` prefix and holds an exclusive ``flock`` on
``<signal>-<pid>-<token>.lock`` while it lives. The kernel drops that lock when the process
dies, even on ``kill -9``, so a lock file that can be locked belongs to a dead process: its
entries are taken over (renamed into the live spool) and replayed by a living sibling, or by
the app's next start. A forked child starts a spool of its own (new prefix, new lock) and
leaves the parent's entries to the parent.

Past ``max_bytes`` the oldest entries are dropped; :meth:`Spool.append` returns how many
items that cost, and the caller counts them. Entries are not fsynced: the spool bridges a
Collector that is away, and a written file survives the death of the process; only a
crash of the whole host may lose the newest entries.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from amas_telemetry._internal.forking import renew_after_fork

__all__ = ["Spool", "SpoolEntry", "default_directory"]

_log = logging.getLogger(__name__)

_ENTRY = re.compile(r"^(?P<prefix>[a-z]+-\d+-[0-9a-f]+)-(?P<seq>\d{12})-(?P<items>\d+)\.otlp$")
_LOCK = re.compile(r"^(?P<prefix>[a-z]+-\d+-[0-9a-f]+)\.lock$")


def default_directory(service_name: str) -> Path:
    """``<temp dir>/amas-telemetry-<uid>/<service name>``: private to the user, shared by the
    workers of one service (so one adopts what another left), never the app's own tree."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", service_name) or "service"
    return Path(tempfile.gettempdir()) / f"amas-telemetry-{os.getuid()}" / safe_name


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled request: its file, size on disk and the number of items it carries."""

    path: Path
    size: int
    items: int


class Spool:
    """The spool of one signal (``traces``, ``logs``, ``metrics``) in one process."""

    def __init__(self, directory: Path, signal: str, max_bytes: int) -> None:
        if not signal.isalpha() or not signal.islower():
            raise ValueError(f"signal must be lowercase letters, got {signal!r}")
        self.directory = directory
        self.signal = signal
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: deque[SpoolEntry] = deque()
        self._bytes = 0
        self._in_flight: Path | None = None
        self._lock_fd: int | None = None
        self._new_identity()
        renew_after_fork(self, Spool._after_fork)

    # --- identity ---------------------------------------------------------------------------
    def _new_identity(self) -> None:
        self._prefix = f"{self.signal}-{os.getpid()}-{secrets.token_hex(4)}"
        self._seq = 0

    def _after_fork(self) -> None:
        """In a forked child: the parent's entries and lock stay the parent's."""
        self._lock = threading.Lock()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # our copy only; the parent keeps its lock
        self._lock_fd = None
        self._entries.clear()
        self._bytes = 0
        self._in_flight = None
        self._new_identity()

    def _ensure_owned(self) -> bool:
        """Create the directory and take our lock (once). False when the disk refuses."""
        if self._lock_fd is not None:
            return True
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.directory.stat().st_uid != os.getuid():
                raise PermissionError(f"{self.directory} belongs to another user")
            fd = os.open(self.directory / f"{self._prefix}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            _log.warning("amas_telemetry: cannot use the export spool in %s", self.directory, exc_info=True)
            return False
        self._lock_fd = fd
        return True

    # --- writing ----------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, body: bytes, items: int) -> int:
        """Spool one request; returns the number of items dropped to stay within the bound.

        A request larger than the whole bound is dropped itself. When the disk refuses the
        write, the request is dropped (and counted) too: the app must never fail for it.
        """
        with self._lock:
            if len(body) > self.max_bytes:
                return items
            dropped = self._make_room(len(body))
            if not self._ensure_owned():
                return dropped + items
            self._seq += 1
            path = self.directory / f"{self._prefix}-{self._seq:012d}-{items}.otlp"
            tmp = path.with_suffix(".tmp")
            try:
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                    f.write(body)
                os.replace(tmp, path)
            except OSError:
                _log.warning("amas_telemetry: writing to the export spool failed", exc_info=True)
                _unlink(tmp)
                return dropped + items
            self._entries.append(SpoolEntry(path, len(body), items))
            self._bytes += len(body)
            return dropped

    def _make_room(self, size: int) -> int:
        dropped = 0
        while self._entries and self._bytes + size > self.max_bytes:
            victim = self._entries[0]
            if victim.path == self._in_flight:
                if len(self._entries) == 1:
                    break
                victim = self._entries[1]
                del self._entries[1]
            else:
                self._entries.popleft()
            self._bytes -= victim.size
            dropped += victim.items
            _unlink(victim.path)
        return dropped

    # --- replay -----------------------------------------------------------------------------
    def oldest(self) -> tuple[SpoolEntry, bytes] | None:
        """The oldest entry and its body, marked in flight (the bound spares it meanwhile)."""
        with self._lock:
            while self._entries:
                entry = self._entries[0]
                try:
                    body = entry.path.read_bytes()
                except OSError:  # removed behind our back: forget it
                    self._entries.popleft()
                    self._bytes -= entry.size
                    continue
                self._in_flight = entry.path
                return entry, body
            return None

    def release(self, entry: SpoolEntry, *, delivered: bool) -> None:
        """End the flight of ``entry``; delete it when it was delivered (or refused for good)."""
        with self._lock:
            self._in_flight = None
            if not delivered:
                return
            try:
                self._entries.remove(entry)
            except ValueError:
                return
            self._bytes -= entry.size
            _unlink(entry.path)

    def adopt_orphans(self) -> int:
        """Take over the entries of spools whose process is gone; returns how many."""
        if not self.directory.is_dir():
            return 0
        adopted = 0
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return 0
        for name in names:
            match = _LOCK.match(name)
            if not match or not name.startswith(f"{self.signal}-") or match["prefix"] == self._prefix:
                continue
            adopted += self._adopt(match["prefix"], names)
        return adopted

    def _adopt(self, prefix: str, names: list[str]) -> int:
        lock_path = self.directory / f"{prefix}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except OSError:
            return 0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return 0  # its owner lives
            adopted = 0
            with self._lock:
                if not self._ensure_owned():
                    return 0
                for name in names:
                    if not name.startswith(f"{prefix}-"):
                        continue
                    match = _ENTRY.match(name)
                    if match is None:  # a .tmp its owner never finished
                        _unlink(self.directory / name)
                        continue
                    self._seq += 1
                    items = int(match["items"])
                    target = self.directory / f"{self._prefix}-{self._seq:012d}-{items}.otlp"
                    try:
                        os.rename(self.directory / name, target)
                        size = target.stat().st_size
                    except OSError:
                        continue
                    self._entries.append(SpoolEntry(target, size, items))
                    self._bytes += size
                    adopted += 1
            _unlink(lock_path)
            return adopted
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release our lock; entries left on disk are adopted by the next spool here."""
        with self._lock:
            if self._lock_fd is None:
                return
            if not self._entries:
                _unlink(self.directory / f"{self._prefix}.lock")
            os.close(self._lock_fd)
            self._lock_fd = None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        _log.debug("amas_telemetry: could not remove %s", path, exc_info=True)
