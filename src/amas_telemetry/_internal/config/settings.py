"""The settings table: keyword argument > environment (``AMAS_*``, then ``OTEL_*``) > default.

Each setting is written once: a field of :class:`Settings`, whose type is what a caller
may pass, whose default is the default, and whose metadata (:func:`~.setting.setting`)
names the environment variables, the parser and the documentation line. ``configure()``
takes the fields as its keywords and :mod:`.resolve` resolves them; the generated settings
reference iterates over :data:`SETTINGS`, derived from the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from amas_telemetry._internal.config.otlp_parsers import (
    parse_compression,
    parse_endpoint,
    parse_headers,
    parse_pem_file,
    parse_protocol,
    parse_timeout_milliseconds,
    parse_timeout_seconds,
)
from amas_telemetry._internal.config.parsers import (
    LIBRARIES,
    ConfigError,
    Invalid,
    parse_attributes,
    parse_bool,
    parse_cardinality,
    parse_header_names,
    parse_held_spans,
    parse_host,
    parse_keep_rule,
    parse_level,
    parse_libraries,
    parse_megabytes,
    parse_milliseconds,
    parse_optional_seconds,
    parse_optional_str,
    parse_path,
    parse_port,
    parse_ratio,
    parse_rules,
    parse_seconds,
    parse_spool_dir,
    parse_str,
    parse_url_list,
    sampling_ratio_from_env,
)
from amas_telemetry._internal.config.setting import (
    META,
    Setting,
    SignalOverride,
    per_signal,
    setting,
    setting_of,
    shown,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from amas_telemetry._internal.metrics.derivation.rules import MetricRule

__all__ = ["SETTINGS", "Settings", "setting_fields"]


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
            f"Invalid {var} (for metric_export_interval): expected {accepted}, got {shown(raw)}"
        ) from None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The settings of one ``configure()`` call, resolved and validated.

    A field's type is what a caller may pass; once resolved, lists are tuples, ``False``
    (off) is ``None`` and a keep rule named by a string is the function it names.
    """

    service_name: str = setting(
        "amas-service",
        parse_str,
        "AMAS_SERVICE_NAME",
        "OTEL_SERVICE_NAME",
        doc="service.name of every signal",
    )
    service_version: str | None = setting(
        None, parse_optional_str, "AMAS_SERVICE_VERSION", doc="service.version"
    )
    environment: str = setting(
        "development", parse_str, "AMAS_ENVIRONMENT", doc="deployment.environment.name"
    )
    sampling_ratio: float = setting(
        1.0,
        parse_ratio,
        "AMAS_SAMPLING_RATIO",
        doc="parent-based trace-id ratio of exported traces; metrics count every span regardless "
        "(also OTEL_TRACES_SAMPLER + OTEL_TRACES_SAMPLER_ARG)",
        env_reader=sampling_ratio_from_env,
    )
    otlp_endpoint: str | Literal[False] | None = setting(
        None,
        parse_endpoint,
        "AMAS_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        doc="OTLP endpoint of the Collector; None: no OTLP export at all (False: off whatever the "
        "environment says); over HTTP /v1/<signal> is appended",
        signal_env_vars=per_signal("ENDPOINT"),
    )
    otlp_protocol: str = setting(
        "grpc",
        parse_protocol,
        "AMAS_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        doc="grpc or http/protobuf",
        signal_env_vars=per_signal("PROTOCOL"),
    )
    otlp_headers: Mapping[str, str] | str = setting(
        {},
        parse_headers,
        "OTEL_EXPORTER_OTLP_HEADERS",
        doc="headers of every OTLP request, e.g. {'authorization': 'Bearer <token>'}, merged over the "
        "environment's ('authorization=Bearer%20<token>')",
        signal_env_vars=per_signal("HEADERS"),
    )
    otlp_certificate: str | None = setting(
        None,
        parse_pem_file,
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        doc="PEM file of the CA(s) that verify the Collector's certificate; None: the system's",
        signal_env_vars=per_signal("CERTIFICATE"),
    )
    otlp_client_certificate: str | None = setting(
        None,
        parse_pem_file,
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        doc="PEM file of this app's client certificate (mutual TLS; with otlp_client_key)",
        signal_env_vars=per_signal("CLIENT_CERTIFICATE"),
    )
    otlp_client_key: str | None = setting(
        None,
        parse_pem_file,
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        doc="PEM file of the client certificate's private key (mutual TLS)",
        signal_env_vars=per_signal("CLIENT_KEY"),
    )
    otlp_compression: str | None = setting(
        None,
        parse_compression,
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        doc="gzip or none",
        signal_env_vars=per_signal("COMPRESSION"),
    )
    otlp_timeout: float = setting(
        10.0,
        parse_timeout_seconds,
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        doc="seconds one OTLP export may take (the environment's variables are in milliseconds)",
        env_parse=parse_timeout_milliseconds,
        signal_env_vars=per_signal("TIMEOUT"),
    )
    otlp_insecure: bool = setting(
        False,
        parse_bool,
        "OTEL_EXPORTER_OTLP_INSECURE",
        doc="plaintext gRPC to an endpoint given without a scheme (http:// and https:// decide themselves)",
        signal_env_vars=per_signal(
            "INSECURE",
            traces="OTEL_EXPORTER_OTLP_SPAN_INSECURE",
            metrics="OTEL_EXPORTER_OTLP_METRIC_INSECURE",
        ),
    )
    export_spool_dir: str | None = setting(
        None,
        parse_spool_dir,
        "AMAS_EXPORT_SPOOL_DIR",
        doc="where failed OTLP exports wait for the Collector; "
        "None: <tmp>/amas-telemetry-<uid>/<service_name>",
    )
    export_spool_max_mb: float = setting(
        32.0,
        parse_megabytes,
        "AMAS_EXPORT_SPOOL_MAX_MB",
        doc="bound of the spool per process and signal (oldest dropped past it); 0: no spool",
    )
    resource_attributes: Mapping[str, str] = setting(
        {},
        parse_attributes,
        "OTEL_RESOURCE_ATTRIBUTES",
        doc="extra resource attributes (merged over the environment's)",
    )
    log_level: str = setting("INFO", parse_level, "AMAS_LOG_LEVEL", "OTEL_LOG_LEVEL", doc="root log level")
    json_logs: bool = setting(True, parse_bool, "AMAS_JSON_LOGS", doc="one JSON object per line on stdout")
    record_prompts: bool = setting(
        False, parse_bool, "AMAS_RECORD_PROMPTS", doc="keep prompt and completion text on spans"
    )
    cardinality_limit: int = setting(
        2000,
        parse_cardinality,
        "AMAS_CARDINALITY_LIMIT",
        doc="attribute sets per span-derived instrument before overflow (1 to 1000000)",
    )
    system_metrics: bool = setting(
        True, parse_bool, "AMAS_SYSTEM_METRICS", doc="psutil CPU, memory, disk, network"
    )
    metrics_path: str | None = setting(
        "/metrics",
        parse_path,
        "AMAS_METRICS_PATH",
        doc="route serving the Prometheus exposition; None: no route",
    )
    metrics_port: int | None = setting(
        None,
        parse_port,
        "AMAS_METRICS_PORT",
        "OTEL_EXPORTER_PROMETHEUS_PORT",
        doc="serve metrics_path on a port of its own (every worker of the app binds it), and not on the "
        "app's port; None: on the app's port",
    )
    metrics_host: str = setting(
        "127.0.0.1",
        parse_host,
        "AMAS_METRICS_HOST",
        "OTEL_EXPORTER_PROMETHEUS_HOST",
        doc="address the metrics port binds (with metrics_port); 127.0.0.1 keeps it off the network",
    )
    metric_export_interval: float = setting(
        10.0,
        parse_seconds,
        "AMAS_METRIC_EXPORT_INTERVAL",
        doc="seconds between OTLP metric exports (0.1 to 86400); OTEL_METRIC_EXPORT_INTERVAL is read in ms",
        env_reader=_ms_to_seconds,
    )
    excluded_urls: Iterable[str] = setting(
        ("/metrics",),
        parse_url_list,
        "AMAS_EXCLUDED_URLS",
        doc="exact request paths (a query string may follow) that are neither traced nor counted",
    )
    http_send_receive_spans: bool = setting(
        False,
        parse_bool,
        "AMAS_HTTP_SEND_RECEIVE_SPANS",
        doc="FastAPI's per-message 'http send/receive' child spans",
    )
    http_captured_headers: Iterable[str] = setting(
        (),
        parse_header_names,
        "AMAS_HTTP_CAPTURED_HEADERS",
        doc="request and response headers recorded on the server span (scrubbed on export)",
    )
    tail_keep_errors: bool = setting(
        True,
        parse_bool,
        "AMAS_TAIL_KEEP_ERRORS",
        doc="export an unsampled local trace whole when one of its spans erred",
    )
    tail_keep_slower_than: float | Literal[False] | None = setting(
        None,
        parse_optional_seconds,
        "AMAS_TAIL_KEEP_SLOWER_THAN",
        doc="export an unsampled local trace whole when its root took longer (seconds); none: off",
    )
    tail_keep_rule: Callable[[ReadableSpan], bool] | str | None = setting(
        None,
        parse_keep_rule,
        "AMAS_TAIL_KEEP_RULE",
        doc="export an unsampled local trace whole when rule(span) is true for one of its spans "
        "(the environment names it 'package.module:function')",
    )
    tail_max_held_spans: int = setting(
        10_000,
        parse_held_spans,
        "AMAS_TAIL_MAX_HELD_SPANS",
        doc="unsampled spans held in all, waiting for their root; past it the oldest trace goes",
    )
    tail_max_spans_per_trace: int = setting(
        1_000,
        parse_held_spans,
        "AMAS_TAIL_MAX_SPANS_PER_TRACE",
        doc="unsampled spans held per trace; later ones are dropped",
    )
    instrumentations: Iterable[str] = setting(
        LIBRARIES,
        parse_libraries,
        "AMAS_INSTRUMENTATIONS",
        doc="client libraries to instrument when installed",
    )
    span_metric_rules: Iterable[MetricRule] = setting(
        (),
        parse_rules,
        doc="the app's own span-derived metrics: rules (amas_telemetry.spanmetrics.rule) added to "
        "the default table; code only",
    )
    metrics_dir: str | None = setting(
        None,
        parse_optional_str,
        "AMAS_METRICS_DIR",
        doc="where workers of one app share their metrics (a directory per app group); none: the temp dir",
    )

    sources: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Not a setting: where each value came from (the keyword, a variable, or "default")."""
    signal_overrides: Mapping[str, Mapping[str, SignalOverride]] = field(default_factory=dict, repr=False)
    """Not a setting: per OTLP setting, the signals whose own variable overrides the value above
    (filled by :func:`resolve_settings`; a keyword is never overridden)."""

    def for_signal(self, name: str, signal: str) -> tuple[Any, str | None]:
        """The value of an OTLP setting for ``signal``, and the per-signal variable it came
        from (None: the value above, which applies to every signal)."""
        override = self.signal_overrides.get(name, {}).get(signal)
        if override is None:
            return getattr(self, name), None
        return override.value, override.var


def setting_fields() -> list[Any]:
    """The fields of :class:`Settings` that are settings (not ``sources``, ``signal_overrides``)."""
    return [f for f in fields(Settings) if META in f.metadata]


SETTINGS: tuple[Setting, ...] = tuple(setting_of(f) for f in setting_fields())
"""Every setting, in the order of :class:`Settings` (the docs' settings reference is generated from it)."""
