"""The Go binaries of the native stack, built by ``scripts/build_binaries.sh`` into
``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BINARIES", "BUILD_SCRIPT", "BinaryMissing", "StackError", "bin_dir", "binary", "build_root"]

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
