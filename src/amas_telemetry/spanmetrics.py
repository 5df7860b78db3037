"""Metrics derived from spans: the rule type and the default table.

A :class:`MetricRule` says: for spans where ``when`` holds, record ``value`` into the
instrument of a metric, with ``attributes``. :data:`DEFAULT_RULES` is the table
``configure()`` uses (HTTP, DB, cache, GenAI, tasks, agents, tools...).
"""

from amas_telemetry._internal.metrics.derivation.rules import MetricRule, rule
from amas_telemetry._internal.metrics.derivation.table import DEFAULT_RULES

__all__ = ["DEFAULT_RULES", "MetricRule", "rule"]
