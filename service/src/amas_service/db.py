"""PostgreSQL: the asyncpg pool, the schema and every query the service runs."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = ["POOL_NAME", "Database", "TaskRecord"]

_log = logging.getLogger(__name__)

POOL_NAME = "amas-postgresql"
"""``db.client.connection.pool.name`` of the pool gauges."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id            uuid PRIMARY KEY,
    type          text NOT NULL,
    priority      text NOT NULL,
    user_id       text NOT NULL,
    prompt        text NOT NULL,
    source        text NOT NULL DEFAULT 'api',
    status        text NOT NULL DEFAULT 'queued',
    attempts      integer NOT NULL DEFAULT 0,
    result        jsonb,
    quality_score double precision,
    cost_usd      double precision,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX IF NOT EXISTS tasks_open_idx ON tasks (created_at) WHERE status IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS users (
    username      text PRIMARY KEY,
    password_hash text NOT NULL
);
CREATE TABLE IF NOT EXISTS integration_events (
    id          bigserial PRIMARY KEY,
    platform    text NOT NULL,
    event_type  text NOT NULL,
    payload     jsonb NOT NULL,
    task_id     uuid REFERENCES tasks (id),
    received_at timestamptz NOT NULL DEFAULT now()
);
"""

_TASK_COLUMNS = (
    "id, type, priority, user_id, status, attempts, result, quality_score, cost_usd, error, "
    "created_at, started_at, finished_at"
)


@dataclass(frozen=True)
class TaskRecord:
    """What a worker needs of a claimed task."""

    id: uuid.UUID
    type: str
    priority: str
    user_id: str
    prompt: str


def _task_json(row: asyncpg.Record) -> dict[str, Any]:
    task = dict(row)
    task["id"] = str(task["id"])
    task["result"] = json.loads(task["result"]) if task["result"] is not None else None
    for key in ("created_at", "started_at", "finished_at"):
        if task[key] is not None:
            task[key] = task[key].isoformat()
    return task


class Database:
    """The pool and the queries; one instance per app."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int, max_size: int) -> Database:
        # the pool's reset query on release runs untraced: amas_telemetry patches Connection.reset
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    def connection_counts(self) -> tuple[int, int, int]:
        """(used, idle, max) connections of the pool, read without I/O."""
        size, idle = self.pool.get_size(), self.pool.get_idle_size()
        return size - idle, idle, self.pool.get_max_size()

    async def migrate(self) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(872201)")  # one migrator at a time
            await connection.execute(_SCHEMA)

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    # --- tasks ---------------------------------------------------------------------------
    async def insert_task(
        self,
        task_id: uuid.UUID,
        task_type: str,
        priority: str,
        user_id: str,
        prompt: str,
        source: str = "api",
    ) -> None:
        await self.pool.execute(
            "INSERT INTO tasks (id, type, priority, user_id, prompt, source) VALUES ($1, $2, $3, $4, $5, $6)",
            task_id,
            task_type,
            priority,
            user_id,
            prompt,
            source,
        )

    async def get_task(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = $1", task_id)
        return _task_json(row) if row is not None else None

    async def claim_task(self, task_id: uuid.UUID) -> TaskRecord | None:
        """queued → running; None if another worker has it or it is gone (a duplicate entry)."""
        row = await self.pool.fetchrow(
            "UPDATE tasks SET status = 'running', attempts = attempts + 1, started_at = now() "
            "WHERE id = $1 AND status = 'queued' RETURNING id, type, priority, user_id, prompt",
            task_id,
        )
        return TaskRecord(**dict(row)) if row is not None else None

    async def complete_task(
        self, task_id: uuid.UUID, result: dict[str, Any], quality_score: float, cost_usd: float
    ) -> None:
        await self.pool.execute(
            "UPDATE tasks SET status = 'completed', result = $2::jsonb, quality_score = $3, cost_usd = $4, "
            "finished_at = now() WHERE id = $1",
            task_id,
            json.dumps(result),
            quality_score,
            cost_usd,
        )

    async def fail_task(self, task_id: uuid.UUID, error: str) -> None:
        await self.pool.execute(
            "UPDATE tasks SET status = 'failed', error = $2, finished_at = now() WHERE id = $1",
            task_id,
            error,
        )

    async def release_task(self, task_id: uuid.UUID) -> None:
        """running → queued, for a task interrupted by shutdown."""
        await self.pool.execute(
            "UPDATE tasks SET status = 'queued', started_at = NULL WHERE id = $1 AND status = 'running'",
            task_id,
        )

    async def queued_tasks(self) -> list[tuple[uuid.UUID, str, str]]:
        rows = await self.pool.fetch(
            "SELECT id, type, priority FROM tasks WHERE status = 'queued' ORDER BY created_at"
        )
        return [(r["id"], r["type"], r["priority"]) for r in rows]

    # --- users ---------------------------------------------------------------------------
    async def upsert_users(self, users: Iterable[tuple[str, str]]) -> None:
        await self.pool.executemany(
            "INSERT INTO users (username, password_hash) VALUES ($1, $2) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash",
            list(users),
        )

    async def password_hash(self, username: str) -> str | None:
        return await self.pool.fetchval("SELECT password_hash FROM users WHERE username = $1", username)

    # --- integrations --------------------------------------------------------------------
    async def insert_integration_event(
        self, platform: str, event_type: str, payload: dict[str, Any], task_id: uuid.UUID | None
    ) -> int:
        return await self.pool.fetchval(
            "INSERT INTO integration_events (platform, event_type, payload, task_id) "
            "VALUES ($1, $2, $3::jsonb, $4) RETURNING id",
            platform,
            event_type,
            json.dumps(payload),
            task_id,
        )
