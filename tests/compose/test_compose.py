"""compose.yaml: the Compose Specification loader accepts it and the AMAS rules hold.

The checks live in scripts/validate_compose (Go, compose-go: the loader docker compose
uses). Its binary is built once per go.sum and cached in
``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``. No container engine is needed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "compose.yaml"
VALIDATOR_SRC = REPO_ROOT / "scripts" / "validate_compose"
OBSERVABILITY = REPO_ROOT / "compose.observability.yaml"


def _with_includes(path: Path) -> dict:
    """A compose file's model with the services, secrets and volumes of the files it includes."""
    doc = yaml.safe_load(path.read_text())
    merged: dict = {"services": {}, "secrets": {}, "volumes": {}}
    for entry in doc.get("include") or []:
        included = _with_includes(path.parent / (entry if isinstance(entry, str) else entry["path"]))
        for key in merged:
            merged[key].update(included[key])
    for key in merged:
        merged[key].update(doc.get(key) or {})
    return merged


CONFIG = _with_includes(COMPOSE)
SERVICES = CONFIG["services"]


@pytest.fixture(scope="module")
def validator() -> Path:
    """The validate_compose binary for the current go.mod/go.sum/main.go, built if needed."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((VALIDATOR_SRC / name).read_bytes())
    root = Path(os.environ.get("AMAS_BUILD_DIR", "~/.cache/amas-telemetry")).expanduser()
    binary = root / "bin" / f"validate-compose-{digest.hexdigest()[:16]}"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        pytest.fail("go not found on PATH: needed to build scripts/validate_compose", pytrace=False)
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(f".tmp{os.getpid()}")
    proc = subprocess.run(
        [go, "build", "-trimpath", "-o", str(tmp), "."],
        cwd=VALIDATOR_SRC,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"building scripts/validate_compose failed:\n{proc.stdout}{proc.stderr}"
    tmp.replace(binary)
    return binary


def _validate(validator: Path, compose: Path) -> subprocess.CompletedProcess[str]:
    # a clean environment: the validator sets required variables to dummies itself
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [str(validator), "-f", str(compose)], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.parametrize("compose", [COMPOSE, OBSERVABILITY], ids=lambda p: p.name)
def test_compose_file_is_valid(validator, compose):
    proc = _validate(validator, compose)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_observability_alone_needs_none_of_the_apps_secrets():
    """compose.yaml includes the observability layer; the app's services and the variables
    only they require stay in compose.yaml, so the layer starts without them."""
    alone = _with_includes(OBSERVABILITY)["services"]
    assert set(alone) == {
        "healthprobe",
        "certs",
        "tempo",
        "loki",
        "prometheus",
        "alertmanager",
        "otel-collector",
        "grafana",
    }
    text = OBSERVABILITY.read_text()
    for variable in ("AMAS_POSTGRES_PASSWORD", "AMAS_REDIS_PASSWORD"):
        assert f"${{{variable}:?" not in text and f"${{{variable}?" not in text
        assert f"${{{variable}:?" in COMPOSE.read_text()


def test_validator_catches_what_it_promises(validator, tmp_path):
    bad = tmp_path / "compose.yaml"
    bad.write_text(
        """
services:
  web:
    image: nginx
    ports: ["8080:80"]
    volumes:
      ["./missing.conf:/etc/x.conf:ro", "/data", "/var/run/docker.sock:/var/run/docker.sock", "/etc:/x:ro"]
    environment:
      DB_PASSWORD: admin
  cache:
    image: redis:latest
    depends_on: [web]
    environment:
      API_KEY: literal
    healthcheck: {test: ["CMD", "true"]}
  db:
    image: postgres:17.5
    environment:
      POSTGRES_PASSWORD: ${PG_PASSWORD?}
    healthcheck: {test: ["CMD", "true"]}
    depends_on:
      cache: {condition: service_started}
