"""Logs (import: ``otlp``, ``redact``).

``handler``: the root-logger handler writing JSON lines with trace ids and queueing OTLP
records; ``export``: queued lines turned into OTLP export requests in batches.
"""
