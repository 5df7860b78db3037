"""The client instrumentations on real servers: what becomes a span, and what does not."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis

from amas_telemetry import semconv as sc
from amas_telemetry.testing import capture

pytestmark = pytest.mark.integration


async def test_pool_release_makes_no_span(postgres):
    cap = capture()
    try:
        pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2)
        try:
            for _ in range(3):
                async with pool.acquire() as connection:
                    await connection.fetchval("SELECT 1")
        finally:
            await pool.close()
        spans = cap.spans()
        statements = [s.attributes.get("db.statement") or s.attributes.get("db.query.text") for s in spans]
        assert statements == ["SELECT 1"] * 3  # the reset query on release is not traced
        assert cap.histogram_count(sc.DB_CLIENT_OPERATION_DURATION, db__system__name="postgresql") == 3
    finally:
        cap.shutdown()


async def test_only_cache_commands_count_as_cache_operations(redis_server):
    cap = capture()
    try:
        client = aioredis.from_url(redis_server.url)
        try:
            await client.set("k", "v")
            await client.get("k")
            await client.get("missing")
            await client.rpush("queue", "job")
        finally:
            await client.aclose()
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS, amas__cache__result="hit") == 1
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS, amas__cache__result="miss") == 1
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS, amas__cache__result="ok") == 1
        assert cap.counter_total(sc.AMAS_CACHE_OPERATIONS) == 3  # RPUSH is queue traffic
        assert cap.histogram_count(sc.DB_CLIENT_OPERATION_DURATION, db__system__name="redis") == 4
    finally:
        cap.shutdown()
