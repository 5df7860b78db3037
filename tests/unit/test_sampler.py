"""RecordEverythingSampler decides as ParentBased(TraceIdRatioBased) does, with RECORD_ONLY for
its "no" and the tail decision's keep hint on top."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from amas_telemetry import semconv as sc
from amas_telemetry._internal.tracing.provider import RecordEverythingSampler, _with_keep_hint
from amas_telemetry._internal.tracing.tail import KEEP_HINT_KEY, KEEP_HINT_VALUE

BOUNDED = settings(max_examples=400, derandomize=True, deadline=None, database=None)


def _reference(ratio: float, will_keep, parent_context, trace_id: int, attributes) -> SamplingResult:
    """The decision spelled through the SDK's own samplers (what the sampler must equal)."""
    sdk = ParentBased(TraceIdRatioBased(ratio))
    result = sdk.should_sample(parent_context, trace_id, "s", None, attributes)
    if result.decision is not Decision.DROP:
        return result
    parent = trace.get_current_span(parent_context).get_span_context()
    state = parent.trace_state if parent.is_valid else None
    if state is not None and parent.is_remote and state.get(KEEP_HINT_KEY) == KEEP_HINT_VALUE:
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE, {**(attributes or {}), sc.AMAS_TAIL_KEPT_BY: "upstream"}, state
        )
    if will_keep is not None and will_keep(trace_id):
        return SamplingResult(Decision.RECORD_ONLY, attributes, _with_keep_hint(state))
    return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)


_states = st.sampled_from(
    [
        TraceState(),
        TraceState([("vendor", "x")]),
        TraceState([(KEEP_HINT_KEY, KEEP_HINT_VALUE)]),
        TraceState([(KEEP_HINT_KEY, "other"), ("vendor", "y")]),
    ]
)


@st.composite
def _parents(draw: st.DrawFn):
    kind = draw(st.sampled_from(["none", "invalid", "local", "remote"]))
    if kind == "none":
        return None
    if kind == "invalid":
        return trace.set_span_in_context(trace.INVALID_SPAN)
    context = SpanContext(
        trace_id=draw(st.integers(1, (1 << 128) - 1)),
        span_id=draw(st.integers(1, (1 << 64) - 1)),
        is_remote=kind == "remote",
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        trace_state=draw(_states),
    )
    return trace.set_span_in_context(NonRecordingSpan(context))


@BOUNDED
@given(
    st.sampled_from([0.0, 0.01, 0.5, 1.0]),
    st.sampled_from([None, "yes", "no"]),
    _parents(),
    st.integers(1, (1 << 128) - 1),
    st.none() | st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
)
def test_the_decision_equals_the_sdk_samplers_composed(ratio, keep, parent_context, trace_id, attributes):
    will_keep = None if keep is None else (lambda _: keep == "yes")
    sampler = RecordEverythingSampler(ratio, will_keep)
    ours = sampler.should_sample(parent_context, trace_id, "s", None, attributes)
    expected = _reference(ratio, will_keep, parent_context, trace_id, attributes)
    assert ours.decision is expected.decision
    assert dict(ours.attributes or {}) == dict(expected.attributes or {})
    assert ours.trace_state == expected.trace_state
