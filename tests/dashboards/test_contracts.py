"""Tempo, Loki and Grafana configs against the references of the versions compose.yaml pins.

Their software cannot run here, so every key of dashboards/stack/{tempo,loki}.yaml and of
dashboards/provisioning/** is held against the key lists in dashboards/contracts/ (taken from
the upstream references of those versions), every link between data sources against what is
provisioned, and the trace -> logs / logs -> trace links against what Loki makes of a log
record our library really exports. Each check is also shown to fail on a broken input.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from benchmarks._sink import Sink
from dashboards.contracts.links import LokiEntry, logql_matches, loki_view, trace_to_logs_query
from dashboards.contracts.provisioning import (
    dashboard_offences,
    dashboard_provider_offences,
    datasource_offences,
)
from dashboards.contracts.reference import load, unknown_keys
from opentelemetry import trace
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

import amas_telemetry

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = REPO_ROOT / "dashboards" / "stack"
PROVISIONING = REPO_ROOT / "dashboards" / "provisioning"
# the observability layer compose.yaml includes: Tempo, Loki and Grafana are there
COMPOSE = yaml.safe_load((REPO_ROOT / "compose.observability.yaml").read_text())


def _config(name: str) -> dict[str, Any]:
    return yaml.safe_load((STACK / f"{name}.yaml").read_text())


def _datasources() -> dict[str, Any]:
    return yaml.safe_load((PROVISIONING / "datasources" / "datasources.yaml").read_text())


def _by_uid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ds["uid"]: ds for ds in doc["datasources"]}


@pytest.mark.parametrize("component", ["tempo", "loki", "grafana"])
def test_each_reference_is_for_the_version_compose_runs(component):
    image = COMPOSE["services"][component]["image"]
    assert image.rsplit(":", 1)[1] == load(component).version, (
        f"compose runs {image}; refresh dashboards/contracts/{component}.yaml for it"
    )


@pytest.mark.parametrize("component", ["tempo", "loki"])
def test_store_config_has_only_keys_its_reference_names(component):
    assert unknown_keys(_config(component), component) == []


def test_datasources_have_only_known_keys_and_links_to_provisioned_sources():
    assert datasource_offences(_datasources()) == []


def test_dashboard_provider_has_only_known_keys():
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "provider.yaml").read_text())
    assert dashboard_provider_offences(doc) == []


def test_dashboards_name_only_provisioned_datasources():
    provisioned = {uid: ds["type"] for uid, ds in _by_uid(_datasources()).items()}
    offences = []
    for path in sorted((REPO_ROOT / "dashboards" / "json").glob("*.json")):
        offences += dashboard_offences(path.name, json.loads(path.read_text()), provisioned)
    assert offences == []


# --- the checks fail on what they are meant to catch ---------------------------------------------


def _broken(component: str, dotted: str, value: Any) -> dict[str, Any]:
    config = copy.deepcopy(_config(component))
    *parents, leaf = dotted.split(".")
    node = config
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[leaf] = value
    return config


@pytest.mark.parametrize(
    ("component", "dotted", "value", "expected"),
    [
        ("tempo", "ingester.max_block_durration", "5m", "did you mean max_block_duration?"),
        (
            "tempo",
            "metrics_generator.storage.remote_write.0.send_exemplar",
            True,
            "did you mean send_exemplars?",
        ),
        ("tempo", "stream_over_http_enabled", "yes", "expected true or false"),
        ("loki", "limits_config.allow_structured_metadat", True, "did you mean allow_structured_metadata?"),
        ("loki", "schema_config.configs.0.shema", "v13", "did you mean schema?"),
        ("loki", "common.storage.filesystem.chunk_directory", "/loki", "did you mean chunks_directory?"),
    ],
)
def test_a_misspelled_store_key_is_caught(component, dotted, value, expected):
    (offence,) = unknown_keys(_broken(component, dotted, value), component)
    assert offence.startswith(dotted.replace(".0.", "[0].")) and expected in offence


@pytest.mark.parametrize(
    ("uid", "edit", "expected"),
    [
        (
            "tempo",
            lambda j: j["tracesToLogsV2"].update(datasourceUid="logs"),
            "'logs', which is not provisioned",
        ),
        (
            "loki",
            lambda j: j["derivedFields"][0].update(datasourceUid="jaeger"),
            "'jaeger', which is not provisioned",
        ),
        (
            "prometheus",
            lambda j: j["exemplarTraceIdDestinations"][0].update(datasourceUid="loki"),
            "needs a tempo data source",
        ),
        ("tempo", lambda j: j.update(lokiSearch={"datasourceUid": "loki"}), "lokiSearch: not a key"),
        (
            "tempo",
            lambda j: j["tracesToLogsV2"].update(filterByTraceId=True),
            "did you mean filterByTraceID?",
        ),
        ("loki", lambda j: j["derivedFields"][0].update(matcherTyp="label"), "did you mean matcherType?"),
    ],
)
def test_a_broken_datasource_key_or_link_is_caught(uid, edit, expected):
    doc = _datasources()
    edit(_by_uid(doc)[uid]["jsonData"])
    offences = datasource_offences(doc)
    assert len(offences) == 1 and expected in offences[0], offences


def test_a_dashboard_naming_an_unprovisioned_datasource_is_caught():
    model = json.loads((REPO_ROOT / "dashboards" / "json" / "overview.json").read_text())
    model["panels"][0]["datasource"] = {"type": "prometheus", "uid": "mimir"}
    (offence,) = dashboard_offences("overview.json", model, {"prometheus": "prometheus"})
    assert "'mimir' is not provisioned" in offence


# --- the links on what Loki makes of a record our library exports --------------------------------


@pytest.fixture(scope="module")
def exported_log() -> tuple[dict[str, str], Any, str, str]:
    """(resource attributes, log record, trace id, span id) of one line logged inside a span,
    as the library exports it over OTLP/HTTP to a sink on 127.0.0.1."""
    with Sink(keep=True) as sink:
        telemetry = amas_telemetry.configure(
            service_name="amas-service",
            environment="compose",
            otlp_endpoint=sink.http_endpoint,
            otlp_protocol="http/protobuf",
            json_logs=False,
            system_metrics=False,
        )
        try:
            with trace.get_tracer("contracts").start_as_current_span("task") as span:
                logging.getLogger("contracts").warning("task %s done", "t-1")
                context = span.get_span_context()
            telemetry.force_flush(5000)
        finally:
            telemetry.shutdown()
        bodies = list(sink.bodies["logs"])
    for body in bodies:
        for resource_logs in ExportLogsServiceRequest.FromString(body).resource_logs:
            resource = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
            for scope in resource_logs.scope_logs:
                for record in scope.log_records:
                    if record.body.string_value == "task t-1 done":
                        return resource, record, f"{context.trace_id:032x}", f"{context.span_id:016x}"
    raise AssertionError(f"the log line never reached the sink ({len(bodies)} log requests)")


def _entry(resource: dict[str, str], record: Any) -> LokiEntry:
    attributes = {a.key: a.value.string_value for a in record.attributes}
    return loki_view(
        resource,
        {
            "trace_id": record.trace_id,
            "span_id": record.span_id,
            "severity_text": record.severity_text,
            "attributes": attributes,
        },
    )


def test_trace_to_logs_query_finds_the_spans_log_line_in_loki(exported_log):
    resource, record, trace_id, span_id = exported_log
    settings = _by_uid(_datasources())["tempo"]["jsonData"]["tracesToLogsV2"]
    assert settings["customQuery"] is True and settings["datasourceUid"] == "loki"
    query = trace_to_logs_query(settings, resource, trace_id, span_id)
    assert 'service_name="amas-service"' in query and trace_id in query, query
    assert logql_matches(query, _entry(resource, record)) == []


def test_trace_to_logs_query_misses_another_trace(exported_log):
    resource, record, _, span_id = exported_log
    settings = _by_uid(_datasources())["tempo"]["jsonData"]["tracesToLogsV2"]
    query = trace_to_logs_query(settings, resource, "0" * 32, span_id)
    (why,) = logql_matches(query, _entry(resource, record))
    assert "does not match" in why


@pytest.mark.parametrize(
    ("query", "tags", "expected"),
    [
        # a label Loki does not index: service.name's label is service_name
        (
            '{$${__tags}} | trace_id="$${__trace.traceId}"',
            [{"key": "service.name", "value": "service"}],
            "not an index label",
        ),
        # VictoriaLogs' LogsQL, not LogQL
        ('service.name:"amas-service" trace_id:"$${__trace.traceId}"', [], "not a LogQL stream selector"),
        # a line filter: Loki keeps trace_id as structured metadata, not in the line
        (
            '{$${__tags}} |= "$${__trace.traceId}"',
            [{"key": "service.name", "value": "service_name"}],
            "outside label filters",
        ),
        # the structured metadata field is trace_id, not traceID
        (
            '{$${__tags}} | traceID="$${__trace.traceId}"',
            [{"key": "service.name", "value": "service_name"}],
            "neither a label",
        ),
    ],
)
def test_a_trace_to_logs_query_loki_cannot_answer_is_caught(exported_log, query, tags, expected):
    resource, record, trace_id, span_id = exported_log
    settings = {"query": query, "tags": tags, "customQuery": True}
    offences = logql_matches(
        trace_to_logs_query(settings, resource, trace_id, span_id), _entry(resource, record)
    )
    assert any(expected in offence for offence in offences), offences


def test_logs_to_trace_field_is_the_structured_metadata_loki_sets(exported_log):
    """Loki's derived field (matcherType label) reads trace_id from the entry; Tempo gets that
    value as the trace id: 32 lower-case hex digits, the span's own."""
    resource, record, trace_id, _ = exported_log
    (field,) = _by_uid(_datasources())["loki"]["jsonData"]["derivedFields"]
    assert field["matcherType"] == "label"
    entry = _entry(resource, record)
    assert field["matcherRegex"] in load("loki").extra["otlp"]["structured_metadata"]
    assert entry.metadata[field["matcherRegex"]] == trace_id
    assert field["url"].replace("$$", "$") == "${__value.raw}"  # the raw value is the whole query
