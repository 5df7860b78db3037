"""Metrics derived from the service's spans: counts, token sums, cost, cache results, state gauges."""

from __future__ import annotations

import asyncio
from collections import Counter

import genai_prices
import pytest

from amas_service.orchestrator import PLANS
from amas_telemetry import semconv as sc


async def test_counts_tokens_and_cost_match_the_providers(start_service, providers):
    service = await start_service(workers=3)
    mix = ["research"] * 3 + ["summarize"] * 2 + ["code_review"]
    ids = await asyncio.gather(*(service.submit(t) for t in mix))
    rows = await service.wait_done(list(ids))
    assert {r["status"] for r in rows} == {"completed"}

    # tasks, by type, none failed
    for task_type, n in Counter(mix).items():
        assert service.count(sc.AMAS_TASK_DURATION, {sc.AMAS_TASK_TYPE: task_type}) == n
        assert service.count(sc.AMAS_TASK_QUALITY, {sc.AMAS_TASK_TYPE: task_type}) == n
    assert not [p for p in service.points(sc.AMAS_TASK_DURATION) if sc.ERROR_TYPE in p.attributes]

    # agents: one run per agent of each plan
    runs = Counter(agent for t in mix for step in PLANS[t] for agent in step.agents)
    for agent, n in runs.items():
        assert service.count(sc.AMAS_AGENT_DURATION, {sc.GEN_AI_AGENT_NAME: agent}) == n, agent
    # tools: the analyst counts words before it asks its model
    assert service.count(sc.AMAS_TOOL_DURATION, {sc.GEN_AI_TOOL_NAME: "word_count"}) == runs["analyst"]

    # GenAI calls and tokens == what the providers served and reported
    stats = {name: p.stats() for name, p in providers.items()}
    served = sum(s["ok"] for s in stats.values())
    assert served == sum(runs.values()) == service.count(sc.GEN_AI_CLIENT_OPERATION_DURATION)
    prompt_tokens = sum(s["prompt_tokens"] for s in stats.values())
    completion_tokens = sum(s["completion_tokens"] for s in stats.values())
    assert prompt_tokens > 0 and completion_tokens > 0
    usage = sc.GEN_AI_CLIENT_TOKEN_USAGE
    assert service.total(usage, {sc.GEN_AI_TOKEN_TYPE: "input"}) == prompt_tokens
    assert service.total(usage, {sc.GEN_AI_TOKEN_TYPE: "output"}) == completion_tokens
    assert service.count(usage, {sc.GEN_AI_TOKEN_TYPE: "input"}) == served
    assert service.total(sc.AMAS_AGENT_TOKEN_USAGE, {sc.GEN_AI_TOKEN_TYPE: "input"}) == prompt_tokens
    assert service.total(sc.AMAS_AGENT_TOKEN_USAGE, {sc.GEN_AI_TOKEN_TYPE: "output"}) == completion_tokens

    # cost: genai-prices applied to the usage each provider reported (linear in it, so to the
    # sums). openai-v2 2.4b0 puts no cached tokens on its spans, the anthropic instrumentation
    # does; the task rows have what the providers billed. Mistral's model has no price: counted.
    assert {name: s["ok"] for name, s in stats.items()} == {
        "openai": served - runs["reviewer"] - runs["style_reviewer"],
        "anthropic": runs["reviewer"],
        "mistral_ai": runs["style_reviewer"],
    }

    def price(provider_id: str, model: str, s: dict[str, int], cached: bool) -> float:
        reported = genai_prices.Usage(
            input_tokens=s["prompt_tokens"],
            output_tokens=s["completion_tokens"],
            cache_read_tokens=s["cached_tokens"] if cached else 0,
        )
        return float(genai_prices.calc_price(reported, model, provider_id=provider_id).total_price)

    openai_spans = price("openai", "gpt-4o-mini-2024-07-18", stats["openai"], cached=False)
    anthropic = price("anthropic", "claude-3-5-haiku-20241022", stats["anthropic"], cached=True)
    assert stats["anthropic"]["cached_tokens"] > 0 and stats["openai"]["cached_tokens"] > 0
    assert service.total(sc.AMAS_AI_COST, {sc.GEN_AI_PROVIDER_NAME: "openai"}) == pytest.approx(openai_spans)
    assert service.total(sc.AMAS_AI_COST, {sc.GEN_AI_PROVIDER_NAME: "anthropic"}) == pytest.approx(anthropic)
    assert service.total(sc.AMAS_AI_CACHE_READ_INPUT_TOKENS) == stats["anthropic"]["cached_tokens"]
    assert service.total(sc.AMAS_AGENT_COST) == pytest.approx(openai_spans + anthropic)
    assert service.total(sc.AMAS_AGENT_COST, {sc.GEN_AI_AGENT_NAME: "reviewer"}) == pytest.approx(anthropic)
    billed = price("openai", "gpt-4o-mini-2024-07-18", stats["openai"], cached=True) + anthropic
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(billed)
    unpriced = {sc.GEN_AI_PROVIDER_NAME: "mistral_ai", sc.GEN_AI_REQUEST_MODEL: "mistral-small"}
    assert service.total(sc.AMAS_AI_UNPRICED_CALLS, unpriced) == runs["style_reviewer"]
    assert service.total(sc.AMAS_AI_UNPRICED_CALLS) == runs["style_reviewer"]

    # the writer and the summarizer stream their answers
    streamed = runs["writer"] + runs["summarizer"]
    assert sum(s["streamed"] for s in stats.values()) == streamed
    assert service.count(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == streamed

    # HTTP: six accepted submissions; /metrics and /health are not counted
    await service.client.get("/health")
    accepted = {sc.HTTP_REQUEST_METHOD: "POST", sc.HTTP_ROUTE: "/tasks", sc.HTTP_RESPONSE_STATUS_CODE: 202}
    assert service.count(sc.HTTP_SERVER_REQUEST_DURATION, accepted) == 6
    assert service.count(sc.HTTP_SERVER_REQUEST_DURATION) == 6
    text = await service.metrics_text()
    assert "/metrics" not in text and "/health" not in text

    # the same numbers reach Prometheus
    counts = await service.prometheus("amas_task_duration_seconds_count")
    assert counts[frozenset({("amas_task_type", "research")})] == 3
    tokens = await service.prometheus("gen_ai_client_token_usage_sum")
    assert sum(v for k, v in tokens.items() if ("gen_ai_token_type", "input") in k) == prompt_tokens


async def test_cache_hits_and_misses_are_counted(start_service):
    service = await start_service()
    task_id = await service.submit("summarize")
    await service.wait_done([task_id])
    for _ in range(3):
        assert (await service.client.get(f"/tasks/{task_id}")).status_code == 200
    unknown = await service.client.get("/tasks/3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    assert unknown.status_code == 404

    def cache(result: str) -> float:
        return service.total(
            sc.AMAS_CACHE_OPERATIONS, {sc.DB_OPERATION_NAME: "GET", sc.AMAS_CACHE_RESULT: result}
        )

    assert cache("miss") == 2  # first read of the task, the unknown id
    assert cache("hit") == 2
    assert service.total(sc.AMAS_CACHE_OPERATIONS, {sc.DB_OPERATION_NAME: "SET"}) == 1
    # queue polling and the depth poller are not cache traffic
    assert not service.points(sc.AMAS_CACHE_OPERATIONS, {sc.DB_OPERATION_NAME: "BLPOP"})
    assert not service.points(sc.AMAS_CACHE_OPERATIONS, {sc.DB_OPERATION_NAME: "LLEN"})


async def test_state_gauges(start_service):
    service = await start_service(workers=0, db_pool_max=7)  # nothing takes tasks: they stay queued
    for priority, n in (("high", 2), ("low", 3)):
        for _ in range(n):
            await service.submit("research", priority=priority, user_id=f"user-{priority}")
    login = await service.client.post("/login", json={"username": "bob", "password": "wrong"})
    assert login.status_code == 401
    await asyncio.sleep(1.3)  # the depth poller reads Redis once a second

    depth = await service.prometheus("amas_task_queue_depth")
    assert depth == {
        frozenset({("amas_task_priority", "high")}): 2,
        frozenset({("amas_task_priority", "normal")}): 0,
        frozenset({("amas_task_priority", "low")}): 3,
    }
    assert set((await service.prometheus("amas_tasks_active")).values()) == {0}
    assert await service.prometheus("amas_users_active") == {
        frozenset(): 2
    }  # a refused login is not activity
    assert await service.prometheus("amas_ai_breaker_state") == {
        frozenset({("gen_ai_provider_name", name)}): 0 for name in ("openai", "anthropic", "mistral_ai")
    }
    pool = {
        dict(k)["db_client_connection_state"]: v
        for k, v in (await service.prometheus("db_client_connection_count")).items()
    }
    assert set(pool) == {"idle", "used"} and 1 <= pool["idle"] + pool["used"] <= 7
    assert await service.prometheus("db_client_connection_max") == {
        frozenset({("db_client_connection_pool_name", "amas-postgresql")}): 7
    }


async def test_logins_and_integration_events(start_service, user_password):
    service = await start_service()
    for password, status in ((user_password, 200), ("wrong", 401), (user_password, 200)):
        response = await service.client.post("/login", json={"username": "alice", "password": password})
        assert response.status_code == status
    assert service.total(sc.AMAS_USER_LOGINS, {sc.AMAS_LOGIN_RESULT: "success"}) == 2
    assert service.total(sc.AMAS_USER_LOGINS, {sc.AMAS_LOGIN_RESULT: "failure"}) == 1

    events = [("github", "pull_request"), ("github", "push"), ("github", "fork"), ("jira", "issue_created")]
    task_ids = []
    for platform, event_type in events:
        body = {"event_type": event_type, "payload": {"title": f"{platform} {event_type}"}}
        response = await service.client.post(f"/integrations/{platform}/events", json=body)
        assert response.status_code == 202
        if response.json()["task_id"]:
            task_ids.append(response.json()["task_id"])
    assert len(task_ids) == 2  # pull_request → code_review, issue_created → research
    rows = await service.wait_done(task_ids)
    assert sorted(r["type"] for r in rows) == ["code_review", "research"]

    def triggers(platform: str, event_type: str) -> float:
        attributes = {sc.AMAS_INTEGRATION_PLATFORM: platform, sc.AMAS_INTEGRATION_EVENT_TYPE: event_type}
        return service.total(sc.AMAS_INTEGRATION_TRIGGERS, attributes)

    assert (
        triggers("github", "pull_request")
        == triggers("github", "push")
        == triggers("jira", "issue_created")
        == 1
    )
    assert triggers("github", "other") == 1  # an unknown event type is not a new label value
    # the task started by an event continues the event's trace
    (integration,) = [s for s in service.spans() if s.name == "integration github" and s.attributes[
        sc.AMAS_INTEGRATION_EVENT_TYPE] == "pull_request"]  # fmt: skip
    (task,) = [s for s in service.spans() if s.name == "task code_review"]
    assert task.context.trace_id == integration.context.trace_id


async def test_metrics_are_exact_when_no_trace_is_sampled(start_service, providers):
    service = await start_service(telemetry={"sampling_ratio": 0.0})
    ids = [await service.submit(t) for t in ("research", "summarize", "summarize")]
    await service.wait_done(ids)

    assert service.spans() == ()  # nothing exported ...
    assert service.count(sc.AMAS_TASK_DURATION) == 3  # ... yet every span was counted
    assert service.count(sc.HTTP_SERVER_REQUEST_DURATION) == 3
    prompt_tokens = sum(p.stats()["prompt_tokens"] for p in providers.values())
    assert service.total(sc.GEN_AI_CLIENT_TOKEN_USAGE, {sc.GEN_AI_TOKEN_TYPE: "input"}) == prompt_tokens
    # the request's "not sampled" travels through the queue: the worker's logs say so, with the trace id
    completed = [line for line in service.logs() if " completed: " in line["message"]]
    assert len(completed) == 3
    assert all(line["trace_id"] and line["trace_sampled"] is False for line in completed)
