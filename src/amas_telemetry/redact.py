"""Scrubbing of secrets and prompt text before anything leaves the process.

A redactor is a callable ``(text) -> text`` with one job; a :class:`Scrubber` runs them in
order over strings, names, attribute mappings and log extras. The default redactor,
:data:`SECRETS`, is every rule of :mod:`amas_telemetry._internal.redact.rules` in one RE2 pass
(linear time on any input); each rule alone is also a redactor (:data:`TOKEN_SHAPES`…).

Modules: ``engine`` (the RE2 scan, value checks), ``rules`` (the secret shapes),
``providers`` (the provider token formats, from the maintained secret-scanning lists),
``scrubber`` (strings, mappings, bounds, caches), ``otel`` (spans, log records, the SDK's
own log lines).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

import re2  # pyright: ignore[reportMissingTypeStubs]

from amas_telemetry._internal.redact.engine import REDACTED, Scanner
from amas_telemetry._internal.redact.rules import (
    AUTH_SCHEMES,
    PAIRS,
    PEM_KEYS,
    QUERY_SECRETS,
    TOKEN_SHAPES,
    URL_CREDENTIALS,
)
from amas_telemetry._internal.redact.scrubber import (
    DEFAULT_REDACTORS,
    MAX_SCRUBBED_CHARS,
    SECRETS,
    Redactor,
    Scrubber,
)

__all__ = [
    "API_KEYS",
    "BEARER_TOKENS",
    "DEFAULT_REDACTORS",
    "MAX_SCRUBBED_CHARS",
    "PEM_PRIVATE_KEYS",
    "QUERY_PARAMETERS",
    "REDACTED",
    "SECRETS",
    "SECRET_PAIRS",
    "URL_PASSWORDS",
    "PatternRedactor",
    "Redactor",
    "Scrubber",
]

API_KEYS: Final[Redactor] = Scanner([TOKEN_SHAPES]).scrub
"""Provider keys and tokens by prefix (``sk-…``, ``sk_live_…``, ``ghp_…``, ``hf_…``, JWTs…)."""
BEARER_TOKENS: Final[Redactor] = Scanner([AUTH_SCHEMES]).scrub
"""``Bearer …``/``Basic …``/``token …`` followed by a generated-looking credential."""
SECRET_PAIRS: Final[Redactor] = Scanner([PAIRS]).scrub
"""``password=…``, ``"accessToken": "…"``, ``Cookie: a=…; b=…``, ``PASSWORD '…'``."""
URL_PASSWORDS: Final[Redactor] = Scanner([URL_CREDENTIALS]).scrub
"""``postgresql://user:secret@host`` → ``postgresql://user:[REDACTED]@host``."""
PEM_PRIVATE_KEYS: Final[Redactor] = Scanner([PEM_KEYS]).scrub
"""``-----BEGIN … PRIVATE KEY-----`` blocks."""
QUERY_PARAMETERS: Final[Redactor] = Scanner([QUERY_SECRETS]).scrub
"""``?code=…`` (OAuth) and ``&sig=…`` (SAS) in URLs."""


class PatternRedactor:
    """Replaces every match of an RE2 ``pattern`` by ``replacement`` (which may use ``\\1``).

    For your own shapes; RE2 keeps it linear-time (no backreferences or look-arounds).
    """

    def __init__(self, pattern: str, replacement: str = REDACTED, *, ignore_case: bool = True) -> None:
        untyped: Any = cast(Any, re2)  # google-re2 ships no type information
        compiled = untyped.compile(f"(?i){pattern}" if ignore_case else pattern)
        self._sub: Callable[[str, str], str] = compiled.sub
        self._replacement = replacement

    def __call__(self, text: str) -> str:
        return self._sub(self._replacement, text)
