"""The development stack on 127.0.0.1, without containers: processes, ports, the native
observability stack (Collector, Prometheus, Jaeger, VictoriaLogs, Alertmanager), the
PostgreSQL/Redis/fake-provider servers of the tests and the demo, and the demo itself.

Console entry points (see ``[project.scripts]`` in devstack/pyproject.toml):

- ``amas-stack up|status|down``: the native stack (:mod:`amas_devstack.stack_cli`)
- ``amas-demo``: the demo (:mod:`amas_devstack.demo.cli`)

The stack runs the configs of a checkout of the amas-telemetry repository (``collector/``,
``rules/``, ``scripts/native/``): the one this package is installed from (the workspace's
editable install), else the current folder or one above it, else ``AMAS_REPO_ROOT``.
"""

import os
from pathlib import Path

_MARKER = Path("collector") / "builder-config.yaml"


def _checkout() -> Path:
    """The repository whose configs the stack runs (see the module docstring)."""
    if os.environ.get("AMAS_REPO_ROOT"):
        candidates = [Path(os.environ["AMAS_REPO_ROOT"]).expanduser()]
    else:
        here = Path(__file__).resolve()
        cwd = Path.cwd()
        candidates = [*here.parents, cwd, *cwd.parents]
    for candidate in candidates:
        if (candidate / _MARKER).is_file():
            return candidate
    raise SystemExit(
        "amas-devstack: no checkout of the amas-telemetry repository found (it runs the configs in its "
        "collector/, rules/ and scripts/native/ folders): run it from a clone, or set AMAS_REPO_ROOT"
    )


REPO_ROOT = _checkout()
"""The checkout whose configs the stack runs."""
