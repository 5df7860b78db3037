"""Where and how each signal's OTLP exports go, as the OTLP exporter specification resolves it.

The settings (:mod:`..config.settings`) hold each option once, with the specification's
per-signal variables as overrides; :func:`otlp_targets` turns them into one
:class:`OtlpTarget` per exported signal, the single answer both export paths use (our
spooled transport and, with the spool off, the SDK's exporters), so they cannot disagree.

Precedence, per signal and option: the ``configure()`` keyword > the signal's variable
(``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE``) > the generic variables (``AMAS_OTLP_*``, then
``OTEL_EXPORTER_OTLP_*``) > the default. URLs (OTLP/HTTP): a per-signal endpoint is used as
given (``/`` when it has no path); the generic one is a base to which ``v1/<signal>`` is
appended. gRPC: ``https://`` means TLS and ``http://`` plaintext whatever ``insecure`` says;
a ``host:port`` without a scheme uses TLS unless ``insecure`` is true.

:func:`otlp_variables` is the table of every variable read here; docs/otlp.md's conformance
table is checked against it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from amas_telemetry._internal.config.setting import SIGNALS, shown
from amas_telemetry._internal.config.settings import SETTINGS, Settings
from amas_telemetry._internal.errors import ConfigError

__all__ = ["OtlpTarget", "OtlpVariable", "otlp_targets", "otlp_variables"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OtlpTarget:
    """How one signal is exported: resolved, validated, identical for both export paths."""

    signal: str
    protocol: str
    url: str
    """OTLP/HTTP: the URL requests are posted to. gRPC: ``scheme://host[:port]``."""
    secure: bool
    certificate: str | None
    client_certificate: str | None
    client_key: str | None
    headers: Mapping[str, str]
    compression: str | None
    timeout: float

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        if parts.port is not None:
            return parts.port
        return 443 if self.secure else 80

    @property
    def authority(self) -> str:
        """``host:port`` as written (a gRPC target, an HTTP connection's address)."""
        return urlsplit(self.url).netloc


def _where(settings: Settings, name: str, var: str | None) -> str:
    source = var or settings.sources.get(name, name)
    if source in (name, "default"):
        return name
    return f"{source} (for {name})"


def _target(settings: Settings, signal: str) -> OtlpTarget | None:
    endpoint, endpoint_var = settings.for_signal("otlp_endpoint", signal)
    if not endpoint:
        return None
    protocol, _ = settings.for_signal("otlp_protocol", signal)
    insecure, _ = settings.for_signal("otlp_insecure", signal)
    certificate, _ = settings.for_signal("otlp_certificate", signal)
    client_certificate, cert_var = settings.for_signal("otlp_client_certificate", signal)
    client_key, key_var = settings.for_signal("otlp_client_key", signal)
    headers, _ = settings.for_signal("otlp_headers", signal)
    compression, _ = settings.for_signal("otlp_compression", signal)
    timeout, timeout_var = settings.for_signal("otlp_timeout", signal)
    if timeout < 0.1 and (timeout_var or settings.sources.get("otlp_timeout", "")).startswith("OTEL_"):
        _log.warning(
            "amas_telemetry: %s is %g ms: the OTLP specification reads milliseconds (the Python SDK "
            "reads seconds); write %d for %g s",
            timeout_var or settings.sources["otlp_timeout"],
            timeout * 1000,
            int(timeout * 1_000_000),
            timeout * 1000,
        )

    if bool(client_certificate) != bool(client_key):
        given = _where(settings, "otlp_client_certificate" if client_certificate else "otlp_client_key",
                       cert_var if client_certificate else key_var)  # fmt: skip
        missing = "otlp_client_key" if client_certificate else "otlp_client_certificate"
        raise ConfigError(
            f"Invalid {given} for {signal}: mutual TLS needs a client certificate and its key, "
            f"but {missing} (or its OTEL_EXPORTER_OTLP_* variable) is not set"
        )
    has_scheme = "://" in endpoint
    if protocol == "http/protobuf":
        if not has_scheme:
            raise ConfigError(
                f"Invalid {_where(settings, 'otlp_endpoint', endpoint_var)}: expected an http:// or "
                f"https:// URL for protocol http/protobuf, got {shown(endpoint)}"
            )
        if endpoint_var is not None:  # a per-signal endpoint is used as given
            url = endpoint if urlsplit(endpoint).path else f"{endpoint}/"
        else:
            url = f"{endpoint if endpoint.endswith('/') else endpoint + '/'}v1/{signal}"
        secure = url.startswith("https://")
    else:
        if has_scheme:
            secure = endpoint.startswith("https://")
            url = f"{'https' if secure else 'http'}://{urlsplit(endpoint).netloc}"
        else:
            secure = not insecure
            url = f"{'https' if secure else 'http'}://{endpoint}"
    return OtlpTarget(
        signal=signal,
        protocol=protocol,
        url=url,
        secure=secure,
        certificate=certificate if secure else None,
        client_certificate=client_certificate if secure else None,
        client_key=client_key if secure else None,
        headers=dict(headers),
        compression=compression,
        timeout=timeout,
    )


def otlp_targets(settings: Settings) -> dict[str, OtlpTarget]:
    """The target of every signal that has an endpoint (the others are not exported)."""
    targets = {signal: _target(settings, signal) for signal in SIGNALS}
    return {signal: target for signal, target in targets.items() if target is not None}


class OtlpVariable(NamedTuple):
    """One environment variable of the OTLP exporter: what it sets, for which signals."""

    variable: str
    setting: str
    signal: str | None
    """None: every signal (a generic variable)."""
    default: object


def otlp_variables() -> list[OtlpVariable]:
    """Every ``OTEL_EXPORTER_OTLP_*`` variable honoured, generic first, from the settings table."""
    rows: list[OtlpVariable] = []
    for setting in SETTINGS:
        if not setting.signal_env_vars:
            continue
        rows.extend(
            OtlpVariable(var, setting.name, None, setting.default)
            for var in setting.env_vars
            if var.startswith("OTEL_EXPORTER_OTLP_")
        )
        for signal, names in setting.signal_env_vars.items():
            rows.extend(OtlpVariable(var, setting.name, signal, setting.default) for var in names)
    return rows