"""
    )
    proc = _validate(validator, bad)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for expected in [
        'web: image "nginx" has no tag',
        "web: port 80 is published on all interfaces",
        "web: bind mount missing.conf does not exist",
        "web: anonymous volume at /data",
        "web: host path /var/run/docker.sock must be mounted read-only",
        "web: bind mount /etc is outside the repository",
        "web: no health check",
        'web: DB_PASSWORD is "admin"',
        'cache: image "redis:latest" is not pinned',
        "cache: API_KEY is not taken from a required variable",
        'db: depends_on cache with condition "service_started"; use service_healthy',
    ]:
        assert expected in proc.stderr, f"missing {expected!r} in:\n{proc.stderr}"


# --- cross-checks with files outside compose.yaml -----------------------------------------------


#: variables of the Collector's process, not of its config
RUNTIME_VARIABLES = {"GOMEMLIMIT"}


def _collector_configs() -> list[Path]:
    """The config files the Collector service runs: its --config arguments, mapped to the repo."""
    service = SERVICES["otel-collector"]
    mounts = {v.split(":")[1]: REPO_ROOT / v.split(":")[0] for v in service["volumes"] if v.startswith("./")}
    return [mounts[arg.split("=", 1)[1]] for arg in service["command"] if arg.startswith("--config=")]


def test_collector_environment_matches_the_config_placeholders():
    configs = _collector_configs()
    assert REPO_ROOT / "collector" / "config.yaml" in configs
    placeholders = {name for path in configs for name in re.findall(r"\$\{env:(\w+)", path.read_text())}
    environment = set(SERVICES["otel-collector"]["environment"]) - RUNTIME_VARIABLES
    assert environment <= placeholders, (
        f"not used by the Collector's configs: {sorted(environment - placeholders)}"
    )
    for name in (
        "AMAS_TRACES_ENDPOINT",
        "AMAS_METRICS_ENDPOINT",
        "AMAS_LOGS_ENDPOINT",
        "AMAS_COLLECTOR_STORAGE_DIR",
    ):
        assert name in environment
    queue_dir = SERVICES["otel-collector"]["environment"]["AMAS_COLLECTOR_STORAGE_DIR"]
    assert any(v.endswith(f":{queue_dir}") for v in SERVICES["otel-collector"]["volumes"]), (
        "queue not on a volume"
    )


def test_the_collector_s_otlp_receivers_take_tls_and_tokens_from_certs():
    """The OTLP hop is secured (collector/overlays/secure-receivers.yaml), with what the one-shot
    `certs` made: the Collector reads its certificate and token, the app the CA and token."""
    assert REPO_ROOT / "collector" / "overlays" / "secure-receivers.yaml" in _collector_configs()
    collector, app, certs = SERVICES["otel-collector"], SERVICES["amas-service"], SERVICES["certs"]
    (volume,) = [v.split(":")[0] for v in certs["volumes"]]
    tls_dir = next(v.split(":")[1] for v in collector["volumes"] if v.startswith(f"{volume}:"))
    for name, file in (("CERT", "server.crt"), ("KEY", "server.key")):
        assert collector["environment"][f"AMAS_COLLECTOR_TLS_{name}_FILE"] == f"{tls_dir}/{file}"
    assert collector["environment"]["AMAS_COLLECTOR_TOKEN_FILE"] == f"{tls_dir}/token"
    app_dir = next(v.split(":")[1] for v in app["volumes"] if v.startswith(f"{volume}:"))
    assert app["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("https://otel-collector:")
    assert app["environment"]["OTEL_EXPORTER_OTLP_CERTIFICATE"] == f"{app_dir}/ca.crt"
    assert app["environment"]["AMAS_OTLP_TOKEN_FILE"] == f"{app_dir}/token"
    for service in (collector, app):
        assert service["depends_on"]["certs"]["condition"] == "service_completed_successfully"
    assert (
        "-token" in certs["command"]
        and "otel-collector" in certs["command"][certs["command"].index("-hosts") + 1]
    )


def _image_tag(service: str) -> str:
    return SERVICES[service]["image"].rsplit(":", 1)[1]


def test_versions_agree_with_the_native_build():
    script = (REPO_ROOT / "scripts" / "build_binaries.sh").read_text()
    # Prometheus 3.x.y is Go module v0.3xx.y
    major, minor, patch = re.search(r'PROMETHEUS_VERSION="v0\.(\d)(\d\d)\.(\d+)"', script).groups()
    assert _image_tag("prometheus") == f"v{major}.{int(minor)}.{patch}"
    alertmanager = re.search(r'ALERTMANAGER_VERSION="(v[\d.]+)"', script).group(1)
    assert _image_tag("alertmanager") == alertmanager
    ocb = re.search(r'OCB_VERSION="(v[\d.]+)"', script).group(1)
    dockerfile = (REPO_ROOT / "collector" / "Dockerfile").read_text()
    assert f"ARG OCB_VERSION={ocb}" in dockerfile
    assert "--config builder-config.yaml" in dockerfile


def test_prometheus_version_is_spelled_once():
    images = [s["image"] for s in SERVICES.values() if "image" in s]
    assert sum(i.startswith("prom/prometheus:") for i in images) == 1
    assert sum(path.read_text().count("prom/prometheus:") for path in (COMPOSE, OBSERVABILITY)) == 1


def test_prometheus_runs_the_rules_config_with_otlp_and_exemplars():
    prometheus = SERVICES["prometheus"]
    assert "--config.file=/etc/prometheus/rules/prometheus.yml" in prometheus["command"]
    assert {"--web.enable-otlp-receiver", "--enable-feature=exemplar-storage"} <= set(prometheus["command"])
    assert "./rules:/etc/prometheus/rules:ro" in prometheus["volumes"]
    # Alertmanager answers on Prometheus's localhost:9093, as natively
    assert SERVICES["alertmanager"]["network_mode"] == "service:prometheus"
    assert "127.0.0.1:9093:9093" in prometheus["ports"]


def test_alertmanager_secrets_are_where_its_config_reads_them():
    config = (REPO_ROOT / "rules" / "alertmanager.yml").read_text()
    for secret in SERVICES["alertmanager"]["secrets"]:
        assert f"/run/secrets/{secret}" in config
        assert "environment" in CONFIG["secrets"][secret]


def test_grafana_mounts_provisioning_and_generated_dashboards():
    volumes = SERVICES["grafana"]["volumes"]
    assert "./dashboards/json:/var/lib/grafana/dashboards/amas:ro" in volumes
    provider = yaml.safe_load((REPO_ROOT / "dashboards/provisioning/dashboards/provider.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/amas"
    assert "GF_SECURITY_ADMIN_PASSWORD" in SERVICES["grafana"]["environment"]


def test_healthprobe_program_in_the_dockerfile_compiles(tmp_path):
    """The Dockerfile embeds httpprobe's source (heredoc): it must build, and probe."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go not found on PATH", pytrace=False)
    dockerfile = (REPO_ROOT / "collector" / "Dockerfile").read_text()
    source = re.search(r"^COPY <<'GO' main.go\n(.*?)^GO$", dockerfile, re.M | re.S).group(1)
    (tmp_path / "main.go").write_text(source)
    (tmp_path / "go.mod").write_text("module httpprobe\n\ngo 1.22\n")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    build = subprocess.run(
        [go, "build", "-o", "httpprobe", "."], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert build.returncode == 0, build.stderr
    refused = subprocess.run(
        [str(tmp_path / "httpprobe"), "http://127.0.0.1:9/"], capture_output=True, text=True
    )
    assert refused.returncode == 1
    install = subprocess.run(
        [str(tmp_path / "httpprobe"), "--install", str(tmp_path / "copy")], capture_output=True
    )
    assert install.returncode == 0 and os.access(tmp_path / "copy", os.X_OK)


def test_the_service_image_installs_uv_lock_with_the_pinned_uv():
    """service/Dockerfile exports uv.lock with uv: the uv version scripts/uv.sh bootstraps."""
    dockerfile = (REPO_ROOT / "service" / "Dockerfile").read_text()
    uv_sh = (REPO_ROOT / "scripts" / "uv.sh").read_text()
    pinned = re.search(r'^UV_VERSION="([\d.]+)"', uv_sh, re.M).group(1)
    assert f"ARG UV_VERSION={pinned}" in dockerfile
    assert "uv export --frozen --package amas-service" in dockerfile


def test_the_compose_page_names_every_variable_compose_needs():
    """docs/compose.md's .env example sets every variable the header says compose needs:
    the required passwords and the Alertmanager variables that must be set, even empty."""
    header = COMPOSE.read_text().split("# Required environment", 1)[1].split("# Optional", 1)[0]
    needed = set(re.findall(r"\b(AMAS_[A-Z_]+)\b", header)) - {"AMAS_GRAFANA_ADMIN_USER"}
    assert len(needed) == 5, needed
    page = (REPO_ROOT / "docs" / "compose.md").read_text()
    assert {name for name in needed if re.search(rf"^{name}=", page, re.M)} == needed
