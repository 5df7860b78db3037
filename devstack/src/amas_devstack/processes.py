"""Child processes: one "is this pid alive" check, stopping a pid, a child with its log file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = [
    "ChildProcess",
    "ServerError",
    "http_ok",
    "pid_alive",
    "spawn",
    "stop_pid",
    "terminate",
    "wait_ready",
]


class ServerError(RuntimeError):
    """A local server could not be started; the message says why and where its log is."""


def pid_alive(pid: int, command: str | None = None) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait long for its
    reaper); with ``command``, its command line also contains that (a binary path or a
    word), so that a pid the kernel reused for another program is not taken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    if command is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return command in cmdline


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal one process (that we started), wait for it, SIGKILL it if it does not go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, its output appended to ``log_path`` after a
    line saying when and what was started."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def terminate(pid: int, proc: subprocess.Popen[bytes] | None, command: str | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; ``grace=0`` sends SIGKILL at once.

    ``proc`` (our own child) is reaped; a pid started by another process is watched through
    /proc (with ``command``, see :func:`pid_alive`). A stopped (SIGSTOP) process is continued,
    so that it acts on SIGTERM.
    """

    def wait_exit(timeout: float) -> bool:
        if proc is not None:
            try:
                proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid, command):
                return True
            time.sleep(0.05)
        return not pid_alive(pid, command)

    with contextlib.suppress(ProcessLookupError):
        if grace > 0:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
        else:
            os.kill(pid, signal.SIGKILL)
    if not wait_exit(grace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_exit(10.0)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """A GET of ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file ("" when there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class ChildProcess:
    """A child process with its log file."""

    name: str
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    stop_signal: int = signal.SIGTERM
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def spawn(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout_pipe: bool = False,
    ) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.popen = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            user=user,
            start_new_session=True,  # survives the demo's exit with --keep-running; Ctrl-C reaches only us
        )

    def check_running(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise ServerError(
                f"{self.name} exited with {self.popen.returncode}; see {self.log_path}:\n{self.tail()}"
            )

    def tail(self, lines: int = 15) -> str:
        return tail(self.log_path, lines)

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is not None and self.popen.poll() is None:
            stop_pid(self.popen.pid, self.stop_signal, timeout)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=1)
            if self.popen.stdout:
                self.popen.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_ready(what: str, ready: Callable[[], bool], process: ChildProcess, timeout: float) -> None:
    """Polls ``ready()`` until it holds; raises ServerError when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        process.check_running()
        if ready():
            return
        if time.monotonic() > deadline:
            raise ServerError(
                f"{what} not ready after {timeout:.0f} s; see {process.log_path}:\n{process.tail()}"
            )
        time.sleep(0.1)
