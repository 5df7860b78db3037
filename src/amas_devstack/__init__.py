"""The development stack on 127.0.0.1, without containers: processes, ports, the native
observability stack (Collector, Prometheus, Jaeger, VictoriaLogs, Alertmanager), the
PostgreSQL/Redis/fake-provider servers of the tests and the demo, and the demo itself.

Console entry points (see ``[project.scripts]`` in pyproject.toml):

- ``amas-stack up|status|down``: the native stack (:mod:`amas_devstack.stack_cli`)
- ``amas-demo``: the demo (:mod:`amas_devstack.demo.cli`)

``scripts/native_stack.py`` and ``scripts/demo.py`` are thin shims over these. The paths to
the configs (``collector/``, ``rules/``, ``scripts/native/``) are taken from the checkout
this package lives in (an editable install).
"""

from pathlib import Path

#: the checkout: src/amas_devstack/__init__.py -> the repository root
REPO_ROOT = Path(__file__).resolve().parents[2]
