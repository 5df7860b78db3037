"""The one error a bad setting (or an unsupported dependency) raises, shared by every room."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A setting has a value amas_telemetry cannot use.

    The message names the setting (the keyword, or the environment variable the value
    came from), the value received and what is accepted.
    """
