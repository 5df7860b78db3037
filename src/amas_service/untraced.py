"""Housekeeping I/O that should make no spans (and so no derived metrics).

Idle queue polling, the queue-depth poller and the pool's connection reset are not work a
user asked for; traced, they would add a root trace per poll and inflate the DB and
cache metrics. ``untraced()`` is the contrib instrumentations' suppression flag.
"""

from opentelemetry.instrumentation.utils import suppress_instrumentation as untraced

__all__ = ["untraced"]
