"""The Go binaries of the native stack, built by ``scripts/build_binaries.sh`` into
``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "BINARIES",
    "BUILD_SCRIPT",
    "BinaryMissing",
    "StackError",
    "bin_dir",
    "binary",
    "build_root",
    "go_tool",
]

BUILD_SCRIPT = "scripts/build_binaries.sh"

#: component -> (file name in the bin folder, argument of the build script)
BINARIES: dict[str, tuple[str, str]] = {
    "collector": ("otelcol-amas", "collector"),
    "prometheus": ("prometheus", "prometheus"),
    "promtool": ("promtool", "promtool"),
    "alertmanager": ("alertmanager", "alertmanager"),
    "amtool": ("amtool", "amtool"),
    "jaeger": ("jaeger", "jaeger"),
    "victorialogs": ("victoria-logs", "victorialogs"),
    "telemetrygen": ("telemetrygen", "telemetrygen"),  # a load generator, not a stack component
    "compose": ("docker-compose", "compose"),  # Docker Compose v2, for the compose test (podman)
    "thanos": ("thanos", "thanos"),  # receive, query, store (amas_devstack.thanos)
    "helm": ("helm", "helm"),  # the chart's tests (deploy/helm), not a stack component
}


class StackError(RuntimeError):
    """A component could not be started, is unhealthy, or a port is taken."""


class BinaryMissing(StackError):
    """A binary has not been built on this machine."""


def build_root() -> Path:
    """The build cache; ``AMAS_BUILD_DIR`` overrides ``~/.cache/amas-telemetry``."""
    env = os.environ.get("AMAS_BUILD_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "amas-telemetry"


def bin_dir() -> Path:
    return build_root() / "bin"


def binary(component: str) -> Path:
    """Path of a built binary; raises BinaryMissing with the command that builds it."""
    file_name, build_arg = BINARIES[component]
    path = bin_dir() / file_name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BinaryMissing(
            f"{component}: binary {path} not found; build it with "
            f"`bash {BUILD_SCRIPT} {build_arg}` (or `bash {BUILD_SCRIPT}` for all)"
        )
    return path


def go_tool(source: Path, name: str, timeout: float = 900.0) -> Path:
    """A Go program of this repository (its own go.mod, e.g. scripts/validate_k8s), built
    once per content of its go.mod, go.sum and *.go files into the bin folder, as
    ``<name>-<hash>``; raises StackError with the compiler's output when the build fails."""
    digest = hashlib.sha256()
    sums = [source / "go.sum"] if (source / "go.sum").is_file() else []  # no go.sum: stdlib only
    for path in sorted([source / "go.mod", *sums, *source.glob("*.go")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    target = bin_dir() / f"{name}-{digest.hexdigest()[:16]}"
    if target.is_file():
        return target
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go is None:
        raise BinaryMissing(f"{name}: go not found on PATH (needed to build {source})")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    proc = subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(tmp), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-buildvcs=false"},
    )
    if proc.returncode != 0:
        raise StackError(f"building {source} failed:\n{proc.stdout}{proc.stderr}")
    tmp.replace(target)
    return target
