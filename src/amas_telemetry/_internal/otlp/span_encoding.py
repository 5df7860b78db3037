"""An OTLP ``ExportTraceServiceRequest`` as bytes, without the SDK's message objects.

:func:`encode_spans` returns what
``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans(spans).SerializeToString()``
returns, byte for byte (tested on generated spans), in a fraction of the time; see
:mod:`amas_telemetry._internal.otlp.wire`. Field numbers: ``opentelemetry/proto/trace/v1/trace.proto``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from amas_telemetry._internal.compat.sdk import plain_attributes
from amas_telemetry._internal.otlp.wire import (
    export_request,
    fixed32,
    fixed64,
    key_values,
    length_delimited,
    varint,
)

__all__ = ["encode_spans"]

_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
"""``SpanFlags``: the context's is-remote bit is known, and set."""
_FLAGS_TAG = b"\x85\x01"  # Span.flags = 16, fixed32


def _span_flags(parent: Any) -> int:
    return _HAS_IS_REMOTE | _IS_REMOTE if parent and parent.is_remote else _HAS_IS_REMOTE


def _events(events: Sequence[Any]) -> bytes:
    out = b""
    for event in events:
        # Event: time_unix_nano = 1, name = 2, attributes = 3, dropped_attributes_count = 4
        body = fixed64(b"\x09", event.timestamp) if event.timestamp else b""
        if event.name:
            body += length_delimited(b"\x12", event.name.encode())
        body += key_values(b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + varint(event.dropped_attributes)
        out += length_delimited(b"\x5a", body)  # Span.events = 11
    return out


def _links(links: Sequence[Any]) -> bytes:
    out = b""
    for link in links:
        # Link: trace_id = 1, span_id = 2, attributes = 4, dropped_attributes_count = 5, flags = 6
        context = link.context
        body = length_delimited(b"\x0a", context.trace_id.to_bytes(16, "big"))
        body += length_delimited(b"\x12", context.span_id.to_bytes(8, "big"))
        body += key_values(b"\x22", link.attributes)
        if link.dropped_attributes:
            body += b"\x28" + varint(link.dropped_attributes)
        body += fixed32(b"\x35", _span_flags(context))
        out += length_delimited(b"\x6a", body)  # Span.links = 13
    return out


def _span(span: ReadableSpan) -> bytes:
    """The payload of a ``Span`` message, fields in number order (as upb writes them)."""
    context = span.get_span_context()
    out = length_delimited(b"\x0a", context.trace_id.to_bytes(16, "big"))  # trace_id = 1
    out += length_delimited(b"\x12", context.span_id.to_bytes(8, "big"))  # span_id = 2
    state = context.trace_state
    if state:
        text = ",".join([f"{key}={value}" for key, value in state.items()])
        out += length_delimited(b"\x1a", text.encode())  # trace_state = 3
    parent = span.parent
    if parent:
        out += length_delimited(b"\x22", parent.span_id.to_bytes(8, "big"))  # parent_span_id = 4
    if span.name:
        out += length_delimited(b"\x2a", span.name.encode())  # name = 5
    out += b"\x30" + varint(span.kind.value + 1)  # kind = 6 (the proto enum counts from 1)
    if span.start_time:
        out += fixed64(b"\x39", span.start_time)  # start_time_unix_nano = 7
    if span.end_time:
        out += fixed64(b"\x41", span.end_time)  # end_time_unix_nano = 8
    out += key_values(b"\x4a", plain_attributes(span))  # attributes = 9
    if span.dropped_attributes:
        out += b"\x50" + varint(span.dropped_attributes)  # dropped_attributes_count = 10
    if span.events:
        out += _events(span.events)
    if span.dropped_events:
        out += b"\x60" + varint(span.dropped_events)  # dropped_events_count = 12
    if span.links:
        out += _links(span.links)
    if span.dropped_links:
        out += b"\x70" + varint(span.dropped_links)  # dropped_links_count = 14
    status = span.status
    if status is not None:
        # Status: message = 2, code = 3
        body = length_delimited(b"\x12", status.description.encode()) if status.description else b""
        if status.status_code.value:
            body += b"\x18" + varint(status.status_code.value)
        out += length_delimited(b"\x7a", body)  # status = 15
    return out + fixed32(_FLAGS_TAG, _span_flags(parent))  # flags = 16


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """What the SDK's ``encode_spans(spans).SerializeToString()`` returns."""
    return export_request((s.resource, s.instrumentation_scope or None, _span(s)) for s in spans)
