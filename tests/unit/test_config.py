"""Settings: precedence, environment forms, and one clear ConfigError per bad value."""

from __future__ import annotations

import logging
import os.path
import tempfile
import traceback
from pathlib import Path

import pytest

import amas_telemetry
from amas_telemetry._internal.config.resolve import resolve_settings
from amas_telemetry._internal.config.settings import SETTINGS
from amas_telemetry._internal.errors import ConfigError
from amas_telemetry._internal.tracing.provider import global_tracer_provider

# PEM-looking files for the certificate settings (their parser checks a file is readable PEM)
_PEM_DIR = Path(tempfile.mkdtemp(prefix="amas-test-pem-"))
PEM_KW, PEM_ENV = _PEM_DIR / "kw.pem", _PEM_DIR / "env.pem"
for _pem in (PEM_KW, PEM_ENV):
    _pem.write_text("-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n")

# (setting, a valid keyword value, its resolved form, an env var, a valid env value, resolved)
CASES = {
    "service_name": ("svc-kw", "svc-kw", "OTEL_SERVICE_NAME", "svc-env", "svc-env"),
    "service_version": ("1.2.3", "1.2.3", "AMAS_SERVICE_VERSION", "2.0", "2.0"),
    "environment": ("prod", "prod", "AMAS_ENVIRONMENT", "staging", "staging"),
    "sampling_ratio": (0.25, 0.25, "AMAS_SAMPLING_RATIO", "0.5", 0.5),
    "otlp_endpoint": (
        "http://kw:4317",
        "http://kw:4317",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://env:4317/",
        "http://env:4317/",  # unmodified: the specification forbids changing a URL
    ),
    "otlp_protocol": ("http/protobuf", "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "grpc"),
    "otlp_headers": (
        {"Authorization": "Bearer kw"},
        {"authorization": "Bearer kw"},
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%20env,x-tenant=a",
        {"authorization": "Bearer env", "x-tenant": "a"},
    ),
    "otlp_certificate": (
        str(PEM_KW),
        str(PEM_KW),
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        str(PEM_ENV),
        str(PEM_ENV),
    ),
    "otlp_client_certificate": (
        str(PEM_KW),
        str(PEM_KW),
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        str(PEM_ENV),
        str(PEM_ENV),
    ),
    "otlp_client_key": (
        str(PEM_KW),
        str(PEM_KW),
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        str(PEM_ENV),
        str(PEM_ENV),
    ),
    "otlp_compression": ("gzip", "gzip", "OTEL_EXPORTER_OTLP_COMPRESSION", "none", None),
    "otlp_timeout": (2.5, 2.5, "OTEL_EXPORTER_OTLP_TIMEOUT", "1500", 1.5),
    "otlp_insecure": (True, True, "OTEL_EXPORTER_OTLP_INSECURE", "false", False),
    "export_spool_dir": ("/var/spool/a", "/var/spool/a", "AMAS_EXPORT_SPOOL_DIR", "/tmp/s", "/tmp/s"),
    "export_spool_max_mb": (0, 0.0, "AMAS_EXPORT_SPOOL_MAX_MB", "8.5", 8.5),
    "resource_attributes": (
        {"team": "ai"},
        {"team": "ai"},
        "OTEL_RESOURCE_ATTRIBUTES",
        "region=eu%2D1",
        {"region": "eu-1"},
    ),
    "log_level": ("debug", "DEBUG", "AMAS_LOG_LEVEL", "warn", "WARNING"),
    "json_logs": (False, False, "AMAS_JSON_LOGS", "off", False),
    "record_prompts": (True, True, "AMAS_RECORD_PROMPTS", "yes", True),
    "cardinality_limit": (10, 10, "AMAS_CARDINALITY_LIMIT", "77", 77),
    "system_metrics": (False, False, "AMAS_SYSTEM_METRICS", "0", False),
    "metrics_path": ("/m", "/m", "AMAS_METRICS_PATH", "/prom", "/prom"),
    "metrics_port": (9464, 9464, "OTEL_EXPORTER_PROMETHEUS_PORT", "9465", 9465),
    "metrics_host": ("[::1]", "::1", "AMAS_METRICS_HOST", "metrics.internal", "metrics.internal"),
    "metric_export_interval": (2.5, 2.5, "OTEL_METRIC_EXPORT_INTERVAL", "1500", 1.5),
    "excluded_urls": (["/a", "/b"], ("/a", "/b"), "AMAS_EXCLUDED_URLS", "/x,/y", ("/x", "/y")),
    "http_send_receive_spans": (True, True, "AMAS_HTTP_SEND_RECEIVE_SPANS", "true", True),
    "http_captured_headers": (
        ["X-Request-Id"],
        ("x-request-id",),
        "AMAS_HTTP_CAPTURED_HEADERS",
        "traceparent, Content-Type",
        ("traceparent", "content-type"),
    ),
    "instrumentations": (
        ["redis"],
        ("redis",),
        "AMAS_INSTRUMENTATIONS",
        "httpx,asyncpg",
        ("httpx", "asyncpg"),
    ),
    "tail_keep_errors": (False, False, "AMAS_TAIL_KEEP_ERRORS", "no", False),
    "tail_keep_slower_than": (0.1, 0.1, "AMAS_TAIL_KEEP_SLOWER_THAN", "2.5", 2.5),
    "tail_keep_rule": (
        os.path.isfile,
        os.path.isfile,
        "AMAS_TAIL_KEEP_RULE",
        "os.path:exists",
        os.path.exists,
    ),
    "tail_max_held_spans": (500, 500, "AMAS_TAIL_MAX_HELD_SPANS", "20000", 20000),
    "tail_max_spans_per_trace": (50, 50, "AMAS_TAIL_MAX_SPANS_PER_TRACE", "300", 300),
    "metrics_dir": ("/srv/m", "/srv/m", "AMAS_METRICS_DIR", "/run/amas", "/run/amas"),
}


CODE_ONLY = {"span_metric_rules"}
"""Settings that only code can give (no environment variable names a Python object)."""


def test_every_setting_has_a_case():
    assert set(CASES) | CODE_ONLY == {s.name for s in SETTINGS}
    assert {s.name for s in SETTINGS if not s.env_vars and s.env_reader is None} == CODE_ONLY


def test_the_app_s_span_metric_rules_are_resolved_and_a_wrong_value_is_one_error():
    from amas_telemetry.spanmetrics import rule

    mine = rule("amas.task.duration", when=lambda span, attrs: True, value=lambda span, attrs: 1.0)
    assert resolve_settings({"span_metric_rules": [mine, mine]}, env={}).span_metric_rules == (mine,)
    assert resolve_settings({}, env={}).span_metric_rules == ()
    with pytest.raises(ConfigError, match=r"Invalid span_metric_rules: expected a list of rules made by"):
        resolve_settings({"span_metric_rules": ["amas.task.duration"]}, env={})


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_when_nothing_given(name):
    setting = next(s for s in SETTINGS if s.name == name)
    assert getattr(resolve_settings({}, env={}), name) == setting.default


@pytest.mark.parametrize("name", sorted(CASES))
def test_env_fills_what_is_not_passed(name):
    _, _, var, env_value, resolved = CASES[name]
    assert getattr(resolve_settings({}, env={var: env_value}), name) == resolved


@pytest.mark.parametrize("name", sorted(CASES))
def test_keyword_beats_env(name):
    kw_value, kw_resolved, var, env_value, _ = CASES[name]
    resolved = getattr(resolve_settings({name: kw_value}, env={var: env_value}), name)
    if name == "resource_attributes":  # mappings merge, the keyword winning per key
        assert resolved == {"region": "eu-1", "team": "ai"}
    elif name == "otlp_headers":
        assert resolved == {"authorization": "Bearer kw", "x-tenant": "a"}
    else:
        assert resolved == kw_resolved


def test_keyword_wins_even_over_a_bad_env_value():
    assert (
        resolve_settings({"sampling_ratio": 0.5}, env={"AMAS_SAMPLING_RATIO": "lots"}).sampling_ratio == 0.5
    )


def test_amas_env_beats_otel_env():
    env = {"AMAS_SERVICE_NAME": "amas", "OTEL_SERVICE_NAME": "otel"}
    assert resolve_settings({}, env=env).service_name == "amas"


@pytest.mark.parametrize(
    ("sampler", "arg", "ratio"),
    [
        ("parentbased_traceidratio", "0.01", 0.01),
        ("traceidratio", "0.2", 0.2),
        ("always_on", None, 1.0),
        ("parentbased_always_off", None, 0.0),
    ],
)
def test_otel_sampler_variables(sampler, arg, ratio):
    env = {"OTEL_TRACES_SAMPLER": sampler} | ({"OTEL_TRACES_SAMPLER_ARG": arg} if arg else {})
    assert resolve_settings({}, env=env).sampling_ratio == ratio


BAD = [
    # (kwargs, env, words the message must contain)
    ({"sampling_ratio": 2}, {}, ["sampling_ratio", "0 to 1", "2"]),
    ({"sampling_ratio": "half"}, {}, ["sampling_ratio", "0 to 1", "'half'"]),
    ({"sampling_ratio": True}, {}, ["sampling_ratio", "0 to 1"]),
    (
        {},
        {"OTEL_TRACES_SAMPLER_ARG": "1.5", "OTEL_TRACES_SAMPLER": "traceidratio"},
        ["OTEL_TRACES_SAMPLER_ARG", "sampling_ratio", "'1.5'"],
    ),
    (
        {},
        {"OTEL_TRACES_SAMPLER": "jaeger_remote"},
        ["OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "jaeger_remote"],
    ),
    ({"otlp_endpoint": "collector/4317"}, {}, ["otlp_endpoint", "http://", "'collector/4317'"]),
    (
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"},
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint", "http://"],
    ),
    ({"otlp_protocol": "http/json"}, {}, ["otlp_protocol", "grpc or http/protobuf", "'http/json'"]),
    ({"log_level": "LOUD"}, {}, ["log_level", "DEBUG", "'LOUD'"]),
    ({"json_logs": "maybe"}, {}, ["json_logs", "true or false", "'maybe'"]),
    ({}, {"AMAS_JSON_LOGS": "2"}, ["AMAS_JSON_LOGS", "json_logs", "true or false"]),
    ({"cardinality_limit": 0}, {}, ["cardinality_limit", "from 1 to 1000000", "0"]),
    ({"cardinality_limit": 2.5}, {}, ["cardinality_limit", "whole number"]),
    ({"service_name": ""}, {}, ["service_name", "non-empty"]),
    ({"metrics_path": "metrics"}, {}, ["metrics_path", "starting with '/'"]),
    ({"metrics_port": 65536}, {}, ["metrics_port", "from 1 to 65535", "65536"]),
    ({}, {"AMAS_METRICS_HOST": "0.0.0.0/0"}, ["AMAS_METRICS_HOST", "metrics_host", "IP address"]),
    ({"metric_export_interval": -1}, {}, ["metric_export_interval", "seconds from 0.1 to 86400"]),
    ({}, {"OTEL_METRIC_EXPORT_INTERVAL": "soon"}, ["OTEL_METRIC_EXPORT_INTERVAL", "milliseconds"]),
    ({}, {"OTEL_RESOURCE_ATTRIBUTES": "novalue"}, ["OTEL_RESOURCE_ATTRIBUTES", "key1=value1"]),
    ({"instrumentations": ["kafka"]}, {}, ["instrumentations", "asyncpg, redis, httpx", "kafka"]),
    ({"export_spool_dir": "spool"}, {}, ["export_spool_dir", "absolute directory", "'spool'"]),
    ({"export_spool_dir": 42}, {}, ["export_spool_dir", "absolute directory", "42"]),
    ({}, {"AMAS_EXPORT_SPOOL_DIR": "/etc/hostname"}, ["AMAS_EXPORT_SPOOL_DIR", "export_spool_dir"]),
    ({"export_spool_max_mb": -1}, {}, ["export_spool_max_mb", "at least 0", "-1"]),
    ({"export_spool_max_mb": True}, {}, ["export_spool_max_mb", "megabytes"]),
    ({}, {"AMAS_EXPORT_SPOOL_MAX_MB": "lots"}, ["AMAS_EXPORT_SPOOL_MAX_MB", "export_spool_max_mb", "'lots'"]),
    ({}, {"AMAS_EXPORT_SPOOL_MAX_MB": "inf"}, ["AMAS_EXPORT_SPOOL_MAX_MB", "export_spool_max_mb"]),
    ({"colour": "blue"}, {}, ["Unknown setting", "colour", "service_name"]),
    ({"tail_keep_errors": "sometimes"}, {}, ["tail_keep_errors", "true or false", "'sometimes'"]),
    ({"tail_keep_slower_than": 0}, {}, ["tail_keep_slower_than", "above 0, or none", "0"]),
    (
        {},
        {"AMAS_TAIL_KEEP_SLOWER_THAN": "100ms"},
        ["AMAS_TAIL_KEEP_SLOWER_THAN", "tail_keep_slower_than", "'100ms'"],
    ),
    ({"tail_keep_rule": 42}, {}, ["tail_keep_rule", "a callable", "42"]),
    (
        {},
        {"AMAS_TAIL_KEEP_RULE": "no_such_module:keep"},
        ["AMAS_TAIL_KEEP_RULE", "tail_keep_rule", "can be imported", "'no_such_module:keep'"],
    ),
    ({}, {"AMAS_TAIL_KEEP_RULE": "os.path:sep"}, ["AMAS_TAIL_KEEP_RULE", "a callable"]),
    ({"tail_max_held_spans": 0}, {}, ["tail_max_held_spans", "a whole number from 1 to 10000000", "0"]),
    ({}, {"AMAS_TAIL_MAX_SPANS_PER_TRACE": "-3"}, ["AMAS_TAIL_MAX_SPANS_PER_TRACE", "whole number from 1"]),
    ({"tail_max_held_spans": float("inf")}, {}, ["tail_max_held_spans", "a whole number from 1 to"]),
]


@pytest.mark.parametrize(("kwargs", "env", "words"), BAD)
def test_bad_values_name_setting_value_and_accepted(kwargs, env, words):
    with pytest.raises(ConfigError) as info:
        resolve_settings(kwargs, env=env)
    for word in words:
        assert word in str(info.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_configure_raises_config_error_without_a_chain():
    with pytest.raises(ConfigError, match="sampling_ratio") as info:
        amas_telemetry.configure(sampling_ratio=2)
    printed = "".join(traceback.format_exception(info.value))
    assert "During handling" not in printed
    assert "direct cause" not in printed
    assert printed.count("Error") == 1  # one error, no stack of unrelated ones


def test_configure_leaves_nothing_half_configured_after_an_error():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    generation = global_tracer_provider().generation
    with pytest.raises(ConfigError):
        amas_telemetry.configure(json_logs=True, otlp_protocol="carrier-pigeon")
    assert root.handlers == handlers
    assert root.level == level
    assert global_tracer_provider().generation == generation


def test_configure_rejects_an_app_that_is_not_fastapi():
    with pytest.raises(ConfigError, match=r"Invalid app: expected a fastapi\.FastAPI instance"):
        amas_telemetry.configure(object())
