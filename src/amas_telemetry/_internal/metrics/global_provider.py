"""The global MeterProvider: one delegate that follows the active ``configure()``.

The OTel API lets a process set its global MeterProvider once. Tests and apps make and shut
down several handles, so, as :mod:`.tracing` does for tracers, the global is a delegate
installed once: ``metrics.get_meter("shop").create_counter("shop.orders")`` hands out
instruments that record into the most recent live handle's MeterProvider (so they show on
/metrics and over OTLP) and into nothing once every handle is shut down. Module-level
instruments made before ``configure()`` work too (the API's proxy binds them to the delegate).

Observable instruments are registered again with each provider that becomes active.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import DropAggregation, View

__all__ = [
    "DUPLICATE_METRIC_SCOPES",
    "DelegatingMeterProvider",
    "drop_duplicate_metrics",
    "global_meter_provider",
]

from amas_telemetry._internal.compat.sdk import is_api_default_meter_provider

_log = logging.getLogger(__name__)

DUPLICATE_METRIC_SCOPES: tuple[str, ...] = (
    "fastapi",  # FastAPI's own telemetry (0.16x): it meters through the global MeterProvider
    "opentelemetry.instrumentation.fastapi",
    "opentelemetry.instrumentation.asgi",
    "opentelemetry.instrumentation.httpx",
    "opentelemetry.instrumentation.asyncpg",
    "opentelemetry.instrumentation.redis",
    "opentelemetry.instrumentation.openai_v2",
    "opentelemetry.util.genai.handler",
    "opentelemetry.instrumentation.anthropic",
)
"""Meter scopes of instrumentations whose metrics say again what our span-derived metrics
say (HTTP server and client durations, DB operations, GenAI durations and tokens). Their
instruments are dropped by a View, so nothing is counted twice; other meters are untouched."""


def drop_duplicate_metrics() -> list[View]:
    return [View(meter_name=scope, aggregation=DropAggregation()) for scope in DUPLICATE_METRIC_SCOPES]


class _Instrument:
    """A synchronous instrument that resolves its real SDK instrument per provider generation."""

    def __init__(
        self, meter: _DelegatingMeter, factory: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._meter = meter
        self._factory = factory
        self._args = args
        self._kwargs = kwargs
        self._generation = -1
        self._real: Any = None
        self.name = args[0] if args else kwargs.get("name", "")

    def _resolve(self) -> Any:
        owner = self._meter.owner
        owner.touched += 1
        if self._generation != owner.generation:
            real_meter = self._meter.real()
            self._real = (
                getattr(real_meter, self._factory)(*self._args, **self._kwargs) if real_meter else None
            )
            self._generation = owner.generation
        return self._real

    def add(
        self, amount: float, attributes: Any = None, context: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        real = self._resolve()
        if real is not None:
            real.add(amount, attributes, context, *args, **kwargs)

    def record(
        self, amount: float, attributes: Any = None, context: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        real = self._resolve()
        if real is not None:
            real.record(amount, attributes, context, *args, **kwargs)

    def set(
        self, amount: float, attributes: Any = None, context: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        real = self._resolve()
        if real is not None:
            real.set(amount, attributes, context, *args, **kwargs)


class _DelegatingMeter(metrics.Meter):
    def __init__(self, owner: DelegatingMeterProvider, args: tuple[Any, ...]) -> None:
        super().__init__(*args[:3])
        self.owner = owner
        self._args = args
        self._generation = -1
        self._real: Any = None
        self._observables: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def real(self) -> Any:
        owner = self.owner
        if self._generation != owner.generation:
            provider = owner.active
            self._real = provider.get_meter(*self._args) if provider is not None else None
            self._generation = owner.generation
        return self._real

    def bind_observables(self) -> None:
        """Registers the observable instruments with the provider now active."""
        real = self.real()
        if real is None:
            return
        for factory, args, kwargs in self._observables:
            getattr(real, factory)(*args, **kwargs)

    def _sync(self, factory: str, *args: Any, **kwargs: Any) -> Any:
        return _Instrument(self, factory, args, kwargs)

    def _observable(self, factory: str, *args: Any, **kwargs: Any) -> Any:
        self._observables.append((factory, args, kwargs))
        self.owner.observing.add(self)  # kept alive: users rarely keep a reference to an observable
        real = self.real()
        return (
            getattr(real, factory)(*args, **kwargs)
            if real is not None
            else _Instrument(self, factory, args, kwargs)
        )

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        return self._sync("create_counter", name, unit, description)

    def create_up_down_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        return self._sync("create_up_down_counter", name, unit, description)

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Any:
        return self._sync(
            "create_histogram",
            name,
            unit,
            description,
            explicit_bucket_boundaries_advisory=explicit_bucket_boundaries_advisory,
        )

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Any:
        return self._sync("create_gauge", name, unit, description)

    def create_observable_counter(
        self,
        name: str,
        callbacks: Sequence[Callable[..., Any]] | None = None,
        unit: str = "",
        description: str = "",
    ) -> Any:
        return self._observable("create_observable_counter", name, callbacks, unit, description)

    def create_observable_up_down_counter(
        self,
        name: str,
        callbacks: Sequence[Callable[..., Any]] | None = None,
        unit: str = "",
        description: str = "",
    ) -> Any:
        return self._observable("create_observable_up_down_counter", name, callbacks, unit, description)

    def create_observable_gauge(
        self,
        name: str,
        callbacks: Sequence[Callable[..., Any]] | None = None,
        unit: str = "",
        description: str = "",
    ) -> Any:
        return self._observable("create_observable_gauge", name, callbacks, unit, description)


class DelegatingMeterProvider(metrics.MeterProvider):
    """Installed once as the OTel global; delegates to the most recent live MeterProvider."""

    def __init__(self) -> None:
        self._stack: list[MeterProvider] = []
        self._lock = threading.Lock()
        self._meters: weakref.WeakSet[_DelegatingMeter] = weakref.WeakSet()
        self.observing: set[_DelegatingMeter] = set()
        self.generation = 0
        self.touched = 0
        """Grows with every measurement through the API (workers flush when it changed)."""

    @property
    def active(self) -> MeterProvider | None:
        return self._stack[-1] if self._stack else None

    def _changed(self) -> None:
        self.generation += 1
        for meter in list(self._meters):
            meter.bind_observables()

    def push(self, provider: MeterProvider) -> None:
        with self._lock:
            self._stack.append(provider)
            self._changed()

    def remove(self, provider: MeterProvider) -> None:
        with self._lock:
            if provider in self._stack:
                was_active = self._stack[-1] is provider
                self._stack.remove(provider)
                if was_active:
                    self._changed()

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> metrics.Meter:
        if name in DUPLICATE_METRIC_SCOPES:  # dropped anyway (see the Views): not even measured
            return metrics.NoOpMeter(name, version, schema_url)
        meter = _DelegatingMeter(self, (name, version, schema_url, attributes))
        self._meters.add(meter)
        return meter


_GLOBAL: DelegatingMeterProvider | None = None
_GLOBAL_LOCK = threading.Lock()


def global_meter_provider() -> DelegatingMeterProvider:
    """The delegate, installed as the OTel global MeterProvider on first use."""
    global _GLOBAL
    with _GLOBAL_LOCK:
        if _GLOBAL is None:
            _GLOBAL = DelegatingMeterProvider()
            current = metrics.get_meter_provider()
            if is_api_default_meter_provider(current):  # the API's "nothing set yet"
                metrics.set_meter_provider(_GLOBAL)
            else:
                _log.warning(
                    "amas_telemetry: a global MeterProvider (%s) was set before configure(): "
                    "instruments made with metrics.get_meter() go to it, not to /metrics or "
                    "amas_telemetry's OTLP export; Telemetry.meter() hands out amas_telemetry's",
                    type(current).__name__,
                )
        return _GLOBAL
