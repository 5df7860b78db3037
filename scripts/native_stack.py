#!/usr/bin/env python3
"""The native observability stack: a shim over :mod:`amas_devstack` (the ``amas-stack`` command).

Keeps ``python scripts/native_stack.py up|status|down`` working without an install (the
stack's modules need only the standard library) and ``import native_stack`` for old callers.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from amas_devstack import REPO_ROOT  # noqa: E402
from amas_devstack.binaries import BINARIES, BinaryMissing, StackError, bin_dir, binary, build_root  # noqa: E402
from amas_devstack.components import ALL_COMPONENTS, DEFAULT_COMPONENTS, CollectorInstance, Spec  # noqa: E402
from amas_devstack.native_stack import STATE_FILE, NativeStack  # noqa: E402
from amas_devstack.ports import Ports, port_in_use  # noqa: E402
from amas_devstack.stack_cli import main  # noqa: E402

__all__ = [
    "ALL_COMPONENTS",
    "BINARIES",
    "DEFAULT_COMPONENTS",
    "REPO_ROOT",
    "STATE_FILE",
    "BinaryMissing",
    "CollectorInstance",
    "NativeStack",
    "Ports",
    "Spec",
    "StackError",
    "bin_dir",
    "binary",
    "build_root",
    "main",
    "port_in_use",
]

if __name__ == "__main__":
    sys.exit(main())
