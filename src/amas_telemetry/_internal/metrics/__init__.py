"""Metrics (import: ``compat``, ``genai``, ``redact``, ``tracing``, ``catalog``).

``global_provider``: the global MeterProvider delegate and the Views that drop duplicate
metrics; ``derivation``: metrics derived from every span; ``deferred``: measurements queued on
the request path, aggregated at collection; ``state_gauges`` and ``system``: values read at
collection time.
"""
