"""What one setting of ``configure()`` is: its default, parser, environment variables and doc.

:func:`setting` makes a field of :class:`~.settings.Settings` carry that metadata, and
:func:`setting_of` reads it back as a :class:`Setting` (the resolver and the generated docs
iterate over those). :func:`shown` is how an error shows a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field
from typing import Any

from amas_telemetry._internal.redact.scrubber import SECRETS

__all__ = ["SIGNALS", "Setting", "SignalOverride", "per_signal", "setting", "setting_of", "shown"]

SIGNALS = ("traces", "metrics", "logs")
"""The signals of the OTLP exporter specification, each of which may override an OTLP setting."""

EnvReader = Callable[[Mapping[str, str]], "tuple[str, Any] | None"]


@dataclass(frozen=True)
class Setting:
    """One keyword of ``configure()``: where its value may come from and how it is read.

    ``env_parse`` reads the environment's strings when they are in another unit than the
    keyword (the specification's timeouts are milliseconds, the keyword's seconds).
    ``signal_env_vars`` are the OTLP exporter specification's per-signal variables: for a
    signal they beat the generic variables (never a keyword).
    """

    name: str
    default: Any
    parse: Callable[[Any], Any]
    env_vars: tuple[str, ...] = ()
    doc: str = ""
    env_reader: EnvReader | None = None
    env_parse: Callable[[Any], Any] | None = None
    signal_env_vars: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


META = "amas_setting"


def setting(
    default: Any,
    parse: Callable[[Any], Any],
    *env_vars: str,
    doc: str,
    env_reader: EnvReader | None = None,
    env_parse: Callable[[Any], Any] | None = None,
    signal_env_vars: Mapping[str, tuple[str, ...]] | None = None,
) -> Any:
    """A field of :class:`Settings`: its default, parser, environment variables and doc line."""
    meta = {META: (parse, env_vars, doc, env_reader, env_parse, dict(signal_env_vars or {}))}
    if isinstance(default, dict | list | set):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def per_signal(option: str, **obsolete: str) -> dict[str, tuple[str, ...]]:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_<option>`` for each signal, then the obsolete names the
    specification asks to keep reading (``OTEL_EXPORTER_OTLP_SPAN_INSECURE``)."""
    return {
        signal: (
            f"OTEL_EXPORTER_OTLP_{signal.upper()}_{option}",
            *([obsolete[signal]] if signal in obsolete else []),
        )
        for signal in SIGNALS
    }


@dataclass(frozen=True)
class SignalOverride:
    """A per-signal variable's value for one signal, and the variable it came from."""

    var: str
    value: Any



def setting_of(f: Any) -> Setting:
    """The :class:`Setting` a field of :class:`~.settings.Settings` carries."""
    parse, env_vars, doc, env_reader, env_parse, signal_env_vars = f.metadata[META]
    default = f.default if f.default is not MISSING else f.default_factory()
    return Setting(f.name, default, parse, env_vars, doc, env_reader, env_parse, signal_env_vars)


def shown(value: Any) -> str:
    """The value as an error shows it: scrubbed (a bad endpoint's password stays out), cut."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return SECRETS(text[:200] + ("…" if len(text) > 200 else ""))
