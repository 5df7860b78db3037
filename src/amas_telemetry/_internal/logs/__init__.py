"""Logs (import: ``otlp``, ``redact``).

``root``: what ``configure()`` does to the root logger (our handler, the level, the filter
that scrubs the SDK's own log lines), each step undone on shutdown;
``handler``: the root-logger handler writing JSON lines with trace ids and queueing OTLP
records; ``export``: queued lines turned into OTLP export requests in batches.
"""
