"""The Helm chart (deploy/helm/amas-telemetry): lint, render, and decode every rendered object
strictly into the Kubernetes API type of its kind (scripts/validate_k8s, k8s.io/api pinned in
its go.mod), for the default values and a scaled values file. No cluster is needed.

helm is built by scripts/build_binaries.sh (Helm v4 from the Go module proxy); the validator
is built from scripts/validate_k8s on first use and cached by its sources.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from amas_devstack.binaries import BinaryMissing, StackError, binary, go_tool

pytestmark = pytest.mark.helm

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "amas-telemetry"
SCALED_VALUES = CHART / "ci" / "scaled-values.yaml"
RELEASE, NAMESPACE = "amas", "observability"
#: ConfigMap key -> the repository's file
COLLECTOR_FILES = {
    "agent-loadbalancing.yaml": "collector/agent-loadbalancing.yaml",
    "agent-k8s.yaml": "collector/overlays/agent-k8s.yaml",
    "gateway.yaml": "collector/gateway.yaml",
}


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return binary("helm")
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def validator() -> Path:
    try:
        return go_tool(REPO_ROOT / "scripts" / "validate_k8s", "validate-k8s")
    except StackError as e:
        pytest.fail(str(e), pytrace=False)


def _run(argv: list[Any], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # a clean environment: no kubeconfig or helm settings of the caller count
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/"),
        "HELM_CACHE_HOME": "/tmp/amas-helm-cache",
    }
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, input=stdin, timeout=120, env=env
    )


def render(helm: Path, *values: Path, extra: tuple[str, ...] = ()) -> str:
    args = [helm, "template", RELEASE, CHART, "--namespace", NAMESPACE]
    for v in values:
        args += ["--values", v]
    proc = _run([*args, *extra])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def validate(validator: Path, manifest: str) -> subprocess.CompletedProcess[str]:
    return _run([validator, "-summary"], stdin=manifest)


def objects(manifest: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> object."""
    return {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(manifest) if o}


