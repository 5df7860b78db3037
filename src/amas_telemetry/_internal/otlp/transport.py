"""Send one serialized OTLP export request, and say what became of it.

The SDK's OTLP exporters take SDK objects, retry inside their timeout and then only report
"failure". A spool needs the opposite: a request already serialized (read back from disk),
one attempt, and the class of the outcome, with how long the server asked to wait. These
transports do that over gRPC (the request bytes go out unchanged through a generic unary
call) and over HTTP/protobuf (one kept-alive connection per signal), with everything an
:class:`~.targets.OtlpTarget` says: TLS with a private CA, a client certificate, headers,
gzip, the timeout; and the OTLP specification's retry rules: the retryable gRPC codes
(``RESOURCE_EXHAUSTED`` only with ``RetryInfo``) and HTTP statuses, ``RetryInfo`` and
``Retry-After`` delays.
"""

from __future__ import annotations

import enum
import gzip
import http.client
import logging
import math
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit

import grpc
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.semconv._incubating.attributes.rpc_attributes import RPC_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

from amas_telemetry._internal.otlp.targets import OtlpTarget

__all__ = ["GrpcTransport", "HttpTransport", "Outcome", "SendResult", "Transport", "transport_for"]

_log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""The OTLP specification's default bound of a request: a larger one is never sent."""
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""... and of a response the client reads."""


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    """The endpoint is away or busy: keep the request and try again later."""
    REJECTED = "rejected"
    """The endpoint refused the request for good (malformed, too large, unauthorized)."""


@dataclass(frozen=True)
class SendResult:
    """One attempt: its outcome, the delay the server asked for, and how a failure is
    described in the SDK's self-metrics (``error.type`` and the status attribute)."""

    outcome: Outcome
    retry_after: float | None = None
    error_type: str | None = None
    attributes: Mapping[str, str | int] = field(default_factory=dict)


SENT = SendResult(Outcome.SENT)


class Transport(Protocol):
    def send(self, body: bytes) -> SendResult: ...

    def close(self) -> None: ...


