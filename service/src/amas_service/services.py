"""Everything the routes and workers use, built at startup and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis

from amas_service.activity import Activity
from amas_service.auth import hash_password
from amas_service.cache import TaskCache
from amas_service.db import Database
from amas_service.orchestrator import TASK_TYPES, Orchestrator
from amas_service.providers import ProviderClient
from amas_service.queue import TaskQueue
from amas_service.settings import Settings
from amas_service.worker import Worker

__all__ = ["Services"]

_log = logging.getLogger(__name__)

DEPTH_REFRESH_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: Redis
    queue: TaskQueue
    cache: TaskCache
    http: httpx.AsyncClient
    providers: ProviderClient
    activity: Activity
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        db = await Database.connect(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        redis: Redis | None = None
        http: httpx.AsyncClient | None = None
        try:
            await db.migrate()
            if settings.users:
                hashes = await asyncio.to_thread(
                    lambda: [(u, hash_password(p)) for u, p in settings.users.items()]
                )
                await db.upsert_users(hashes)
            redis = Redis.from_url(settings.redis_url, decode_responses=True)
            await redis.ping()
            http = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.provider_timeout_seconds),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            )
            services = cls(
                settings=settings,
                db=db,
                redis=redis,
                queue=TaskQueue(redis, settings.key_prefix),
                cache=TaskCache(redis, settings.key_prefix, settings.cache_ttl_seconds),
                http=http,
                providers=ProviderClient(
                    settings.providers,
                    timeout=settings.provider_timeout_seconds,
                    failure_threshold=settings.breaker_failure_threshold,
                    reset_seconds=settings.breaker_reset_seconds,
                ),
                activity=Activity(TASK_TYPES, settings.active_user_window_seconds),
            )
            await services._requeue_stored()
        except BaseException:
            if http is not None:
                await http.aclose()
            if redis is not None:
                await redis.aclose()
            await db.close()
            raise
        services._start_background()
        return services

    async def enqueue(self, task_id: uuid.UUID, task_type: str, priority: str) -> None:
        """Queues a stored task. If Redis fails the row stays 'queued' and the next start queues it."""
        try:
            await self.queue.enqueue(task_id, task_type, priority)
        except Exception as error:
            _log.error(
                "task %s stored but not queued (%s: %s); it is queued at the next start",
                task_id,
                type(error).__name__,
                error,
            )

    async def _requeue_stored(self) -> None:
        """Tasks stored as queued (e.g. accepted while Redis was down) go (back) in the queue.

        A duplicate entry is harmless: a worker claims a row only while it is 'queued'.
        """
        stored = await self.db.queued_tasks()
        for task_id, task_type, priority in stored:
            await self.queue.enqueue(task_id, task_type, priority)
        if stored:
            _log.info("queued %d stored task(s) again at startup", len(stored))

    def _start_background(self) -> None:
        worker = Worker(self.db, self.queue, Orchestrator(self.providers), self.activity)
        self._tasks = [
            asyncio.create_task(worker.run(i, self._stop), name=f"worker-{i}")
            for i in range(self.settings.workers)
        ]
        self._tasks.append(asyncio.create_task(self._refresh_depth(), name="queue-depth"))
        _log.info("service started with %d worker(s): %s", self.settings.workers, self.settings.describe())

    async def _refresh_depth(self) -> None:
        while not self._stop.is_set():
            try:
                await self.queue.refresh_depth()
            except Exception as error:
                _log.warning("cannot read the queue depth: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), DEPTH_REFRESH_SECONDS)

    async def stop(self) -> None:
        """Workers finish the task in hand (up to a grace period), then everything closes."""
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.http.aclose()
        await self.providers.aclose()
        await self.redis.aclose()
        await self.db.close()
        _log.info("service stopped")
