"""The scanning machinery: one RE2 automaton over the UTF-8 bytes of a text, rule handlers.

Every rule is an alternative of one RE2 pattern (an automaton: linear time in the length of
the text, whatever the text). A scan asks RE2 for the leftmost match from a position, lets
the rule that matched decide (a replacement, or keep the text), and goes on after it. A
handler may read a little further with another anchored RE2 pattern (the value after a
``password=``), so the text consumed by a match is never scanned twice, except the value of
a match that is kept (which is scanned once more, for shapes inside it).

Decisions that need more than a pattern (does this value look like a secret or like a
word?) are plain Python on the matched bytes: linear in the match, never backtracking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import re2

from amas_telemetry._internal.compat.re2_engine import ANCHOR_START, RE2, UNANCHORED

__all__ = [
    "MAX_MATCHES",
    "REDACTED",
    "TOO_MANY",
    "Match",
    "Rule",
    "Scanner",
    "Trigger",
    "anchored",
    "looks_random",
    "looks_secret",
    "loosened",
]

REDACTED: Final = "[REDACTED]"
REDACTED_BYTES: Final = REDACTED.encode()

MAX_MATCHES: Final = 256
"""Secret-like matches looked at in one text; past them the rest of the text is replaced by
:data:`TOO_MANY`. Ordinary text never comes near; it bounds the cost of hostile text."""
TOO_MANY: Final = "[REDACTED: too many secret-like matches]"
TOO_MANY_BYTES: Final = TOO_MANY.encode()

_GROUP_WINDOW: Final = 256

_UNANCHORED = UNANCHORED
_ANCHOR_START = ANCHOR_START


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _compile(pattern: str, *, capture: bool = True) -> RE2:
    options = re2.Options()
    options.max_mem = 64 << 20  # room for the DFA of the combined pattern
    if not capture:  # RE2's never_capture leaves named groups capturing: unname them
        pattern = _NAMED_GROUP.sub("(?:", pattern)
        options.never_capture = True
    regexp = RE2(pattern.encode(), options)
    if not regexp.ok():
        raise ValueError(f"bad RE2 pattern: {pattern!r}")
    return regexp


_COUNT = re.compile(r"\{(\d+)(?:,\d*)?\}")


def loosened(pattern: str) -> str:
    """``pattern`` with each counted repetition ``{n}``, ``{n,}``, ``{n,m}`` made ``{min(n, 2),}``:
    it matches wherever ``pattern`` does (and more), with a far smaller automaton."""
    return _COUNT.sub(lambda m: f"{{{min(int(m.group(1)), 2)},}}", pattern)


class anchored:
    """An RE2 pattern matched at one position; ``end`` is where its match ends (or -1)."""

    __slots__ = ("_regexp",)

    def __init__(self, pattern: str) -> None:
        self._regexp = _compile(pattern)

    def end(self, data: bytes, pos: int) -> int:
        spans = self._regexp.Match(_ANCHOR_START, data, pos, len(data))
        return spans[0][1]  # -1 when there is no match


class Trigger:
    """Does a text hold any of the words a rule needs? One DFA pass (RE2), far cheaper than
    Python's ``re`` on a case-insensitive alternation (benchmarks/RESULTS.md, section 9)."""

    __slots__ = ("_regexp",)

    def __init__(self, pattern: str) -> None:
        self._regexp = _compile(pattern, capture=False)

    def __call__(self, text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        return self._regexp.Match(_UNANCHORED, data, 0, len(data))[0][0] >= 0


@dataclass(frozen=True, slots=True)
class Match:
    """One match: the text, the match's bounds and its groups (byte offsets, -1 when unset)."""

    data: bytes
    start: int
    end: int
    groups: dict[str, tuple[int, int]]

    def group(self, name: str) -> bytes | None:
        start, end = self.groups.get(name, (-1, -1))
        return None if start < 0 else self.data[start:end]

    def bounds(self, name: str) -> tuple[int, int]:
        return self.groups.get(name, (-1, -1))


Decision = tuple[bytes | None, int, int]
"""What a handler returns: (replacement or None to keep, end of the replaced text, where to
resume scanning). The replacement covers ``match.start`` to that end."""


@dataclass(frozen=True)
class Rule:
    """One shape: an RE2 pattern whose named groups start with ``name`` and a handler.

    ``trigger``: a case-insensitive RE2 fragment that every text the pattern matches holds
    (a word or prefix), so that text holding none of the rules' triggers skips the scan.
    """

    name: str
    pattern: str
    handle: Callable[[Match], Decision]
    trigger: str


class Scanner:
    """All rules as one RE2 alternation; ``scrub`` replaces what the rules say is secret.

    Two steps per match, both automata: a loosened form of the combined pattern without
    groups finds where the next candidate is (a DFA: cheap), then the rules, anchored there
    in order, say whether one matches, which, and where its groups are (the first that
    matches is the one the alternation would have chosen). Loosened: every counted
    repetition ``{n,m}`` becomes "at least ``min(n, 2)``", a superset that keeps the DFA
    small (exact counts over a hundred provider formats multiply its states and made it
    rebuild them for every new token); a candidate no rule matches costs one anchored check.
    Group positions cost time in proportion to the match's length, and the groups sit at a
    match's start: for a long candidate (a 16 KB run after ``Bearer``) the rule and its end
    come from group-less patterns, and the groups from the first :data:`_GROUP_WINDOW` bytes.
    """

    def __init__(self, rules: Sequence[Rule], max_matches: int = MAX_MATCHES) -> None:
        self._rules = tuple(rules)
        self._max_matches = max_matches
        self._finder = _compile("|".join(f"(?:{loosened(r.pattern)})" for r in self._rules), capture=False)
        self._matchers = []
        for rule in self._rules:
            regexp = _compile(rule.pattern)
            names = [(name.decode(), index) for name, index in regexp.NamedCapturingGroups()]
            self._matchers.append((rule, regexp, names, _compile(rule.pattern, capture=False)))

    def scrub(self, text: str) -> str:
        data = text.encode("utf-8", "surrogatepass")
        changed = self.scrub_bytes(data)
        return text if changed is data else changed.decode("utf-8", "surrogatepass")

    def _match(self, data: bytes, start: int, end: int) -> tuple[Rule, Match] | None:
        size = len(data)
        if end - start <= _GROUP_WINDOW:
            for rule, regexp, names, _ in self._matchers:
                spans = regexp.Match(_ANCHOR_START, data, start, size)
                if spans[0][0] >= 0:
                    return rule, Match(data, start, spans[0][1], {name: spans[i] for name, i in names})
            return None
        for rule, regexp, names, bare in self._matchers:
            end = bare.Match(_ANCHOR_START, data, start, size)[0][1]
            if end < 0:
                continue
            window = start + _GROUP_WINDOW
            spans = regexp.Match(_ANCHOR_START, data, start, min(window, end))
            if spans[0][0] < 0:  # the groups reach further than the window: the slow way
                spans = regexp.Match(_ANCHOR_START, data, start, end)
            # a group the window cut (the value at the match's end) runs to the match's end
            groups = {name: (spans[i][0], end if spans[i][1] == window else spans[i][1]) for name, i in names}
            return rule, Match(data, start, end, groups)
        return None

    def scrub_bytes(self, data: bytes) -> bytes:
        pieces: list[bytes] = []
        kept_from = 0
        pos = 0
        size = len(data)
        find = self._finder.Match
        budget = self._max_matches
        while pos < size:
            start, end = find(_UNANCHORED, data, pos, size)[0]
            if start < 0:
                break
            budget -= 1
            if budget < 0:  # fail closed: hostile text does not get its rest looked at, nor out
                pieces.append(data[kept_from:start])
                pieces.append(TOO_MANY_BYTES)
                kept_from = size
                break
            found = self._match(data, start, end)
            if found is None:  # a candidate of the loosened pattern that no rule matches
                pos = start + 1
                continue
            rule, match = found
            replacement, replaced_to, resume = rule.handle(match)
            if replacement is not None:
                pieces.append(data[kept_from:start])
                pieces.append(replacement)
                kept_from = replaced_to
            pos = max(resume, start + 1, kept_from)
        if not pieces:
            return data
        pieces.append(data[kept_from:])
        return b"".join(pieces)


# --- does a value look like a secret? ------------------------------------------------------

_NOT_SECRETS: Final = frozenset(
    {b"null", b"none", b"nil", b"true", b"false", b"undefined", b"redacted", b"[redacted]", b"***", b""}
)


def _classes(value: bytes) -> int:
    """How many of lower case, upper case and digits ``value`` holds (C-speed bytes ops)."""
    return (
        (value.upper() != value)
        + (value.lower() != value)
        + (len(value.translate(None, _DIGITS)) != len(value))
    )


_DIGITS: Final = b"0123456789"


def looks_secret(value: bytes) -> bool:
    """A value in prose (``token: …``, ``Bearer …``) that looks generated, not like words.

    It holds an alphanumeric run of 6+ characters mixing two of lower case, upper case and
    digits (not a Title-case word), or 6+ digits, or a run of 20+: ``hunter2``, ``dXNlcjpw``,
    ``tok-99887766`` are secrets; ``generation``, ``eu-west-1``, ``Authentication`` are not.
    """
    if len(value) < 6 or value.lower() in _NOT_SECRETS:
        return False
    for run in _runs(_RUNS_OF_6, value):
        if len(run) >= 20 or run.isdigit() or (_classes(run) >= 2 and not (run.isalpha() and run.istitle())):
            return True
    return False


_RUNS_OF_6: Final = _compile(r"[A-Za-z0-9]{6,}", capture=False)
_LONG_RUNS: Final = _compile(r"[A-Za-z0-9]{12,}", capture=False)


def _runs(regexp: RE2, data: bytes) -> Iterator[bytes]:
    """The matches of a group-less RE2 pattern, in order (a DFA pass, skipping what fails)."""
    pos, size = 0, len(data)
    while pos < size:
        start, end = regexp.Match(_UNANCHORED, data, pos, size)[0]
        if start < 0:
            return
        yield data[start:end]
        pos = max(end, start + 1)


def looks_random(body: bytes) -> bool:
    """A key body (after ``sk-``) holding a random run, not a name such as ``prod-cluster-eu-1``.

    True when an alphanumeric run of 12+ characters mixes two of lower case, upper case and
    digits, or a run is 20+ characters long.
    """
    return any(len(run) >= 20 or _classes(run) >= 2 for run in _runs(_LONG_RUNS, body))
