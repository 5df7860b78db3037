"""The OTel OTLP exporter of one signal over the configured protocol (imported on demand)."""

from __future__ import annotations

import importlib
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider

from amas_telemetry._internal.config.settings import Settings

__all__ = ["otlp_exporter"]

_EXPORTERS = {
    ("grpc", "traces"): "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter",
    ("grpc", "metrics"): "opentelemetry.exporter.otlp.proto.grpc.metric_exporter.OTLPMetricExporter",
    ("grpc", "logs"): "opentelemetry.exporter.otlp.proto.grpc._log_exporter.OTLPLogExporter",
    ("http/protobuf", "traces"): "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter",
    ("http/protobuf", "metrics"): "opentelemetry.exporter.otlp.proto.http.metric_exporter.OTLPMetricExporter",
    ("http/protobuf", "logs"): "opentelemetry.exporter.otlp.proto.http._log_exporter.OTLPLogExporter",
}


def otlp_exporter(settings: Settings, signal: str, meter_provider: MeterProvider | None = None) -> Any:
    """The OTLP exporter of one signal, with a 5 s timeout so a dead Collector costs little."""
    module_name, _, cls = _EXPORTERS[(settings.otlp_protocol, signal)].rpartition(".")
    exporter_class = getattr(importlib.import_module(module_name), cls)
    endpoint = settings.otlp_endpoint
    kwargs: dict[str, Any] = {"timeout": 5}
    if meter_provider is not None:
        kwargs["meter_provider"] = meter_provider
    if settings.otlp_protocol == "grpc":
        return exporter_class(endpoint=endpoint, insecure=endpoint.startswith("http://"), **kwargs)
    return exporter_class(endpoint=f"{endpoint}/v1/{signal}", **kwargs)
