"""(operation, collection) of a SQL query text, for spans that carry only the statement."""

from __future__ import annotations

import re

__all__ = ["parse_statement"]

_CACHE: dict[str, tuple[str | None, str | None]] = {}
_CACHE_SIZE = 4096
_STATEMENT = re.compile(
    r"^\s*(\w+)(?:.*?\b(?:FROM|INTO|UPDATE|TABLE|JOIN)\s+\"?([A-Za-z_][\w.]*)\"?)?", re.IGNORECASE | re.DOTALL
)


def parse_statement(statement: str) -> tuple[str | None, str | None]:
    """(operation, collection) of a query text, cached: statements are parameterized."""
    parsed = _CACHE.get(statement)
    if parsed is None:
        match = _STATEMENT.match(statement)
        parsed = (match.group(1).upper(), match.group(2)) if match else (None, None)
        if len(_CACHE) < _CACHE_SIZE:
            _CACHE[statement] = parsed
    return parsed
