"""The SDK internals amas_telemetry uses (compat/sdk.py) do what we rely on.

test_compat.py shows that each fails loudly at configure() when an upgrade takes it away.
"""

from __future__ import annotations

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from amas_telemetry._internal.compat import sdk as sdk_internals


def test_the_hooks_run_around_every_collection_of_every_reader():
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    provider = MeterProvider(metric_readers=readers)
    events: list[object] = []
    provider.get_meter("t").create_observable_gauge(
        "g", [lambda _: events.append("callback") or [Observation(1)]]
    )

    def add(reader, data):
        events.append(reader)
        return data

    sdk_internals.run_around_collection(provider, lambda: events.append("before"), add)
    for reader in readers:
        assert reader.get_metrics_data().resource_metrics
    assert events == ["before", "callback", readers[0], "before", "callback", readers[1]]


def test_readers_resource_and_temporality_of_a_provider():
    from opentelemetry.sdk.metrics import Counter, Histogram
    from opentelemetry.sdk.metrics.export import AggregationTemporality
    from opentelemetry.sdk.resources import Resource

    from amas_telemetry.catalog import InstrumentKind

    delta = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    cumulative = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.CUMULATIVE})
    resource = Resource({"service.name": "r"})
    provider = MeterProvider(metric_readers=[delta, cumulative], resource=resource)
    assert sdk_internals.metric_readers(provider) == [delta, cumulative]
    assert sdk_internals.provider_resource(provider) is resource
    temporality = sdk_internals.reader_temporality
    assert temporality(delta, InstrumentKind.HISTOGRAM) is AggregationTemporality.DELTA
    assert temporality(delta, InstrumentKind.COUNTER) is AggregationTemporality.CUMULATIVE
    assert temporality(cumulative, InstrumentKind.HISTOGRAM) is AggregationTemporality.CUMULATIVE


def test_plain_attributes_is_the_span_attribute_dict():
    with TracerProvider().get_tracer("t").start_as_current_span("s", attributes={"a": 1}) as span:
        attrs = sdk_internals.plain_attributes(span)
        assert type(attrs) is dict and attrs == {"a": 1}


def test_renew_resource_merges_into_every_kind_of_provider():
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from amas_telemetry._internal.compat.sdk import renew_resource

    tracer_provider, meter_provider, logger_provider = TracerProvider(), MeterProvider(), LoggerProvider()
    for provider in (tracer_provider, meter_provider, logger_provider):
        renew_resource(provider, Resource({"service.instance.id": "fresh"}))
    assert tracer_provider.resource.attributes["service.instance.id"] == "fresh"
    assert logger_provider.resource.attributes["service.instance.id"] == "fresh"
    assert meter_provider._sdk_config.resource.attributes["service.instance.id"] == "fresh"
