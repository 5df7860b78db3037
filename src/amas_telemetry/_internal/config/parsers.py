"""How each setting's value is read: one parser per kind of value, raising ``Invalid``.

A parser takes a keyword argument or an environment string and returns the value, or raises
``Invalid(what it accepts)``; :mod:`.config` turns that into one :class:`ConfigError` that
names the setting and its source. The settings table itself lives in :mod:`.config`.
"""

from __future__ import annotations

import importlib
import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from amas_telemetry._internal.errors import ConfigError


class Invalid(Exception):
    """Raised by a parser with the description of what is accepted."""


def parse_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a non-empty string")
    return value.strip()


def parse_optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return parse_str(value)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Invalid("true or false")


def parse_ratio(value: Any) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise Invalid("a number from 0 to 1") from None
    if isinstance(value, bool) or not 0.0 <= ratio <= 1.0:
        raise Invalid("a number from 0 to 1")
    return ratio


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_level(value: Any) -> str:
    level = value.upper() if isinstance(value, str) else value
    if level == "WARN":
        level = "WARNING"
    if level not in _LEVELS:
        raise Invalid(", ".join(_LEVELS))
    return level


_MAX_CARDINALITY = 1_000_000
_MAX_HELD_SPANS = 10_000_000
"""A bound on the bound: held spans take memory (docs/sampling.md says how much per span)."""


def _whole_number_up_to(maximum: int) -> Callable[[Any], int]:
    """A parser of whole numbers from 1 to ``maximum`` (inf, NaN, 1.5 and True refused)."""
    accepted = f"a whole number from 1 to {maximum}"

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid(accepted)
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise Invalid(accepted) from None
        if not 1 <= number <= maximum or (isinstance(value, float) and not value.is_integer()):
            raise Invalid(accepted)
        return number

    return parse


parse_cardinality = _whole_number_up_to(_MAX_CARDINALITY)
parse_held_spans = _whole_number_up_to(_MAX_HELD_SPANS)


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


def parse_seconds(value: Any) -> float:
    try:
        return _interval(value, 1.0)
    except (TypeError, ValueError, OverflowError):
        low, high = MIN_EXPORT_INTERVAL, MAX_EXPORT_INTERVAL
        raise Invalid(f"a number of seconds from {low:g} to {high:g}") from None


def parse_optional_seconds(value: Any) -> float | None:
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    try:
        return parse_seconds(value)
    except Invalid:
        raise Invalid("a number of seconds above 0, or none") from None


def parse_keep_rule(value: Any) -> Callable[..., bool] | None:
    """A callable, or ``'package.module:function'`` (how the environment names one)."""
    if value is None or value is False or value == "":
        return None
    if callable(value):
        return value
    accepted = "a callable taking a span, or 'package.module:function'"
    if not isinstance(value, str) or value.count(":") != 1:
        raise Invalid(accepted)
    module_name, _, attribute = value.strip().partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise Invalid(f"{accepted} that can be imported") from None
    if not callable(found):
        raise Invalid(accepted)
    return found


def parse_milliseconds(value: Any) -> float:
    try:
        return _interval(value, 1000.0)
    except (TypeError, ValueError, OverflowError):
        low, high = MIN_EXPORT_INTERVAL * 1000, MAX_EXPORT_INTERVAL * 1000
        raise Invalid(f"a number of milliseconds from {low:g} to {high:g}") from None


def _is_path(value: Any) -> bool:
    """A plain URL path: starts with '/', no whitespace, control characters, '?', '#' or ','."""
    return (
        isinstance(value, str)
        and value.startswith("/")
        and value.isprintable()
        and not any(c.isspace() or c in "?#," for c in value)
    )


