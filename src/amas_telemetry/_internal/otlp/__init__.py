"""OTLP out of the process (import: ``compat``, ``config``, ``catalog``).

``wire``, ``span_encoding``, ``log_encoding``: request bytes written directly; ``transport``:
one attempt to send bytes, and whether a failure is worth retrying; ``spool``,
``spooled_export`` and ``spooled_exporters``: the on-disk spool, the sending and replaying
in order, and the SDK exporter interfaces over them;
``sdk_exporters``: the SDK's OTLP exporters, when the spool is off.
"""
