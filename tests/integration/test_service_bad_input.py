"""Bad input gets a clear 4xx with a JSON body and a log line with its trace id; nothing accepted is lost."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

V = "validation_error"
TASK = {"type": "research", "prompt": "x", "user_id": "a"}
J = {"headers": {"content-type": "application/json"}}
BAD_REQUESTS = [
    ("POST", "/tasks", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, V),
    ("POST", "/tasks", {"json": {}}, 422, V),
    ("POST", "/tasks", {"json": {"type": "dance", "prompt": "x", "user_id": "a"}}, 422, V),
    ("POST", "/tasks", {"json": {**TASK, "prompt": ""}}, 422, V),
    ("POST", "/tasks", {"json": {**TASK, "prompt": "x" * 20_001}}, 422, V),
    ("POST", "/tasks", {"json": {**TASK, "user_id": "a b"}}, 422, V),
    ("POST", "/tasks", {"json": {**TASK, "priority": "urgent"}}, 422, V),
    ("POST", "/tasks", {"json": {**TASK, "cost": 0}}, 422, V),
    ("GET", "/tasks/not-a-uuid", {}, 422, V),
    ("GET", f"/tasks/{uuid.UUID(int=7)}", {}, 404, "not_found"),
    ("POST", "/login", {"json": {"username": "alice"}}, 422, V),
    ("POST", "/login", {"json": {"username": "nobody", "password": "x"}}, 401, "invalid_credentials"),
    ("POST", "/integrations/myspace/events", {"json": {"event_type": "push"}}, 422, V),
    ("POST", "/integrations/github/events", {"json": {"event_type": "Push Event!"}}, 422, V),
    # text PostgreSQL cannot store is bad input (422), not an outage (503/500)
    ("POST", "/tasks", {"json": {**TASK, "prompt": "a\x00b"}}, 422, V),
    (
        "POST",
        "/tasks",
        {"content": b'{"type": "research", "prompt": "\\ud800", "user_id": "a"}', **J},
        422,
        V,
    ),
    ("POST", "/login", {"json": {"username": "al\x00ice", "password": "x"}}, 422, V),
    ("POST", "/login", {"json": {"username": "alice", "password": "x\x00"}}, 422, V),
    (
        "POST",
        "/integrations/github/events",
        {"json": {"event_type": "push", "payload": {"t": "a\x00"}}},
        422,
        V,
    ),
    (
        "POST",
        "/integrations/slack/events",
        {"json": {"event_type": "x", "payload": {"a": [{"k\x00": 1}]}}},
        422,
        V,
    ),
    (
        "POST",
        "/integrations/jira/events",
        {"content": b'{"event_type": "x", "payload": {"n": NaN}}', **J},
        422,
        V,
    ),
    ("GET", "/nowhere", {}, 404, "not_found"),
    ("DELETE", "/tasks", {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error"), BAD_REQUESTS)
async def test_bad_request_gets_a_json_error(start_service, method, path, kwargs, status, error):
    service = await start_service(workers=0)
    response = await service.client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error and body["message"]
    if error == V:
        assert body["detail"] and all({"loc", "msg", "type"} == set(d) for d in body["detail"])
    (line,) = [line for line in service.logs() if line["message"].startswith(f"rejected {method} ")]
    assert line["level"] == "WARNING" and str(status) in line["message"]
    assert line["trace_id"] == body["trace_id"]
    assert await service.task_count() == 0


async def test_nothing_accepted_is_lost(start_service, postgres):
    service = await start_service(workers=2)
    bad = {"type": "research", "prompt": "", "user_id": "alice"}

    async def submit(i: int) -> tuple[int, str | None]:
        body = bad if i % 3 == 0 else {"type": "summarize", "prompt": f"text {i}", "user_id": "alice"}
        response = await service.client.post("/tasks", json=body)
        if response.status_code != 202:
            return response.status_code, None
        task_id = response.json()["id"]
        row = await service.task_row(task_id)  # stored before the 202 was sent
        assert row is not None and row["status"] in ("queued", "running", "completed")
        return 202, task_id

    results = await asyncio.gather(*(submit(i) for i in range(30)))
    accepted = [task_id for status, task_id in results if status == 202]
    assert len(accepted) == 20 and sorted(s for s, _ in results).count(422) == 10
    rows = await service.wait_done(accepted)
    assert {r["status"] for r in rows} == {"completed"}
    assert postgres.psql("SELECT count(*) FROM tasks") == "20"


async def test_a_task_stored_while_redis_fails_is_queued_at_the_next_start(start_service):
    service = await start_service(workers=1)
    queue = service.app.state.services.queue

    async def broken(*args: object) -> None:
        raise RedisConnectionError("Redis went away")

    queue.enqueue = broken
    response = await service.client.post(
        "/tasks", json={"type": "summarize", "prompt": "x", "user_id": "alice"}
    )
    assert response.status_code == 202  # stored: accepted, even though it could not be queued yet
    task_id = response.json()["id"]
    await asyncio.sleep(0.3)
    assert (await service.task_row(task_id))["status"] == "queued"
    assert any("stored but not queued" in line["message"] for line in service.logs())
    await service.stop()

    restarted = await start_service(workers=1)
    (row,) = await restarted.wait_done([task_id])
    assert row["status"] == "completed"
    assert any(line["message"] == "queued 1 stored task(s) again at startup" for line in restarted.logs())
