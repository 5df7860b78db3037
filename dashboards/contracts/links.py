"""The trace -> logs and logs -> trace links, evaluated on what the stores make of our output.

Loki (the pinned version, dashboards/contracts/loki.yaml ``otlp``) turns an OTLP log record
into a stream whose labels are the resource attributes of its index-label list, named like
Prometheus labels (``service.name`` -> ``service_name``), and structured metadata: the
record's trace and span ids as lower-case hex (``trace_id``, ``span_id``), its severity, and
every other resource and record attribute. :func:`loki_view` does the same to a record our
library exported; :func:`trace_to_logs_query` fills Tempo's trace -> logs query the way
Grafana does for a span; :func:`logql_matches` evaluates the subset of LogQL that query may
use: one stream selector, then label filters. A query outside that subset (another query
language, a parser stage, a line filter) is reported, not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dashboards.contracts.reference import load

_LABEL_OP_VALUE = r'(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"'
_MATCHER = re.compile(rf"\s*{_LABEL_OP_VALUE}\s*")
_FILTER = re.compile(rf"\s*\|\s*{_LABEL_OP_VALUE}")
_QUERY = re.compile(r"^\s*\{(?P<selector>[^{}]*)\}(?P<pipeline>.*)$")


def loki_label_name(attribute: str) -> str:
    """An OTLP attribute name as Loki names its label (otlptranslator's LabelNamer)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", attribute)
    return f"key_{name}" if name[:1].isdigit() else name


@dataclass(frozen=True)
class LokiEntry:
    """What Loki keeps of one OTLP log record: stream labels and structured metadata."""

    labels: dict[str, str]
    metadata: dict[str, str] = field(default_factory=dict)


def loki_view(resource: dict[str, str], record: dict[str, Any]) -> LokiEntry:
    """Loki's view of a record (``trace_id``/``span_id`` as bytes, ``attributes`` a dict)."""
    indexed = set(load("loki").extra["otlp"]["index_label_attributes"])
    labels, metadata = {}, {}
    for key, value in resource.items():
        (labels if key in indexed else metadata)[loki_label_name(key)] = str(value)
    for key, value in (record.get("attributes") or {}).items():
        metadata[loki_label_name(key)] = str(value)
    if any(record.get("trace_id") or b""):
        metadata["trace_id"] = record["trace_id"].hex()
    if any(record.get("span_id") or b""):
        metadata["span_id"] = record["span_id"].hex()
    if record.get("severity_text"):
        metadata["severity_text"] = record["severity_text"]
    return LokiEntry(labels, metadata)


def trace_to_logs_query(
    settings: dict[str, Any], resource: dict[str, str], trace_id: str, span_id: str
) -> str:
    """Grafana's trace -> logs query for one span (tracesToLogsV2 with ``customQuery``).

    ``${__tags}`` becomes ``name="value"`` for each mapped tag the span's resource has (the
    name is the mapping's ``value``, else its ``key``), joined by ", ". Provisioning files
    write ``$`` as ``$$``; this takes the query as Grafana holds it after reading the file.
    """
    query = settings["query"].replace("$$", "$")
    tags = [
        f'{tag.get("value") or tag["key"]}="{resource[tag["key"]]}"'
        for tag in settings.get("tags") or []
        if tag["key"] in resource
    ]
    return (
        query.replace("${__tags}", ", ".join(tags))
        .replace("${__trace.traceId}", trace_id)
        .replace("${__span.spanId}", span_id)
    )


def _matches(op: str, actual: str | None, wanted: str) -> bool:
    if op == "=":
        return actual == wanted
    if op == "!=":
        return actual != wanted
    found = re.fullmatch(wanted, actual or "") is not None
    return found if op == "=~" else not found


def logql_matches(query: str, entry: LokiEntry) -> list[str]:
    """Why ``query`` does not select ``entry`` (empty: it does)."""
    parsed = _QUERY.match(query)
    if parsed is None:
        return [f"not a LogQL stream selector: {query!r}"]
    out = []
    selector = parsed["selector"].strip()
    matchers = [m for m in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", selector) if m.strip()]
    if not matchers:
        out.append(f"empty stream selector (Loki needs at least one label matcher): {query!r}")
    for text in matchers:
        m = _MATCHER.fullmatch(text)
        if m is None:
            out.append(f"not a label matcher: {text!r}")
        elif m["name"] not in entry.labels:
            out.append(
                f"stream selector uses {m['name']!r}, which is not an index label of the entry "
                f"({sorted(entry.labels)})"
            )
        elif not _matches(m["op"], entry.labels[m["name"]], m["value"]):
            out.append(
                f"stream selector {text.strip()!r} does not match {m['name']}={entry.labels[m['name']]!r}"
            )
    pipeline = parsed["pipeline"]
    while pipeline.strip():
        f = _FILTER.match(pipeline)
        if f is None:
            out.append(f"pipeline stage outside label filters: {pipeline.strip()!r}")
            break
        name, value = f["name"], entry.labels.get(f["name"], entry.metadata.get(f["name"]))
        if name not in entry.labels and name not in entry.metadata:
            out.append(f"label filter on {name!r}: neither a label nor structured metadata of the entry")
        elif not _matches(f["op"], value, f["value"]):
            out.append(f"label filter {name}{f['op']}{f['value']!r} does not match {value!r}")
        pipeline = pipeline[f.end() :]
    return out
