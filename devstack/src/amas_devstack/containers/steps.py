"""Small steps the image recipes and the image store share: a log line, progress, a content key, a command."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from amas_devstack.containers.engine import ContainerError

__all__ = ["digest", "log", "progress", "run"]


def log(message: str) -> None:
    print(f"[images {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def progress(what: str) -> Iterator[None]:
    """A line every 60 s while ``what`` runs, and its time at the end."""
    start = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(60):
            log(f"{what}: still running, {time.monotonic() - start:.0f} s")

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        log(f"{what}: {time.monotonic() - start:.0f} s")


def digest(*parts: bytes | str | Path) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            h.update(part.read_bytes())
        else:
            h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def run(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ContainerError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
