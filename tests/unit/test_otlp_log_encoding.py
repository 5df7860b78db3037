"""Our OTLP log request bytes equal the SDK encoder's, byte for byte, on generated records."""

from __future__ import annotations

import enum
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

from amas_telemetry._internal.logs.export import DeferredLogExport
from amas_telemetry._internal.otlp.log_encoding import encode_logs
from amas_telemetry._internal.otlp.wire import any_value, varint

BOUNDED = settings(max_examples=300, derandomize=True, deadline=None, database=None)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=200)
    | st.binary(max_size=40)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_attributes = st.none() | st.dictionaries(st.text(min_size=1, max_size=20), _values, max_size=6)
_RESOURCES = [
    Resource.create({"service.name": "a", "n": 3, "tags": ["x", "y"]}),
    Resource.create({"service.name": "b"}, schema_url="https://opentelemetry.io/schemas/1.37.0"),
    Resource.create({"service.name": "a", "n": 3, "tags": ["x", "y"]}),  # equal to the first
]
_SCOPES = [
    InstrumentationScope("amas", "1.2.3", attributes={"k": True}),
    InstrumentationScope("other", schema_url="https://example.com/s"),
    None,
]


@st.composite
def _records(draw: st.DrawFn) -> ReadableLogRecord:
    record = LogRecord(
        timestamp=draw(st.none() | st.integers(min_value=0, max_value=(1 << 64) - 1)),
        observed_timestamp=draw(st.none() | st.integers(min_value=0, max_value=(1 << 64) - 1)),
        context=Context(),
        severity_text=draw(st.none() | st.sampled_from(["INFO", "ERROR", ""])),
        severity_number=draw(st.none() | st.sampled_from(list(SeverityNumber))),
        body=draw(_values),
        attributes=draw(_attributes),
        event_name=draw(st.none() | st.sampled_from(["", "gen_ai.client.inference.operation.details"])),
    )
    record.trace_id = draw(st.sampled_from([0, 1, (1 << 128) - 1, 0x0AF7651916CD43DD8448EB211C80319C]))
    record.span_id = draw(st.sampled_from([0, 1, (1 << 64) - 1]))
    record.trace_flags = TraceFlags(draw(st.sampled_from([0, 1, 3])))
    return ReadableLogRecord(record, draw(st.sampled_from(_RESOURCES)), draw(st.sampled_from(_SCOPES)))


@BOUNDED
@given(st.lists(_records(), min_size=1, max_size=8))
def test_request_bytes_equal_the_sdk_encoders(batch: list[ReadableLogRecord]) -> None:
    assert encode_logs(batch) == sdk_encode_logs(batch).SerializeToString()


class _Color(enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


class _Name(str, enum.Enum):  # noqa: UP042 (str() gives '_Name.ALICE': the raw string must be sent)
    ALICE = "alice"


@pytest.mark.parametrize("value", [_Level.HIGH, _Name.ALICE, True, 0, -1, "", b"", (), {}, [None]])
def test_subclasses_and_empty_values_encode_as_the_sdk_does(value: object) -> None:
    from opentelemetry.exporter.otlp.proto.common._internal import _encode_value

    assert any_value(value) == _encode_value(value).SerializeToString()


def test_a_value_the_sdk_cannot_encode_fails_the_same_way_and_an_attribute_is_skipped(caplog):
    with pytest.raises(TypeError):
        any_value(_Color.RED)
    with pytest.raises(ValueError):
        any_value(1 << 63)
    record = LogRecord(timestamp=1, context=Context(), body="b", attributes={"ok": 1})
    readable = ReadableLogRecord(record, _RESOURCES[0], _SCOPES[0])
    record.attributes = {"ok": 1, "huge": 1 << 70}  # past the SDK's cleaning, as a buggy producer could
    with caplog.at_level(logging.ERROR):
        ours = encode_logs([readable])
    assert ours == sdk_encode_logs([readable]).SerializeToString()
    assert "huge" in caplog.text


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 16_383, 16_384, (1 << 64) - 1])
def test_varint(n: int) -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    assert varint(n) == _VarintBytes(n)


class _BytesExporter:
    """An exporter that takes request bytes, as the spooled OTLP exporter does."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bytes, int]] = []

    def export_encoded(self, body: bytes, items: int) -> object:
        self.bodies.append((body, items))
        return None

    def export(self, batch: object) -> object:  # pragma: no cover - must not be called
        raise AssertionError("the queued lines must go through export_encoded")

    def shutdown(self) -> None:
        pass


class _RecordsExporter(_BytesExporter):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[ReadableLogRecord]] = []

    export_encoded = None  # type: ignore[assignment]

    def export(self, batch: list[ReadableLogRecord]) -> object:  # type: ignore[override]
        self.batches.append(list(batch))
        return None


_fields = st.dictionaries(
    st.text(min_size=1, max_size=12),
    _values | st.builds(object) | st.tuples(st.integers(0, 9), st.text(max_size=3)),
    max_size=5,
)


@BOUNDED
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=(1 << 63)),
            st.sampled_from([SeverityNumber.INFO, SeverityNumber.ERROR, SeverityNumber.WARN]),
            st.text(max_size=60),
            _fields,
            st.sampled_from(
                [SpanContext(0xABC, 0xDEF, False, TraceFlags(1)), SpanContext(0, 0, False, TraceFlags(0))]
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_queued_lines_encode_to_what_the_sdk_records_of_them_encode_to(lines: list[tuple]) -> None:
    resource = _RESOURCES[0]
    direct, via_records = _BytesExporter(), _RecordsExporter()
    for exporter in (direct, via_records):
        export = DeferredLogExport(exporter, resource, synchronous=True)  # type: ignore[arg-type]
        for time_unix_nano, number, message, fields, span in lines:
            export.add(time_unix_nano, (number, number.name), message, fields, span)
        export.shutdown()
    expected = [sdk_encode_logs(batch).SerializeToString() for batch in via_records.batches]
    assert [body for body, _ in direct.bodies] == expected
    assert all(items == 1 for _, items in direct.bodies)
    parsed = ExportLogsServiceRequest.FromString(direct.bodies[0][0])
    assert parsed.resource_logs[0].scope_logs[0].log_records[0].body.string_value == lines[0][2]
