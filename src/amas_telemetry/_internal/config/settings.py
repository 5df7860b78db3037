"""Settings: keyword argument > environment (``AMAS_*``, then ``OTEL_*``) > default.

One :class:`Setting` per keyword of :func:`amas_telemetry.configure`, gathered in
:data:`SETTINGS`; the resolver, the README table and the tests all iterate over it.
Every setting is resolved and validated before anything is built, so a bad value
raises one :class:`ConfigError` and leaves nothing half-configured.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from amas_telemetry._internal.config.parsers import (
    LIBRARIES,
    ConfigError,
    Invalid,
    parse_attributes,
    parse_bool,
    parse_cardinality,
    parse_endpoint,
    parse_header_names,
    parse_held_spans,
    parse_keep_rule,
    parse_level,
    parse_libraries,
    parse_megabytes,
    parse_milliseconds,
    parse_optional_seconds,
    parse_optional_str,
    parse_path,
    parse_protocol,
    parse_ratio,
    parse_seconds,
    parse_spool_dir,
    parse_str,
    parse_url_list,
    sampling_ratio_from_env,
)
from amas_telemetry._internal.redact.scrubber import SECRETS

__all__ = ["SETTINGS", "ConfigError", "Setting", "Settings", "resolve_settings"]


@dataclass(frozen=True)
class Setting:
    """One keyword of ``configure()``: where its value may come from and how it is read."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    env_vars: tuple[str, ...] = ()
    doc: str = ""
    env_reader: Callable[[Mapping[str, str]], tuple[str, Any] | None] | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "service_name",
        "amas-service",
        parse_str,
        ("AMAS_SERVICE_NAME", "OTEL_SERVICE_NAME"),
        "service.name of every signal",
    ),
    Setting("service_version", None, parse_optional_str, ("AMAS_SERVICE_VERSION",), "service.version"),
    Setting("environment", "development", parse_str, ("AMAS_ENVIRONMENT",), "deployment.environment.name"),
    Setting(
        "sampling_ratio",
        1.0,
        parse_ratio,
        ("AMAS_SAMPLING_RATIO",),
        "parent-based trace-id ratio of exported traces; metrics count every span regardless",
        env_reader=sampling_ratio_from_env,
    ),
    Setting(
        "otlp_endpoint",
        None,
        parse_endpoint,
        ("AMAS_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        "OTLP endpoint of the Collector; None: no OTLP export at all",
    ),
    Setting(
        "otlp_protocol",
        "grpc",
        parse_protocol,
        ("AMAS_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        "grpc or http/protobuf",
    ),
    Setting(
        "export_spool_dir",
        None,
        parse_spool_dir,
        ("AMAS_EXPORT_SPOOL_DIR",),
        "where failed OTLP exports wait for the Collector; None: <tmp>/amas-telemetry-<uid>/<service_name>",
    ),
    Setting(
        "export_spool_max_mb",
        32.0,
        parse_megabytes,
        ("AMAS_EXPORT_SPOOL_MAX_MB",),
        "bound of the spool per process and signal (oldest dropped past it); 0: no spool",
    ),
    Setting(
        "resource_attributes",
        {},
        parse_attributes,
        ("OTEL_RESOURCE_ATTRIBUTES",),
        "extra resource attributes (merged over the environment's)",
    ),
    Setting("log_level", "INFO", parse_level, ("AMAS_LOG_LEVEL", "OTEL_LOG_LEVEL"), "root log level"),
    Setting("json_logs", True, parse_bool, ("AMAS_JSON_LOGS",), "one JSON object per line on stdout"),
    Setting(
        "record_prompts",
        False,
        parse_bool,
        ("AMAS_RECORD_PROMPTS",),
        "keep prompt and completion text on spans",
    ),
    Setting(
        "cardinality_limit",
        2000,
        parse_cardinality,
        ("AMAS_CARDINALITY_LIMIT",),
        "attribute sets per span-derived instrument before overflow (1 to 1000000)",
    ),
    Setting(
        "system_metrics", True, parse_bool, ("AMAS_SYSTEM_METRICS",), "psutil CPU, memory, disk, network"
    ),
    Setting(
        "metrics_path",
        "/metrics",
        parse_path,
        ("AMAS_METRICS_PATH",),
        "route serving the Prometheus exposition; None: no route",
    ),
    Setting(
        "metric_export_interval",
        10.0,
        parse_seconds,
        ("AMAS_METRIC_EXPORT_INTERVAL",),
        "seconds between OTLP metric exports (0.1 to 86400); OTEL_METRIC_EXPORT_INTERVAL is read in ms",
        env_reader=lambda env: _ms_to_seconds(env),
    ),
    Setting(
        "excluded_urls",
        ("/metrics",),
        parse_url_list,
        ("AMAS_EXCLUDED_URLS",),
        "exact request paths (a query string may follow) that are neither traced nor counted",
    ),
    Setting(
        "http_send_receive_spans",
        False,
        parse_bool,
        ("AMAS_HTTP_SEND_RECEIVE_SPANS",),
        "FastAPI's per-message 'http send/receive' child spans",
    ),
    Setting(
        "http_captured_headers",
        (),
        parse_header_names,
        ("AMAS_HTTP_CAPTURED_HEADERS",),
        "request and response headers recorded on the server span (scrubbed on export)",
    ),
    Setting(
        "tail_keep_errors",
        True,
        parse_bool,
        ("AMAS_TAIL_KEEP_ERRORS",),
        "export an unsampled local trace whole when one of its spans erred",
    ),
    Setting(
        "tail_keep_slower_than",
        None,
        parse_optional_seconds,
        ("AMAS_TAIL_KEEP_SLOWER_THAN",),
        "export an unsampled local trace whole when its root took longer (seconds); none: off",
    ),
    Setting(
        "tail_keep_rule",
        None,
        parse_keep_rule,
        ("AMAS_TAIL_KEEP_RULE",),
        "export an unsampled local trace whole when rule(span) is true for one of its spans",
    ),
    Setting(
        "tail_max_held_spans",
        10_000,
        parse_held_spans,
        ("AMAS_TAIL_MAX_HELD_SPANS",),
        "unsampled spans held in all, waiting for their root; past it the oldest trace goes",
    ),
    Setting(
        "tail_max_spans_per_trace",
        1_000,
        parse_held_spans,
        ("AMAS_TAIL_MAX_SPANS_PER_TRACE",),
        "unsampled spans held per trace; later ones are dropped",
    ),
    Setting(
        "instrumentations",
        LIBRARIES,
        parse_libraries,
        ("AMAS_INSTRUMENTATIONS",),
        "client libraries to instrument when installed",
    ),
    Setting(
        "metrics_dir",
        None,
        parse_optional_str,
        ("AMAS_METRICS_DIR",),
        "where workers of one app share their metrics (a directory per app group); none: the temp dir",
    ),
)


def _ms_to_seconds(env: Mapping[str, str]) -> tuple[str, Any] | None:
    """OTEL_METRIC_EXPORT_INTERVAL is in milliseconds, and its error says so."""
    var = "OTEL_METRIC_EXPORT_INTERVAL"
    raw = env.get(var)
    if raw is None or raw.strip() == "":
        return None
    try:
        return var, parse_milliseconds(raw)
    except Invalid as accepted:
        raise ConfigError(
            f"Invalid {var} (for metric_export_interval): expected {accepted}, got {_shown(raw)}"
        ) from None


@dataclass(frozen=True)
class Settings:
    """The resolved, validated settings of one ``configure()`` call."""

    service_name: str
    service_version: str | None
    environment: str
    sampling_ratio: float
    otlp_endpoint: str | None
    otlp_protocol: str
    export_spool_dir: str | None = None
    export_spool_max_mb: float = 32.0
    resource_attributes: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    json_logs: bool = True
    record_prompts: bool = False
    cardinality_limit: int = 2000
    system_metrics: bool = True
    metrics_path: str | None = "/metrics"
    metric_export_interval: float = 10.0
    excluded_urls: tuple[str, ...] = ("/metrics",)
    http_send_receive_spans: bool = False
    http_captured_headers: tuple[str, ...] = ()
    tail_keep_errors: bool = True
    tail_keep_slower_than: float | None = None
    tail_keep_rule: Callable[..., bool] | None = None
    tail_max_held_spans: int = 10_000
    tail_max_spans_per_trace: int = 1_000
    instrumentations: tuple[str, ...] = LIBRARIES
    metrics_dir: str | None = None


assert [s.name for s in SETTINGS] == [f.name for f in fields(Settings)], "SETTINGS and Settings disagree"


def _from_env(setting: Setting, env: Mapping[str, str]) -> tuple[str, Any] | None:
    for var in setting.env_vars:
        if var in env and env[var].strip() != "":
            return var, env[var]
    if setting.env_reader is not None:
        return setting.env_reader(env)
    return None


def _shown(value: Any) -> str:
    """The value as an error shows it: scrubbed (a bad endpoint's password stays out), cut."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return SECRETS(text[:200] + ("…" if len(text) > 200 else ""))


def _parse(setting: Setting, source: str, value: Any) -> Any:
    try:
        return setting.parse(value)
    except Invalid as accepted:
        where = setting.name if source == setting.name else f"{source} (for {setting.name})"
        raise ConfigError(f"Invalid {where}: expected {accepted}, got {_shown(value)}") from None
    except Exception as error:  # a value whose own methods fail (__str__, __iter__, …)
        where = setting.name if source == setting.name else f"{source} (for {setting.name})"
        raise ConfigError(f"Invalid {where}: {type(error).__name__} while reading {_shown(value)}") from None


def resolve_settings(kwargs: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting; ``None`` in ``kwargs`` means "look it up"."""
    env = os.environ if env is None else env
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(f"Unknown setting {unknown[0]!r}: expected one of {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        given = kwargs.get(setting.name)
        if given is not None and setting.name != "resource_attributes":
            values[setting.name] = _parse(setting, setting.name, given)
            continue
        from_env = _from_env(setting, env)
        value = _parse(setting, *from_env) if from_env is not None else setting.default
        if setting.name == "resource_attributes" and given is not None:
            value = {**value, **_parse(setting, setting.name, given)}
        values[setting.name] = value
    return Settings(**values)
