"""In-process state read by the gauges: tasks running now, users seen recently.

Written on the event loop, read by gauge callbacks in the metric readers' threads: a lock
guards the user table, which the read also prunes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from amas_telemetry import semconv as sc

__all__ = ["Activity"]


class Activity:
    def __init__(
        self,
        task_types: Iterable[str],
        user_window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._task_types = tuple(task_types)
        self._running: Counter[str] = Counter()
        self._window = user_window_seconds
        self._clock = clock
        self._last_seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def task_started(self, task_type: str) -> None:
        self._running[task_type] += 1

    def task_finished(self, task_type: str) -> None:
        self._running[task_type] -= 1

    def active_tasks(self) -> list[tuple[float, Mapping[str, Any]]]:
        """Readings of ``amas.tasks.active``: every type, zeros included, so the series never vanish."""
        return [(float(self._running[t]), {sc.AMAS_TASK_TYPE: t}) for t in self._task_types]

    def user_seen(self, user: str) -> None:
        with self._lock:
            self._last_seen[user] = self._clock()

    def active_users(self) -> int:
        """Users seen within the window (drops the older ones)."""
        horizon = self._clock() - self._window
        with self._lock:
            for user in [u for u, seen in self._last_seen.items() if seen < horizon]:
                del self._last_seen[user]
            return len(self._last_seen)
