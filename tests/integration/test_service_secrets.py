"""No secret of the environment (API keys, database and Redis passwords, user passwords)
appears in any exported span, span event, log record or metric."""

from __future__ import annotations

from urllib.parse import urlsplit


async def test_no_secret_is_exported(
    start_service, providers, api_keys, user_password, postgres, redis_server
):
    service = await start_service()
    client = service.client

    # logins: right, wrong, and a bad body that carries a password
    assert (
        await client.post("/login", json={"username": "alice", "password": user_password})
    ).status_code == 200
    assert (
        await client.post("/login", json={"username": "alice", "password": api_keys["openai"]})
    ).status_code == 401
    bad = await client.post(
        "/login", json={"username": "alice", "password": user_password, "otp": api_keys["anthropic"]}
    )
    assert bad.status_code == 422
    assert user_password not in bad.text and api_keys["anthropic"] not in bad.text
    # tasks, with an outage so error spans, exception events and fallbacks happen
    ids = [await service.submit("research")]
    providers["openai"].outage(True)
    ids += [await service.submit("summarize", prompt=f"my key is {api_keys['mistral_ai']}") for _ in range(2)]
    # an integration event whose payload holds a secret
    event = await client.post(
        "/integrations/slack/events",
        json={"event_type": "app_mention", "payload": {"text": "hi", "token": user_password}},
    )
    assert event.status_code == 202
    ids.append(event.json()["task_id"])
    rows = await service.wait_done(ids)
    assert {r["status"] for r in rows} == {"completed"}
    for task_id in ids:
        await client.get(f"/tasks/{task_id}")
    metrics = await service.metrics_text()
    await service.stop()

    secrets = {
        **{f"{name} API key": key for name, key in api_keys.items()},
        "database password": urlsplit(postgres.dsn).password,
        "database URL": postgres.dsn,
        "Redis password": redis_server.password,
        "user password": user_password,
        "user password of bob": f"builder-{user_password}",
    }
    spans = service.spans()
    exported = {
        **{f"span {s.name!r}": s.to_json(indent=None) for s in spans},
        **{f"log record {i}": r.to_json(indent=None) for i, r in enumerate(service.captured.logs())},
        "JSON log lines": "\n".join(service.log_lines()),
        "/metrics": metrics,
    }
    # what was checked is not empty: errors and fallbacks are in there (openai-v2 writes the
    # provider's error message in the span status; it records no exception event)
    assert any(s.status.description for s in spans)
    assert any("amas.ai.fallback_from" in (s.attributes or {}) for s in spans)
    assert len(service.log_lines()) > 20
    leaks = [
        f"{secret} in {where}"
        for where, text in exported.items()
        for secret, value in secrets.items()
        if value in text
    ]
    assert not leaks, leaks
