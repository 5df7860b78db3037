"""The AMAS demo: one command starts everything on 127.0.0.1, drives load and prints what happened.

    amas-demo                    # ~300 tasks, then stop everything (or: python -m amas_devstack.demo.cli)
    amas-demo --keep-running     # leave it up; prints the command that stops it
    amas-demo --stop             # stop what --keep-running left

It installs PostgreSQL and Redis with apt-get when they are missing (as root), then starts
in ``./run/demo``: PostgreSQL, Redis, three fake AI providers (openai, anthropic,
mistral_ai) and the AMAS service (``python -m amas_service``, JSON logs in service.log).
The load: tasks of every type and priority, GETs (cache hits and misses), logins (some
wrong), integration events, a few bad requests, a few tasks too long for any model, and an
outage of the primary provider in the middle, so fallbacks and the breaker show. The
summary is read from the service's own ``/metrics``, plus one sample trace with its log
lines. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (e.g. the native stack of
``amas-stack``) the service sends its telemetry there too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from amas_devstack import REPO_ROOT
from amas_devstack.demo import say
from amas_devstack.demo.drive import drive
from amas_devstack.demo.report import summary
from amas_devstack.demo.service import (
    DEFAULT_RUN_DIR,
    STATE_FILE,
    ensure_servers,
    start_everything,
    stop_kept,
)
from amas_devstack.demo.stack import infrastructure_env, stack_links, start_stack

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=300, help="tasks to submit (default 300)")
    parser.add_argument("--rate", type=float, default=25.0, help="task submissions per second (default 25)")
    parser.add_argument("--workers", type=int, default=4, help="service task workers (default 4)")
    parser.add_argument(
        "--latency-scale", type=float, default=1.0, help="multiplies the fake providers' latency"
    )
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="default ./run/demo")
    parser.add_argument(
        "--stack-dir",
        type=Path,
        default=REPO_ROOT / "run" / "stack",
        help="run folder of amas-stack, for links (default ./run/stack)",
    )
    parser.add_argument(
        "--no-stack",
        action="store_true",
        help="do not start the native stack even when its binaries are built",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up waiting for tasks after this (s)"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install anything")
    parser.add_argument("--keep-running", action="store_true", help="leave everything up after the summary")
    parser.add_argument("--stop", action="store_true", help="stop what a --keep-running demo left up")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if args.stop:
        return stop_kept(run_dir)
    if (run_dir / STATE_FILE).exists():
        say("stopping the previous demo left running ...")
        stop_kept(run_dir)
    ensure_servers(allow_install=not args.no_install)

    stack = None
    if not args.no_stack and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        stack = start_stack(args.stack_dir.resolve())
    try:
        run = start_everything(run_dir, args.workers, args.latency_scale)
        if stack is not None:  # the Collector's receivers now scrape this PostgreSQL and Redis
            stack.collector_env.update(infrastructure_env(run))
            stack.restart("collector")
    except BaseException:
        if stack is not None:
            stack.down()
        raise
    keep = False
    try:
        load, timeline = asyncio.run(drive(run, args))
        print(summary(run, load, timeline))
        for line in stack_links(timeline.get("sample_trace"), args.stack_dir, args.keep_running):
            print(line)
        keep = args.keep_running
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    finally:
        if keep:
            (run_dir / STATE_FILE).write_text(json.dumps({"pids": run.pids(), "url": run.url}, indent=2))
            print(
                f"\nStill running: service {run.url}, PostgreSQL 127.0.0.1:{run.postgres.port}, "
                f"Redis 127.0.0.1:{run.redis.port}. Stop everything with:\n"
                f"  {sys.executable} -m amas_devstack.demo.cli --stop --run-dir {run_dir}"
            )
            if stack is not None:
                print("The native stack too:")
                print(f"  {sys.executable} -m amas_devstack.stack_cli down --run-dir {stack.run_dir}")
        else:
            say("stopping everything the demo started ...")
            run.stop()
            if stack is not None:
                stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
