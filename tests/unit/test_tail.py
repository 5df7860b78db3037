"""The tail decision: unsampled traces that erred, were slow or match a rule are exported whole."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import httpx
import pytest
from fastapi import FastAPI, Response
from opentelemetry import trace
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

from amas_telemetry import semconv as sc
from amas_telemetry._internal.tracing.tail import KeptTraces, MarkKeptLogs, TailDecisionProcessor
from amas_telemetry.testing import capture

SLOW = 0.1
RATIO = 0.01


class EverySpan(SpanProcessor):
    """Sees every span that ends, sampled or not: the ground truth the exports are held to."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)

    def by_trace(self) -> dict[int, list[ReadableSpan]]:
        traces: dict[int, list[ReadableSpan]] = defaultdict(list)
        for span in self.spans:
            traces[span.context.trace_id].append(span)
        return traces


def _root(spans: list[ReadableSpan]) -> ReadableSpan:
    return next(s for s in spans if s.parent is None)


def _service(failing: set[int], slow: set[int]) -> FastAPI:
    app = FastAPI()
    tracer = trace.get_tracer("test.tail")

    @app.get("/work/{n}")
    async def work(n: int) -> Response:
        with tracer.start_as_current_span("load"):
            pass
        with tracer.start_as_current_span("compute"):
            if n in slow:
                await asyncio.sleep(SLOW * 1.5)
        return Response(status_code=500 if n in failing else 200)

    return app


async def test_a_thousand_requests_at_one_percent_keep_every_failing_and_slow_trace_whole():
    """The issue's case: 20 failing, 10 slow, 970 ordinary requests at sampling_ratio=0.01."""
    failing = set(range(5, 1000, 50))  # 20
    slow = set(range(30, 1000, 100))  # 10
    app = _service(failing, slow)
    cap = capture(app, sampling_ratio=RATIO, tail_keep_slower_than=SLOW)
    every = EverySpan()
    cap.telemetry.tracer_provider.add_span_processor(every)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            statuses = [(await client.get(f"/work/{n}")).status_code for n in range(1000)]
        assert statuses.count(500) == 20

        all_traces = every.by_trace()
        assert len(all_traces) == 1000
        exported: dict[int, list[ReadableSpan]] = defaultdict(list)
        for span in cap.spans():
            exported[span.context.trace_id].append(span)

        def kind(spans: list[ReadableSpan]) -> str:
            # a head-sampled trace passes through undecided, even when it also failed or was slow
            root = _root(spans)
            if root.context.trace_flags.sampled:
                return "sampled"
            if root.status.status_code is StatusCode.ERROR:
                return "failing"
            if root.end_time - root.start_time > SLOW * 1e9:
                return "slow"
            return "rest"

        def failed(spans: list[ReadableSpan]) -> bool:
            return _root(spans).status.status_code is StatusCode.ERROR

        def slow(spans: list[ReadableSpan]) -> bool:
            root = _root(spans)
            return root.end_time - root.start_time > SLOW * 1e9

        kinds = {trace_id: kind(spans) for trace_id, spans in all_traces.items()}
        assert sum(failed(spans) for spans in all_traces.values()) == 20
        assert sum(slow(spans) for spans in all_traces.values()) >= 10  # a loaded machine may add some

        # every failing and slow trace, and every head-sampled one, exported whole; no other
        assert set(exported) == {t for t, k in kinds.items() if k != "rest"}
        for trace_id, spans in exported.items():
            assert sorted(s.context.span_id for s in spans) == sorted(
                s.context.span_id for s in all_traces[trace_id]
            )
            assert {s.name for s in spans} == {"GET /work/{n}", "load", "compute"}
            assert all(s.context.trace_flags.sampled for s in spans)
            assert all(s.parent.trace_flags.sampled for s in spans if s.parent is not None)
            root = _root(spans)
            expected = {"failing": "error", "slow": "slow", "sampled": None}[kinds[trace_id]]
            assert (root.attributes or {}).get(sc.AMAS_TAIL_KEPT_BY) == expected
        # about 1 % of the ordinary ones: exactly those the head sampler took
        ordinary = [t for t, spans in all_traces.items() if not failed(spans) and not slow(spans)]
        head_sampled = [t for t, k in kinds.items() if k == "sampled"]
        assert sum(kinds[t] == "sampled" for t in ordinary) < 0.05 * len(ordinary)

        # the metrics count every request, sampled or not (one collection: exemplars are
        # reported by the collection after their measurement only)
        points = cap.points(sc.HTTP_SERVER_REQUEST_DURATION)
        assert sum(p.count for p in points) == 1000
        (errors,) = [p for p in points if p.attributes.get(sc.HTTP_RESPONSE_STATUS_CODE) == 500]
        assert errors.count == 20
        # and the errors' exemplars open traces that were exported
        assert errors.exemplars
        assert {e.trace_id for e in errors.exemplars} <= set(exported)
        assert cap.counter_total(sc.AMAS_TELEMETRY_TAIL_TRACES, amas__tail__decision="kept") == (
            len(exported) - len(head_sampled)
        )
        assert cap.counter_total(sc.AMAS_TELEMETRY_TAIL_TRACES, amas__tail__decision="dropped") == (
            1000 - len(exported)
        )
        assert cap.points(sc.AMAS_TELEMETRY_TAIL_HELD)[0].value == 0
    finally:
        cap.shutdown()


