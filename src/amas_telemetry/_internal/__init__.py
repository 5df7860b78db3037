"""Everything behind the public API of :mod:`amas_telemetry`; nothing here is public.

Rooms, from the bottom up (a room imports only rooms below it, plus the public leaf modules
:mod:`amas_telemetry.semconv` and :mod:`amas_telemetry.catalog` and the shared modules
``errors`` (:class:`ConfigError`) and ``forking``; each room's docstring names the rooms it
imports, and ``tests/unit/test_layout.py`` holds the code to both):

- ``compat``: the quarantined reaches into other packages' internals (OTel SDK, uvicorn,
  gunicorn, ...), each checked once by ``configure()``;
- ``redact``: secrets and prompt text scrubbed from everything that leaves the process;
- ``config``: the settings table, its parsers and :class:`ConfigError`;
- ``genai``: what GenAI spans say (provider, usage, cost), whoever made them;
- ``tracing``: the sampler, the global tracer provider, the export chain, the tail decision,
  the domain span helpers;
- ``metrics``: the global meter provider, span-derived metrics (``derivation``), state and
  system gauges;
- ``otlp``: OTLP encoding, transport and the on-disk export spool;
- ``prometheus``: ``/metrics`` (exposition, snapshots) and several workers;
- ``logs``: trace-correlated JSON lines and OTLP log records;
- ``integrations``: FastAPI (our server span) and the client libraries' instrumentors;
- ``resource`` and ``telemetry``: the handle ``configure()`` builds from all of the above.
"""