class _Warnings:
    """Warnings of one transport, each kind at most once a minute: the records themselves are
    exported, so a warning per refused export would feed itself (and flood the log)."""

    def __init__(self, signal: str) -> None:
        self._signal = signal
        self._next: dict[str, float] = {}

    def warn(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next.get(kind, 0.0):
            return
        self._next[kind] = now + 60.0
        _log.warning("amas_telemetry: OTLP %s: " + message, self._signal, *args)


def _too_large(body: bytes, warnings: _Warnings) -> SendResult | None:
    if len(body) <= MAX_REQUEST_BYTES:
        return None
    warnings.warn("too large", "a request of %d bytes is over 64 MiB; not sent", len(body))
    return SendResult(Outcome.REJECTED, error_type="request_too_large")


def _read_pem(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as pem:
        return pem.read()


_TLS_WORDS = ("ssl", "tls", "handshake", "certificate", "(tsi_")
"""Words of gRPC's error details when the TLS layer failed (its TSI_* codes: the server refused
the handshake, e.g. for a missing client certificate)."""


# --- gRPC ------------------------------------------------------------------------------------

_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
# OTLP/gRPC: these codes mean "retry"; RESOURCE_EXHAUSTED only when the server sends RetryInfo.
_GRPC_RETRYABLE = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def retry_info_delay(error: grpc.RpcError) -> float | None:
    """The ``RetryInfo`` delay of a failed call, in seconds (None: none sent). It travels in
    the status details (``grpc-status-details-bin``, where the Collector puts it) or, as some
    servers send it, in ``google.rpc.retryinfo-bin``."""
    try:
        trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    except Exception:
        return None
    infos: list[error_details_pb2.RetryInfo] = []
    try:
        if raw := trailers.get("grpc-status-details-bin"):
            status = status_pb2.Status.FromString(raw)
            for detail in status.details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    infos.append(info)
        if raw := trailers.get("google.rpc.retryinfo-bin"):
            infos.append(error_details_pb2.RetryInfo.FromString(raw))
    except Exception:  # a malformed trailer is no reason to lose the request
        return None
    for info in infos:
        delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        if math.isfinite(delay) and delay >= 0:
            return delay
    return None


def _grpc_failure(error: grpc.RpcError, warnings: _Warnings) -> SendResult:
    code = error.code() if hasattr(error, "code") else None  # type: ignore[attr-defined]
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    details = (error.details() if hasattr(error, "details") else "") or ""  # type: ignore[attr-defined]
    delay = retry_info_delay(error)
    retryable = code in _GRPC_RETRYABLE or (code is grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None)
    error_type = name
    if code is grpc.StatusCode.UNAVAILABLE and any(w in details.lower() for w in _TLS_WORDS):
        error_type = "tls"  # the handshake failed: an untrusted certificate, a missing client one
    if error_type == "tls":
        warnings.warn("tls", "TLS with the endpoint failed; exports wait in the spool: %s", details)
    elif not retryable:
        warnings.warn(name, "the endpoint refused an export for good: %s %s", name, details)
    return SendResult(
        Outcome.RETRY if retryable else Outcome.REJECTED,
        retry_after=delay,
        error_type=error_type,
        attributes={RPC_RESPONSE_STATUS_CODE: name},
    )


class GrpcTransport:
    """One channel per signal; the reconnect backoff is capped so a returning Collector is
    used within seconds, not after gRPC's default of up to two minutes."""

    def __init__(self, target: OtlpTarget) -> None:
        options = [
            ("grpc.initial_reconnect_backoff_ms", 500),
            ("grpc.min_reconnect_backoff_ms", 500),
            ("grpc.max_reconnect_backoff_ms", 2000),
            # the specification's client bound; the response bound is gRPC's default (4 MiB)
            ("grpc.max_send_message_length", MAX_REQUEST_BYTES),
        ]
        compression = (
            grpc.Compression.Gzip if target.compression == "gzip" else grpc.Compression.NoCompression
        )
        if target.secure:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(target.certificate),
                private_key=_read_pem(target.client_key),
                certificate_chain=_read_pem(target.client_certificate),
            )
            self._channel = grpc.secure_channel(target.authority, credentials, options, compression)
        else:
            self._channel = grpc.insecure_channel(target.authority, options, compression)
        # no serializers: the request goes out as the bytes we were given
        self._call = self._channel.unary_unary(_GRPC_METHODS[target.signal])
        self._metadata = tuple(target.headers.items()) or None
        self._timeout = target.timeout
        self._warnings = _Warnings(target.signal)

    def send(self, body: bytes) -> SendResult:
        if (refused := _too_large(body, self._warnings)) is not None:
            return refused
        try:
            self._call(body, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            return _grpc_failure(error, self._warnings)
        return SENT

    def close(self) -> None:
        self._channel.close()


# --- HTTP ------------------------------------------------------------------------------------

_HTTP_RETRYABLE = frozenset({429, 502, 503, 504})
"""OTLP/HTTP: these statuses mean "retry"; every other 4xx and 5xx is permanent."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (RFC 9110: seconds, or an HTTP date) as seconds from now."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpTransport:
    """POST of ``application/x-protobuf`` to the target's URL over one kept-alive
    connection, reopened when it fails (a request on a connection the server closed while
    idle is sent again at once on a new one)."""

    def __init__(self, target: OtlpTarget) -> None:
        parts = urlsplit(target.url)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._host, self._port = target.host, target.port
        self._timeout = target.timeout
        self._gzip = target.compression == "gzip"
        self._headers = {**target.headers, "content-type": "application/x-protobuf"}
        if self._gzip:
            self._headers["content-encoding"] = "gzip"
        self._context: ssl.SSLContext | None = None
        if target.secure:
            # the given CA only (never the system's, nor REQUESTS_CA_BUNDLE's); the system's
            # trust store when no CA is given
            self._context = ssl.create_default_context(cafile=target.certificate)
            if target.client_certificate and target.client_key:
                self._context.load_cert_chain(target.client_certificate, target.client_key)
        self._conn: http.client.HTTPConnection | None = None
        self.connections_opened = 0
        self._warnings = _Warnings(target.signal)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """The kept-alive connection (and whether it was used before), opened if needed."""
        if self._conn is not None:
            return self._conn, True
        if self._context is not None:
            self._conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._context
            )
        else:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self.connections_opened += 1
        return self._conn, False

    def _post(self, body: bytes) -> tuple[int, str | None, bool]:
        """Status, Retry-After, and whether the response was within the size bound."""
        for _ in range(2):
            conn, reused = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused:
                    continue  # the server closed the idle connection: once more on a new one
                raise
            except BaseException:
                self.close()
                raise
            length = response.getheader("content-length")
            within = length is None or (length.isdigit() and int(length) <= MAX_RESPONSE_BYTES)
            if within:
                within = len(response.read(MAX_RESPONSE_BYTES + 1)) <= MAX_RESPONSE_BYTES
            if not within or response.will_close:
                self.close()
            return response.status, response.getheader("retry-after"), within
        raise ConnectionError("the connection was closed twice before an answer")

    def send(self, body: bytes) -> SendResult:
        if (refused := _too_large(body, self._warnings)) is not None:
            return refused
        payload = gzip.compress(body, compresslevel=6) if self._gzip else body
        try:
            status, retry_after, within = self._post(payload)
        except ssl.SSLError as error:  # an untrusted certificate, a refused client certificate
            self._warnings.warn("tls", "TLS with the endpoint failed; exports wait in the spool: %s", error)
            return SendResult(Outcome.RETRY, error_type="tls")
        except TimeoutError:
            return SendResult(Outcome.RETRY, error_type="timeout")
        except (OSError, http.client.HTTPException) as error:  # refused, reset, cut short, DNS
            return SendResult(Outcome.RETRY, error_type=type(error).__name__)
        attributes = {HTTP_RESPONSE_STATUS_CODE: status}
        if 200 <= status < 300:
            if not within:
                return SendResult(Outcome.REJECTED, error_type="response_too_large", attributes=attributes)
            return SENT
        if status in _HTTP_RETRYABLE:
            delay = retry_after_seconds(retry_after)
            return SendResult(Outcome.RETRY, retry_after=delay, error_type=str(status), attributes=attributes)
        self._warnings.warn(str(status), "the endpoint refused an export for good: HTTP %s", status)
        return SendResult(Outcome.REJECTED, error_type=str(status), attributes=attributes)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def transport_for(target: OtlpTarget) -> Transport:
    if target.protocol == "grpc":
        return GrpcTransport(target)
    return HttpTransport(target)
