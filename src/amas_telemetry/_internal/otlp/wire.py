"""OTLP protobuf bytes written directly, for the hot export paths.

The OTel exporters build a tree of protobuf message objects per batch and then serialize it
(``opentelemetry.exporter.otlp.proto.common``), most of the work in generic attribute
handling, for a message shape that never changes (benchmarks/RESULTS.md compares the two).
Here the few message types the exports need are written as protobuf wire bytes
(https://protobuf.dev/programming-guides/encoding/) straight from the values. The output is
byte-for-byte what the SDK's encoders serialize (tests compare the two on generated input),
so the Collector cannot tell the difference.

Field numbers come from ``opentelemetry/proto/{common,resource}/v1/*.proto``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "any_value",
    "export_request",
    "fixed32",
    "fixed64",
    "grouped",
    "key_values",
    "length_delimited",
    "pack_fixed64",
    "resource_bytes",
    "schema_url",
    "scope_bytes",
    "varint",
]

_log = logging.getLogger(__name__)

pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack
_SMALL = tuple(bytes((n,)) for n in range(128))
_INT64_MIN, _INT64_END = -(1 << 63), 1 << 63
_MASK64 = (1 << 64) - 1


def varint(n: int) -> bytes:
    """A base-128 varint of a non-negative ``n`` (negative int64 values: pass ``n & 2**64-1``)."""
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n > 127:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_delimited(tag: bytes, payload: bytes) -> bytes:
    """One field of wire type 2 (string, bytes, embedded message)."""
    return tag + varint(len(payload)) + payload


def fixed64(tag: bytes, value: int) -> bytes:
    return tag + pack_fixed64(value)


def fixed32(tag: bytes, value: int) -> bytes:
    return tag + _pack_fixed32(value)


def _int64(value: int) -> bytes:
    if not _INT64_MIN <= value < _INT64_END:
        raise ValueError(f"{value} does not fit an int64")
    return varint(value & _MASK64)


# AnyValue (common.proto): string_value = 1, bool_value = 2, int_value = 3, double_value = 4,
# array_value = 5, kvlist_value = 6, bytes_value = 7. A oneof member is written even when it
# holds its type's default (0, "", False), as the SDK's encoder sets it.
def any_value(value: Any) -> bytes:
    """The payload of an ``AnyValue`` message holding ``value`` (empty for None)."""
    kind = value.__class__
    if kind is str:
        data = value.encode()
        size = len(data)
        return b"\x0a" + (_SMALL[size] if size < 128 else varint(size)) + data
    if kind is int:
        return b"\x18" + (_SMALL[value] if 0 <= value < 128 else _int64(value))
    if kind is float:
        return b"\x21" + _pack_double(value)
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    return _any_value_slow(value)


def _any_value_slow(value: Any) -> bytes:
    """Subclasses, containers and None, in the order the SDK's ``_encode_value`` tests them."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return length_delimited(b"\x0a", str.encode(value))
    if isinstance(value, int):
        return b"\x18" + _int64(int(value))
    if isinstance(value, float):
        return b"\x21" + _pack_double(float(value))
    if isinstance(value, bytes):
        return length_delimited(b"\x3a", bytes(value))
    if isinstance(value, Sequence):
        # ArrayValue: repeated AnyValue values = 1
        items = b"".join(length_delimited(b"\x0a", any_value(v)) for v in value)
        return length_delimited(b"\x2a", items)
    if isinstance(value, Mapping):
        # KeyValueList: repeated KeyValue values = 1
        pairs = b"".join(length_delimited(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return length_delimited(b"\x32", pairs)
    raise TypeError(f"Invalid type {type(value)} of value {value}")


_KEY_FIELDS: dict[str, bytes] = {}
"""``KeyValue.key`` fields by key (attribute keys repeat: encoded once)."""


def _key_field(key: str) -> bytes:
    field = _KEY_FIELDS.get(key)
    if field is None:
        field = length_delimited(b"\x0a", key.encode()) if key else b""  # "" is proto3's default
        if len(_KEY_FIELDS) < 4096:
            _KEY_FIELDS[key] = field
    return field


def _key_value(key: str, value: Any) -> bytes:
    """The payload of a ``KeyValue``: key = 1, value = 2 (always present)."""
    data = any_value(value)
    size = len(data)
    return _key_field(key) + b"\x12" + (_SMALL[size] if size < 128 else varint(size)) + data


def key_values(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` field ``tag``; a value that cannot be encoded is logged and left
    out, as the SDK's ``_encode_attributes`` does."""
    if not attributes:
        return b""
    out = []
    for key, value in attributes.items():
        try:
            pair = _key_value(key, value)
        except Exception as error:  # the SDK's encoder skips the key the same way
            _log.exception("Failed to encode key %s: %s", key, error)
            continue
        size = len(pair)
        out.append(tag + (_SMALL[size] if size < 128 else varint(size)) + pair)
    return b"".join(out)


class _IdentityCache:
    """Encoded bytes per object, looked up by identity (``Resource.__hash__`` dumps JSON)."""

    def __init__(self, encode: Callable[[Any], bytes], bound: int = 64) -> None:
        self._encode = encode
        self._entries: dict[int, tuple[Any, bytes]] = {}
        self._bound = bound

    def __call__(self, item: Any) -> bytes:
        entry = self._entries.get(id(item))
        if entry is not None and entry[0] is item:
            return entry[1]
        if len(self._entries) >= self._bound:
            self._entries.clear()
        encoded = self._encode(item)
        self._entries[id(item)] = (item, encoded)  # holds the item, so its id is not reused
        return encoded


def _resource(resource: Any) -> bytes:
    # Resource: repeated KeyValue attributes = 1
    return key_values(b"\x0a", resource.attributes)


def _scope(scope: Any) -> bytes:
    # InstrumentationScope: name = 1, version = 2, repeated KeyValue attributes = 3
    if scope is None:
        return b""
    out = b""
    if scope.name:
        out += length_delimited(b"\x0a", scope.name.encode())
    if scope.version:
        out += length_delimited(b"\x12", scope.version.encode())
    return out + key_values(b"\x1a", scope.attributes)


resource_bytes = _IdentityCache(_resource)
"""The payload of a ``Resource`` message for an SDK ``Resource``, encoded once per object."""
scope_bytes = _IdentityCache(_scope)
"""The payload of an ``InstrumentationScope`` message (empty for None), once per object."""


def grouped(entries: Iterable[tuple[Any, Any, bytes]]) -> list[tuple[Any, list[tuple[Any, list[bytes]]]]]:
    """``(resource, scope, item bytes)`` grouped by resource, then scope, in first-seen order.

    Equal resources (and scopes) share a group even when they are distinct objects, as the
    SDK's encoders group them by equality; the lookup is by identity first, so equality is
    only tested when a new object shows up.
    """
    groups: list[tuple[Any, list[tuple[Any, list[bytes]]]]] = []
    by_resource: dict[int, list[tuple[Any, list[bytes]]]] = {}
    by_scope: dict[tuple[int, int], list[bytes]] = {}
    held: list[Any] = []  # keeps every looked-up object alive, so no id is reused meanwhile
    for resource, scope, item in entries:
        items = by_scope.get((id(resource), id(scope)))
        if items is None:
            held += (resource, scope)
            scopes = by_resource.get(id(resource))
            if scopes is None:
                scopes = next((s for r, s in groups if r == resource), None)
                if scopes is None:
                    scopes = []
                    groups.append((resource, scopes))
                by_resource[id(resource)] = scopes
            items = next((i for s, i in scopes if s == scope), None)
            if items is None:
                items = []
                scopes.append((scope, items))
            by_scope[(id(resource), id(scope))] = items
        items.append(item)
    return groups


def export_request(entries: Iterable[tuple[Any, Any, bytes]]) -> bytes:
    """An OTLP export request from ``(resource, scope, item payload)`` entries.

    The three signals share the shape: ``Export*ServiceRequest { repeated Resource* = 1 }``,
    ``Resource* { resource = 1; repeated Scope* = 2; schema_url = 3 }``,
    ``Scope* { scope = 1; repeated item = 2; schema_url = 3 }``.
    """
    out = []
    for resource, scopes in grouped(entries):
        body = length_delimited(b"\x0a", resource_bytes(resource))
        for scope, items in scopes:
            scoped = length_delimited(b"\x0a", scope_bytes(scope))
            scoped += b"".join([length_delimited(b"\x12", item) for item in items])
            scoped += schema_url(b"\x1a", scope)
            body += length_delimited(b"\x12", scoped)
        body += schema_url(b"\x1a", resource)
        out.append(length_delimited(b"\x0a", body))
    return b"".join(out)


def schema_url(tag: bytes, owner: Any) -> bytes:
    url = getattr(owner, "schema_url", None) if owner is not None else None
    return length_delimited(tag, url.encode()) if url else b""
