"""asyncpg and redis on real servers: DB metrics come from our spans only, once per operation.

Their contrib instrumentations record no metrics of their own today; if a release starts to
(as httpx and ASGI do), the View in ``amas_telemetry._internal.metrics.global_provider`` drops them and these
tests say so.
"""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from amas_telemetry._internal.metrics.global_provider import DUPLICATE_METRIC_SCOPES
from amas_telemetry.testing import capture

pytestmark = pytest.mark.integration


def _scopes(cap) -> set[str]:
    data = cap.metric_reader.get_metrics_data()
    return {sm.scope.name for rm in data.resource_metrics for sm in rm.scope_metrics if sm.metrics}


def _db_operations(cap, system: str) -> float:
    text = cap.telemetry.render_metrics().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "db_client_operation_duration_seconds_count"
        and sample.labels.get("db_system_name") == system
    )


async def test_asyncpg_operations_are_counted_once(postgres):
    cap = capture(instrumentations=["asyncpg"])
    try:
        connection = await asyncpg.connect(postgres.dsn)
        try:
            for _ in range(3):
                await connection.fetchval("SELECT 1")
        finally:
            await connection.close()
        assert _db_operations(cap, "postgresql") == 3
        assert not _scopes(cap) & set(DUPLICATE_METRIC_SCOPES)
    finally:
        cap.shutdown()


async def test_redis_operations_are_counted_once(redis_server):
    cap = capture(instrumentations=["redis"])
    try:
        client = aioredis.from_url(redis_server.url)
        try:
            await client.set("k", "v")
            await client.get("k")
        finally:
            await client.aclose()
        assert _db_operations(cap, "redis") == 2
        assert not _scopes(cap) & set(DUPLICATE_METRIC_SCOPES)
    finally:
        cap.shutdown()