@pytest.fixture
def unsampled():
    """In-memory telemetry where no trace is head-sampled: only the tail decision exports."""
    cap = capture(sampling_ratio=0.0, tail_keep_slower_than=60)
    try:
        yield cap
    finally:
        cap.shutdown()


def test_a_child_error_keeps_the_trace_though_the_root_succeeded(unsampled):
    tracer = unsampled.telemetry.tracer("t")
    with tracer.start_as_current_span("ok"), tracer.start_as_current_span("ok child"):
        pass
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("db") as db:
            db.set_status(Status(StatusCode.ERROR, "timeout"))
        with tracer.start_as_current_span("after"):
            pass
    assert sorted(s.name for s in unsampled.spans()) == ["after", "db", "root"]


def test_error_type_alone_counts_as_an_error(unsampled):
    tracer = unsampled.telemetry.tracer("t")
    with tracer.start_as_current_span("root", attributes={sc.ERROR_TYPE: "TimeoutError"}):
        pass
    assert [s.name for s in unsampled.spans()] == ["root"]


def test_an_app_rule_keeps_a_trace():
    cap = capture(sampling_ratio=0.0, tail_keep_rule=lambda span: span.attributes.get("vip") is True)
    try:
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span("plain"):
            pass
        with (
            tracer.start_as_current_span("root"),
            tracer.start_as_current_span("step", attributes={"vip": True}),
        ):
            pass
        assert sorted(s.name for s in cap.spans()) == ["root", "step"]
        root = next(s for s in cap.spans() if s.name == "root")
        assert root.attributes[sc.AMAS_TAIL_KEPT_BY] == "rule"
    finally:
        cap.shutdown()


def test_a_rule_that_raises_counts_as_no_and_never_reaches_the_app(caplog):
    def broken(span: ReadableSpan) -> bool:
        raise RuntimeError("bug in the rule")

    cap = capture(sampling_ratio=0.0, tail_keep_rule=broken)
    try:
        tracer = cap.telemetry.tracer("t")
        for _ in range(3):
            with tracer.start_as_current_span("root"):
                pass
        assert cap.spans() == ()
        assert sum("tail_keep_rule raised" in r.message for r in caplog.records) == 1
    finally:
        cap.shutdown()


def test_errors_are_not_kept_when_switched_off():
    cap = capture(sampling_ratio=0.0, tail_keep_errors=False)
    try:
        with cap.telemetry.tracer("t").start_as_current_span("root") as root:
            root.set_status(Status(StatusCode.ERROR))
        assert cap.spans() == ()
        assert cap.points(sc.AMAS_TELEMETRY_TAIL_HELD) == []  # no processor, no gauge
        assert cap.points(sc.AMAS_TELEMETRY_TAIL_TRACES) == []
    finally:
        cap.shutdown()


