"""Redis and PostgreSQL stopped (the faulted fed stack, tests/e2e/fed_stack.py): the
Collector's redis and pgstats receivers stop getting data and RedisDown / PostgreSQLDown fire
for exactly those instances. The wait is minutes long by nature (the newest sample must be
older than 2 minutes, then `for: 1m`) and bounded."""

from __future__ import annotations

import time

import pytest
from fed_stack import Fed, wait_firing

pytestmark = pytest.mark.e2e


def test_alerts_fire_when_redis_and_postgresql_stop(faulted_stack: Fed, e2e_summary: list[str]) -> None:
    """faulted_stack stopped Redis, then PostgreSQL: their "down" alerts fire, by instance."""
    stack, t0 = faulted_stack.stack, time.monotonic()
    redis_instance = f"127.0.0.1:{faulted_stack.run.redis.port}"
    pg_instance = f"127.0.0.1:{faulted_stack.run.postgres.port}"
    wait_firing(stack, "RedisDown", instance=redis_instance, job="redis")
    wait_firing(stack, "PostgreSQLDown", instance=pg_instance, job="postgresql")
    e2e_summary.append(
        f"[infrastructure] RedisDown and PostgreSQLDown firing {time.monotonic() - t0:.0f} s after the test"
    )
