"""Check a config against the key list of the version compose.yaml runs (dashboards/contracts/*.yaml).

Tempo, Loki and Grafana cannot run here, so their configs are held against the upstream
references of the pinned versions instead: every key must be one the reference names, at that
place; a boolean where the reference says boolean. :func:`unknown_keys` returns one line per
offence, empty when the config is clean.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONTRACTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Reference:
    """A key list: where it came from, and its tree (see dashboards/contracts/extract.py)."""

    component: str
    version: str
    source: dict[str, str]
    root: dict[str, Any]
    blocks: dict[str, Any]
    extra: dict[str, Any]


@cache
def load(component: str) -> Reference:
    data = yaml.safe_load((CONTRACTS / f"{component}.yaml").read_text())
    return Reference(
        component=data["component"],
        version=str(data["version"]),
        source=data["source"],
        root=data["root"],
        blocks=data.get("blocks", {}),
        extra={
            k: v for k, v in data.items() if k not in ("component", "version", "source", "root", "blocks")
        },
    )


def _kind_of(value: Any) -> str:
    return type(value).__name__


def _keys(schema: dict[str, Any], ref: Reference) -> dict[str, Any]:
    """The keys of a mapping, with those of the blocks it inlines."""
    keys = {key: value for key, value in schema.items() if key not in ("<inline>", "<open>")}
    for block in schema.get("<inline>", []):
        keys.update(_keys(ref.blocks[block], ref))
    return keys


def _walk(value: Any, schema: Any, path: str, ref: Reference, out: list[str]) -> None:
    if isinstance(schema, dict):
        if schema.get("<open>"):
            return
        schema = _keys(schema, ref)
        if value is None:
            return
        if not isinstance(value, dict):
            out.append(f"{path}: expected a mapping, got {_kind_of(value)}")
            return
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in schema:
                close = difflib.get_close_matches(str(key), schema, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                out.append(
                    f"{where}: not a key of {path or 'the top level'} in {ref.component} {ref.version}{hint}"
                )
                continue
            _walk(item, schema[key], where, ref, out)
        return
    if schema.startswith("@"):
        _walk(value, ref.blocks[schema[1:]], path, ref, out)
    elif schema.startswith("[@"):
        if not isinstance(value, list):
            out.append(f"{path}: expected a list, got {_kind_of(value)}")
            return
        for index, item in enumerate(value):
            _walk(item, ref.blocks[schema[2:-1]], f"{path}[{index}]", ref, out)
    elif schema.startswith("{@"):
        if not isinstance(value, dict):
            out.append(f"{path}: expected a mapping, got {_kind_of(value)}")
            return
        for key, item in value.items():
            _walk(item, ref.blocks[schema[2:-1]], f"{path}.{key}", ref, out)
    elif schema == "<boolean>" and value is not None and not isinstance(value, bool):
        out.append(f"{path}: expected true or false, got {value!r}")
    elif schema == "<map>" and value is not None and not isinstance(value, dict):
        out.append(f"{path}: expected a mapping, got {_kind_of(value)}")
    elif schema in ("<list>",) and value is not None and not isinstance(value, list):
        out.append(f"{path}: expected a list, got {_kind_of(value)}")


def unknown_keys(config: Any, component: str, *, block: str | None = None) -> list[str]:
    """Offences of ``config`` against the reference of ``component`` (at ``block``, or its root)."""
    ref = load(component)
    out: list[str] = []
    _walk(config, ref.blocks[block] if block else ref.root, "", ref, out)
    return out
