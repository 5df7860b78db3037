"""Scrubbing of secrets and prompt text (import: ``compat``).

``engine`` (one RE2 automaton and its rule handlers), ``rules`` (the secret shapes),
``providers`` (the provider token formats from the maintained secret-scanning lists),
``scrubber`` (strings, names, attribute mappings, log extras; bounds and caches), ``otel``
(the SDK's objects: spans, log records, the SDK's own log lines). The public face is
:mod:`amas_telemetry.redact`.
"""
