"""Settings: keyword argument > environment (``AMAS_*``, then ``OTEL_*``) > default.

One :class:`Setting` per keyword of :func:`amas_telemetry.configure`, gathered in
:data:`SETTINGS`; the resolver, the README table and the tests all iterate over it.
Every setting is resolved and validated before anything is built, so a bad value
raises one :class:`ConfigError` and leaves nothing half-configured.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import unquote, urlsplit

from amas_telemetry.redact import SECRETS

__all__ = ["SETTINGS", "ConfigError", "Setting", "Settings", "resolve_settings"]


class ConfigError(ValueError):
    """A setting has a value amas_telemetry cannot use.

    The message names the setting (the keyword, or the environment variable the value
    came from), the value received and what is accepted.
    """


class _Invalid(Exception):
    """Raised by a parser with the description of what is accepted."""


def _parse_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a non-empty string")
    return value.strip()


def _parse_optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _parse_str(value)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid("true or false")


def _parse_ratio(value: Any) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise _Invalid("a number from 0 to 1") from None
    if isinstance(value, bool) or not 0.0 <= ratio <= 1.0:
        raise _Invalid("a number from 0 to 1")
    return ratio


_ENDPOINT = "an http:// or https:// URL with a host (and a port from 1 to 65535), or None for no OTLP export"


def _parse_endpoint(value: Any) -> str | None:
    if value is None or value == "" or value is False:
        return None
    if not isinstance(value, str):
        raise _Invalid(_ENDPOINT)
    url = value.strip()
    if not url.isprintable() or any(c.isspace() for c in url):
        raise _Invalid(_ENDPOINT)
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError: not a number, or out of range
    except ValueError:
        raise _Invalid(_ENDPOINT) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise _Invalid(_ENDPOINT)
    return url.rstrip("/")


_PROTOCOLS = ("grpc", "http/protobuf")


def _parse_protocol(value: Any) -> str:
    if value not in _PROTOCOLS:
        raise _Invalid(" or ".join(_PROTOCOLS))
    return value


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _parse_level(value: Any) -> str:
    level = value.upper() if isinstance(value, str) else value
    if level == "WARN":
        level = "WARNING"
    if level not in _LEVELS:
        raise _Invalid(", ".join(_LEVELS))
    return level


_MAX_CARDINALITY = 1_000_000
_MAX_HELD_SPANS = 10_000_000
"""Spans: about 1-2 KB of memory each, so 10-20 GB at this bound."""


def _whole_number_up_to(maximum: int) -> Callable[[Any], int]:
    """A parser of whole numbers from 1 to ``maximum`` (inf, NaN, 1.5 and True refused)."""
    accepted = f"a whole number from 1 to {maximum}"

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise _Invalid(accepted)
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise _Invalid(accepted) from None
        if not 1 <= number <= maximum or (isinstance(value, float) and not value.is_integer()):
            raise _Invalid(accepted)
        return number

    return parse


_parse_cardinality = _whole_number_up_to(_MAX_CARDINALITY)
_parse_held_spans = _whole_number_up_to(_MAX_HELD_SPANS)


MIN_EXPORT_INTERVAL = 0.1
"""Seconds: a shorter OTLP metric export interval would be a busy loop."""
MAX_EXPORT_INTERVAL = 86_400.0


def _interval(value: Any, scale: float) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    seconds = float(value) / scale  # TypeError, ValueError, OverflowError
    if not math.isfinite(seconds) or not MIN_EXPORT_INTERVAL <= seconds <= MAX_EXPORT_INTERVAL:
        raise ValueError(value)
    return seconds


def _parse_seconds(value: Any) -> float:
    try:
        return _interval(value, 1.0)
    except (TypeError, ValueError, OverflowError):
        low, high = MIN_EXPORT_INTERVAL, MAX_EXPORT_INTERVAL
        raise _Invalid(f"a number of seconds from {low:g} to {high:g}") from None


def _parse_optional_seconds(value: Any) -> float | None:
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    try:
        return _parse_seconds(value)
    except _Invalid:
        raise _Invalid("a number of seconds above 0, or none") from None


def _parse_keep_rule(value: Any) -> Callable[..., bool] | None:
    """A callable, or ``'package.module:function'`` (how the environment names one)."""
    if value is None or value is False or value == "":
        return None
    if callable(value):
        return value
    accepted = "a callable taking a span, or 'package.module:function'"
    if not isinstance(value, str) or value.count(":") != 1:
        raise _Invalid(accepted)
    module_name, _, attribute = value.strip().partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise _Invalid(f"{accepted} that can be imported") from None
    if not callable(found):
        raise _Invalid(accepted)
    return found


def _parse_milliseconds(value: Any) -> float:
    try:
        return _interval(value, 1000.0)
    except (TypeError, ValueError, OverflowError):
        low, high = MIN_EXPORT_INTERVAL * 1000, MAX_EXPORT_INTERVAL * 1000
        raise _Invalid(f"a number of milliseconds from {low:g} to {high:g}") from None


def _is_path(value: Any) -> bool:
    """A plain URL path: starts with '/', no whitespace, control characters, '?', '#' or ','."""
    return (
        isinstance(value, str)
        and value.startswith("/")
        and value.isprintable()
        and not any(c.isspace() or c in "?#," for c in value)
    )


def _parse_path(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    if not _is_path(value):
        raise _Invalid(
            "a URL path starting with '/' (no spaces, '?', '#' or ','), or None to serve no metrics endpoint"
        )
    return value


def _parse_spool_dir(value: Any) -> str | None:
    """An absolute directory (``~`` expanded); None: the per-user default under the temp dir."""
    if value is None or value == "":
        return None
    accepted = "an absolute directory path, or None for the default under the system temp dir"
    if not isinstance(value, str | os.PathLike):
        raise _Invalid(accepted)
    path = os.path.expanduser(os.fspath(value).strip())
    if not os.path.isabs(path) or (os.path.exists(path) and not os.path.isdir(path)):
        raise _Invalid(accepted)
    return path


def _parse_megabytes(value: Any) -> float:
    accepted = "a number of megabytes of at least 0 (0 turns the spool off)"
    if isinstance(value, bool):
        raise _Invalid(accepted)
    try:
        megabytes = float(value)
    except (TypeError, ValueError):
        raise _Invalid(accepted) from None
    if not 0 <= megabytes < float("inf"):
        raise _Invalid(accepted)
    return megabytes


def _parse_attributes(value: Any) -> dict[str, str]:
    """A mapping, or the ``OTEL_RESOURCE_ATTRIBUTES`` form ``k1=v1,k2=v2`` (values URL-encoded)."""
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and k for k in value):
            raise _Invalid("a mapping of non-empty string keys to values")
        return {k: str(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise _Invalid("a mapping, or 'key1=value1,key2=value2'")
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise _Invalid("'key1=value1,key2=value2'")
        result[key.strip()] = unquote(raw.strip())
    return result


def _as_list(value: Any) -> Any:
    """A string stays a string (split by the parser); any other iterable becomes a list."""
    if isinstance(value, str | list | tuple) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        return value
    try:
        return list(value)
    except Exception:  # an iterable that fails while iterating
        return value


def _parse_url_list(value: Any) -> tuple[str, ...]:
    accepted = "a list of exact request paths such as '/metrics' (with or without a query string), or '/a,/b'"
    value = _as_list(value)
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _Invalid(accepted)
    paths = tuple(v.strip() for v in value if v.strip())
    if not all(_is_path(p) for p in paths):
        raise _Invalid(accepted)
    return paths


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _parse_header_names(value: Any) -> tuple[str, ...]:
    value = _as_list(value)
    if isinstance(value, str):
        value = value.split(",")
    names = [v.strip() for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else None
    if names is None or len(names) != len(value) or not all(_HEADER_NAME.fullmatch(n) for n in names if n):
        raise _Invalid("a list of HTTP header names, or 'a,b,c' (empty for none)")
    return tuple(dict.fromkeys(n.lower() for n in names if n))


_LIBRARIES = ("asyncpg", "redis", "httpx")


def _parse_libraries(value: Any) -> tuple[str, ...]:
    value = _as_list(value)
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v in _LIBRARIES for v in value):
        raise _Invalid(f"a list drawn from {', '.join(_LIBRARIES)} (empty for none)")
    return tuple(dict.fromkeys(value))


_SAMPLER_RATIOS = {
    "always_on": 1.0,
    "parentbased_always_on": 1.0,
    "always_off": 0.0,
    "parentbased_always_off": 0.0,
}
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")


def _sampling_ratio_from_env(env: Mapping[str, str]) -> tuple[str, Any] | None:
    """Maps OTEL_TRACES_SAMPLER(+_ARG) onto a ratio; every sampler is parent-based here."""
    sampler = env.get("OTEL_TRACES_SAMPLER")
    if sampler is None:
        return None
    sampler = sampler.strip().lower()
    if sampler in _SAMPLER_RATIOS:
        return "OTEL_TRACES_SAMPLER", _SAMPLER_RATIOS[sampler]
    if sampler in _RATIO_SAMPLERS:
        return "OTEL_TRACES_SAMPLER_ARG", env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
    accepted = ", ".join([*_SAMPLER_RATIOS, *_RATIO_SAMPLERS])
    raise ConfigError(
        f"Invalid OTEL_TRACES_SAMPLER (for sampling_ratio): expected one of {accepted}, got {sampler!r}"
    )


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
        _parse_str,
        ("AMAS_SERVICE_NAME", "OTEL_SERVICE_NAME"),
        "service.name of every signal",
    ),
    Setting("service_version", None, _parse_optional_str, ("AMAS_SERVICE_VERSION",), "service.version"),
    Setting("environment", "development", _parse_str, ("AMAS_ENVIRONMENT",), "deployment.environment.name"),
    Setting(
        "sampling_ratio",
        1.0,
        _parse_ratio,
        ("AMAS_SAMPLING_RATIO",),
        "parent-based trace-id ratio of exported traces; metrics count every span regardless",
        env_reader=_sampling_ratio_from_env,
    ),
    Setting(
        "otlp_endpoint",
        None,
        _parse_endpoint,
        ("AMAS_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        "OTLP endpoint of the Collector; None: no OTLP export at all",
    ),
    Setting(
        "otlp_protocol",
        "grpc",
        _parse_protocol,
        ("AMAS_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        "grpc or http/protobuf",
    ),
    Setting(
        "export_spool_dir",
        None,
        _parse_spool_dir,
        ("AMAS_EXPORT_SPOOL_DIR",),
        "where failed OTLP exports wait for the Collector; None: <tmp>/amas-telemetry-<uid>/<service_name>",
    ),
    Setting(
        "export_spool_max_mb",
        32.0,
        _parse_megabytes,
        ("AMAS_EXPORT_SPOOL_MAX_MB",),
        "bound of the spool per process and signal (oldest dropped past it); 0: no spool",
    ),
    Setting(
        "resource_attributes",
        {},
        _parse_attributes,
        ("OTEL_RESOURCE_ATTRIBUTES",),
        "extra resource attributes (merged over the environment's)",
    ),
    Setting("log_level", "INFO", _parse_level, ("AMAS_LOG_LEVEL", "OTEL_LOG_LEVEL"), "root log level"),
    Setting("json_logs", True, _parse_bool, ("AMAS_JSON_LOGS",), "one JSON object per line on stdout"),
    Setting(
        "record_prompts",
        False,
        _parse_bool,
        ("AMAS_RECORD_PROMPTS",),
        "keep prompt and completion text on spans",
    ),
    Setting(
        "cardinality_limit",
        2000,
        _parse_cardinality,
        ("AMAS_CARDINALITY_LIMIT",),
        "attribute sets per span-derived instrument before overflow (1 to 1000000)",
    ),
    Setting(
        "system_metrics", True, _parse_bool, ("AMAS_SYSTEM_METRICS",), "psutil CPU, memory, disk, network"
    ),
    Setting(
        "metrics_path",
        "/metrics",
        _parse_path,
        ("AMAS_METRICS_PATH",),
        "route serving the Prometheus exposition; None: no route",
    ),
    Setting(
        "metric_export_interval",
        10.0,
        _parse_seconds,
        ("AMAS_METRIC_EXPORT_INTERVAL",),
        "seconds between OTLP metric exports (0.1 to 86400); OTEL_METRIC_EXPORT_INTERVAL is read in ms",
        env_reader=lambda env: _ms_to_seconds(env),
    ),
    Setting(
        "excluded_urls",
        ("/metrics",),
        _parse_url_list,
        ("AMAS_EXCLUDED_URLS",),
        "exact request paths (a query string may follow) that are neither traced nor counted",
    ),
    Setting(
        "http_send_receive_spans",
        False,
        _parse_bool,
        ("AMAS_HTTP_SEND_RECEIVE_SPANS",),
        "FastAPI's per-message 'http send/receive' child spans",
    ),
    Setting(
        "http_captured_headers",
        (),
        _parse_header_names,
        ("AMAS_HTTP_CAPTURED_HEADERS",),
        "request and response headers recorded on the server span (scrubbed on export)",
    ),
    Setting(
        "tail_keep_errors",
        True,
        _parse_bool,
        ("AMAS_TAIL_KEEP_ERRORS",),
        "export an unsampled local trace whole when one of its spans erred",
    ),
    Setting(
        "tail_keep_slower_than",
        None,
        _parse_optional_seconds,
        ("AMAS_TAIL_KEEP_SLOWER_THAN",),
        "export an unsampled local trace whole when its root took longer (seconds); none: off",
    ),
    Setting(
        "tail_keep_rule",
        None,
        _parse_keep_rule,
        ("AMAS_TAIL_KEEP_RULE",),
        "export an unsampled local trace whole when rule(span) is true for one of its spans",
    ),
    Setting(
        "tail_max_held_spans",
        10_000,
        _parse_held_spans,
        ("AMAS_TAIL_MAX_HELD_SPANS",),
        "unsampled spans held in all, waiting for their root; past it the oldest trace goes",
    ),
    Setting(
        "tail_max_spans_per_trace",
        1_000,
        _parse_held_spans,
        ("AMAS_TAIL_MAX_SPANS_PER_TRACE",),
        "unsampled spans held per trace; later ones are dropped",
    ),
    Setting(
        "instrumentations",
        _LIBRARIES,
        _parse_libraries,
        ("AMAS_INSTRUMENTATIONS",),
        "client libraries to instrument when installed",
    ),
    Setting(
        "metrics_dir",
        None,
        _parse_optional_str,
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
        return var, _parse_milliseconds(raw)
    except _Invalid as accepted:
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
    instrumentations: tuple[str, ...] = _LIBRARIES
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
    except _Invalid as accepted:
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
