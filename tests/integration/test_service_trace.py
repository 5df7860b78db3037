"""A task submitted over HTTP is one trace: request → task → steps → agents → GenAI calls (the SDK's)."""

from __future__ import annotations

import genai_prices
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from amas_service.orchestrator import PLANS
from amas_telemetry import semconv as sc


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _db_system(span: ReadableSpan) -> object:
    attributes = span.attributes or {}
    return attributes.get(sc.DB_SYSTEM_NAME, attributes.get(sc.LEGACY_DB_SYSTEM))


async def test_task_span_tree(start_service):
    service = await start_service()
    task_id = await service.submit("research", priority="high")
    (row,) = await service.wait_done([task_id])
    assert row["status"] == "completed"

    request = service.server_span("POST /tasks")
    spans = service.trace_spans(request.context.trace_id)
    ids = {s.context.span_id for s in spans}
    assert request.parent is None
    orphans = [
        (s.name, s.instrumentation_scope.name)
        for s in spans
        if s is not request and s.parent.span_id not in ids
    ]
    assert not orphans, f"spans of the trace lost their parent: {orphans}"

    # the request stores the row, then queues it
    request_children = _children(spans, request)
    insert = [s for s in request_children if _db_system(s) == "postgresql" and s.name == "INSERT"]
    rpush = [s for s in request_children if _db_system(s) == "redis" and s.name == "RPUSH"]
    assert len(insert) == 1 and len(rpush) == 1
    assert insert[0].end_time <= rpush[0].start_time, "queued before it was stored"

    # the worker continues the request's trace through the queue entry
    (task,) = [s for s in spans if s.name == "task research"]
    assert task.parent.span_id == request.context.span_id and task.parent.is_remote
    assert task.attributes[sc.AMAS_OPERATION] == "task"
    assert task.attributes[sc.AMAS_TASK_TYPE] == "research"
    assert task.attributes[sc.AMAS_TASK_ID] == task_id
    assert task.attributes[sc.AMAS_TASK_PRIORITY] == "high"
    assert task.attributes[sc.AMAS_TASK_QUALITY_SCORE] == row["quality_score"]
    assert task.status.status_code is not StatusCode.ERROR

    steps = [s for s in _children(spans, task) if s.name.startswith("step ")]
    assert [s.name for s in sorted(steps, key=lambda s: s.start_time)] == [
        f"step {p.name}" for p in PLANS["research"]
    ]
    assert any(_db_system(s) == "postgresql" and s.name == "UPDATE" for s in _children(spans, task)), (
        "result not stored"
    )

    agents_seen = []
    for step, plan in zip(sorted(steps, key=lambda s: s.start_time), PLANS["research"], strict=True):
        agents = _children(spans, step)
        assert sorted(a.name for a in agents) == sorted(f"invoke_agent {n}" for n in plan.agents)
        for agent in agents:
            agents_seen.append(agent.attributes[sc.GEN_AI_AGENT_NAME])
            assert agent.attributes[sc.GEN_AI_OPERATION_NAME] == "invoke_agent"
            assert agent.attributes[sc.GEN_AI_AGENT_ID].startswith(agent.attributes[sc.GEN_AI_AGENT_NAME])
            # made by opentelemetry-instrumentation-openai-v2, or -anthropic for the reviewer
            children = _children(spans, agent)
            (chat,) = [c for c in children if c.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
            tools = [c for c in children if c is not chat]
            if agent.attributes[sc.GEN_AI_AGENT_NAME] == "analyst":
                (tool,) = tools
                assert tool.name == "execute_tool word_count"
                assert tool.attributes[sc.GEN_AI_TOOL_NAME] == "word_count"
                assert tool.end_time <= chat.start_time
            else:
                assert tools == []
            provider, model, response_model = (
                ("anthropic", "claude-3-5-haiku", "claude-3-5-haiku-20241022")
                if agent.attributes[sc.GEN_AI_AGENT_NAME] == "reviewer"
                else ("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18")
            )
            assert chat.kind is SpanKind.CLIENT
            assert chat.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"
            assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == provider
            assert chat.attributes[sc.GEN_AI_REQUEST_MODEL] == model
            assert chat.attributes[sc.GEN_AI_RESPONSE_MODEL] == response_model
            assert chat.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
            assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
            assert chat.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
            assert sc.AMAS_AI_FALLBACK_FROM not in chat.attributes
            streamed = agent.attributes[sc.GEN_AI_AGENT_NAME] == "writer"
            assert chat.attributes.get(sc.GEN_AI_REQUEST_STREAM, False) is streamed
            assert (sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in chat.attributes) is streamed
            # the agent span sums its GenAI calls; the cost is genai-prices' for that usage
            for key in (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS):
                assert agent.attributes[key] == chat.attributes[key]
            usage = genai_prices.Usage(
                input_tokens=chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS],
                output_tokens=chat.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
                cache_read_tokens=chat.attributes.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0),
            )
            price = genai_prices.calc_price(usage, response_model, provider_id=provider)
            assert agent.attributes[sc.AMAS_AI_COST_USD] == float(price.total_price)
    assert sorted(agents_seen) == sorted(n for p in PLANS["research"] for n in p.agents)

    # the parallel step really ran its agents concurrently
    (gather,) = [s for s in steps if s.name == "step gather"]
    a, b = _children(spans, gather)
    assert a.start_time < b.end_time and b.start_time < a.end_time


async def test_get_task_reads_cache_then_database(start_service):
    service = await start_service()
    task_id = await service.submit("summarize")
    await service.wait_done([task_id])
    first = await service.client.get(f"/tasks/{task_id}")
    second = await service.client.get(f"/tasks/{task_id}")
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == second.json()
    assert first.json()["status"] == "completed"

    miss_trace = service.trace_spans(
        next(
            s for s in service.spans() if s.kind is SpanKind.SERVER and s.name == "GET /tasks/{task_id}"
        ).context.trace_id
    )
    names = sorted(s.name for s in miss_trace if s.kind is SpanKind.CLIENT)
    assert names == ["GET", "SELECT", "SET"], names  # cache miss, the row, cache fill
