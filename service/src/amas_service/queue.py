"""The task queue: one Redis list per priority, FIFO, trace context carried in each entry.

An entry is ``{"task_id", "type", "priority", "trace": {traceparent...}}``. The producer
injects the current context (the HTTP request's span), the worker extracts it, so the task
span is a child in the request's trace: one trace id from ``POST /tasks`` to the last
provider call, and logs of both sides share it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from redis.asyncio import Redis

from amas_telemetry import untraced

__all__ = ["PRIORITIES", "QueueEntry", "TaskQueue"]

_log = logging.getLogger(__name__)

PRIORITIES = ("high", "normal", "low")
"""Dequeue order: a worker always takes the highest priority waiting."""


@dataclass(frozen=True)
class QueueEntry:
    task_id: uuid.UUID
    type: str
    priority: str
    trace: Mapping[str, str] = field(default_factory=dict)

    def context(self) -> Context:
        """The producer's trace context, to parent the task span."""
        return propagate.extract(self.trace)

    def dumps(self) -> str:
        return json.dumps(
            {
                "task_id": str(self.task_id),
                "type": self.type,
                "priority": self.priority,
                "trace": dict(self.trace),
            }
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> QueueEntry:
        data = json.loads(raw)
        return cls(uuid.UUID(data["task_id"]), data["type"], data["priority"], data.get("trace") or {})


class TaskQueue:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._keys = {p: f"{prefix}:queue:{p}" for p in PRIORITIES}
        self._depth: dict[str, int] = dict.fromkeys(PRIORITIES, 0)

    async def enqueue(self, task_id: uuid.UUID, task_type: str, priority: str) -> None:
        """Pushes the entry with the current trace context (a traced RPUSH)."""
        carrier: dict[str, Any] = {}
        propagate.inject(carrier)
        await self._redis.rpush(
            self._keys[priority], QueueEntry(task_id, task_type, priority, carrier).dumps()
        )

    async def push_back(self, entry: QueueEntry) -> None:
        """Returns an interrupted entry to the front of its queue."""
        await self._redis.lpush(self._keys[entry.priority], entry.dumps())

    async def dequeue(self, timeout: float) -> QueueEntry | None:
        """Blocks up to ``timeout`` s; untraced, since idle polling is not work."""
        with untraced():
            item = await self._redis.blpop(list(self._keys.values()), timeout=timeout)
        if item is None:
            return None
        try:
            return QueueEntry.loads(item[1])
        except (ValueError, KeyError, TypeError):
            _log.error("dropping a malformed queue entry from %s", item[0])
            return None

    async def refresh_depth(self) -> None:
        """Reads the queue lengths for the depth gauge (untraced: it runs every second)."""
        with untraced():
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in self._keys.values():
                    pipe.llen(key)
                lengths = await pipe.execute()
        self._depth = dict(zip(PRIORITIES, lengths, strict=True))

    def depth(self) -> dict[str, int]:
        """The last lengths read, by priority (the gauge callback must not do I/O)."""
        return dict(self._depth)
