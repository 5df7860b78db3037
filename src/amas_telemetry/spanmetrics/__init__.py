"""Metrics derived from spans: the rule types (:mod:`.rules`), the default table
(:mod:`.table`), the cardinality limiter (:mod:`.limiter`), the processor (:mod:`.processor`)
and the active-requests count (:mod:`.active`)."""

from amas_telemetry.catalog import InstrumentKind
from amas_telemetry.spanmetrics.active import ActiveRequestsProcessor
from amas_telemetry.spanmetrics.processor import SpanMetricsProcessor
from amas_telemetry.spanmetrics.rules import MetricRule, plain_attributes, rule
from amas_telemetry.spanmetrics.table import DEFAULT_RULES

__all__ = [
    "DEFAULT_RULES",
    "ActiveRequestsProcessor",
    "InstrumentKind",
    "MetricRule",
    "SpanMetricsProcessor",
    "plain_attributes",
    "rule",
]