def test_head_sampled_spans_pass_through_as_they_are():
    exporter = InMemorySpanExporter()
    tail = TailDecisionProcessor(SimpleSpanProcessor(exporter))
    cap = capture(sampling_ratio=1.0)
    try:
        cap.telemetry.tracer_provider.add_span_processor(tail)
        with cap.telemetry.tracer("t").start_as_current_span("root"):
            pass
        (span,) = exporter.get_finished_spans()
        assert span is cap.spans()[0]  # not a copy
    finally:
        cap.shutdown()


def test_a_remote_parent_makes_the_server_span_the_local_root(unsampled):
    """Downstream of an unsampled caller: this service keeps its own part when it errs."""
    upstream = SpanContext(0xABC, 0x123, is_remote=True, trace_flags=TraceFlags(0))
    context = trace.set_span_in_context(trace.NonRecordingSpan(upstream))
    tracer = unsampled.telemetry.tracer("t")
    with tracer.start_as_current_span("POST /charge", context=context, kind=trace.SpanKind.SERVER) as server:
        with tracer.start_as_current_span("charge card"):
            pass
        server.set_status(Status(StatusCode.ERROR))
    spans = {s.name: s for s in unsampled.spans()}
    assert set(spans) == {"POST /charge", "charge card"}
    parent = spans["POST /charge"].parent
    assert parent.span_id == 0x123 and parent.is_remote and parent.trace_flags.sampled


def test_spans_ending_after_their_kept_root_are_exported_too(unsampled):
    tracer = unsampled.telemetry.tracer("t")
    with tracer.start_as_current_span("root") as root:
        background = tracer.start_span("background")  # outlives the request
        root.set_status(Status(StatusCode.ERROR))
    background.end()
    assert sorted(s.name for s in unsampled.spans()) == ["background", "root"]
    assert all(s.context.trace_flags.sampled for s in unsampled.spans())


def test_a_late_span_of_a_dropped_trace_is_kept_only_if_it_erred(unsampled):
    tracer = unsampled.telemetry.tracer("t")
    with tracer.start_as_current_span("root"):
        quiet = tracer.start_span("quiet")
        failing = tracer.start_span("failing")
    quiet.end()
    failing.set_status(Status(StatusCode.ERROR))
    failing.end()
    assert [s.name for s in unsampled.spans()] == ["failing"]
    assert unsampled.points(sc.AMAS_TELEMETRY_TAIL_HELD)[0].value == 0


def test_the_hold_is_bounded_per_trace():
    cap = capture(sampling_ratio=0.0, tail_max_spans_per_trace=10)
    try:
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span("root") as root:
            for _ in range(50):
                tracer.start_span("step").end()
            assert cap.points(sc.AMAS_TELEMETRY_TAIL_HELD)[0].value == 10
            root.set_status(Status(StatusCode.ERROR))
        assert cap.counter_total(sc.AMAS_TELEMETRY_TAIL_OVERFLOW, amas__tail__overflow__bound="trace") == 41
        assert len(cap.spans()) == 10  # the first ten; the root itself was past the bound
    finally:
        cap.shutdown()


