"""How the OTLP exporter settings' values are read (endpoint, protocol, compression, timeouts,
headers, certificate files), raising ``Invalid`` like every parser of :mod:`.parsers`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from amas_telemetry._internal.config.parsers import HEADER_NAME, Invalid

_ENDPOINT = (
    "an http:// or https:// URL with a host (and a port from 1 to 65535), host:port (gRPC only), "
    "or None for no OTLP export"
)


def parse_endpoint(value: Any) -> str | None:
    """An OTLP endpoint, unmodified (the specification forbids changing a per-signal URL):
    a URL with an http or https scheme, or, for gRPC, ``host:port`` without a scheme
    (whether TLS is used then comes from the insecure setting)."""
    if value is None or value == "" or value is False:
        return None
    if not isinstance(value, str):
        raise Invalid(_ENDPOINT)
    url = value.strip()
    if not url.isprintable() or any(c.isspace() for c in url):
        raise Invalid(_ENDPOINT)
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
        port = parts.port  # ValueError: not a number, or out of range
    except ValueError:
        raise Invalid(_ENDPOINT) from None
    if parts.scheme not in ("http", "https", "") or not parts.hostname or port == 0:
        raise Invalid(_ENDPOINT)
    if not parts.scheme and (parts.path or parts.query or parts.fragment):
        raise Invalid(_ENDPOINT)
    return url


_PROTOCOLS = ("grpc", "http/protobuf")


def parse_protocol(value: Any) -> str:
    if value not in _PROTOCOLS:
        raise Invalid(" or ".join(_PROTOCOLS))
    return value


_COMPRESSIONS = ("gzip", "none")


def parse_compression(value: Any) -> str | None:
    """gzip, or none (also the empty string): the OTLP exporter specification's values."""
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in _COMPRESSIONS:
        raise Invalid(" or ".join(_COMPRESSIONS))
    compression = value.strip().lower()
    return None if compression == "none" else compression


MAX_OTLP_TIMEOUT = 3600.0
"""Seconds: an export that may wait longer than an hour is a mistake, not a setting."""


def parse_timeout_seconds(value: Any) -> float:
    """The timeout of one OTLP export, in seconds (a keyword)."""
    accepted = f"a number of seconds above 0 and at most {MAX_OTLP_TIMEOUT:g}"
    if isinstance(value, bool):
        raise Invalid(accepted)
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid(accepted) from None
    if not 0 < seconds <= MAX_OTLP_TIMEOUT:
        raise Invalid(accepted)
    return seconds


def parse_timeout_milliseconds(value: Any) -> float:
    """``OTEL_EXPORTER_OTLP_*TIMEOUT``: whole milliseconds, as the specification types a
    timeout (the Python SDK reads seconds there; both our export paths read milliseconds)."""
    accepted = f"a whole number of milliseconds from 1 to {int(MAX_OTLP_TIMEOUT * 1000)}"
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text.isdigit():
        raise Invalid(accepted)
    milliseconds = int(text)
    if not 1 <= milliseconds <= MAX_OTLP_TIMEOUT * 1000:
        raise Invalid(accepted)
    return milliseconds / 1000


_HEADERS = "a mapping of header names to values, or 'name1=value1,name2=value2' (values URL-encoded)"


def parse_headers(value: Any) -> dict[str, str]:
    """Headers of every OTLP request: a mapping, or the ``OTEL_EXPORTER_OTLP_HEADERS`` form
    (W3C baggage without properties: ``k1=v1,k2=v2``, values URL-decoded). Names are lower
    case (gRPC metadata requires it; HTTP does not care)."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = []
        for item in filter(None, (p.strip() for p in value.split(","))):
            name, sep, raw = item.partition("=")
            if not sep:
                raise Invalid(_HEADERS)
            pairs.append((name.strip(), unquote(raw.strip())))
    else:
        raise Invalid(_HEADERS)
    headers: dict[str, str] = {}
    for name, header_value in pairs:
        if not isinstance(name, str) or not HEADER_NAME.fullmatch(name) or not isinstance(header_value, str):
            raise Invalid(_HEADERS)
        if any(c in header_value for c in "\r\n\x00"):
            raise Invalid(_HEADERS)
        headers[name.lower()] = header_value
    return headers


def parse_pem_file(value: Any) -> str | None:
    """A readable PEM file (``~`` expanded): a CA, a client certificate or its key."""
    if value is None or value is False or value == "":
        return None
    accepted = "a readable PEM file (a path), or None"
    if not isinstance(value, str | os.PathLike):
        raise Invalid(accepted)
    path = os.path.expanduser(os.fspath(value).strip())
    try:
        with open(path, "rb") as pem:
            head = pem.read(64 * 1024)
    except OSError:
        raise Invalid(accepted) from None
    if b"-----BEGIN " not in head:
        raise Invalid(accepted)
    return path
