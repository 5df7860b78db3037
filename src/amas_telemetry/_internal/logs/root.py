"""The root logger of a ``configure()``: its handler, level and the SDK-log filter, each undone.

Every change is registered on the handle's exit stack as it is made. The handlers are only
*closed* by the caller, last of all (provider shutdowns may still log).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import IO

from amas_telemetry._internal.logs.handler import LogSink, RedactingFilter, TelemetryLogHandler
from amas_telemetry._internal.redact.otel import install_sdk_log_filter, remove_sdk_log_filter
from amas_telemetry._internal.redact.scrubber import Scrubber

__all__ = ["attach_root_logging"]


def attach_root_logging(
    undo: ExitStack,
    *,
    service_name: str,
    log_level: str,
    json_logs: bool,
    json_log_stream: IO[str] | None,
    scrubber: Scrubber,
    log_exports: Sequence[LogSink],
) -> list[logging.Handler]:
    """Scrub the SDK's own log lines; add our handler (JSON lines and/or OTLP records) to the
    root logger at ``log_level``. Returns the handlers added (for the caller to close)."""
    sdk_log_filter = install_sdk_log_filter(scrubber)
    undo.callback(remove_sdk_log_filter, sdk_log_filter)
    handlers: list[logging.Handler] = []
    stream = (json_log_stream or sys.stdout) if json_logs else None
    if stream is not None or log_exports:
        handler = TelemetryLogHandler(service_name, stream, tuple(log_exports))
        handler.addFilter(RedactingFilter(scrubber))
        handlers.append(handler)
    root = logging.getLogger()
    undo.callback(root.setLevel, root.level)
    root.setLevel(log_level)
    for handler in handlers:
        root.addHandler(handler)
        undo.callback(root.removeHandler, handler)
    return handlers
