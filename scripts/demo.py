#!/usr/bin/env python3
"""The AMAS demo: a shim over :mod:`amas_devstack.demo` (the ``amas-demo`` command).

Keeps ``python scripts/demo.py`` (what scripts/demo.sh runs) and ``import demo`` working.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

try:
    from amas_devstack.demo.cli import main
    from amas_devstack.demo.load import Load
    from amas_devstack.demo.metrics import Metrics
    from amas_devstack.demo.report import read_logs, summary
    from amas_devstack.demo.service import Run, service_env, spawn_service, start_everything, stop_kept
    from amas_devstack.demo.stack import infrastructure_env
except ImportError as missing:  # pragma: no cover - a fresh machine without the package
    sys.exit(
        f"demo: {missing}. Install the package first (scripts/demo.sh does it):\n"
        "  python3 -m venv .venv && .venv/bin/pip install -e '.[service]' && .venv/bin/python scripts/demo.py"
    )

__all__ = [
    "Load",
    "Metrics",
    "Run",
    "infrastructure_env",
    "main",
    "read_logs",
    "service_env",
    "spawn_service",
    "start_everything",
    "stop_kept",
    "summary",
]

if __name__ == "__main__":
    sys.exit(main())
