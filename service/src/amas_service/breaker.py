"""A circuit breaker per AI provider: closed → open → half-open → closed.

Closed: calls pass; ``failure_threshold`` consecutive failures open it. Open: calls are
refused for ``reset_seconds``, then it is half-open. Half-open: one probe call passes at
a time; its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from amas_telemetry.semconv import BreakerState

__all__ = ["BreakerState", "CircuitBreaker"]

_log = logging.getLogger(__name__)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.times_opened = 0

    def peek(self) -> BreakerState:
        """The state now, without changing anything (the gauge reads it from another thread)."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset_seconds:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def state(self) -> BreakerState:
        """The state now; an open breaker whose reset time has passed becomes half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset_seconds:
            self._state = BreakerState.HALF_OPEN
            self._probing = False
            _log.info("circuit breaker %s is half-open: the next call probes the provider", self.name)
        return self._state

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def release(self) -> None:
        """A call that :meth:`allow` let through ended with neither success nor a provider fault."""
        self._probing = False

    def record_success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            _log.info("circuit breaker %s closed: the provider answered", self.name)
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        half_open = self._state is BreakerState.HALF_OPEN
        if half_open or (self._state is BreakerState.CLOSED and self._failures >= self._threshold):
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self.times_opened += 1
            _log.warning(
                "circuit breaker %s opened after %d consecutive failures; retrying in %.1f s",
                self.name,
                self._failures,
                self._reset_seconds,
            )
        self._probing = False
