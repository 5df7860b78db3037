"""The metric names a PromQL expression selects, for the checks and the docs that need them.

Not a PromQL parser: enough of one for the expressions of ``rules/*.yml`` and the dashboards
(functions, label matchers, ranges, ``by (...)`` lists, Grafana variables, numbers and
keywords are left out; ``{__name__=~"a|b"}`` selectors are expanded).
tests/dashboards/test_metric_catalog.py holds it to a worked example.
"""

from __future__ import annotations

import re

__all__ = ["metric_names"]

_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
    | {"inf", "nan", "Inf", "NaN"}
)
_NAME_REGEX = re.compile(r'__name__\s*=~?\s*"([^"]*)"')
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _expand(regex: str) -> set[str]:
    """The names a ``__name__`` regex of alternatives matches: ``a_(b|c)_d|e`` → a_b_d, a_c_d, e."""
    group = re.search(r"\(([^()]*)\)", regex)
    if group is None:
        return set(regex.split("|"))
    head, tail = regex[: group.start()], regex[group.end() :]
    head_alt, _, head_last = head.rpartition("|")
    tail_first, _, tail_alt = tail.partition("|")
    expanded = {name for alt in group.group(1).split("|") for name in _expand(head_last + alt + tail_first)}
    rest = "|".join(part for part in (head_alt, tail_alt) if part)
    return expanded | (_expand(rest) if rest else set())


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords left out)."""
    names = {name for regex in _NAME_REGEX.findall(expr) for name in _expand(regex)}
    expr = re.sub(r",\s*\w+\s*\)", ")", expr) if expr.startswith("label_values(") else expr
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\{?\w+\}?", " ", expr)  # Grafana variables
    expr = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?", " ", expr)  # numbers, durations
    for match in _IDENTIFIER.finditer(expr):
        rest = expr[match.end() :].lstrip()
        if match.group() not in _KEYWORDS and not rest.startswith("("):
            names.add(match.group())
    return names
