"""Native observability stack on 127.0.0.1, without containers.

The ``amas-stack`` command (also ``python -m amas_devstack.stack_cli``). Runs the binaries
built by ``scripts/build_binaries.sh`` (found in
``${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/bin``):

=============  ===============================================  ==========================
component      what                                             default ports
=============  ===============================================  ==========================
collector      otelcol-amas with collector/config.yaml          4317 gRPC, 4318 HTTP,
                                                                13133 health, 8888 metrics
prometheus     Prometheus 3 (OTLP receiver, exemplar storage,   9090
               its web UI built in)
jaeger         Jaeger v2, badger storage (Tempo's stand-in)     14317/14318 OTLP, 16686 API
               and the stack's trace view (docs/ui.md)          and trace view
victorialogs   VictoriaLogs (Loki's stand-in, OTLP logs)        9428
alertmanager   Alertmanager (optional; new web UI at /ui/)      9093
=============  ===============================================  ==========================

Prometheus and Alertmanager read rules/prometheus.yml and rules/alertmanager.yml; Jaeger
reads scripts/native/jaeger.yaml. Data, logs and a state file (pids, ports) live in a run
folder (default ``./run/stack``)::

    amas-stack up [--run-dir DIR] [--random-ports] [--without alertmanager]
    amas-stack status [--run-dir DIR]
    amas-stack down [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amas_devstack.binaries import StackError
from amas_devstack.components import ALL_COMPONENTS, DEFAULT_COMPONENTS
from amas_devstack.native_stack import STATE_FILE, NativeStack
from amas_devstack.ports import Ports

__all__ = ["main"]


def _print_status(stack: NativeStack) -> bool:
    all_ok = True
    print(f"run dir: {stack.run_dir}")
    print(f"{'component':<13} {'pid':>8}  {'state':<9}  ports")
    for name in [*stack.components, *stack.extra_collectors, *stack.extra_processes]:
        healthy, running = stack.is_healthy(name), stack.is_running(name)
        state = "healthy" if healthy else ("running" if running else "stopped")
        all_ok &= healthy
        ports = ", ".join(f"{k} {v}" for k, v in stack.spec(name).ports.items())
        print(f"{name:<13} {stack.pid(name) or '-':>8}  {state:<9}  {ports}")
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--run-dir", default="run/stack", help="data, logs and state (default ./run/stack)")
    parser.add_argument("--random-ports", action="store_true", help="pick free ports instead of the defaults")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=ALL_COMPONENTS,
        help="leave a component out (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for health (up)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            if (Path(args.run_dir) / STATE_FILE).exists():
                old = NativeStack.load(args.run_dir)
                if any(old.is_running(n) for n in old.components):
                    print(f"a stack is already running from {old.run_dir}; `down` it first", file=sys.stderr)
                    return 1
            comps = [c for c in DEFAULT_COMPONENTS if c not in args.without]
            stack = NativeStack(args.run_dir, Ports.random() if args.random_ports else Ports(), comps)
            stack.up(timeout=args.timeout)
            _print_status(stack)
            return 0
        stack = NativeStack.load(args.run_dir)
        if args.command == "status":
            return 0 if _print_status(stack) else 1
        stack.down()
        print(f"stopped the stack in {stack.run_dir}")
        return 0
    except StackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
