"""JSON log lines on stdout and OTLP log records, each with the trace and span of the caller."""

from __future__ import annotations

import json
import logging

from amas_telemetry._internal.logs.handler import JsonFormatter
from amas_telemetry.testing import capture


def test_json_line_fields_outside_a_span():
    cap = capture(json_logs=True, service_name="svc")
    try:
        logging.getLogger("amas.x").info("queued %d tasks", 3, extra={"queue": "high"})
        (line,) = cap.json_lines()
        assert line["message"] == "queued 3 tasks"
        assert line["level"] == "INFO"
        assert line["logger"] == "amas.x"
        assert line["service.name"] == "svc"
        assert line["queue"] == "high"
        assert line["trace_id"] is None and line["span_id"] is None
        assert line["timestamp"].endswith("+00:00")
    finally:
        cap.shutdown()


def test_logs_inside_a_span_carry_its_ids():
    cap = capture(json_logs=True, sampling_ratio=1.0)
    try:
        with cap.telemetry.tracer("t").start_as_current_span("work") as span:
            logging.getLogger(__name__).info("inside")
        (line,) = cap.json_lines()
        context = span.get_span_context()
        assert line["trace_id"] == format(context.trace_id, "032x")
        assert line["span_id"] == format(context.span_id, "016x")
        assert line["trace_sampled"] is True
        (record,) = cap.logs()
        assert record.log_record.trace_id == context.trace_id
        assert record.log_record.span_id == context.span_id
        assert record.log_record.body == "inside"
    finally:
        cap.shutdown()


def test_unsampled_trace_still_has_ids():
    cap = capture(json_logs=True, sampling_ratio=0.0)
    try:
        with cap.telemetry.tracer("t").start_as_current_span("work"):
            logging.getLogger(__name__).info("inside")
        (line,) = cap.json_lines()
        assert len(line["trace_id"]) == 32 and line["trace_sampled"] is False
    finally:
        cap.shutdown()


def test_exception_is_rendered():
    record = logging.LogRecord("l", logging.ERROR, __file__, 1, "boom", None, None)
    try:
        raise KeyError("k")
    except KeyError:
        import sys

        record.exc_info = sys.exc_info()
    payload = json.loads(JsonFormatter("s").format(record))
    assert "KeyError" in payload["exception"]


def test_log_level_is_applied_and_restored():
    root = logging.getLogger()
    before = root.level
    cap = capture(log_level="ERROR")
    assert root.level == logging.ERROR
    cap.shutdown()
    assert root.level == before


def test_no_json_handler_when_disabled():
    cap = capture(json_logs=False)
    try:
        logging.getLogger("x").warning("quiet")
        assert cap.json_lines() == []
        assert len(cap.logs()) == 1
    finally:
        cap.shutdown()


def test_json_lines_go_to_stdout_by_default(capsys):
    import amas_telemetry

    telemetry = amas_telemetry.configure(otlp_endpoint=False, system_metrics=False)
    try:
        logging.getLogger("x").warning("to stdout")
        (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert line["message"] == "to stdout"
    finally:
        telemetry.shutdown()


def test_the_sdks_own_records_stay_off_the_otlp_path():
    """Else every failed log export would log a warning that is exported in turn."""
    cap = capture(json_logs=True)
    try:
        logging.getLogger("opentelemetry.exporter.otlp").warning("Failed to export logs")
        logging.getLogger("amas_telemetry._internal.logs.export").error("exporting 3 log records failed")
        logging.getLogger("amas.app").warning("kept")
        assert [r.log_record.body for r in cap.logs()] == ["kept"]
        assert [line["message"] for line in cap.json_lines()] == [
            "Failed to export logs",
            "exporting 3 log records failed",
            "kept",
        ]
    finally:
        cap.shutdown()


def test_the_hand_laid_json_line_equals_the_dict_rendering():
    """The fast path writes the same JSON as json.dumps of the same fields would."""
    from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, TraceFlags

    formatter = JsonFormatter('svc "x"')
    record = logging.LogRecord("amas.é", logging.INFO, __file__, 1, "msg", None, None)
    record.created = 1764480000.123456
    fields = {"n": 3, "f": 1.5, "b": True, "none": None, "text": 'quote " and é', "obj": object()}
    sampled = SpanContext(0xABC, 0xDEF, False, TraceFlags(1))
    for context in (sampled, INVALID_SPAN_CONTEXT):
        fast = json.loads(formatter.render(record, "hé \n llo", context, fields))
        exact = json.loads(formatter._render_dict(record, "hé \n llo", context, fields))
        assert fast == exact
        assert fast["timestamp"] == "2025-11-30T05:20:00.123456+00:00"
    shadowing = json.loads(formatter.render(record, "m", sampled, {"level": "custom"}))
    assert shadowing["level"] == "custom"  # an extra field that shadows a fixed one wins, as before