def parse_path(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    if not _is_path(value):
        raise Invalid(
            "a URL path starting with '/' (no spaces, '?', '#' or ','), or None to serve no metrics endpoint"
        )
    return value


def parse_port(value: Any) -> int | None:
    """A TCP port (1 to 65535); None, False or "": none."""
    if value is None or value is False or value == "":
        return None
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isdigit():
        text = int(text)
    if isinstance(text, bool) or not isinstance(text, int) or not 1 <= text <= 65535:
        raise Invalid("a TCP port from 1 to 65535, or None for the app's own port")
    return text


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def parse_host(value: Any) -> str:
    """An IP address (``[…]`` around IPv6 allowed) or a host name, to bind a socket to."""
    accepted = "an IP address or host name to bind to (127.0.0.1 keeps it off the network)"
    if not isinstance(value, str):
        raise Invalid(accepted)
    host = value.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise Invalid(accepted)
    return host


def parse_spool_dir(value: Any) -> str | None:
    """An absolute directory (``~`` expanded); None: the per-user default under the temp dir."""
    if value is None or value == "":
        return None
    accepted = "an absolute directory path, or None for the default under the system temp dir"
    if not isinstance(value, str | os.PathLike):
        raise Invalid(accepted)
    path = os.path.expanduser(os.fspath(value).strip())
    if not os.path.isabs(path) or (os.path.exists(path) and not os.path.isdir(path)):
        raise Invalid(accepted)
    return path


def parse_megabytes(value: Any) -> float:
    accepted = "a number of megabytes of at least 0 (0 turns the spool off)"
    if isinstance(value, bool):
        raise Invalid(accepted)
    try:
        megabytes = float(value)
    except (TypeError, ValueError):
        raise Invalid(accepted) from None
    if not 0 <= megabytes < float("inf"):
        raise Invalid(accepted)
    return megabytes


def parse_attributes(value: Any) -> dict[str, str]:
    """A mapping, or the ``OTEL_RESOURCE_ATTRIBUTES`` form ``k1=v1,k2=v2`` (values URL-encoded)."""
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and k for k in value):
            raise Invalid("a mapping of non-empty string keys to values")
        return {k: str(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise Invalid("a mapping, or 'key1=value1,key2=value2'")
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise Invalid("'key1=value1,key2=value2'")
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


def parse_url_list(value: Any) -> tuple[str, ...]:
    accepted = "a list of exact request paths such as '/metrics' (with or without a query string), or '/a,/b'"
    value = _as_list(value)
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise Invalid(accepted)
    paths = tuple(v.strip() for v in value if v.strip())
    if not all(_is_path(p) for p in paths):
        raise Invalid(accepted)
    return paths


HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def parse_header_names(value: Any) -> tuple[str, ...]:
    value = _as_list(value)
    if isinstance(value, str):
        value = value.split(",")
    names = [v.strip() for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else None
    if names is None or len(names) != len(value) or not all(HEADER_NAME.fullmatch(n) for n in names if n):
        raise Invalid("a list of HTTP header names, or 'a,b,c' (empty for none)")
    return tuple(dict.fromkeys(n.lower() for n in names if n))


def _is_rule(value: object) -> bool:
    """Has what a :class:`~amas_telemetry.spanmetrics.MetricRule` has (the type lives in the
    ``metrics`` room, which this one does not import)."""
    return hasattr(value, "metric") and all(callable(getattr(value, a, None)) for a in ("when", "value"))


def parse_rules(value: Any) -> tuple[Any, ...]:
    """Span-metric rules (:class:`~amas_telemetry.spanmetrics.MetricRule`), each at most once."""
    value = _as_list(value)
    if not isinstance(value, list | tuple) or not all(_is_rule(r) for r in value):
        raise Invalid("a list of rules made by amas_telemetry.spanmetrics.rule")
    return tuple(dict.fromkeys(value))


LIBRARIES = ("asyncpg", "redis", "httpx")


def parse_libraries(value: Any) -> tuple[str, ...]:
    value = _as_list(value)
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v in LIBRARIES for v in value):
        raise Invalid(f"a list drawn from {', '.join(LIBRARIES)} (empty for none)")
    return tuple(dict.fromkeys(value))


_SAMPLER_RATIOS = {
    "always_on": 1.0,
    "parentbased_always_on": 1.0,
    "always_off": 0.0,
    "parentbased_always_off": 0.0,
}
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")


def sampling_ratio_from_env(env: Mapping[str, str]) -> tuple[str, Any] | None:
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
