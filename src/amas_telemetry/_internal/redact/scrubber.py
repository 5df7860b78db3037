"""The :class:`Scrubber`: the rules applied to strings, names, attribute mappings and log extras.

Cost bound per value: a string longer than :data:`MAX_SCRUBBED_CHARS` is cut there (at the
last whitespace before the bound, so no token is cut in half and half-exported) and ends with
a ``[TRUNCATED n characters]`` marker: the cut part never leaves the process. With the RE2
scan being linear, a value costs at most a few hundred microseconds, whatever it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote, unquote_plus

from amas_telemetry import semconv as sc
from amas_telemetry._internal.redact.engine import REDACTED, Scanner, Trigger
from amas_telemetry._internal.redact.rules import RULES, SECRET_NAME

__all__ = ["DEFAULT_REDACTORS", "MAX_SCRUBBED_CHARS", "SECRETS", "Redactor", "Scrubber"]

Redactor = Callable[[str], str]

MAX_SCRUBBED_CHARS: Final = 32 * 1024
"""Characters of one value that are scrubbed and exported; the rest is cut off."""

SECRETS: Final[Redactor] = Scanner(RULES).scrub
"""Every rule in one linear RE2 pass."""

DEFAULT_REDACTORS: Final[tuple[Redactor, ...]] = (SECRETS,)

# Something every default rule needs to match: text without any of these is returned as it is.
_TRIGGER: Final = Trigger("(?i)" + "|".join(f"(?:{rule.trigger})" for rule in RULES))

_CACHE_SIZE: Final = 8192
_CACHE_MAX_LENGTH: Final = 512
_MAX_DEPTH: Final = 8


def _bounded(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = max(value.rfind(" ", limit - 4096, limit), value.rfind("\n", limit - 4096, limit))
    cut = cut if cut > 0 else limit - 4096
    return f"{value[:cut]} [TRUNCATED {len(value) - cut} characters]"


def _percent_decoded_if_secret(text: str) -> str:
    """A secret visible only once decoded (``Bearer%20…``, ``%22password%22%3A%20%22…``):
    the text is exported decoded, scrubbed. Otherwise it stays as it was (still encoded)."""
    decoded = (unquote_plus if "+" in text else unquote)(text, errors="replace")  # `+`: a form's space
    if decoded == text or not _TRIGGER(decoded):
        return text
    scrubbed = SECRETS(decoded)
    return text if scrubbed == decoded else scrubbed


class Scrubber:
    """Applies redactors to strings, names, and every string inside attributes and log extras.

    ``drop_keys``/``drop_prefixes``: attributes left out entirely (prompt and completion
    text); ``drop_events``: events whose attributes and log records whose body are left out.
    Cheap on ordinary text: one search for a trigger word decides whether the rules run at
    all, and results for short strings (routes, model names, span names repeat) are kept.
    """

    def __init__(
        self,
        redactors: Iterable[Redactor] = DEFAULT_REDACTORS,
        drop_keys: Iterable[str] = (),
        *,
        drop_prefixes: Iterable[str] = (),
        drop_events: Iterable[str] = (),
        max_chars: int = MAX_SCRUBBED_CHARS,
    ) -> None:
        self._redactors = tuple(redactors)
        self._trigger = _TRIGGER if self._redactors == DEFAULT_REDACTORS else None
        self._drop_keys = frozenset(drop_keys)
        self._drop_prefixes = tuple(drop_prefixes)
        self.drop_events = frozenset(drop_events)
        self._max_chars = max_chars
        self._texts: dict[str, str] = {}
        self._secret_keys: dict[str, bool] = {}
        self._keys: dict[str, tuple[str, bool, bool]] = {}

    # --- strings -----------------------------------------------------------------------------
    def text(self, value: str) -> str:
        cached = self._texts.get(value)
        if cached is not None:
            return cached
        scrubbed = _bounded(value, self._max_chars)
        if self._trigger is None or self._trigger(scrubbed):
            for redact in self._redactors:
                scrubbed = redact(scrubbed)
        if self._trigger is not None and "%" in scrubbed:
            scrubbed = _percent_decoded_if_secret(scrubbed)
        if len(value) <= _CACHE_MAX_LENGTH:
            if len(self._texts) >= _CACHE_SIZE:
                self._texts.clear()
            self._texts[value] = scrubbed
        return scrubbed

    def is_secret_key(self, key: str) -> bool:
        """The key's last word names a secret (``db.password``, ``accessToken``, ``x-api-key``)."""
        known = self._secret_keys.get(key)
        if known is None:
            if len(self._secret_keys) >= _CACHE_SIZE:
                self._secret_keys.clear()
            known = self._secret_keys[key] = SECRET_NAME.search(key[-64:]) is not None
        return known

    def drops(self, key: str) -> bool:
        """An attribute holding prompt or completion text (when prompts are not recorded)."""
        return key in self._drop_keys or (bool(self._drop_prefixes) and key.startswith(self._drop_prefixes))

    # --- values ------------------------------------------------------------------------------
    def value(self, key: str, value: Any) -> Any:
        """An attribute value: strings scrubbed, a secret key's whole string replaced."""
        if isinstance(value, str):
            return REDACTED if value and self.is_secret_key(key) else self.text(value)
        if isinstance(value, list | tuple):
            return type(value)(self.value(key, v) for v in value)
        return value

    def structure(self, key: str, value: Any, depth: int = 0) -> Any:
        """A log extra of any type: nested mappings and sequences walked, bytes decoded,
        other objects replaced by their scrubbed text."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.value(key, value)
        if isinstance(value, bytes | bytearray | memoryview):
            return self.value(key, bytes(value).decode("utf-8", "replace"))
        if depth < _MAX_DEPTH and isinstance(value, Mapping):
            return {
                (self.text(k) if isinstance(k, str) else k): self.structure(str(k), v, depth + 1)
                for k, v in value.items()
            }
        if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
            items = [self.structure(key, v, depth + 1) for v in value]
            return items if not isinstance(value, tuple) else tuple(items)
        try:
            text = str(value)
        except Exception:  # a broken __str__ must not lose the record
            text = f"<{type(value).__name__}>"
        return self.value(key, text)

    # --- attribute mappings ------------------------------------------------------------------
    def attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        """A scrubbed copy; prompt attributes are left out."""
        scrubbed = self.changed_attributes(attributes)
        return dict(attributes or {}) if scrubbed is None else scrubbed

    def changed_attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The scrubbed copy (keys and values), or None when scrubbing changes nothing.

        The hot path of every exported span: one dict lookup per key (its scrubbed form, is
        it a secret, is it prompt text), one per short string value (the results cache).
        """
        if not attributes:
            return None
        keys = self._keys
        texts = self._texts
        scrubbed: dict[str, Any] = {}
        changed = False
        for key, value in attributes.items():
            known = keys.get(key)
            if known is None:
                known = self._key_facts(key)
            new_key, secret, drop = known
            if drop:
                changed = True
                continue
            if type(value) is str:
                if secret and value:
                    new = REDACTED
                else:
                    new = texts.get(value)
                    if new is None:
                        new = self.text(value)
            elif isinstance(value, list | tuple):
                new = self.value(key, value)
            else:
                new = value
            if new_key is not key or (new is not value and new != value):
                changed = True
            scrubbed[new_key] = new
        return scrubbed if changed else None

    def _key_facts(self, key: str) -> tuple[str, bool, bool]:
        if len(self._keys) >= _CACHE_SIZE:
            self._keys.clear()
        new_key = self.text(key)
        facts = (key if new_key == key else new_key, self.is_secret_key(key), self.drops(key))
        self._keys[key] = facts
        return facts

    def event_attributes(self, name: str, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Like :meth:`changed_attributes`; a prompt event (``gen_ai.user.message``…) keeps none."""
        if name in self.drop_events:
            return {} if attributes else None
        return self.changed_attributes(attributes)


def prompt_scrubber(record_prompts: bool) -> Scrubber:
    """The scrubber ``configure()`` uses: secrets always; prompt and completion text too
    unless the app asked to record prompts (``record_prompts``)."""
    if record_prompts:
        return Scrubber()
    return Scrubber(
        drop_keys=sc.PROMPT_ATTRIBUTES,
        drop_prefixes=sc.PROMPT_ATTRIBUTE_PREFIXES,
        drop_events=sc.PROMPT_EVENTS,
    )
