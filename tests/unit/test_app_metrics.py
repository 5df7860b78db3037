"""Metrics an app declares itself: gauges read by a callback, counters derived from its spans."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

import amas_telemetry
from amas_telemetry import InstrumentKind, MetricSpec
from amas_telemetry.spanmetrics import rule
from amas_telemetry.testing import capture

OPEN_CARTS = MetricSpec(
    "shop.open_carts", InstrumentKind.GAUGE, "{cart}", "Carts open now.", ("shop.channel",)
)
CHECKOUTS = MetricSpec(
    "shop.checkout.duration", InstrumentKind.HISTOGRAM, "s", "Checkouts.", buckets=(0.1, 1.0, 10.0)
)


def _checkout_rule():
    return rule(
        CHECKOUTS,
        when=lambda span, attrs: span.name == "checkout",
        value=lambda span, attrs: (span.end_time - span.start_time) / 1e9,
        attributes=(("shop.channel", lambda span, attrs: attrs.get("shop.channel")),),
    )


def test_an_app_gauge_is_read_at_collection_time_on_every_reader():
    captured = capture()
    try:
        carts = {"web": 3, "app": 5}
        captured.telemetry.observe(OPEN_CARTS, lambda: [(n, {"shop.channel": c}) for c, n in carts.items()])
        assert captured.point("shop.open_carts", shop__channel="web").value == 3
        carts["web"] = 4
        assert captured.point("shop.open_carts", shop__channel="web").value == 4
        text = captured.telemetry.render_metrics().decode()
        assert 'shop_open_carts{shop_channel="app"} 5.0' in text
    finally:
        captured.shutdown()


def test_the_app_s_rules_derive_its_own_metrics_from_every_span_sampled_or_not():
    captured = capture(sampling_ratio=0.0, span_metric_rules=[_checkout_rule()])
    try:
        tracer = captured.telemetry.tracer("shop")
        for channel in ("web", "web", "app"):
            with tracer.start_as_current_span("checkout", kind=SpanKind.INTERNAL) as span:
                span.set_attribute("shop.channel", channel)
        assert captured.spans() == ()  # nothing sampled, nothing exported ...
        assert captured.histogram_count("shop.checkout.duration", shop__channel="web") == 2  # ... all counted
        assert captured.histogram_count("shop.checkout.duration", shop__channel="app") == 1
        assert "shop_checkout_duration_seconds_bucket" in captured.telemetry.render_metrics().decode()
    finally:
        captured.shutdown()


@pytest.mark.parametrize(
    ("gauge", "error", "words"),
    [
        ("shop.open_carts", ValueError, "unknown state gauge 'shop.open_carts'"),
        (CHECKOUTS, ValueError, "is a histogram"),
        (
            MetricSpec("amas.task.queue.depth", InstrumentKind.GAUGE, "1", "mine"),
            ValueError,
            "a metric of amas_telemetry's catalog",
        ),
        (42, TypeError, "a state gauge's name or a MetricSpec"),
    ],
)
def test_a_gauge_that_cannot_be_observed_is_one_clear_error(gauge, error, words):
    with capture() as captured, pytest.raises(error, match=words):
        captured.telemetry.observe(gauge, lambda: 1)


def test_a_gauge_observed_twice_by_one_handle_is_refused():
    with capture() as captured:
        captured.telemetry.observe(OPEN_CARTS, lambda: 1)
        with pytest.raises(ValueError, match="already has a callback"):
            captured.telemetry.observe(OPEN_CARTS, lambda: 2)


def test_the_catalog_state_gauges_keep_working_by_name():
    with capture() as captured:
        captured.telemetry.observe("amas.task.queue.depth", lambda: 7)
        assert captured.point("amas.task.queue.depth").value == 7
        assert "amas.task.queue.depth" in amas_telemetry.STATE_GAUGES
