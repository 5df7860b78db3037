"""The library sends to a secured Collector as the OTLP exporter specification configures it.

Real otelcol-amas gateways (collector/gateway.yaml) with a CA, certificates and a token made at
test time: one asks for TLS and a token, one also for a client certificate (mutual TLS). Their
exporters point at an OTLP sink (secure_otlp.py) that counts what arrives per service. An app
configured with ``configure()`` sends spans, logs and metrics over gRPC and OTLP/HTTP, with
gzip, through the spool and with the spool off (the SDK's exporters), from keywords and from
the environment; every one must arrive. A wrong token, a wrong CA and a missing client
certificate are refused, counted in the SDK self-metrics the alerts read, spooled where the
failure is retryable, and never slow the app down.

The machine's REQUESTS_CA_BUNDLE (set on many company machines, here too) is set for every
test: the SDK's HTTP exporter must still trust the private CA it was given.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from secure_otlp import OtlpSink, Pki, gateway_tls_env, make_pki, new_token, running_sink

import amas_telemetry
from amas_devstack.components import CollectorInstance
from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY = REPO_ROOT / "collector" / "gateway.yaml"
SPANS, LOGS = 40, 30
TIMEOUT = 2.0  # seconds per export: the refusal cases should not wait 10 s each


@dataclass
class Gateways:
    pki: Pki
    token: str
    sink: OtlpSink
    tls: CollectorInstance  # TLS + token
    mtls: CollectorInstance  # TLS + token + client certificate

    def endpoint(self, gateway: CollectorInstance, protocol: str) -> str:
        port = gateway.grpc if protocol == "grpc" else gateway.http
        return f"https://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory, collector_binary: Path) -> Iterator[Gateways]:
    root = tmp_path_factory.mktemp("secure-export")
    pki = make_pki(root / "pki", clients=("app",))
    token = new_token()
    token_file = root / "tokens"
    token_file.write_text(token + "\n")
    with running_sink() as sink:
        stack = NativeStack(root / "stack", Ports.random(), components=())
        try:
            stack.up()
            tls = stack.add_collector(
                "tls", GATEWAY, {**gateway_tls_env(pki, token_file), **sink.collector_env}
            )
            mtls = stack.add_collector(
                "mtls", GATEWAY, {**gateway_tls_env(pki, token_file, mtls=True), **sink.collector_env}
            )
            yield Gateways(pki, token, sink, tls, mtls)
        finally:
            stack.down()


@pytest.fixture(autouse=True)
def _company_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    for var in [v for v in __import__("os").environ if v.startswith("OTEL_EXPORTER_OTLP_")]:
        monkeypatch.delenv(var)


def _produce(telemetry: Any, service: str) -> None:
    """SPANS spans, LOGS log lines and one counter, then a flush of every signal."""
    tracer = trace.get_tracer("secure-export")
    log = logging.getLogger(f"secure-export.{service}")
    for i in range(SPANS):
        with tracer.start_as_current_span(f"span-{i}"):
            if i < LOGS:
                log.warning("line %d", i)
    telemetry.meter("secure-export").create_counter("secure_export_things").add(3)
    telemetry.force_flush(5000)


def _configure(service: str, tmp_path: Path, spool: bool, **settings: Any) -> Any:
    return amas_telemetry.configure(
        service_name=service,
        json_logs=False,
        system_metrics=False,
        export_spool_dir=str(tmp_path / "spool"),
        export_spool_max_mb=32 if spool else 0,
        otlp_timeout=TIMEOUT,
        **settings,
    )


def _service(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _assert_arrived(sink: OtlpSink, service: str) -> None:
    assert sink.wait_for("traces", service, SPANS) == SPANS
    assert sink.wait_for("logs", service, LOGS) >= LOGS
    assert sink.wait_for("metrics", service, 1) >= 1


# --- everything arrives ----------------------------------------------------------------------------


@pytest.mark.parametrize("spool", [True, False], ids=["spool", "spool-off"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_tls_and_a_token_from_keywords_with_gzip(
    gateways: Gateways, tmp_path: Path, protocol: str, spool: bool
) -> None:
    service = _service(f"kw-{protocol.replace('/', '-')}")
    telemetry = _configure(
        service,
        tmp_path,
        spool,
        otlp_endpoint=gateways.endpoint(gateways.tls, protocol),
        otlp_protocol=protocol,
        otlp_certificate=str(gateways.pki.ca),
        otlp_headers={"authorization": f"Bearer {gateways.token}"},
        otlp_compression="gzip",
    )
    try:
        _produce(telemetry, service)
        _assert_arrived(gateways.sink, service)
    finally:
        telemetry.shutdown()


@pytest.mark.parametrize("spool", [True, False], ids=["spool", "spool-off"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_mutual_tls_from_the_environment_per_signal(
    gateways: Gateways, tmp_path: Path, protocol: str, spool: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only variables of the specification, generic and per signal (logs go to the mTLS
    gateway by their own endpoint variable, with their own headers variable)."""
    pki = gateways.pki
    service = _service(f"env-{protocol.replace('/', '-')}")
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": gateways.endpoint(gateways.mtls, protocol),
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca),
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client_cert("app")),
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client_key("app")),
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20wrong",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": f"authorization=Bearer%20{gateways.token}",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"authorization=Bearer%20{gateways.token}",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS": f"authorization=Bearer%20{gateways.token}",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3000",
    }
    if protocol == "http/protobuf":  # a per-signal URL is used as given
        env["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = f"{gateways.endpoint(gateways.mtls, protocol)}/v1/logs"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    telemetry = amas_telemetry.configure(
        service_name=service,
        json_logs=False,
        system_metrics=False,
        export_spool_dir=str(tmp_path / "spool"),
        export_spool_max_mb=32 if spool else 0,
    )
    try:
        _produce(telemetry, service)
        _assert_arrived(gateways.sink, service)
    finally:
        telemetry.shutdown()


