"""Our OTLP trace request bytes equal the SDK encoder's, byte for byte, on generated spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from amas_telemetry._internal.otlp.span_encoding import encode_spans

BOUNDED = settings(max_examples=200, derandomize=True, deadline=None, database=None)

_values = (
    st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
    | st.lists(st.text(max_size=8), max_size=3)
    | st.lists(st.integers(min_value=-5, max_value=5), max_size=3)
)
_attributes = st.dictionaries(st.text(min_size=1, max_size=16), _values, max_size=6)
_REMOTE = SpanContext(0x5B8EFFF798038103D269B633813FC60C, 0xEEE19B7EC3C1B174, True, TraceFlags(1))
_LOCAL = SpanContext(0x5B8EFFF798038103D269B633813FC60C, 0x1, False, TraceFlags(0))


def _providers() -> list[tuple[TracerProvider, InMemorySpanExporter]]:
    out = []
    for limits, resource in (
        (SpanLimits(), Resource.create({"service.name": "a", "n": 1})),
        (
            SpanLimits(max_span_attributes=2, max_events=1, max_links=1, max_event_attributes=1),
            Resource.create({"service.name": "b"}, schema_url="https://opentelemetry.io/schemas/1.37.0"),
        ),
    ):
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=ALWAYS_ON, resource=resource, span_limits=limits)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        out.append((provider, exporter))
    return out


_PROVIDERS = _providers()


@st.composite
def _span_specs(draw: st.DrawFn) -> dict:
    return {
        "provider": draw(st.integers(0, 1)),
        "scope": draw(
            st.sampled_from(
                [("amas", "1.0", None), ("other", None, "https://example.com/s"), ("", None, None)]
            )
        ),
        "name": draw(st.text(max_size=40)),
        "kind": draw(st.sampled_from(list(SpanKind))),
        "parent": draw(st.sampled_from([None, _REMOTE, _LOCAL])),
        "state": draw(st.sampled_from([None, [("amas", "keep")], [("a", "1"), ("b", "2")]])),
        "attributes": draw(_attributes),
        "events": draw(st.lists(st.tuples(st.text(max_size=10), _attributes), max_size=3)),
        "links": draw(st.lists(_attributes, max_size=2)),
        "status": draw(
            st.sampled_from(
                [None, Status(StatusCode.OK), Status(StatusCode.ERROR), Status(StatusCode.ERROR, "boom: x")]
            )
        ),
        "exception": draw(st.booleans()),
    }


def _make(spec: dict) -> None:
    provider, _ = _PROVIDERS[spec["provider"]]
    name, version, schema = spec["scope"]
    tracer = provider.get_tracer(name, version, schema_url=schema)
    parent = spec["parent"]
    context = None
    if parent is not None:
        if spec["state"]:
            parent = SpanContext(
                parent.trace_id,
                parent.span_id,
                parent.is_remote,
                parent.trace_flags,
                TraceState(spec["state"]),
            )
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    links = [Link(_REMOTE, attributes) for attributes in spec["links"]]
    span = tracer.start_span(spec["name"], context, spec["kind"], spec["attributes"], links)
    for event_name, attributes in spec["events"]:
        span.add_event(event_name, attributes)
    if spec["exception"]:
        span.record_exception(ValueError("bad input"))
    if spec["status"] is not None:
        span.set_status(spec["status"])
    span.end()


@BOUNDED
@given(st.lists(_span_specs(), min_size=1, max_size=6))
def test_request_bytes_equal_the_sdk_encoders(specs: list[dict]) -> None:
    for _, exporter in _PROVIDERS:
        exporter.clear()
    for spec in specs:
        _make(spec)
    spans = [span for _, exporter in _PROVIDERS for span in exporter.get_finished_spans()]
    assert len(spans) == len(specs)
    assert encode_spans(spans) == sdk_encode_spans(spans).SerializeToString()


def test_an_unended_span_and_empty_attributes_match_too() -> None:
    provider, exporter = _PROVIDERS[0]
    span = provider.get_tracer("t").start_span("open")
    readable = span._readable_span()  # not ended: no end time
    assert encode_spans([readable]) == sdk_encode_spans([readable]).SerializeToString()
    span.end()
    exporter.clear()
