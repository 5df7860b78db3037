"""Write the key lists of dashboards/contracts/ from the upstream configuration references.

    python -m dashboards.contracts.extract loki  CONFIGURATION_MD --version V --ref R --commit C > loki.yaml
    python -m dashboards.contracts.extract tempo MANIFEST_MD      --version V --ref R --commit C > tempo.yaml

The inputs are the references of the versions compose.yaml pins, read from a checkout of the
upstream repository (see each data file's ``source``): Loki's
``docs/sources/shared/configuration.md`` and Tempo's ``docs/sources/tempo/configuration/manifest.md``.
Only key names and value kinds are carried over, as data; the upstream text is not.

A key list is a tree: a mapping is a nested mapping; a leaf is a kind string:

    "<boolean>" "<int>" "<string>" ...    a value of that kind (booleans are checked)
    "<map>" / "<list>"                    any mapping / list (its content is not described)
    "@block"                              the mapping described by ``blocks[block]``
    "[@block]" / "{@block}"               a list of / a mapping of string to such mappings
A mapping's ``"<inline>"`` lists blocks whose keys it takes as its own (Loki's squashed blocks);
``"<open>": true`` makes it take any key.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

# Loki: "[key: <kind> | default = ...]" or "key:" opening a nested mapping
_BRACKETED = re.compile(r"^\[(?P<key>[A-Za-z0-9_]+): (?P<kind><[^>]*>|[^|\]]*?)\s*(?:\|.*)?\]$")
_OPENING = re.compile(r"^(?P<key>[A-Za-z0-9_]+):$")
_INLINED = re.compile(r"^\[<(?P<block>[a-z0-9_]+)>\]$")
_OPEN = re.compile(r"^\[: <[^>]*>\]$")
_HEADING = re.compile(r"^### (?P<name>[a-z0-9_]+)$")


def _loki_kind(kind: str, blocks: set[str]) -> str:
    inner = kind.strip("<>").strip()
    if inner in blocks:
        return f"@{inner}"
    if inner.startswith("list of "):
        item = inner.removeprefix("list of ")
        singular = item[:-1] if item.endswith("s") else item
        return f"[@{singular}]" if singular in blocks else "<list>"
    if inner.startswith("map of string to "):
        value = inner.removeprefix("map of string to ")
        return f"{{@{value}}}" if value in blocks else "<map>"
    return f"<{inner}>" if inner else "<any>"


def _yaml_fences(lines: list[str]) -> list[tuple[str | None, list[str]]]:
    """(heading of the section or None for the root, lines of its yaml fence)."""
    out: list[tuple[str | None, list[str]]] = []
    heading: str | None = None
    root_seen = False
    fence: list[str] | None = None
    for line in lines:
        if fence is not None:
            if line.startswith("```"):
                out.append((heading, fence))
                fence = None
            else:
                fence.append(line)
            continue
        if line.startswith("## ") and root_seen:
            break  # past the configuration file reference
        if match := _HEADING.match(line):
            heading = match["name"]
        elif line.startswith("### Supported contents"):
            heading, root_seen = None, True
        elif line.startswith("```yaml") and (root_seen or heading is not None):
            fence = []
    return out


def _loki_tree(fence: list[str], blocks: set[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for raw in fence:
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if match := _BRACKETED.match(stripped):
            parent[match["key"]] = _loki_kind(match["kind"], blocks)
        elif _OPEN.match(stripped):
            parent["<open>"] = True
        elif match := _INLINED.match(stripped):
            parent.setdefault("<inline>", []).append(match["block"])
        elif match := _OPENING.match(stripped):
            child: dict[str, Any] = {}
            parent[match["key"]] = child
            stack.append((indent, child))
        else:
            raise ValueError(f"unparsed reference line: {raw!r}")
    return root


# What Loki's OTLP endpoint makes of a log record besides its index labels: the structured
# metadata fields it sets itself (pkg/loghttp/push/otlp.go, release-3.7.x: trace_id and span_id
# as lower-case hex, severity_text, severity_number, flags, observed_timestamp,
# dropped_attributes_count). Resource attributes outside the index-label list, and the
# record's own attributes, become structured metadata too, named like labels ("a.b" -> "a_b").
LOKI_OTLP_STRUCTURED_METADATA = [
    "trace_id",
    "span_id",
    "severity_text",
    "severity_number",
    "flags",
    "observed_timestamp",
    "dropped_attributes_count",
]
_INDEX_LABELS = re.compile(
    r"\[default_resource_attributes_as_index_labels: <list of strings> \| default = \[(?P<names>[^\]]*)\]\]"
)


def loki(text: str) -> dict[str, Any]:
    # a section may open with an example; its reference is its last fence
    fences = list({heading: fence for heading, fence in _yaml_fences(text.splitlines())}.items())
    names = {heading for heading, _ in fences if heading is not None}
    result: dict[str, Any] = {"root": {}, "blocks": {}}
    for heading, fence in fences:
        tree = _loki_tree(fence, names)
        if heading is None:
            result["root"] = tree
        else:
            result["blocks"][heading] = tree
    match = _INDEX_LABELS.search(text)
    if match is None:
        raise ValueError("no default_resource_attributes_as_index_labels in the reference")
    result["otlp"] = {
        "index_label_attributes": match["names"].split(),
        "structured_metadata": LOKI_OTLP_STRUCTURED_METADATA,
    }
    return result


# Tempo's manifest is the default config marshalled to YAML; fields tagged `omitempty` with an
# empty default are missing from it. The ones our config uses are added from the Go structs of
# the same tag (path -> kind, where in grafana/tempo v2.10.4 it is declared).
TEMPO_OMITEMPTY: dict[str, tuple[str, str]] = {
    "stream_over_http_enabled": ("<boolean>", "cmd/tempo/app/config.go:45"),
    "metrics_generator.registry.external_labels": ("<map>", "modules/generator/registry/config.go:19"),
    "metrics_generator.storage.remote_write": ("[@remote_write]", "modules/generator/storage/config.go:28"),
    "overrides.defaults.metrics_generator.processors": ("<list>", "modules/overrides/config.go:142"),
    "distributor.receivers.otlp": ("@otlp_receiver", "modules/distributor/config.go:37 (a map of receivers)"),
}

TEMPO_BLOCKS: dict[str, Any] = {
    # the OpenTelemetry Collector's otlpreceiver config Tempo embeds: protocols.grpc / .http hold
    # the Collector's server settings, not listed further here
    "otlp_receiver": {"protocols": {"grpc": "<map>", "http": "<map>"}},
    # Prometheus's RemoteWriteConfig as vendored by Tempo 2.10.4
    # (vendor/github.com/prometheus/prometheus/config/config.go, RemoteWriteConfig with the inline
    # HTTPClientConfig and ProxyConfig of vendor/github.com/prometheus/common/config/http_config.go)
    "remote_write": {
        **dict.fromkeys(
            [
                "url",
                "remote_timeout",
                "name",
                "protobuf_message",
                "bearer_token",
                "bearer_token_file",
                "proxy_url",
                "no_proxy",
            ],
            "<string>",
        ),
        **dict.fromkeys(
            [
                "send_exemplars",
                "send_native_histograms",
                "round_robin_dns",
                "follow_redirects",
                "enable_http2",
                "proxy_from_environment",
            ],
            "<boolean>",
        ),
        **dict.fromkeys(
            [
                "headers",
                "queue_config",
                "metadata_config",
                "sigv4",
                "azuread",
                "google_iam",
                "basic_auth",
                "authorization",
                "oauth2",
                "tls_config",
                "http_headers",
                "proxy_connect_header",
            ],
            "<map>",
        ),
        "write_relabel_configs": "<list>",
    },
}


def _tempo_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _tempo_tree(v) for k, v in value.items()} if value else "<map>"
    if isinstance(value, list):
        return "<list>"
    if isinstance(value, bool):
        return "<boolean>"
    if isinstance(value, int):
        return "<int>"
    return "<any>" if value is None else "<string>"


def tempo(text: str) -> dict[str, Any]:
    body = text.split("## Complete configuration", 1)[1]
    fence = body.split("```yaml", 1)[1].split("```", 1)[0]
    root = _tempo_tree(yaml.safe_load(fence))
    for dotted, (kind, _where) in TEMPO_OMITEMPTY.items():
        *parents, leaf = dotted.split(".")
        node = root
        for key in parents:
            if node.get(key) == "<map>":
                node[key] = {}
            node = node.setdefault(key, {})
        node[leaf] = kind
    return {"root": root, "blocks": TEMPO_BLOCKS}


SOURCES = {
    "loki": ("grafana/loki", "docs/sources/shared/configuration.md"),
    "tempo": ("grafana/tempo", "docs/sources/tempo/configuration/manifest.md"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("component", choices=sorted(SOURCES))
    parser.add_argument("reference", type=Path, help="the upstream reference file (see the module docstring)")
    parser.add_argument("--version", required=True, help="the version compose.yaml pins")
    parser.add_argument("--ref", required=True, help="the tag or branch the reference was read at")
    parser.add_argument("--commit", required=True, help="the commit of that ref")
    parser.add_argument("--note", default="", help="how the ref relates to the version, if not its tag")
    args = parser.parse_args(argv)
    repository, path = SOURCES[args.component]
    extracted = (loki if args.component == "loki" else tempo)(args.reference.read_text())
    source = {"repository": repository, "path": path, "ref": args.ref, "commit": args.commit}
    if args.note:
        source["note"] = args.note
    sys.stdout.write(
        f"# {args.component} {args.version}: the configuration keys its reference names.\n"
        "# Generated by dashboards/contracts/extract.py (see there); do not edit by hand.\n"
    )
    header = {"component": args.component, "version": args.version, "source": source}
    yaml.safe_dump(header, sys.stdout, sort_keys=False, width=120)
    yaml.safe_dump(extracted, sys.stdout, sort_keys=True, width=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
