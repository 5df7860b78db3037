"""Every Collector config in collector/ is accepted by the built otelcol-amas.

`otelcol-amas validate` runs with no AMAS_* variable set, so the env placeholders' defaults
must make a valid config on their own. The binary is found like the native stack finds it;
when it is missing the tests fail with the build command (they never skip).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO_ROOT / "collector"
CONFIGS = sorted(p for p in COLLECTOR_DIR.glob("*.yaml") if p.name != "builder-config.yaml")

pytestmark = pytest.mark.e2e


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AMAS_", "OTEL_"))}


def _validate(
    binary: Path, config: Path, env: dict[str, str] | None = None, *overlays: Path
) -> subprocess.CompletedProcess[str]:
    flags = [arg for path in (config, *overlays) for arg in ("--config", str(path))]
    return subprocess.run(
        [str(binary), "validate", *flags],
        env=env if env is not None else _clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


def test_there_are_configs_to_validate() -> None:
    names = {p.name for p in CONFIGS}
    assert {"config.yaml", "gateway.yaml", "agent-loadbalancing.yaml"} <= names, names


@pytest.mark.parametrize("config", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_validates_with_defaults(collector_binary: Path, config: Path) -> None:
    result = _validate(collector_binary, config)
    assert result.returncode == 0, f"{config.name} rejected:\n{result.stdout}\n{result.stderr}"


def test_config_validates_with_compose_env(collector_binary: Path) -> None:
    env = _clean_env() | {
        "AMAS_COLLECTOR_OTLP_GRPC": "0.0.0.0:4317",
        "AMAS_COLLECTOR_OTLP_HTTP": "0.0.0.0:4318",
        "AMAS_COLLECTOR_HEALTH": "0.0.0.0:13133",
        "AMAS_TRACES_ENDPOINT": "tempo:4317",
        "AMAS_METRICS_ENDPOINT": "http://prometheus:9090/api/v1/otlp",
        "AMAS_LOGS_ENDPOINT": "http://loki:3100/otlp/v1/logs",
        "AMAS_COLLECTOR_STORAGE_DIR": "/var/lib/otelcol/queue",  # as compose.yaml and collector/Dockerfile
        "AMAS_COLLECTOR_FSYNC": "true",
        "AMAS_COLLECTOR_METRICS_HOST": "0.0.0.0",
        "AMAS_HOST_ROOT": "/",
        "AMAS_REDIS_ENDPOINT": "redis:6379",
        "AMAS_REDIS_PASSWORD": "not-a-real-password",
        "AMAS_POSTGRES_ENDPOINT": "postgres:5432",
        "AMAS_POSTGRES_PASSWORD": "not-a-real-password",
        "AMAS_PROMETHEUS_TARGET": "prometheus:9090",
        "AMAS_DOCKER_ENDPOINT": "unix:///var/run/docker.sock",
    }
    overlays = sorted((COLLECTOR_DIR / "compose").glob("*.yaml"))
    assert overlays, "collector/compose/ has the compose-only pipelines (docker_stats)"
    result = _validate(collector_binary, COLLECTOR_DIR / "config.yaml", env, *overlays)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


OVERLAYS = COLLECTOR_DIR / "overlays"


def test_the_secure_overlay_validates_over_the_single_collector(collector_binary: Path) -> None:
    env = _clean_env() | {
        "AMAS_COLLECTOR_TLS_CERT_FILE": "/run/tls/server.crt",
        "AMAS_COLLECTOR_TLS_KEY_FILE": "/run/tls/server.key",
        "AMAS_COLLECTOR_TOKEN_FILE": "/run/secrets/otlp_tokens",
        "AMAS_COLLECTOR_CLIENT_CA_FILE": "/run/tls/ca.crt",
    }
    for environment in (_clean_env(), env):
        result = _validate(
            collector_binary, COLLECTOR_DIR / "config.yaml", environment, OVERLAYS / "secure-receivers.yaml"
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_agent_takes_a_gateway_list_from_env(collector_binary: Path) -> None:
    env = _clean_env() | {"AMAS_GATEWAYS": "[gw-1:4317, gw-2:4317, gw-3:4317]"}
    result = _validate(collector_binary, COLLECTOR_DIR / "agent-loadbalancing.yaml", env)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_validate_rejects_a_broken_config(collector_binary: Path, tmp_path: Path) -> None:
    """The check above means something: an unknown field is refused."""
    broken = tmp_path / "broken.yaml"
    text = (COLLECTOR_DIR / "config.yaml").read_text()
    broken.write_text(text.replace("create_directory: true", "create_directory: true\n    no_such_field: 1"))
    result = _validate(collector_binary, broken)
    assert result.returncode != 0
    assert "no_such_field" in result.stdout + result.stderr


def _load(name: str) -> dict:
    return yaml.safe_load((COLLECTOR_DIR / name).read_text())


SYNCHRONOUS_PROCESSORS = {"memory_limiter", "delta_to_cumulative"}
#: processors that hold nothing: they change each batch in place and pass it on
STATELESS_PROCESSORS = ("resource/",)


def test_no_in_memory_stage_between_ack_and_persistent_queue() -> None:
    """Design invariant (DESIGN.md, 'Nothing lost in the pipeline'): the OTLP pipelines have
    only memory_limiter in front of the persistent queue; the scraping pipelines (nothing to
    acknowledge) may add stateless processors after it, nothing that buffers."""
    for name in ("config.yaml", "gateway.yaml"):
        cfg = _load(name)
        # memory_limiter refuses and holds nothing; delta_to_cumulative converts synchronously
        # (it keeps running totals, not data waiting to be sent); the rest change each batch in
        # place
        assert set(cfg["processors"]) - SYNCHRONOUS_PROCESSORS <= {
            p for p in cfg["processors"] if p.startswith(STATELESS_PROCESSORS)
        }, f"{name}: only memory_limiter, delta_to_cumulative and stateless processors"
        for pipeline, spec in cfg["service"]["pipelines"].items():
            if "otlp" in spec["receivers"]:
                expected = (
                    ["memory_limiter", "delta_to_cumulative"] if pipeline == "metrics" else ["memory_limiter"]
                )
                assert spec["processors"] == expected, f"{name}/{pipeline}"
            else:
                assert spec["processors"][0] == "memory_limiter", f"{name}/{pipeline}"
                assert all(p.startswith(STATELESS_PROCESSORS) for p in spec["processors"][1:])
        assert "file_storage" in cfg["service"]["extensions"]
        for exp_name, exp in cfg["exporters"].items():
            queue = exp["sending_queue"]
            assert queue["storage"] == "file_storage", f"{name}/{exp_name}: queue not persistent"
            assert not queue.get("wait_for_result"), f"{name}/{exp_name}"
            retry = exp["retry_on_failure"]
            assert retry["enabled"] is True
            assert retry["max_elapsed_time"] in ("0s", 0, "0"), f"{name}/{exp_name}: retries give up"


OTLP_PIPELINES = ("traces", "metrics", "logs")


def test_gateway_pipelines_are_those_of_the_single_collector() -> None:
    """gateway.yaml repeats config.yaml's OTLP pipelines; only listen/storage defaults differ.
    The scraping pipelines (host, PostgreSQL, Redis, self) are the single Collector's only."""
    single, gateway = _load("config.yaml"), _load("gateway.yaml")
    assert set(gateway["receivers"]) == {"otlp"} and "otlp" in single["receivers"]
    assert single["exporters"] == gateway["exporters"]
    assert single["processors"]["memory_limiter"] == gateway["processors"]["memory_limiter"]
    for name in OTLP_PIPELINES:
        assert single["service"]["pipelines"][name] == gateway["service"]["pipelines"][name], name


