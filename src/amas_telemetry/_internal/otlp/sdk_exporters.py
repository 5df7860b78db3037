"""The SDK's OTLP exporter of one signal, when the spool is off (imported on demand).

It gets everything :func:`~.targets.otlp_targets` resolved, passed explicitly, so the SDK's
own reading of the environment never applies and both export paths send to the same place
the same way. One difference of the SDK's HTTP exporter is corrected: ``requests`` lets
``REQUESTS_CA_BUNDLE`` (and ``CURL_CA_BUNDLE``) replace the CA a session was given, so a
private-CA endpoint failed verification on machines that set them;
``PinnedCaSession`` (:func:`pinned_ca_session_class`) keeps the given CA.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider

from amas_telemetry._internal.otlp.targets import OtlpTarget

__all__ = ["otlp_exporter", "pinned_ca_session_class"]

_EXPORTERS = {
    ("grpc", "traces"): "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter",
    ("grpc", "metrics"): "opentelemetry.exporter.otlp.proto.grpc.metric_exporter.OTLPMetricExporter",
    ("grpc", "logs"): "opentelemetry.exporter.otlp.proto.grpc._log_exporter.OTLPLogExporter",
    ("http/protobuf", "traces"): "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter",
    ("http/protobuf", "metrics"): "opentelemetry.exporter.otlp.proto.http.metric_exporter.OTLPMetricExporter",
    ("http/protobuf", "logs"): "opentelemetry.exporter.otlp.proto.http._log_exporter.OTLPLogExporter",
}


@functools.cache
def pinned_ca_session_class() -> type | None:
    """``PinnedCaSession`` (made on first use: it needs ``requests``, which only the HTTP
    exporter imports); None without ``requests``: an exporter that sends with urllib3 (1.45.0
    without its ``requests`` extra) reads no ``REQUESTS_CA_BUNDLE``, so there is nothing to pin."""
    try:
        import requests
    except ImportError:
        return None

    class PinnedCaSession(requests.Session):
        """A session whose own CA (``session.verify``) wins over ``REQUESTS_CA_BUNDLE`` and
        ``CURL_CA_BUNDLE``; proxies and the rest still come from the environment."""

        def merge_environment_settings(
            self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> Any:
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is None and isinstance(self.verify, str):
                merged["verify"] = self.verify
            return merged

    return PinnedCaSession


def _grpc_credentials(target: OtlpTarget) -> Any:
    import grpc

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") as pem:
            return pem.read()

    return grpc.ssl_channel_credentials(
        root_certificates=read(target.certificate),
        private_key=read(target.client_key),
        certificate_chain=read(target.client_certificate),
    )


def otlp_exporter(target: OtlpTarget, meter_provider: MeterProvider | None = None) -> Any:
    """The SDK's OTLP exporter of ``target.signal``, configured from ``target`` alone."""
    module_name, _, cls = _EXPORTERS[(target.protocol, target.signal)].rpartition(".")
    exporter_class = getattr(importlib.import_module(module_name), cls)
    kwargs: dict[str, Any] = {"timeout": target.timeout, "headers": dict(target.headers)}
    if meter_provider is not None:
        kwargs["meter_provider"] = meter_provider
    if target.protocol == "grpc":
        from grpc import Compression

        kwargs["compression"] = (
            Compression.Gzip if target.compression == "gzip" else Compression.NoCompression
        )
        if target.secure:
            kwargs["credentials"] = _grpc_credentials(target)
        return exporter_class(endpoint=target.url, insecure=not target.secure, **kwargs)
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression

    kwargs["compression"] = (
        HttpCompression.Gzip if target.compression == "gzip" else HttpCompression.NoCompression
    )
    if target.secure:
        kwargs["certificate_file"] = target.certificate or True
        kwargs["client_certificate_file"] = target.client_certificate
        kwargs["client_key_file"] = target.client_key
    session_class = pinned_ca_session_class()
    if session_class is not None:
        kwargs["session"] = session_class()
    return exporter_class(endpoint=target.url, **kwargs)