# --- refused, counted, spooled where retryable, never blocking ----------------------------------


def _metric_lines(telemetry: Any, prefix: str) -> list[str]:
    return [line for line in telemetry.render_metrics().decode().splitlines() if line.startswith(prefix)]


def _counted(telemetry: Any, prefix: str, *needles: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in _metric_lines(telemetry, prefix)
        if all(needle in line for needle in needles)
    )


def _wrong_token(g: Gateways) -> dict[str, Any]:
    return {"otlp_certificate": str(g.pki.ca), "otlp_headers": {"authorization": "Bearer no"}}


def _wrong_ca(g: Gateways) -> dict[str, Any]:
    other = make_pki(Path(g.pki.dir).parent / "other").ca
    return {"otlp_certificate": str(other), "otlp_headers": {"authorization": f"Bearer {g.token}"}}


def _no_client_certificate(g: Gateways) -> dict[str, Any]:
    return {"otlp_certificate": str(g.pki.ca), "otlp_headers": {"authorization": f"Bearer {g.token}"}}


REFUSALS = {
    # case: (settings beyond the endpoint, the gateway that refuses)
    "wrong token": (_wrong_token, "tls"),
    "wrong CA": (_wrong_ca, "tls"),
    "no client certificate": (_no_client_certificate, "mtls"),
}
EXPECTED = {
    # (case, protocol): (how the failure is named, retryable)
    ("wrong token", "grpc"): ('rpc_response_status_code="UNAUTHENTICATED"', False),
    ("wrong token", "http/protobuf"): ('http_response_status_code="401"', False),
    ("wrong CA", "grpc"): ('error_type="tls"', True),
    ("wrong CA", "http/protobuf"): ('error_type="tls"', True),
    ("no client certificate", "grpc"): ('error_type="tls"', True),
    ("no client certificate", "http/protobuf"): ('error_type="tls"', True),
}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_export_is_counted_spooled_if_retryable_and_never_blocks(
    gateways: Gateways, tmp_path: Path, case: str, protocol: str
) -> None:
    settings_of, gateway_name = REFUSALS[case]
    gateway = gateways.tls if gateway_name == "tls" else gateways.mtls
    service = _service(f"refused-{case.replace(' ', '-')}")
    telemetry = _configure(
        service,
        tmp_path,
        True,
        otlp_endpoint=gateways.endpoint(gateway, protocol),
        otlp_protocol=protocol,
        **settings_of(gateways),
    )
    named, retryable = EXPECTED[(case, protocol)]
    try:
        started = time.thread_time()
        _produce(telemetry, service)
        refused_cpu = time.thread_time() - started
        deadline = time.monotonic() + 30
        while not _counted(telemetry, "otel_sdk_exporter_operation_duration_seconds_count", named):
            assert time.monotonic() < deadline, _metric_lines(telemetry, "otel_sdk_exporter_operation")
            time.sleep(0.2)
        spooled = sum(export.spool.pending_bytes for export in telemetry.spools.exports.values())
        lost = _counted(telemetry, "otel_sdk_exporter_span_exported_total", 'error_type="')
    finally:
        telemetry.shutdown()
    if retryable:
        assert spooled > 0 and lost == 0, "a TLS failure keeps the data for when the settings are fixed"
    else:
        assert spooled == 0 and lost == SPANS, "a refused credential is permanent: dropped and counted"
    assert gateways.sink.count("traces", service) == 0

    # never blocking: the app thread's CPU for the same work with OTLP off (ratio, not time)
    quiet = amas_telemetry.configure(
        service_name=service, json_logs=False, system_metrics=False, otlp_endpoint=False
    )
    try:
        started = time.thread_time()
        _produce(quiet, service)
        quiet_cpu = time.thread_time() - started
    finally:
        quiet.shutdown()
    assert refused_cpu < 3 * quiet_cpu + 0.05, (refused_cpu, quiet_cpu)
