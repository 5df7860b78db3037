"""Span → metric rules, exactness under sampling, exemplars and the cardinality limit."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

import amas_telemetry
from amas_telemetry import catalog
from amas_telemetry import semconv as sc
from amas_telemetry.testing import capture


@pytest.fixture
def cap():
    captured = capture()
    yield captured
    captured.shutdown()


def _server_span(tracer, route="/tasks/{task_id}", status=200, method="GET", legacy=False):
    method_key = sc.LEGACY_HTTP_METHOD if legacy else sc.HTTP_REQUEST_METHOD
    status_key = sc.LEGACY_HTTP_STATUS_CODE if legacy else sc.HTTP_RESPONSE_STATUS_CODE
    with tracer.start_as_current_span(
        f"{method} {route}", kind=SpanKind.SERVER, attributes={method_key: method}
    ) as span:
        span.set_attribute(sc.HTTP_ROUTE, route)
        span.set_attribute(status_key, status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))


class TestHttpRule:
    def test_duration_by_route_method_status(self, cap):
        tracer = cap.telemetry.tracer("t")
        for _ in range(3):
            _server_span(tracer)
        _server_span(tracer, status=404)
        point = cap.point(sc.HTTP_SERVER_REQUEST_DURATION, http__response__status_code=200)
        assert point.count == 3
        assert dict(point.attributes) == {
            "http.request.method": "GET",
            "http.route": "/tasks/{task_id}",
            "http.response.status_code": 200,
        }
        assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == 4

    def test_server_errors_get_error_type(self, cap):
        _server_span(cap.telemetry.tracer("t"), status=503)
        point = cap.point(sc.HTTP_SERVER_REQUEST_DURATION)
        assert point.attributes["error.type"] == "503"

    def test_legacy_attribute_names_are_read(self, cap):
        _server_span(cap.telemetry.tracer("t"), legacy=True, method="POST", status=201)
        point = cap.point(sc.HTTP_SERVER_REQUEST_DURATION)
        assert point.attributes["http.request.method"] == "POST"
        assert point.attributes["http.response.status_code"] == 201

    def test_buckets_are_the_semconv_advice(self, cap):
        _server_span(cap.telemetry.tracer("t"))
        bounds = cap.point(sc.HTTP_SERVER_REQUEST_DURATION).explicit_bounds
        assert tuple(bounds) == catalog.HTTP_DURATION_BUCKETS

    def test_active_requests_go_up_and_down(self, cap):
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span(
            "GET /", kind=SpanKind.SERVER, attributes={sc.HTTP_REQUEST_METHOD: "GET"}
        ):
            assert cap.point(sc.HTTP_SERVER_ACTIVE_REQUESTS).value == 1
        assert cap.point(sc.HTTP_SERVER_ACTIVE_REQUESTS).value == 0

    def test_client_and_internal_spans_are_not_requests(self, cap):
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span(
            "GET", kind=SpanKind.CLIENT, attributes={sc.HTTP_REQUEST_METHOD: "GET"}
        ):
            pass
        with tracer.start_as_current_span("work"):
            pass
        assert cap.points(sc.HTTP_SERVER_REQUEST_DURATION) == []


class TestDbAndCacheRules:
    def test_stable_db_attributes(self, cap):
        tracer = cap.telemetry.tracer("t")
        attrs = {
            sc.DB_SYSTEM_NAME: "postgresql",
            sc.DB_OPERATION_NAME: "SELECT",
            sc.DB_COLLECTION_NAME: "tasks",
        }
        with tracer.start_as_current_span("SELECT tasks", kind=SpanKind.CLIENT, attributes=attrs):
            pass
        assert dict(cap.point(sc.DB_CLIENT_OPERATION_DURATION).attributes) == {
            "db.system.name": "postgresql",
            "db.operation.name": "SELECT",
            "db.collection.name": "tasks",
        }

    def test_operation_and_table_parsed_from_legacy_statement(self, cap):
        tracer = cap.telemetry.tracer("t")
        attrs = {
            sc.LEGACY_DB_SYSTEM: "postgresql",
            sc.LEGACY_DB_STATEMENT: 'insert into "tasks" (id) values ($1)',
        }
        with tracer.start_as_current_span("INSERT", kind=SpanKind.CLIENT, attributes=attrs):
            pass
        point = cap.point(sc.DB_CLIENT_OPERATION_DURATION)
        assert point.attributes["db.operation.name"] == "INSERT"
        assert point.attributes["db.collection.name"] == "tasks"

    def test_failed_query_has_error_type(self, cap):
        tracer = cap.telemetry.tracer("t")
        with (
            pytest.raises(TimeoutError),
            tracer.start_as_current_span(
                "SELECT", kind=SpanKind.CLIENT, attributes={sc.DB_SYSTEM_NAME: "postgresql"}
            ),
        ):
            raise TimeoutError("slow")
        assert cap.point(sc.DB_CLIENT_OPERATION_DURATION).attributes["error.type"] == "TimeoutError"

    def test_cache_hits_misses_and_errors(self, cap):
        tracer = cap.telemetry.tracer("t")
        redis = {sc.LEGACY_DB_SYSTEM: "redis"}
        for result in ("hit", "hit", "miss"):
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=redis) as span:
                span.set_attribute(sc.AMAS_CACHE_RESULT, result)
        with tracer.start_as_current_span("SET", kind=SpanKind.CLIENT, attributes=redis) as span:
            span.set_attribute(sc.AMAS_CACHE_RESULT, "error")  # the request hook's provisional mark
            span.set_status(Status(StatusCode.ERROR))
        with tracer.start_as_current_span("RPUSH", kind=SpanKind.CLIENT, attributes=redis):
            pass  # queue traffic: no mark from the hooks, not a cache operation
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS, amas__cache__result="hit") == 2
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS, amas__cache__result="miss") == 1
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS, amas__cache__result="error") == 1
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS) == 4
        # every redis call is a database call too
        assert cap.histogram_count(sc.DB_CLIENT_OPERATION_DURATION, db__system__name="redis") == 5

    def test_postgres_is_not_a_cache(self, cap):
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span(
            "SELECT", kind=SpanKind.CLIENT, attributes={sc.DB_SYSTEM_NAME: "postgresql"}
        ):
            pass
        assert cap.points(sc.AMAS_CACHE_OPERATIONS) == []


class TestGenAiAndDomainRules:
    def test_genai_call_duration_tokens_and_cost(self, cap):
        with amas_telemetry.genai_span("openai", "gpt-4o") as span:
            amas_telemetry.record_genai_usage(span, input_tokens=120, output_tokens=30, cost_usd=0.0042)
        labels = {"gen_ai__provider__name": "openai", "gen_ai__request__model": "gpt-4o"}
        assert (
            cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_DURATION, gen_ai__operation__name="chat", **labels)
            == 1
        )
        assert cap.point(sc.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input").sum == 120
        assert cap.point(sc.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="output").sum == 30
        assert cap.counter_total(sc.AMAS_AI_COST, **labels) == pytest.approx(0.0042)
        assert tuple(
            cap.point(sc.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input").explicit_bounds
        ) == (catalog.GEN_AI_TOKEN_BUCKETS)

    def test_failed_genai_call(self, cap):
        with pytest.raises(ConnectionError), amas_telemetry.genai_span("anthropic", "claude"):
            raise ConnectionError("down")
        assert cap.point(sc.GEN_AI_CLIENT_OPERATION_DURATION).attributes["error.type"] == "ConnectionError"
        assert cap.points(sc.GEN_AI_CLIENT_TOKEN_USAGE) == []

    def test_fallbacks(self, cap):
        with amas_telemetry.genai_span("anthropic", "claude") as span:
            amas_telemetry.record_fallback(span, "openai")
        with amas_telemetry.genai_span("openai", "gpt-4o"):
            pass
        point = cap.point(sc.AMAS_AI_FALLBACKS)
        assert point.value == 1
        assert dict(point.attributes) == {
            "amas.ai.fallback_from": "openai",
            "gen_ai.provider.name": "anthropic",
        }

    def test_task_with_quality_and_failure(self, cap):
        with amas_telemetry.task_span("research", task_id="t-1") as span:
            amas_telemetry.record_quality(span, 0.8)
        with pytest.raises(RuntimeError), amas_telemetry.task_span("research"):
            raise RuntimeError("boom")
        assert cap.histogram_count(sc.AMAS_TASK_DURATION, amas__task__type="research") == 2
        failed = cap.point(sc.AMAS_TASK_DURATION, error__type="RuntimeError")
        assert failed.count == 1
        assert "amas.task.id" not in failed.attributes  # ids never become labels
        assert cap.point(sc.AMAS_TASK_QUALITY).sum == pytest.approx(0.8)

    def test_quality_must_be_a_fraction(self, cap):
        with amas_telemetry.task_span("x") as span, pytest.raises(ValueError, match=r"0\.\.1"):
            amas_telemetry.record_quality(span, 7)

    def test_agent_sums_its_genai_calls(self, cap):
        with amas_telemetry.agent_span("researcher"):
            for tokens in (100, 50):
                with amas_telemetry.genai_span("openai", "gpt-4o") as span:
                    amas_telemetry.record_genai_usage(
                        span, input_tokens=tokens, output_tokens=10, cost_usd=0.01
                    )
        assert cap.histogram_count(sc.AMAS_AGENT_DURATION, gen_ai__agent__name="researcher") == 1
        assert cap.counter_total(sc.AMAS_AGENT_TOKEN_USAGE, gen_ai__token__type="input") == 150
        assert cap.counter_total(sc.AMAS_AGENT_TOKEN_USAGE, gen_ai__token__type="output") == 20
        assert cap.counter_total(sc.AMAS_AGENT_COST, gen_ai__agent__name="researcher") == pytest.approx(0.02)

    def test_integration_and_login(self, cap):
        with amas_telemetry.integration_span("slack", "message"):
            pass
        for ok in (True, False, False):
            with amas_telemetry.login_span() as span:
                amas_telemetry.set_login_result(span, ok)
        assert cap.counter_total(sc.AMAS_INTEGRATION_TRIGGERS, amas__integration__platform="slack") == 1
        assert cap.counter_total(sc.AMAS_USER_LOGINS, amas__login__result="failure") == 2
        assert cap.counter_total(sc.AMAS_USER_LOGINS, amas__login__result="success") == 1


class TestSampling:
    def test_every_span_counted_only_sampled_ones_exported(self):
        cap = capture(sampling_ratio=0.01)
        try:
            tracer = cap.telemetry.tracer("t")
            for _ in range(400):
                _server_span(tracer)
            assert cap.histogram_count(sc.HTTP_SERVER_REQUEST_DURATION) == 400
            exported = len(cap.spans())
            assert exported < 40  # ~4 expected at 1 %
            prometheus = cap.telemetry.render_metrics().decode()
            assert "http_server_request_duration_seconds_count{" in prometheus
            line = next(
                line
                for line in prometheus.splitlines()
                if line.startswith("http_server_request_duration_seconds_count")
            )
            assert line.endswith(" 400.0")
        finally:
            cap.shutdown()

    def test_unsampled_spans_keep_their_start_attributes(self):
        cap = capture(sampling_ratio=0.0)
        try:
            with amas_telemetry.task_span("summarize"):
                pass
            assert cap.spans() == ()
            assert cap.histogram_count(sc.AMAS_TASK_DURATION, amas__task__type="summarize") == 1
        finally:
            cap.shutdown()

    def test_children_follow_the_parent_decision(self):
        cap = capture(sampling_ratio=0.5)
        try:
            tracer = cap.telemetry.tracer("t")
            for _ in range(50):
                with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
                    pass
            names = [s.name for s in cap.spans()]
            assert names.count("parent") == names.count("child")
        finally:
            cap.shutdown()


class TestExemplars:
    def test_exemplars_point_at_exported_spans_only(self):
        cap = capture(sampling_ratio=0.2)
        try:
            tracer = cap.telemetry.tracer("t")
            for _ in range(200):
                _server_span(tracer)
            exported = {s.context.trace_id for s in cap.spans() if s.kind is SpanKind.SERVER}
            exported_spans = {s.context.span_id for s in cap.spans()}
            exemplars = cap.point(sc.HTTP_SERVER_REQUEST_DURATION).exemplars
            assert exemplars, "no exemplar recorded"
            for exemplar in exemplars:
                assert exemplar.trace_id in exported
                assert exemplar.span_id in exported_spans
        finally:
            cap.shutdown()

    def test_no_exemplar_without_sampling(self):
        cap = capture(sampling_ratio=0.0)
        try:
            _server_span(cap.telemetry.tracer("t"))
            assert cap.point(sc.HTTP_SERVER_REQUEST_DURATION).exemplars == []
        finally:
            cap.shutdown()


class TestCardinality:
    def test_5000_routes_do_not_make_5000_series(self):
        cap = capture(cardinality_limit=100)
        try:
            tracer = cap.telemetry.tracer("t")
            for i in range(5000):
                _server_span(tracer, route=f"/raw/{i}")
            points = cap.points(sc.HTTP_SERVER_REQUEST_DURATION)
            assert len(points) == 101
            overflow = cap.point(sc.HTTP_SERVER_REQUEST_DURATION, otel__metric__overflow="true")
            assert overflow.count == 4900
            assert sum(p.count for p in points) == 5000  # nothing lost, only folded
        finally:
            cap.shutdown()

    def test_metric_attribute_values_are_scrubbed(self, cap):
        _server_span(cap.telemetry.tracer("t"), route="/login?password=hunter2")
        assert "hunter2" not in str(cap.point(sc.HTTP_SERVER_REQUEST_DURATION).attributes)


class TestRobustness:
    def test_a_broken_rule_never_raises_into_the_app(self, caplog):
        from opentelemetry.sdk.metrics import MeterProvider

        from amas_telemetry._internal.metrics.derivation.processor import SpanMetricsProcessor
        from amas_telemetry.catalog import InstrumentKind, MetricSpec
        from amas_telemetry.spanmetrics import MetricRule

        def explode(span, attrs):
            raise KeyError("bug")

        rule = MetricRule(
            MetricSpec("x", InstrumentKind.COUNTER, "1", "x"),
            lambda s, a: True,
            lambda s, a: 1,
            (("k", explode),),
        )
        processor = SpanMetricsProcessor(MeterProvider().get_meter("t"), [rule])
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider()
        provider.add_span_processor(processor)
        with provider.get_tracer("t").start_as_current_span("s"):
            pass
        assert "span metrics failed" in caplog.text

    def test_processor_is_a_no_op_after_shutdown(self, cap):
        tracer = cap.telemetry.tracer("t")
        processor = cap.telemetry.tracer_provider._active_span_processor._span_processors[0]
        processor.shutdown()
        _server_span(tracer)
        assert cap.points(sc.HTTP_SERVER_REQUEST_DURATION) == []
        assert processor.force_flush() is True

    def test_global_tracer_follows_the_active_configure(self):
        tracer = trace.get_tracer("module-level")
        first = capture()
        try:
            with tracer.start_as_current_span("a"):
                pass
            assert [s.name for s in first.spans()] == ["a"]
        finally:
            first.shutdown()
        second = capture()
        try:
            with tracer.start_as_current_span("b"):
                pass
            assert [s.name for s in second.spans()] == ["b"]
            assert [s.name for s in first.spans()] == ["a"]
        finally:
            second.shutdown()
