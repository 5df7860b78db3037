"""The OTLP exporter specification's settings: per-signal precedence, URLs, TLS, bad values.

Every case resolves real settings (``resolve_settings`` with an explicit environment) into the
targets both export paths use (:func:`otlp_targets`), and, where it matters, builds the SDK's
exporter from them to show the spool-off path gets the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import amas_telemetry
from amas_telemetry._internal.config.resolve import resolve_settings
from amas_telemetry._internal.errors import ConfigError
from amas_telemetry._internal.otlp.sdk_exporters import otlp_exporter
from amas_telemetry._internal.otlp.targets import otlp_targets

PEM = "-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n"


def targets(kwargs: dict[str, Any] | None = None, **env: str) -> dict[str, Any]:
    return otlp_targets(resolve_settings(kwargs or {}, env=env))


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, str]:
    files = {}
    for name in ("ca", "ca_traces", "cert", "key", "kw"):
        path = tmp_path / f"{name}.pem"
        path.write_text(PEM)
        files[name] = str(path)
    return files


# --- precedence --------------------------------------------------------------------------------


def test_signal_variables_beat_generic_ones_and_keywords_beat_both(pem: dict[str, str]) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://gateway:4317",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": pem["ca"],
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": pem["ca_traces"],
        "OTEL_EXPORTER_OTLP_TIMEOUT": "4000",
        "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "none",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20generic",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "authorization=Bearer%20logs",
    }
    found = targets(**env)
    assert {s: t.certificate for s, t in found.items()} == {
        "traces": pem["ca_traces"],
        "metrics": pem["ca"],
        "logs": pem["ca"],
    }
    assert {s: t.timeout for s, t in found.items()} == {"traces": 4.0, "metrics": 4.0, "logs": 2.5}
    assert {s: t.compression for s, t in found.items()} == {"traces": "gzip", "metrics": None, "logs": "gzip"}
    assert {s: t.headers["authorization"] for s, t in found.items()} == {
        "traces": "Bearer generic",
        "metrics": "Bearer generic",
        "logs": "Bearer logs",
    }
    # a keyword is the app's own decision: no variable overrides it, for any signal; headers
    # given as a keyword are merged over the environment's, winning per header (as the SDK does)
    kw = targets(
        {
            "otlp_certificate": pem["kw"],
            "otlp_timeout": 7,
            "otlp_headers": {"x-a": "1", "Authorization": "k"},
        },
        **env,
    )
    assert {t.certificate for t in kw.values()} == {pem["kw"]}
    assert {t.timeout for t in kw.values()} == {7.0}
    assert {s: t.headers for s, t in kw.items()} == {s: {"x-a": "1", "authorization": "k"} for s in kw}
    kw = targets({"otlp_headers": {"x-a": "1"}}, **env)
    assert kw["logs"].headers == {"authorization": "Bearer logs", "x-a": "1"}
    assert kw["traces"].headers == {"authorization": "Bearer generic", "x-a": "1"}


def test_defaults_of_the_specification() -> None:
    (target,) = targets(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="collector:4317").values()
    assert target.timeout == 10.0
    assert target.compression is None
    assert target.headers == {}
    assert target.secure, "insecure defaults to false: TLS"
    assert target.protocol == "grpc"


def test_only_signals_with_an_endpoint_are_exported() -> None:
    assert set(targets(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="http://c:4317")) == {"logs"}
    assert targets() == {}
    assert targets({"otlp_endpoint": False}, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://c:4317") == {}


def test_the_protocol_may_differ_per_signal() -> None:
    found = targets(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4317",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="http://c:4318/v1/logs",
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL="http/protobuf",
    )
    assert {s: (t.protocol, t.url) for s, t in found.items()} == {
        "traces": ("grpc", "http://c:4317"),
        "metrics": ("grpc", "http://c:4317"),
        "logs": ("http/protobuf", "http://c:4318/v1/logs"),
    }


# --- URLs: the specification's examples ------------------------------------------------------


def _urls(**env: str) -> dict[str, str]:
    return {s: t.url for s, t in targets(OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", **env).items()}


def test_example_1_one_base_url() -> None:
    assert _urls(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318") == {
        "traces": "http://collector:4318/v1/traces",
        "metrics": "http://collector:4318/v1/metrics",
        "logs": "http://collector:4318/v1/logs",
    }


def test_example_2_per_signal_urls_are_used_as_given() -> None:
    assert _urls(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://collector:4318",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="https://collector.example.com/v1/metrics",
    ) == {"traces": "http://collector:4318/", "metrics": "https://collector.example.com/v1/metrics"}


def test_example_3_a_base_path_and_one_signal_elsewhere() -> None:
    assert _urls(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318/mycollector/",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="https://collector.example.com/v1/metrics/",
    ) == {
        "traces": "http://collector:4318/mycollector/v1/traces",
        "metrics": "https://collector.example.com/v1/metrics/",
        "logs": "http://collector:4318/mycollector/v1/logs",
    }


def test_the_keyword_endpoint_is_a_base_too() -> None:
    found = targets({"otlp_endpoint": "https://gw", "otlp_protocol": "http/protobuf"})
    assert found["traces"].url == "https://gw/v1/traces"
    assert (found["traces"].host, found["traces"].port) == ("gw", 443)


# --- gRPC: scheme and insecure ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "insecure", "secure", "url"),
    [
        ("https://gw:4317", "true", True, "https://gw:4317"),  # https wins over insecure
        ("http://gw:4317", "false", False, "http://gw:4317"),  # and so does http
        ("gw:4317", "false", True, "https://gw:4317"),
        ("gw:4317", "true", False, "http://gw:4317"),
        ("https://gw:4317/ignored/path", "false", True, "https://gw:4317"),
    ],
)
def test_grpc_security_comes_from_the_scheme_else_from_insecure(
    endpoint: str, insecure: str, secure: bool, url: str
) -> None:
    (target,) = targets(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_INSECURE=insecure
    ).values()
    assert (target.secure, target.url, target.authority) == (secure, url, url.split("://")[1])


def test_the_obsolete_insecure_names_are_still_read() -> None:
    found = targets(OTEL_EXPORTER_OTLP_ENDPOINT="gw:4317", OTEL_EXPORTER_OTLP_SPAN_INSECURE="true")
    assert {s: t.secure for s, t in found.items()} == {"traces": False, "metrics": True, "logs": True}


def test_a_plaintext_endpoint_takes_no_tls_files(pem: dict[str, str]) -> None:
    (target,) = targets(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://c:4317", OTEL_EXPORTER_OTLP_CERTIFICATE=pem["ca"]
    ).values()
    assert target.certificate is None


# --- bad values: one ConfigError naming the setting or variable --------------------------------


@pytest.mark.parametrize(
    ("kwargs", "env", "words"),
    [
        (
            {},
            {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/no/such/ca.pem"},
            ["OTEL_EXPORTER_OTLP_CERTIFICATE", "otlp_certificate", "readable PEM"],
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/etc/hostname"},
            ["OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "otlp_client_key", "PEM"],
        ),
        (
            {"otlp_certificate": "/no/such/ca.pem"},
            {},
            ["otlp_certificate", "readable PEM file", "'/no/such/ca.pem'"],
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
            ["OTEL_EXPORTER_OTLP_COMPRESSION", "otlp_compression", "gzip or none", "'zstd'"],
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "brotli"},
            ["OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip or none"],
        ),
        ({"otlp_compression": "lz4"}, {}, ["otlp_compression", "gzip or none", "'lz4'"]),
        (
            {},
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
            ["OTEL_EXPORTER_OTLP_TIMEOUT", "otlp_timeout", "milliseconds"],
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "0"},
            ["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "milliseconds"],
        ),
        ({"otlp_timeout": 0}, {}, ["otlp_timeout", "seconds above 0"]),
        (
            {},
            {"OTEL_EXPORTER_OTLP_HEADERS": "authorization"},
            ["OTEL_EXPORTER_OTLP_HEADERS", "otlp_headers", "name1=value1"],
        ),
        ({"otlp_headers": {"bad name": "x"}}, {}, ["otlp_headers", "header names"]),
        ({}, {"OTEL_EXPORTER_OTLP_INSECURE": "sometimes"}, ["OTEL_EXPORTER_OTLP_INSECURE", "true or false"]),
        (
            {},
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc or http/protobuf"],
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "ftp://x"},
            ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "otlp_endpoint", "http://"],
        ),
    ],
)
def test_a_bad_value_is_one_error_naming_where_it_came_from(
    kwargs: dict[str, Any], env: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        otlp_targets(resolve_settings(kwargs, env=env))
    for word in words:
        assert word in str(info.value)


def test_http_protobuf_needs_a_url(pem: dict[str, str]) -> None:
    with pytest.raises(
        ConfigError, match=r"Invalid OTEL_EXPORTER_OTLP_ENDPOINT \(for otlp_endpoint\): expected"
    ):
        targets(OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")


def test_a_client_certificate_needs_its_key(pem: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE.*otlp_client_key"):
        targets(
            OTEL_EXPORTER_OTLP_ENDPOINT="https://gw:4317",
            OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE=pem["cert"],
        )


def test_configure_refuses_a_bad_certificate_before_building_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://gw:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem")
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_CERTIFICATE"):
        amas_telemetry.configure(json_logs=False, system_metrics=False)


# --- the spool-off path gets the same answer -----------------------------------------------------


def test_the_sdk_exporters_get_what_was_resolved(
    pem: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spool off: the SDK's exporters are given every resolved value, so their own reading of
    the environment (which differs: seconds for timeouts, no per-signal precedence over a
    keyword) never applies."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": pem["ca"],
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20t",
        "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    target = otlp_targets(resolve_settings({}))["traces"]
    exporter = otlp_exporter(target)
    url = "https://gw:4318/v1/traces"
    try:
        # from 1.45 the exporter keeps these in an HTTP client object; 1.44 kept them itself
        client = getattr(exporter, "_client", exporter)
        assert exporter._endpoint == url
        assert client._timeout == 2.5, "milliseconds, as we read them (the SDK reads seconds)"
        assert client._headers["authorization"] == "Bearer t"
        assert exporter._compression.value == "gzip"
        # requests would let REQUESTS_CA_BUNDLE replace the CA; the pinned session keeps ours
        if hasattr(client, "_transport"):  # 1.45+: the session verifies with the CA it holds
            merged = client._transport._session.merge_environment_settings(url, {}, None, None, None)
        else:  # 1.44: every post passes verify=<the CA file>, which the environment never replaces
            assert exporter._certificate_file == pem["ca"]
            merged = exporter._session.merge_environment_settings(url, {}, None, pem["ca"], None)
        assert merged["verify"] == pem["ca"]
    finally:
        exporter.shutdown()
