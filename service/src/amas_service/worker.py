"""Workers: take tasks from the queue, run them under a ``task {type}`` span, store the result.

The task span continues the trace of the request that queued the task (the context
travels in the queue entry), so the whole life of a task is one trace.
"""

from __future__ import annotations

import asyncio
import logging

from opentelemetry import context
from redis.exceptions import RedisError

from amas_service.activity import Activity
from amas_service.db import Database
from amas_service.orchestrator import Orchestrator
from amas_service.queue import QueueEntry, TaskQueue
from amas_telemetry import record_quality, task_span

__all__ = ["Worker"]

_log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self, db: Database, queue: TaskQueue, orchestrator: Orchestrator, activity: Activity
    ) -> None:
        self._db = db
        self._queue = queue
        self._orchestrator = orchestrator
        self._activity = activity

    async def run(self, index: int, stop: asyncio.Event, poll_seconds: float = 0.5) -> None:
        """Takes tasks until ``stop`` is set; the task in hand is finished first."""
        _log.info("worker %d started", index)
        while not stop.is_set():
            try:
                entry = await self._queue.dequeue(timeout=poll_seconds)
            except (RedisError, OSError) as error:
                _log.error("worker %d cannot read the queue (%s); retrying in 1 s", index, error)
                await asyncio.sleep(1.0)
                continue
            if entry is not None:
                await self.process(entry)
        _log.info("worker %d stopped", index)

    async def process(self, entry: QueueEntry) -> None:
        token = context.attach(entry.context())
        try:
            task = await self._db.claim_task(entry.task_id)
            if task is None:
                _log.info("task %s is taken or gone; skipping its queue entry", entry.task_id)
                return
            self._activity.task_started(task.type)
            try:
                with task_span(task.type, task_id=str(task.id), priority=task.priority) as span:
                    try:
                        outcome = await self._orchestrator.run(task)
                    except Exception as error:
                        await self._db.fail_task(task.id, f"{type(error).__name__}: {error}")
                        _log.error("task %s failed: %s: %s", task.id, type(error).__name__, error)
                        raise
                    await self._db.complete_task(
                        task.id, outcome.result, outcome.quality_score, outcome.cost_usd
                    )
                    record_quality(span, outcome.quality_score)
                    _log.info(
                        "task %s completed: quality %.2f, cost %.6f USD",
                        task.id,
                        outcome.quality_score,
                        outcome.cost_usd,
                    )
            except asyncio.CancelledError:
                await self._requeue(entry)
                raise
            except Exception:
                pass  # recorded on the task span and in the row; the worker goes on
            finally:
                self._activity.task_finished(task.type)
        except Exception as error:  # claim failed: the row stays queued and is queued again at the next start
            _log.error("task %s not started: %s: %s", entry.task_id, type(error).__name__, error)
        finally:
            context.detach(token)

    async def _requeue(self, entry: QueueEntry) -> None:
        """Shutdown interrupted the task: back to queued, back in the queue."""
        try:
            await self._db.release_task(entry.task_id)
            await self._queue.push_back(entry)
            _log.warning("task %s interrupted by shutdown; queued again", entry.task_id)
        except Exception as error:  # the row stays 'running'; the next start cannot tell it from a live one
            _log.error("task %s interrupted and could not be queued again: %s", entry.task_id, error)
