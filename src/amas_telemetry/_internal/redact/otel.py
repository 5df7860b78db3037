"""Scrubbing of the SDK's objects: finished spans, OTLP log records, the SDK's own log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, Status

from amas_telemetry._internal.compat.sdk import SDK_LOGGERS
from amas_telemetry._internal.redact.engine import REDACTED, Scanner
from amas_telemetry._internal.redact.rules import Rule
from amas_telemetry._internal.redact.scrubber import Scrubber

__all__ = ["RedactingLogRecordProcessor", "SdkLogFilter", "scrub_resource", "scrubbed_span"]


def scrubbed_span(span: ReadableSpan, scrub: Scrubber) -> ReadableSpan:
    """The span itself when nothing needs scrubbing (the common case), else a scrubbed copy.

    Name, attributes (keys and values), events (names and attributes), links' attributes and
    the status description; prompt attributes and prompt events' attributes are left out.
    """
    name = scrub.text(span.name)
    attributes = scrub.changed_attributes(span.attributes)
    events = [(e, scrub.text(e.name), scrub.event_attributes(e.name, e.attributes)) for e in span.events]
    links = [(link, scrub.changed_attributes(link.attributes)) for link in span.links]
    status = span.status
    description = scrub.text(status.description) if status.description else status.description
    if (
        name == span.name
        and attributes is None
        and description == status.description
        and all(a is None and n == e.name for e, n, a in events)
        and all(a is None for _, a in links)
    ):
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=[
            e if a is None and n == e.name else Event(n, e.attributes if a is None else a, e.timestamp)
            for e, n, a in events
        ],
        links=[link if a is None else Link(link.context, a) for link, a in links],
        kind=span.kind,
        status=status if description == status.description else Status(status.status_code, description),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def scrub_resource(resource: Resource, scrub: Scrubber) -> Resource:
    """Resource attributes are scrubbed once, when the providers are built."""
    changed = scrub.changed_attributes(resource.attributes)
    return resource if changed is None else Resource(changed, resource.schema_url)


def _attributes(values: dict[str, Any]) -> BoundedAttributes:
    return BoundedAttributes(attributes=values, immutable=False, extended_attributes=True)


class RedactingLogRecordProcessor(LogRecordProcessor):
    """First processor of the LoggerProvider: scrubs each record in place before export.

    Covers what does not pass through ``logging`` (events emitted on the OTel Logs API, such
    as the GenAI instrumentations' ``gen_ai.user.message`` and ``gen_ai.choice``): a prompt
    event loses its body and attributes; any other record has body and attributes scrubbed.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        self._scrub = scrubber

    def on_emit(self, log_record: Any) -> None:
        record = log_record.log_record
        scrub = self._scrub
        event_name = getattr(record, "event_name", None)
        if event_name and event_name in scrub.drop_events:
            record.body = None
            if record.attributes:
                record.attributes = BoundedAttributes(
                    attributes={}, immutable=False, extended_attributes=True
                )
            return
        if record.body is not None:
            record.body = scrub.structure("body", record.body)
        if record.attributes:
            # log attributes may nest (extended attributes): walk every value
            items = record.attributes.items()
            scrubbed = {scrub.text(k): scrub.structure(k, v) for k, v in items if not scrub.drops(k)}
            if scrubbed != dict(record.attributes):
                record.attributes = _attributes(scrubbed)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


# --- the SDK's own warnings -------------------------------------------------------------------



def _netloc(m: Any) -> tuple[bytes, int, int]:
    return m.data[m.start : m.bounds("netloc_pw")[0]] + REDACTED.encode(), m.bounds("netloc_pw")[1], m.end


# The gRPC exporter names its endpoint without the scheme: `user:secret@collector:4317`.
_NETLOC_CREDENTIALS: Final = Scanner(
    [Rule("netloc", r"""(?:^|[\s(\[,'"=])[^\s:/@'"]+:(?P<netloc_pw>[^\s@/'"]+)@""", _netloc, trigger="@")]
).scrub


class SdkLogFilter(logging.Filter):
    """On the SDK's own loggers: their messages are scrubbed like ours before any handler
    (also Python's last-resort handler on stderr) sees them."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrub = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = _NETLOC_CREDENTIALS(self._scrub.text(message))
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = _NETLOC_CREDENTIALS(self._scrub.text(text))
            record.exc_info = None
        return True


def install_sdk_log_filter(scrubber: Scrubber, names: Iterable[str] = SDK_LOGGERS) -> SdkLogFilter:
    sdk_filter = SdkLogFilter(scrubber)
    for name in names:
        logging.getLogger(name).addFilter(sdk_filter)
    return sdk_filter


def remove_sdk_log_filter(sdk_filter: SdkLogFilter, names: Iterable[str] = SDK_LOGGERS) -> None:
    for name in names:
        logging.getLogger(name).removeFilter(sdk_filter)
