"""``configure()``'s keywords: their signature (for type checkers and ``help()``) and their
resolution into one :class:`~.settings.Settings`, validated before anything is built, so a bad
value raises one :class:`ConfigError` and leaves nothing half-configured."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from amas_telemetry._internal.config.parsers import Invalid
from amas_telemetry._internal.config.setting import Setting, SignalOverride, shown
from amas_telemetry._internal.config.settings import SETTINGS, Settings, setting_fields
from amas_telemetry._internal.errors import ConfigError

__all__ = ["MERGED_MAPPINGS", "resolve_settings", "takes_settings"]


@dataclass(frozen=True, kw_only=True)
class _ConfigureArguments(Settings):
    """What ``configure()`` takes: an optional app, then each setting by keyword (typing only)."""

    app: Any = field(default=None, kw_only=False)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _signature_of(arguments: Callable[_P, Any]):  # the inferred generic decorator is the point
    """A decorator giving ``function(app=None, **kwargs)`` the parameters of ``arguments``: for
    type checkers through the ParamSpec, for ``help()`` through ``__signature__``."""

    def give(function: Callable[..., _R]) -> Callable[_P, _R]:
        app = inspect.Parameter("app", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=Any)
        keywords = [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=f.type)
            for f in setting_fields()
        ]
        ret = inspect.signature(function).return_annotation
        function.__signature__ = inspect.Signature([app, *keywords], return_annotation=ret)  # type: ignore[attr-defined]
        return function

    return give


takes_settings = _signature_of(_ConfigureArguments)
"""``@takes_settings`` on ``configure(app=None, **kwargs)``: an optional app, then the fields of
:class:`Settings` as keywords."""


MERGED_MAPPINGS = frozenset({"resource_attributes", "otlp_headers"})
"""Mappings whose keyword is merged over the environment's value, the keyword winning per key
(the SDK's OTLP exporters merge headers so; resource attributes add up)."""


def _from_env(setting: Setting, env: Mapping[str, str]) -> tuple[str, Any] | None:
    for var in setting.env_vars:
        if var in env and env[var].strip() != "":
            return var, env[var]
    if setting.env_reader is not None:
        return setting.env_reader(env)
    return None


def _parse(setting: Setting, source: str, value: Any) -> Any:
    parse = setting.parse if source == setting.name or setting.env_parse is None else setting.env_parse
    try:
        return parse(value)
    except Invalid as accepted:
        where = setting.name if source == setting.name else f"{source} (for {setting.name})"
        raise ConfigError(f"Invalid {where}: expected {accepted}, got {shown(value)}") from None
    except Exception as error:  # a value whose own methods fail (__str__, __iter__, …)
        where = setting.name if source == setting.name else f"{source} (for {setting.name})"
        raise ConfigError(f"Invalid {where}: {type(error).__name__} while reading {shown(value)}") from None


def resolve_settings(kwargs: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting; ``None`` in ``kwargs`` means "look it up"."""
    env = os.environ if env is None else env
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(f"Unknown setting {unknown[0]!r}: expected one of {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    overrides: dict[str, dict[str, SignalOverride]] = {}
    for setting in SETTINGS:
        given = kwargs.get(setting.name)
        merges = setting.name in MERGED_MAPPINGS
        if given is not None and not merges:
            values[setting.name] = _parse(setting, setting.name, given)
            sources[setting.name] = setting.name
            continue
        mine = _parse(setting, setting.name, given) if given is not None else {}
        from_env = _from_env(setting, env)
        value = _parse(setting, *from_env) if from_env is not None else setting.default
        sources[setting.name] = from_env[0] if from_env is not None else "default"
        values[setting.name] = {**value, **mine} if merges else value
        for signal, signal_vars in setting.signal_env_vars.items():
            var = next((v for v in signal_vars if env.get(v, "").strip() != ""), None)
            if var is not None:
                parsed = _parse(setting, var, env[var])
                overrides.setdefault(setting.name, {})[signal] = SignalOverride(
                    var, {**parsed, **mine} if merges else parsed
                )
    return Settings(**values, sources=sources, signal_overrides=overrides)
