"""Driving the load against a run, with progress on stderr and an outage of the primary
provider from 30 % to 55 % of the tasks done, so that fallbacks and the breaker show."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import httpx

from amas_devstack.demo import say
from amas_devstack.demo.load import Load
from amas_devstack.demo.metrics import Metrics
from amas_devstack.demo.names import TASK_DURATION, TASK_QUEUE_DEPTH
from amas_devstack.demo.service import Run


class Progress:
    def __init__(self, total: int) -> None:
        self.total = total
        self.tty = sys.stderr.isatty()
        self._last_decile = -1

    def show(self, done: int, submitted: int, depth: float, note: str) -> None:
        width = 30
        filled = int(width * min(done, self.total) / max(self.total, 1))
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} tasks done, "
            f"{submitted} submitted, queue {depth:.0f}{'  ' + note if note else ''}"
        )
        if self.tty:
            print("\r" + line.ljust(110), end="", file=sys.stderr, flush=True)
        elif (decile := 10 * done // max(self.total, 1)) != self._last_decile:
            self._last_decile = decile
            say(line)

    def end(self) -> None:
        if self.tty:
            print(file=sys.stderr, flush=True)


async def drive(run: Run, args: argparse.Namespace) -> tuple[Load, dict[str, Any]]:
    load = Load(args.tasks, args.rate, args.seed)
    progress = Progress(args.tasks)
    outage = run.providers["openai"]
    timeline: dict[str, Any] = {"peak_queue": 0.0}
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=run.url, timeout=30) as client:
        loader = asyncio.create_task(load.run(client))
        outage_state = "before"
        while True:
            metrics = await Metrics.scrape(client)
            done = int(metrics.total(f"{TASK_DURATION}_count"))
            depth = metrics.total(TASK_QUEUE_DEPTH)
            timeline["peak_queue"] = max(timeline["peak_queue"], depth)
            # the primary provider goes down from 30 % to 55 % of the tasks done
            if outage_state == "before" and done >= 0.30 * args.tasks:
                await asyncio.to_thread(outage.outage, True)
                outage_state, timeline["outage_start"] = "down", time.monotonic() - started
            elif outage_state == "down" and done >= 0.55 * args.tasks:
                await asyncio.to_thread(outage.outage, False)
                outage_state, timeline["outage_end"] = "after", time.monotonic() - started
            note = "openai DOWN (outage)" if outage_state == "down" else ""
            if loader.done():  # integration events started tasks too
                progress.total = max(progress.total, len(load.accepted))
            progress.show(done, load.submitted, depth, note)
            if loader.done() and done >= len(load.accepted):
                break
            if time.monotonic() - started > args.timeout:
                progress.end()
                say(f"demo: timed out after {args.timeout:.0f} s with {done}/{len(load.accepted)} tasks done")
                break
            await asyncio.sleep(0.25)
        if outage_state == "down":
            await asyncio.to_thread(outage.outage, False)
        await loader
        progress.end()
        timeline["seconds"] = time.monotonic() - started
        timeline["metrics"] = await Metrics.scrape(client)
    return load, timeline
