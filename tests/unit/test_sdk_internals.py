"""The SDK internals amas_telemetry uses (sdk_internals.py): fail loudly on an SDK upgrade."""

from __future__ import annotations

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from amas_telemetry import sdk_internals


def test_the_installed_sdk_is_the_version_the_internals_were_checked_against():
    assert sdk_internals.sdk_version == sdk_internals.CHECKED_SDK_VERSION, (
        "OpenTelemetry SDK upgraded: re-read the internals sdk_internals.py uses "
        "(Measurement, _measurement_consumer, MeterProvider._measurement_consumer, "
        "MetricReader._set_collect_callback, BoundedAttributes._dict), then bump CHECKED_SDK_VERSION"
    )


def test_recorder_keeps_the_given_time_and_context():
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    record = sdk_internals.recorder(meter.create_counter("c"))
    record(2.0, 1234, None, {"k": "v"})
    (point,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert point.value == 2.0 and dict(point.attributes) == {"k": "v"}


def test_the_hook_runs_first_in_every_collection_of_every_reader():
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    provider = MeterProvider(metric_readers=readers)
    events: list[str] = []
    provider.get_meter("t").create_observable_gauge(
        "g", [lambda _: events.append("callback") or [Observation(1)]]
    )
    sdk_internals.run_before_collection(provider, lambda: events.append("hook"))
    for reader in readers:
        reader.get_metrics_data()
    assert events == ["hook", "callback", "hook", "callback"]


def test_plain_attributes_is_the_span_attribute_dict():
    with TracerProvider().get_tracer("t").start_as_current_span("s", attributes={"a": 1}) as span:
        attrs = sdk_internals.plain_attributes(span)
        assert type(attrs) is dict and attrs == {"a": 1}


def test_build_measurement_is_what_the_sdk_constructor_builds():
    from opentelemetry.context import Context
    from opentelemetry.sdk.metrics._internal.measurement import Measurement

    instrument = MeterProvider().get_meter("m").create_histogram("h")
    args = (0.25, 123, instrument, Context(), {"http.route": "/a", "http.response.status_code": 200})
    fast, sdk = sdk_internals.build_measurement(*args), Measurement(*args)
    assert type(fast) is Measurement
    assert fast == sdk


def test_renew_resource_merges_into_every_kind_of_provider():
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from amas_telemetry.sdk_internals import renew_resource

    tracer_provider, meter_provider, logger_provider = TracerProvider(), MeterProvider(), LoggerProvider()
    for provider in (tracer_provider, meter_provider, logger_provider):
        renew_resource(provider, Resource({"service.instance.id": "fresh"}))
    assert tracer_provider.resource.attributes["service.instance.id"] == "fresh"
    assert logger_provider.resource.attributes["service.instance.id"] == "fresh"
    assert meter_provider._sdk_config.resource.attributes["service.instance.id"] == "fresh"