def test_a_burst_of_unsampled_spans_stays_within_the_total_bound_and_overflow_is_counted():
    cap = capture(sampling_ratio=0.0, tail_max_held_spans=100, tail_max_spans_per_trace=1000)
    try:
        tracer = cap.telemetry.tracer("t")
        roots = []
        peak = 0
        for i in range(200):  # 200 requests in flight, 20 ended children each: 4000 spans
            root = tracer.start_span(f"request {i}")
            roots.append(root)
            context = trace.set_span_in_context(root)
            for j in range(20):
                step = tracer.start_span("step", context=context)
                if i == 150 and j == 0:  # this trace erred before it was evicted: exported
                    step.set_status(Status(StatusCode.ERROR))
                step.end()
            peak = max(peak, cap.points(sc.AMAS_TELEMETRY_TAIL_HELD)[0].value)
        assert peak <= 100
        overflow = cap.counter_total(sc.AMAS_TELEMETRY_TAIL_OVERFLOW, amas__tail__overflow__bound="total")
        held = cap.points(sc.AMAS_TELEMETRY_TAIL_HELD)[0].value
        assert overflow + held == 4000 - 20
        for root in roots:
            root.end()
        assert cap.points(sc.AMAS_TELEMETRY_TAIL_HELD)[0].value == 0
        # the roots of the traces dropped undecided count as overflow too; the held ones decide
        still_held = held // 20
        after = cap.counter_total(sc.AMAS_TELEMETRY_TAIL_OVERFLOW, amas__tail__overflow__bound="total")
        assert after == overflow + 200 - 1 - still_held
        assert cap.counter_total(sc.AMAS_TELEMETRY_TAIL_TRACES, amas__tail__decision="dropped") == still_held
        assert sorted({s.context.trace_id for s in cap.spans()}) == [roots[150].get_span_context().trace_id]
        assert len(cap.spans()) == 21  # its 20 steps when evicted, its root when it ended
    finally:
        cap.shutdown()


def test_shutdown_exports_held_traces_that_already_erred():
    exporter = InMemorySpanExporter()
    tail = TailDecisionProcessor(SimpleSpanProcessor(exporter))
    cap = capture(sampling_ratio=0.0)
    try:
        cap.telemetry.tracer_provider.add_span_processor(tail)
        tracer = cap.telemetry.tracer("t")
        root = tracer.start_span("never ends")
        child = tracer.start_span("failed", context=trace.set_span_in_context(root))
        child.set_status(Status(StatusCode.ERROR))
        child.end()
        assert exporter.get_finished_spans() == ()
        tail.shutdown()
        assert [s.name for s in exporter.get_finished_spans()] == ["failed"]
    finally:
        cap.shutdown()


def test_otlp_log_records_still_in_the_batch_get_the_decision():
    """Log records emitted while the trace was undecided are marked sampled at export time."""
    cap = capture(sampling_ratio=0.0)
    records = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(
            MarkKeptLogs(records, cap.telemetry.kept_traces), schedule_delay_millis=60_000
        )
    )
    logger = logging.getLogger("test.tail.logs")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logger_provider)
    logger.addHandler(handler)
    try:
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span("kept") as kept:
            logger.warning("payment failed")
            kept.set_status(Status(StatusCode.ERROR))
        with tracer.start_as_current_span("dropped"):
            logger.warning("all fine")
        logger_provider.force_flush()
        flags = {r.log_record.body: r.log_record.trace_flags.sampled for r in records.get_finished_logs()}
        assert flags == {"payment failed": True, "all fine": False}
    finally:
        logger.removeHandler(handler)
        logger_provider.shutdown()
        cap.shutdown()


def test_kept_traces_forget_the_oldest_first():
    kept = KeptTraces(capacity=3)
    for trace_id in range(1, 6):
        kept.add(trace_id)
    assert [t in kept for t in range(1, 6)] == [False, False, True, True, True]
    assert len(kept) == 3


def test_exemplars_follow_the_decision_known_at_collection_time(unsampled):
    """A collection between a child's end and its root's end: the root's exemplar resolves.

    The child's measurement is drained while its trace is undecided, so it gets no exemplar
    (its count is exact); the root's is queued after the decision and points at the kept trace.
    """
    tracer = unsampled.telemetry.tracer("t")
    server = {sc.HTTP_REQUEST_METHOD: "GET", sc.HTTP_ROUTE: "/orders", sc.HTTP_RESPONSE_STATUS_CODE: 500}
    with tracer.start_as_current_span("GET /orders", kind=trace.SpanKind.SERVER, attributes=server) as root:
        db = {sc.DB_SYSTEM_NAME: "postgresql", sc.DB_OPERATION_NAME: "SELECT"}
        with tracer.start_as_current_span("SELECT orders", kind=trace.SpanKind.CLIENT, attributes=db):
            pass
        (child_point,) = unsampled.points(sc.DB_CLIENT_OPERATION_DURATION)  # a scrape, mid-request
        root.set_status(Status(StatusCode.ERROR))
    assert child_point.count == 1 and child_point.exemplars == []
    (root_point,) = unsampled.points(sc.HTTP_SERVER_REQUEST_DURATION)
    kept = root.get_span_context().trace_id
    assert [e.trace_id for e in root_point.exemplars] == [kept]
    assert {s.context.trace_id for s in unsampled.spans()} == {kept}


