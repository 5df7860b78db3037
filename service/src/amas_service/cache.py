"""Redis read-through cache of task rows for ``GET /tasks/{id}``.

Hits and misses are told apart by the library's redis response hook (an empty GET is a
miss), so ``amas.cache.operations`` counts both without any code here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from redis.asyncio import Redis

__all__ = ["TaskCache"]


class TaskCache:
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: float) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:task:"
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    async def get(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        raw = await self._redis.get(self._prefix + str(task_id))
        return json.loads(raw) if raw is not None else None

    async def put(self, task_id: uuid.UUID, task: dict[str, Any]) -> None:
        await self._redis.set(self._prefix + str(task_id), json.dumps(task), px=self._ttl_ms)

    async def invalidate(self, task_id: uuid.UUID) -> None:
        await self._redis.delete(self._prefix + str(task_id))
