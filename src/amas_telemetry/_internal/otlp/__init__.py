"""OTLP out of the process (import: ``compat``, ``config``, ``catalog``).

``wire``, ``span_encoding``, ``log_encoding``: request bytes written directly; ``transport``:
one attempt to send bytes, and whether a failure is worth retrying; ``spool`` and
``spooled_export``: the on-disk spool and the exporters that replay it in order;
``sdk_exporters``: the SDK's OTLP exporters, when the spool is off.
"""