def test_an_unkept_trace_leaves_no_exemplar(unsampled):
    tracer = unsampled.telemetry.tracer("t")
    server = {sc.HTTP_REQUEST_METHOD: "GET", sc.HTTP_ROUTE: "/orders", sc.HTTP_RESPONSE_STATUS_CODE: 200}
    with tracer.start_as_current_span("GET /orders", kind=trace.SpanKind.SERVER, attributes=server):
        pass
    (point,) = unsampled.points(sc.HTTP_SERVER_REQUEST_DURATION)
    assert point.count == 1 and point.exemplars == []


def test_calls_made_once_the_trace_is_bound_to_be_kept_carry_a_hint_downstream(unsampled):
    """After a span erred, outgoing context says ``amas=keep``; the trace stays unsampled here."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    tracer = unsampled.telemetry.tracer("t")
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    with tracer.start_as_current_span("POST /checkout"):
        with tracer.start_as_current_span("GET inventory", kind=trace.SpanKind.CLIENT):
            propagator.inject(before)
        with tracer.start_as_current_span("POST charge", kind=trace.SpanKind.CLIENT) as failed:
            failed.set_status(Status(StatusCode.ERROR))
        with tracer.start_as_current_span("POST charge (retry)", kind=trace.SpanKind.CLIENT):
            propagator.inject(after)
            with tracer.start_as_current_span("encode") as local_child:  # a local parent's hint
                assert not local_child.get_span_context().trace_flags.sampled  # is not honoured
    assert "tracestate" not in before
    assert after["tracestate"] == "amas=keep"
    assert int(after["traceparent"][-2:], 16) & 1 == 0  # unsampled: this service decides at its root
    assert len(unsampled.spans()) == 5


def test_a_downstream_service_samples_its_part_when_its_caller_hints_keep(unsampled):
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    tracer = unsampled.telemetry.tracer("t")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    for state, name in (("amas=keep,other=1", "POST /charge (hinted)"), ("other=1", "POST /charge")):
        headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-00", "tracestate": state}
        with (
            tracer.start_as_current_span(
                name, context=propagator.extract(headers), kind=trace.SpanKind.SERVER
            ),
            tracer.start_as_current_span("INSERT payments"),
        ):
            pass
    spans = {s.name: s for s in unsampled.spans()}
    assert set(spans) == {"POST /charge (hinted)", "INSERT payments"}
    assert all(s.context.trace_flags.sampled for s in spans.values())
    assert spans["POST /charge (hinted)"].attributes[sc.AMAS_TAIL_KEPT_BY] == "upstream"


def test_log_records_written_after_the_decision_carry_it_and_earlier_ones_cannot(unsampled):
    """A synchronous log path exports at once: only records after the root ended say sampled."""
    logger = logging.getLogger("test.tail.sync_logs")
    tracer = unsampled.telemetry.tracer("t")
    with tracer.start_as_current_span("POST /pay") as root:
        background = tracer.start_span("send receipt")  # outlives the request
        logger.warning("payment failed")
        root.set_status(Status(StatusCode.ERROR))
    with trace.use_span(background, end_on_exit=True):
        logger.warning("receipt sent")
    flags = {r.log_record.body: r.log_record.trace_flags.sampled for r in unsampled.logs()}
    assert flags == {"payment failed": False, "receipt sent": True}
    assert {s.name for s in unsampled.spans()} == {"POST /pay", "send receipt"}
