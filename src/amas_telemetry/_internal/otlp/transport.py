"""Send one serialized OTLP export request, and say whether a failure is worth retrying.

The SDK's OTLP exporters take SDK objects, retry inside their timeout and then only report
"failure". A spool needs the opposite: a request already serialized (read back from disk),
one attempt, and the class of the outcome. These transports do that over gRPC (the request
bytes go out unchanged through a generic unary call) and over HTTP/protobuf, with the
retryable codes of the OTLP specification.
"""

from __future__ import annotations

import enum
import http.client
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit

import grpc
from opentelemetry.util.re import parse_env_headers

__all__ = ["GrpcTransport", "HttpTransport", "Outcome", "Transport", "headers_from_env", "transport_for"]

_log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    """The endpoint is away or busy: keep the request and try again later."""
    REJECTED = "rejected"
    """The endpoint refused the request for good (malformed, too large, unauthorized)."""


class Transport(Protocol):
    def send(self, body: bytes) -> Outcome: ...

    def close(self) -> None: ...


_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
# OTLP/gRPC: these codes mean "retry"; every other failure is permanent.
_GRPC_RETRYABLE = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
# OTLP/HTTP: these statuses mean "retry".
_HTTP_RETRYABLE = frozenset({408, 429, 502, 503, 504})


def headers_from_env(signal: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS``, else ``OTEL_EXPORTER_OTLP_HEADERS``, as the SDK reads them."""
    env = os.environ if env is None else env
    raw = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    return parse_env_headers(raw, liberal=True) if raw else {}


class GrpcTransport:
    """One channel per signal; the reconnect backoff is capped so a returning Collector is
    used within seconds, not after gRPC's default of up to two minutes."""

    def __init__(self, endpoint: str, signal: str, timeout: float, headers: Mapping[str, str]) -> None:
        parts = urlsplit(endpoint)
        target = f"{parts.hostname}:{parts.port or 4317}"
        options = [
            ("grpc.initial_reconnect_backoff_ms", 500),
            ("grpc.min_reconnect_backoff_ms", 500),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        if parts.scheme == "https":
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        # no serializers: the request goes out as the bytes we were given
        self._call = self._channel.unary_unary(_GRPC_METHODS[signal])
        self._metadata = tuple((k.lower(), v) for k, v in headers.items())
        self._timeout = timeout

    def send(self, body: bytes) -> Outcome:
        try:
            self._call(body, timeout=self._timeout, metadata=self._metadata or None)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            if code in _GRPC_RETRYABLE:
                return Outcome.RETRY
            _log.warning("amas_telemetry: the OTLP endpoint refused an export for good: %s", code)
            return Outcome.REJECTED
        return Outcome.SENT

    def close(self) -> None:
        self._channel.close()


class HttpTransport:
    """POST of ``application/x-protobuf`` to ``<endpoint>/v1/<signal>``."""

    def __init__(self, endpoint: str, signal: str, timeout: float, headers: Mapping[str, str]) -> None:
        self._url = f"{endpoint}/v1/{signal}"
        self._headers = {**headers, "Content-Type": "application/x-protobuf"}
        self._timeout = timeout

    def send(self, body: bytes) -> Outcome:
        request = urllib.request.Request(self._url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            error.close()
            if error.code in _HTTP_RETRYABLE:
                return Outcome.RETRY
            _log.warning("amas_telemetry: the OTLP endpoint refused an export for good: HTTP %s", error.code)
            return Outcome.REJECTED
        except (OSError, ValueError, http.client.HTTPException):  # refused, reset, cut short, DNS
            return Outcome.RETRY
        return Outcome.SENT

    def close(self) -> None:
        return None


def transport_for(protocol: str, endpoint: str, signal: str, timeout: float) -> Transport:
    headers = headers_from_env(signal)
    if protocol == "grpc":
        return GrpcTransport(endpoint, signal, timeout, headers)
    return HttpTransport(endpoint, signal, timeout, headers)
