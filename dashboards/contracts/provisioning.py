"""Grafana's provisioning files and dashboards against the reference of the pinned Grafana.

Keys (dashboards/contracts/grafana.yaml), and links: every ``datasourceUid`` a link names and
every data source a dashboard panel names must be provisioned, with a type the link can use.
Each function returns one line per offence, empty when all is well.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dashboards.contracts.reference import load, unknown_keys

# Which data source type each link of a data source's jsonData must lead to (jsonData path ->
# type). The paths are the ones Grafana reads (see grafana.yaml); "[]" is every item of a list.
LINK_TARGETS: dict[str, dict[str, str]] = {
    "prometheus": {"exemplarTraceIdDestinations[].datasourceUid": "tempo"},
    "tempo": {
        "tracesToLogsV2.datasourceUid": "loki",
        "tracesToMetrics.datasourceUid": "prometheus",
        "serviceMap.datasourceUid": "prometheus",
    },
    "loki": {"derivedFields[].datasourceUid": "tempo"},
}


def _values_at(data: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield data
        return
    head, *rest = path
    if head.endswith("[]"):
        for item in (data or {}).get(head[:-2]) or []:
            yield from _values_at(item, rest)
    elif isinstance(data, dict) and head in data:
        yield from _values_at(data[head], rest)


def _linked_uids(json_data: Any) -> Iterator[tuple[str, Any]]:
    """(path, value) of every datasourceUid anywhere in a jsonData."""
    if isinstance(json_data, dict):
        for key, value in json_data.items():
            if key == "datasourceUid":
                yield key, value
            for path, uid in _linked_uids(value):
                yield f"{key}.{path}", uid
    elif isinstance(json_data, list):
        for index, item in enumerate(json_data):
            for path, uid in _linked_uids(item):
                yield f"[{index}].{path}", uid


def datasource_offences(doc: dict[str, Any]) -> list[str]:
    """Keys of a datasources provisioning file, each data source's jsonData, and its links."""
    out = [f"datasources: {line}" for line in unknown_keys(doc, "grafana", block="datasources_file")]
    sources = doc.get("datasources") or []
    by_uid = {ds.get("uid"): ds for ds in sources}
    blocks = load("grafana").blocks
    for ds in sources:
        name, kind = ds.get("uid") or ds.get("name"), ds.get("type")
        if f"jsonData_{kind}" not in blocks:
            out.append(
                f"{name}: no reference for data source type {kind!r} (dashboards/contracts/grafana.yaml)"
            )
            continue
        json_data = ds.get("jsonData") or {}
        out += [
            f"{name}.jsonData.{line}" for line in unknown_keys(json_data, "grafana", block=f"jsonData_{kind}")
        ]
        for path, uid in _linked_uids(json_data):
            if uid not in by_uid:
                out.append(
                    f"{name}.jsonData.{path}: links to data source uid {uid!r}, which is not provisioned"
                )
        for path, target in LINK_TARGETS.get(kind, {}).items():
            for uid in _values_at(json_data, path.split(".")):
                linked = by_uid.get(uid)
                if linked is not None and linked.get("type") != target:
                    out.append(
                        f"{name}.jsonData.{path}: links to {uid!r} of type {linked.get('type')!r}; "
                        f"this link needs a {target} data source"
                    )
    return out


def dashboard_provider_offences(doc: dict[str, Any]) -> list[str]:
    return [f"providers: {line}" for line in unknown_keys(doc, "grafana", block="dashboards_file")]


def _datasource_refs(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        ref = node.get("datasource")
        if isinstance(ref, dict) and "uid" in ref:
            yield path, ref
        for key, value in node.items():
            yield from _datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _datasource_refs(item, f"{path}[{index}]")


def dashboard_offences(name: str, model: dict[str, Any], provisioned: dict[str, str]) -> list[str]:
    """Data sources a dashboard names (panels, targets, variables) that are not provisioned.

    ``provisioned`` maps uid -> type. Template variables (``${...}``) and Grafana's built-in
    sources (``-- Grafana --``, ``-- Mixed --``, ``-- Dashboard --``) are not provisioned ones.
    """
    out = []
    for path, ref in _datasource_refs(model, name):
        uid = str(ref["uid"])
        if uid.startswith("$") or uid.startswith("-- "):
            continue
        if uid not in provisioned:
            out.append(f"{path}: data source uid {uid!r} is not provisioned")
        elif ref.get("type") and ref["type"] != provisioned[uid]:
            out.append(f"{path}: data source {uid!r} has type {provisioned[uid]!r}, not {ref['type']!r}")
    return out
