"""SpanMetricsProcessor: every finished span, sampled or not, becomes metric points.

What to derive is a table (:data:`.table.DEFAULT_RULES`): which spans (a predicate), which
catalog metric, which attributes (getters) and which value. Instruments are built once in
``__init__``; ``on_end`` only matches and queues the measurements, which are aggregated
into instruments of our own (:mod:`.aggregate`) when a reader collects (see
:mod:`..deferred`). Attribute sets go through the cardinality limiter
(:mod:`.limiter`).
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable, Sequence
from time import time_ns
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from amas_telemetry import semconv as sc
from amas_telemetry._internal.genai import span_attributes as genai
from amas_telemetry._internal.genai.calls import current_agent, current_call
from amas_telemetry._internal.metrics.deferred import DeferredMeasurements
from amas_telemetry._internal.metrics.derivation.aggregate import DerivedMetrics
from amas_telemetry._internal.metrics.derivation.limiter import Series
from amas_telemetry._internal.metrics.derivation.rules import (
    AttributeIs,
    MetricRule,
    Predicate,
    attr,
    plain_attributes,
)
from amas_telemetry._internal.metrics.derivation.table import DEFAULT_RULES
from amas_telemetry._internal.redact.scrubber import Scrubber
from amas_telemetry.catalog import spec

__all__ = ["SpanMetricsProcessor"]

_log = logging.getLogger(__name__)


class _CompiledRule:
    __slots__ = ("getters", "key_slot", "names", "repeat", "series", "value")

    def __init__(self, rule: MetricRule, series: Series, key_slots: dict[tuple[Any, ...], int]) -> None:
        self.names = tuple(name for name, _ in rule.attributes)
        # A plain string stands for "read this key": the hot loop does attrs.get inline.
        self.getters = tuple(
            g.keys[0] if isinstance(g, attr) and len(g.keys) == 1 else g for _, g in rule.attributes
        )
        # Rules with the same getters (a GenAI span feeds five metrics with one attribute set)
        # share the slot where on_end keeps the values it read for the span.
        self.key_slot = key_slots.setdefault(self.getters, len(key_slots))
        self.value = rule.value
        self.repeat = rule.repeat
        self.series = series


class SpanMetricsProcessor(SpanProcessor):
    """Derives metrics from every span that ends, including RECORD_ONLY (unsampled) ones.

    Exemplars are recorded with the span's own context (built at drain time), so they
    point at that span, and only when it is exported: sampled (the SDK's trace-based
    exemplar filter checks the flag) or in ``kept_traces``, the tail decision's kept set.
    """

    def __init__(
        self,
        meter: Meter,
        rules: Sequence[MetricRule] = DEFAULT_RULES,
        *,
        cardinality_limit: int = 2000,
        scrubber: Scrubber | None = None,
        kept_traces: Container[int] = frozenset(),
    ) -> None:
        scrubber = scrubber or Scrubber()
        self.derived = DerivedMetrics(meter.name)
        self._pending = DeferredMeasurements(kept_traces=kept_traces, lock=self.derived.lock)
        series: dict[str, Series] = {}
        key_slots: dict[tuple[Any, ...], int] = {}
        groups: dict[Predicate, list[_CompiledRule]] = {}
        for rule in rules:
            name = rule.metric.name
            if name not in series:
                series[name] = Series(self.derived.instrument(rule.metric), cardinality_limit, scrubber)
            groups.setdefault(rule.when, []).append(_CompiledRule(rule, series[name], key_slots))
        indexed: dict[str, dict[str, list[_CompiledRule]]] = {}
        for when, compiled in groups.items():
            if isinstance(when, AttributeIs):
                indexed.setdefault(when.key, {}).setdefault(when.value, []).extend(compiled)
        self._indexed = tuple((k, {v: tuple(c) for v, c in table.items()}) for k, table in indexed.items())
        self._groups = tuple((w, tuple(c)) for w, c in groups.items() if not isinstance(w, AttributeIs))
        spec(sc.AMAS_TELEMETRY_SPAN_METRICS_RECORDED).observe(meter, [self._observe_recorded])
        self._seen_responses = genai.SeenResponses()
        self._shutdown = False

    def attach(self, provider: Any) -> None:
        """Every collection by a reader of ``provider`` (the ``MeterProvider`` of ``meter``)
        drains the queue and gets the derived points (:mod:`.aggregate`)."""
        self.derived.attach(provider, self._pending.drain)

    def drain(self) -> None:
        """Aggregate every queued measurement (the readers' collection hook calls it)."""
        self._pending.drain()

    def _observe_recorded(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self._pending.recorded)]

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._shutdown:
            return
        try:
            if span.kind is not SpanKind.SERVER and (call := current_call()) is not None:
                # the GenAI span of the call; opentelemetry-util-genai starts it bare (its
                # attributes come at the end): then the call's first CLIENT span is it
                attrs = plain_attributes(span)
                if genai.is_model_call(span, attrs) or (call.span is None and span.kind is SpanKind.CLIENT):
                    call.span = span
                    added = {k: v for k, v in call.attributes.items() if k not in attrs}
                    added.update(call.overrides)
                    if added:
                        span.set_attributes(added)
        except Exception:
            _log.exception("amas_telemetry: span metrics failed on span start")

    @staticmethod
    def _add_to_agent(span: ReadableSpan, attrs: Any) -> None:
        """A model call ended inside an agent run: its tokens and cost go on the agent span."""
        totals = current_agent()
        if totals is None or not genai.is_model_call(span, attrs):
            return
        usage = genai.usage_of(attrs)
        if usage is not None:
            totals.add(usage.input_tokens, usage.output_tokens, genai.cost_usd(span, attrs))

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown:
            return
        try:
            attrs = plain_attributes(span)
            add = self._pending.add
            end_time = span.end_time or time_ns()
            span_context = span.context
            get = attrs.get
            if sc.GEN_AI_RESPONSE_ID in attrs and self._seen_responses.is_duplicate(span, attrs):
                return
            matched = [table.get(get(key), ()) for key, table in self._indexed if key in attrs]
            matched.extend(compiled for when, compiled in self._groups if when(span, attrs))
            keys: dict[int, tuple[Any, ...]] = {}
            for compiled in matched:
                for rule in compiled:
                    value = rule.value(span, attrs)
                    if value is None:
                        continue
                    series = rule.series
                    key = keys.get(rule.key_slot)
                    if key is None:
                        getters = rule.getters
                        key = keys[rule.key_slot] = tuple(
                            [get(g) if g.__class__ is str else g(span, attrs) for g in getters]
                        )
                    labels = series.attributes(rule.names, key)
                    if rule.repeat is None:
                        add(series.sink, value, end_time, span_context, labels)
                    else:
                        for _ in range(rule.repeat(span, attrs)):
                            add(series.sink, value, end_time, span_context, labels)
            if span.kind is not SpanKind.SERVER and sc.GEN_AI_OPERATION_NAME in attrs:
                self._add_to_agent(span, attrs)
        except Exception:
            _log.exception("amas_telemetry: span metrics failed for span %r", span.name)

    def shutdown(self) -> None:
        self._pending.drain()
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Records what is queued; the next collection then sees every span ended so far."""
        self._pending.drain()
        return True

    def pending(self) -> int:
        """Measurements queued since the last collection (a worker flushes when there are some)."""
        return len(self._pending)