def test_pgstats_receiver_go_tests_pass() -> None:
    """collector/pgstatsreceiver/ (our PostgreSQL receiver): its Go unit tests (config
    validation, connection-string quoting); its scrapes are tested against a real PostgreSQL
    in test_collector_infrastructure.py."""
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None
    )
    if go is None:
        pytest.fail("go not found (needed for collector/pgstatsreceiver)", pytrace=False)
    env = {**os.environ, "GOWORK": "off", "GOFLAGS": "-buildvcs=false"}
    proc = subprocess.run(
        [go, "test", "./..."],
        cwd=COLLECTOR_DIR / "pgstatsreceiver",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the secured receivers (collector/README.md, "Secured receivers" and "Bounded input") -----

_PLACEHOLDER = re.compile(r"\$\{env:([A-Z0-9_]+)(?::-[^}]*)?\}")


def _without_defaults(value: object) -> object:
    """``${env:VAR:-default}`` -> ``${env:VAR}`` everywhere: files may differ in defaults only."""
    if isinstance(value, dict):
        return {k: _without_defaults(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_defaults(v) for v in value]
    if isinstance(value, str):
        return _PLACEHOLDER.sub(r"${env:\1}", value)
    return value


def _merged(base: dict, overlay: dict) -> dict:
    """The Collector's merge of two --config files: maps deep, everything else replaced."""
    out = dict(base)
    for key, value in overlay.items():
        out[key] = (
            _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def test_the_secure_overlay_makes_the_single_collectors_receivers_the_gateways() -> None:
    """One way to secure OTLP receivers: config.yaml + overlays/secure-receivers.yaml has the
    gateway's receivers, token extension and extension list (listen defaults aside)."""
    single = _merged(_load("config.yaml"), yaml.safe_load((OVERLAYS / "secure-receivers.yaml").read_text()))
    gateway = _load("gateway.yaml")
    assert _without_defaults(single["receivers"]["otlp"]) == _without_defaults(gateway["receivers"]["otlp"])
    assert _without_defaults(single["extensions"]["bearertokenauth/clients"]) == _without_defaults(
        gateway["extensions"]["bearertokenauth/clients"]
    )
    assert single["service"]["extensions"] == gateway["service"]["extensions"]
    assert set(_load("config.yaml")["service"]["extensions"]) < set(single["service"]["extensions"])


def test_the_gateway_takes_only_tls_and_authenticated_clients() -> None:
    gateway = _load("gateway.yaml")
    for name, protocol in gateway["receivers"]["otlp"]["protocols"].items():
        tls = protocol["tls"]
        assert tls["cert_file"] and tls["key_file"], name
        assert "AMAS_COLLECTOR_CLIENT_CA_FILE" in tls["client_ca_file"], name
        assert protocol["auth"]["authenticator"] in gateway["service"]["extensions"], name
    auth = gateway["extensions"]["bearertokenauth/clients"]
    assert auth["filename"].startswith("${env:AMAS_COLLECTOR_TOKEN_FILE")
    assert auth["wait_for_token_file"] is True, "a gateway without its token file must not start"


def test_the_agent_reaches_the_gateways_with_tls_and_a_token() -> None:
    agent = _load("agent-loadbalancing.yaml")
    for name, exporter in agent["exporters"].items():
        otlp = exporter["protocol"]["otlp"]
        assert not otlp["tls"].get("insecure"), name
        assert otlp["tls"]["ca_file"].startswith("${env:AMAS_GATEWAYS_CA_FILE"), name
        assert otlp["auth"]["authenticator"] in agent["service"]["extensions"], name


def test_no_config_holds_a_secret() -> None:
    """Tokens and keys come from files named by the environment; no literal credential."""
    for path in [*CONFIGS, *OVERLAYS.glob("*.yaml")]:
        text = path.read_text()
        for key in ("token", "tokens", "password", "cert_pem", "key_pem", "ca_pem"):
            for match in re.finditer(rf"^\s*{key}:\s*(.+)$", text, re.M):
                assert match.group(1).strip().startswith(("${env:", "${file:")), (
                    f"{path.name}: {match.group(0)}"
                )
        assert "BEGIN" not in text, f"{path.name} holds PEM data"


def _env_default(value: str) -> int:
    match = re.fullmatch(r"\$\{env:[A-Z0-9_]+:-(\d+)\}", str(value))
    return int(match.group(1)) if match else int(value)


@pytest.mark.parametrize("name", ["config.yaml", "gateway.yaml", "agent-loadbalancing.yaml"])
def test_every_otlp_receiver_is_bounded_within_the_memory_limiters_spike(name: str) -> None:
    """What one connection can hold while its requests are decoded (about twice the
    encoded size) stays within memory_limiter's spike, and every request fits one export to
    a store (the exporters' batches are bounded by the same bytes)."""
    cfg = _load(name)
    grpc_cfg = cfg["receivers"]["otlp"]["protocols"]["grpc"]
    http_cfg = cfg["receivers"]["otlp"]["protocols"]["http"]
    request_mib = grpc_cfg["max_recv_msg_size_mib"]
    assert http_cfg["max_request_body_size"] == request_mib * 1024 * 1024
    assert http_cfg["read_header_timeout"] and http_cfg["read_timeout"]
    spike = _env_default(cfg["processors"]["memory_limiter"]["spike_limit_mib"])
    assert 2 * grpc_cfg["max_concurrent_streams"] * request_mib <= spike
    for exporter in cfg["exporters"].values():
        batch = (exporter.get("sending_queue") or {}).get("batch")
        if batch:
            assert batch["sizer"] == "bytes" and batch["max_size"] >= request_mib * 1024 * 1024