# -- lint and strict decoding ------------------------------------------------------------------
@pytest.mark.parametrize("values", [None, SCALED_VALUES], ids=["default", "scaled"])
def test_helm_lint_strict(helm: Path, values: Path | None):
    args = [helm, "lint", "--strict", CHART, "--namespace", NAMESPACE]
    if values:
        args += ["--values", values]
    proc = _run(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


EXPECTED = {
    ("ServiceAccount", "amas-amas-telemetry-agent"),
    ("Role", "amas-amas-telemetry-agent"),
    ("RoleBinding", "amas-amas-telemetry-agent"),
    ("ConfigMap", "amas-amas-telemetry-collector"),
    ("DaemonSet", "amas-amas-telemetry-agent"),
    ("Service", "amas-amas-telemetry-gateway"),
    ("StatefulSet", "amas-amas-telemetry-gateway"),
    ("PodDisruptionBudget", "amas-amas-telemetry-gateway"),
    ("Deployment", "amas-amas-telemetry-service"),
    ("Service", "amas-amas-telemetry-service"),
}


@pytest.mark.parametrize("values", [(), (SCALED_VALUES,)], ids=["default", "scaled"])
def test_every_rendered_object_decodes_strictly(helm: Path, validator: Path, values: tuple[Path, ...]):
    manifest = render(helm, *values)
    proc = validate(validator, manifest)
    assert proc.returncode == 0, proc.stderr
    decoded = {tuple(line.split()[1:3]) for line in proc.stdout.splitlines()}
    expected = {(kind, f"{NAMESPACE}/{name}") for kind, name in EXPECTED}
    assert expected <= decoded, expected - decoded


def test_a_misspelled_field_fails(helm: Path, validator: Path):
    manifest = render(helm)
    assert "containerPort:" in manifest
    proc = validate(validator, manifest.replace("containerPort:", "containerPrt:", 1))
    assert proc.returncode == 1
    assert 'unknown field "spec.template.spec.containers[0].ports[0].containerPrt"' in proc.stderr


def test_a_misspelled_field_in_values_fails(helm: Path, validator: Path):
    """Values end up in typed fields too: a typo in extraEnv is caught."""
    manifest = render(helm, extra=("--set-json", 'service.extraEnv=[{"name":"X","vaule":"1"}]'))
    proc = validate(validator, manifest)
    assert proc.returncode == 1
    assert 'unknown field "spec.template.spec.containers[0].env' in proc.stderr
    assert "vaule" in proc.stderr


def test_a_wrong_type_and_an_unknown_kind_fail(helm: Path, validator: Path):
    manifest = render(helm).replace("replicas: 2", 'replicas: "two"', 1)
    manifest += "\n---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: amas\n"
    proc = validate(validator, manifest)
    assert proc.returncode == 1
    assert "cannot unmarshal string" in proc.stderr and "replicas" in proc.stderr
    assert "unknown kind monitoring.coreos.com/v1 ServiceMonitor" in proc.stderr


# -- what the objects say ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_objects(helm: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return objects(render(helm))


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_collector_configs_are_the_repositorys_files(default_objects):
    data = default_objects[("ConfigMap", "amas-amas-telemetry-collector")]["data"]
    for key, path in COLLECTOR_FILES.items():
        assert data[key] == (REPO_ROOT / path).read_text().rstrip("\n"), path


def test_the_agents_find_the_gateways_through_the_headless_service(default_objects):
    service = default_objects[("Service", "amas-amas-telemetry-gateway")]
    gateways = default_objects[("StatefulSet", "amas-amas-telemetry-gateway")]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= gateways["spec"]["template"]["metadata"]["labels"].items()
    agent = _container(default_objects[("DaemonSet", "amas-amas-telemetry-agent")])
    assert agent["args"] == [
        "--config=/etc/otelcol/config/agent-loadbalancing.yaml",
        "--config=/etc/otelcol/config/agent-k8s.yaml",
    ]
    assert _env(agent)["AMAS_GATEWAY_SERVICE"] == f"amas-amas-telemetry-gateway.{NAMESPACE}"
    rules = default_objects[("Role", "amas-amas-telemetry-agent")]["rules"]
    assert {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["get", "list", "watch"],
    } in rules


def test_each_gateway_owns_a_persistent_queue(default_objects):
    gateways = default_objects[("StatefulSet", "amas-amas-telemetry-gateway")]
    (claim,) = gateways["spec"]["volumeClaimTemplates"]
    mount = next(m for m in _container(gateways)["volumeMounts"] if m["name"] == claim["metadata"]["name"])
    assert _env(_container(gateways))["AMAS_COLLECTOR_STORAGE_DIR"] == mount["mountPath"]


def test_the_app_sends_otlp_to_its_nodes_agent(default_objects):
    service = _container(default_objects[("Deployment", "amas-amas-telemetry-service")])
    env = _env(service)
    assert env["HOST_IP"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://$(HOST_IP):4317"
    names = [e["name"] for e in service["env"]]
    assert names.index("HOST_IP") < names.index(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )  # $(VAR) needs it defined first
    agent = _container(default_objects[("DaemonSet", "amas-amas-telemetry-agent")])
    grpc = next(p for p in agent["ports"] if p["name"] == "otlp-grpc")
    assert grpc["hostPort"] == grpc["containerPort"] == 4317


def test_no_secret_value_is_rendered(default_objects):
    assert not [key for key in default_objects if key[0] == "Secret"]
    service = _container(default_objects[("Deployment", "amas-amas-telemetry-service")])
    assert service["envFrom"] == [{"secretRef": {"name": "amas-service"}}]


def test_the_agent_config_with_the_kubernetes_overlay_is_valid(tmp_path: Path):
    """The Collector accepts the two files the DaemonSet runs (static resolver switched off,
    k8s resolver on)."""
    collector = binary("collector")
    proc = _run(
        [
            collector,
            "validate",
            f"--config={REPO_ROOT / 'collector' / 'agent-loadbalancing.yaml'}",
            f"--config={REPO_ROOT / 'collector' / 'overlays' / 'agent-k8s.yaml'}",
        ]
    )
    assert proc.returncode == 0, proc.stderr


def test_without_switching_the_static_resolver_off_the_agent_would_not_start(tmp_path: Path):
    """What the overlay's ``static: {enabled: false}`` is for: two resolvers are refused."""
    overlay = tmp_path / "k8s-only.yaml"
    overlay.write_text(
        "exporters:\n  load_balancing/traceid:\n    resolver:\n      k8s:\n        service: gw.default\n"
        "        ports: [4317]\n"
    )
    proc = _run(
        [
            binary("collector"),
            "validate",
            f"--config={REPO_ROOT / 'collector' / 'agent-loadbalancing.yaml'}",
            f"--config={overlay}",
        ]
    )
    assert proc.returncode == 1
    assert "only one resolver should be specified" in proc.stderr


def test_the_packaged_chart_carries_the_configs_not_the_links(helm: Path, tmp_path: Path):
    """`helm package` stores the content of the symlinked Collector configs: the packaged chart
    renders the same ConfigMap as the chart folder."""
    proc = _run([helm, "package", CHART, "--destination", tmp_path])
    assert proc.returncode == 0, proc.stderr
    (archive,) = tmp_path.glob("amas-telemetry-*.tgz")
    packaged = _run([helm, "template", RELEASE, archive, "--namespace", NAMESPACE])
    assert packaged.returncode == 0, packaged.stderr
    key = ("ConfigMap", "amas-amas-telemetry-collector")
    assert objects(packaged.stdout)[key] == objects(render(helm))[key]


def _mounted_files(workload: dict[str, Any]) -> set[str]:
    """Every file path a workload's first container sees from its configMap/secret volumes."""
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    files = set()
    for mount in _container(workload)["volumeMounts"]:
        volume = volumes.get(mount["name"], {})  # absent: a volumeClaimTemplate
        source = volume.get("secret") or volume.get("configMap")
        if source is None:
            continue
        items = source.get("items")
        assert items, f"volume {mount['name']}: list its items, so a missing key fails at mount"
        files |= {f"{mount['mountPath']}/{item['path']}" for item in items if "path" in item}
    return files


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
def test_every_file_a_collector_is_told_to_read_is_mounted(helm: Path, mutual: bool):
    """The configs name their TLS, token and config files through the environment (…_FILE)
    and the command line; each one must be in a mounted Secret or ConfigMap item."""
    rendered = objects(render(helm, extra=("--set", f"tls.mutual={str(mutual).lower()}")))
    for key in (("DaemonSet", "amas-amas-telemetry-agent"), ("StatefulSet", "amas-amas-telemetry-gateway")):
        workload = rendered[key]
        container = _container(workload)
        wanted = {v for k, v in _env(container).items() if k.endswith("_FILE")}
        wanted |= {arg.split("=", 1)[1] for arg in container["args"] if arg.startswith("--config=")}
        assert wanted, key
        missing = wanted - _mounted_files(workload)
        assert not missing, f"{key}: not mounted: {sorted(missing)}"
    gateway_env = _env(_container(rendered[("StatefulSet", "amas-amas-telemetry-gateway")]))
    agent_env = _env(_container(rendered[("DaemonSet", "amas-amas-telemetry-agent")]))
    assert ("AMAS_COLLECTOR_CLIENT_CA_FILE" in gateway_env) is mutual
    assert ("AMAS_GATEWAYS_CLIENT_CERT_FILE" in agent_env) is mutual
    assert agent_env["AMAS_GATEWAY_TLS_SERVER_NAME"] == f"amas-amas-telemetry-gateway.{NAMESPACE}.svc"


def test_the_agents_never_mount_the_gateways_key(default_objects):
    agent = default_objects[("DaemonSet", "amas-amas-telemetry-agent")]
    assert not any(path.endswith("tls.key") for path in _mounted_files(agent))
