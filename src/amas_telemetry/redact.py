"""Scrubbing of secrets before anything leaves the process.

A redactor is a callable ``(text) -> text`` with one job; a :class:`Scrubber` runs them in
order over strings, attribute mappings and log records. Ready-made redactors are module
constants, composed in :data:`DEFAULT_REDACTORS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

__all__ = [
    "API_KEYS",
    "BEARER_TOKENS",
    "DEFAULT_REDACTORS",
    "REDACTED",
    "SECRET_PAIRS",
    "URL_PASSWORDS",
    "PatternRedactor",
    "Redactor",
    "Scrubber",
]

REDACTED: Final = "[REDACTED]"

Redactor = Callable[[str], str]


class PatternRedactor:
    """Replaces every match of ``pattern`` by ``replacement`` (which may use groups)."""

    def __init__(self, pattern: str, replacement: str = REDACTED, flags: int = re.IGNORECASE) -> None:
        self._sub = re.compile(pattern, flags).sub
        self._replacement = replacement

    def __call__(self, text: str) -> str:
        return self._sub(self._replacement, text)


BEARER_TOKENS: Final = PatternRedactor(
    r"\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}", rf"\1\2{REDACTED}"
)
"""``Authorization: Bearer abc…`` → ``Bearer [REDACTED]``."""

API_KEYS: Final = PatternRedactor(
    "|".join(
        (
            r"\bsk-[A-Za-z0-9_-]{16,}",  # OpenAI, Anthropic (sk-ant-…)
            r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
            r"\bAIza[0-9A-Za-z_-]{35}",  # Google
            r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
        )
    ),
    flags=0,
)
"""Well-known API-key shapes, wherever they stand."""

SECRET_PAIRS: Final = PatternRedactor(
    r"""(["']?\b(?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api_key|apikey"""
    r"""|api-key|aws_secret_access_key|authorization|cookie)\b["']?\s*[=:]\s*["']?)([^\s&,;"'}]+)""",
    rf"\1{REDACTED}",
)
"""``password=…``, ``"token": "…"``, ``api_key: …`` in query strings, JSON and text."""

URL_PASSWORDS: Final = PatternRedactor(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)", rf"\1{REDACTED}\3")
"""``postgresql://user:secret@host`` → ``postgresql://user:[REDACTED]@host``."""

DEFAULT_REDACTORS: Final[tuple[Redactor, ...]] = (URL_PASSWORDS, BEARER_TOKENS, SECRET_PAIRS, API_KEYS)

# Attribute keys whose whole string value is a secret (headers captured by instrumentations):
# the key's last segment names the secret, so `gen_ai.token.type` is not one.
_SECRET_KEY = re.compile(
    r"(^|[._-])(authorization|cookie|set[_-]cookie|password|passwd|secret|api[_-]?key|x[_-]api[_-]key"
    r"|token|access[_-]token|refresh[_-]token|auth[_-]token)$",
    re.IGNORECASE,
)


_DEFAULT_TRIGGER: Final = re.compile(
    r"bearer|basic|token|sk-|xox|akia|asia|gh[pousr]_|aiza|glpat-|passw|pwd|secret|api[_-]?key"
    r"|authorization|cookie|://[^/\s@]*:[^@\s/]*@",
    re.IGNORECASE,
)
"""Something every default redactor needs to match: text without it is returned as it is."""

_CACHE_SIZE = 8192
_CACHE_MAX_LENGTH = 512


class Scrubber:
    """Applies redactors to strings, and to every string inside attribute mappings.

    Cheap on ordinary text: with the default redactors, one search for a trigger word
    decides whether the substitutions run at all, and results for short strings (routes,
    model names, span names repeat) are remembered.
    """

    def __init__(
        self, redactors: Iterable[Redactor] = DEFAULT_REDACTORS, drop_keys: Iterable[str] = ()
    ) -> None:
        self._redactors = tuple(redactors)
        self._trigger = _DEFAULT_TRIGGER.search if self._redactors == DEFAULT_REDACTORS else None
        self._drop_keys = frozenset(drop_keys)
        self._texts: dict[str, str] = {}
        self._secret_keys: dict[str, bool] = {}

    def text(self, value: str) -> str:
        cached = self._texts.get(value)
        if cached is not None:
            return cached
        scrubbed = value
        if self._trigger is None or self._trigger(value):
            for redact in self._redactors:
                scrubbed = redact(scrubbed)
        if len(value) <= _CACHE_MAX_LENGTH:
            if len(self._texts) >= _CACHE_SIZE:
                self._texts.clear()
            self._texts[value] = scrubbed
        return scrubbed

    def _is_secret_key(self, key: str) -> bool:
        known = self._secret_keys.get(key)
        if known is None:
            if len(self._secret_keys) >= _CACHE_SIZE:
                self._secret_keys.clear()
            known = self._secret_keys[key] = _SECRET_KEY.search(key) is not None
        return known

    def value(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            return REDACTED if value and self._is_secret_key(key) else self.text(value)
        if isinstance(value, list | tuple):
            return type(value)(self.value(key, v) for v in value)
        return value

    def attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        """A scrubbed copy; keys in ``drop_keys`` (prompt text) are left out."""
        scrubbed = self.changed_attributes(attributes)
        return dict(attributes or {}) if scrubbed is None else scrubbed

    def changed_attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The scrubbed copy, or None when scrubbing would change nothing (no copy needed)."""
        if not attributes:
            return None
        scrubbed: dict[str, Any] = {}
        changed = False
        for key, value in attributes.items():
            if key in self._drop_keys:
                changed = True
                continue
            new = self.value(key, value)
            changed = changed or (new is not value and new != value)
            scrubbed[key] = new
        return scrubbed if changed else None
