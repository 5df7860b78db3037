"""A provider outage: failed calls, fallbacks, the breaker opening, half-opening and closing."""

from __future__ import annotations

import asyncio

from opentelemetry.trace import StatusCode

from amas_telemetry import semconv as sc

OPENAI = {sc.GEN_AI_PROVIDER_NAME: "openai"}


def _breaker(service) -> dict[str, float]:
    points = service.points(sc.AMAS_AI_BREAKER_STATE)
    return {p.attributes[sc.GEN_AI_PROVIDER_NAME]: p.value for p in points}


async def test_outage_falls_back_and_opens_the_breaker(start_service, providers):
    # one worker: calls happen one after the other, so the counts are exact
    service = await start_service(workers=1, breaker_failure_threshold=3, breaker_reset_seconds=1.5)
    providers["openai"].outage(True)
    # 2 agents each: the summarizer asks openai first, the reviewer anthropic
    ids = [await service.submit("summarize") for _ in range(3)]
    rows = await service.wait_done(ids)
    assert {r["status"] for r in rows} == {"completed"}

    # three calls reached openai and failed; then its breaker opened and it was skipped
    assert providers["openai"].stats()["requests"] == 3
    # error.type as the instrumentation records it: the SDK's exception for an HTTP 503
    failed = {**OPENAI, sc.ERROR_TYPE: "InternalServerError"}
    assert service.count(sc.GEN_AI_CLIENT_OPERATION_DURATION, failed) == 3
    # every summarizer call was served by the next provider, marked as a fallback from openai
    fallbacks = {sc.AMAS_AI_FALLBACK_FROM: "openai", sc.GEN_AI_PROVIDER_NAME: "anthropic"}
    assert service.total(sc.AMAS_AI_FALLBACKS, fallbacks) == 3
    assert service.total(sc.AMAS_AI_FALLBACKS) == 3
    assert providers["anthropic"].stats()["ok"] == 6  # 3 fallbacks, 3 reviewer calls
    assert _breaker(service) == {"openai": 1, "anthropic": 0, "mistral_ai": 0}
    assert 'amas_ai_breaker_state{gen_ai_provider_name="openai"' in (await service.metrics_text()).replace(
        ",otel_scope_name", "}"
    ).replace("}=", "=")  # the open breaker reaches /metrics too

    # the failed attempt is an error span with the fallback as its sibling
    chats = [s for s in service.spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    failed_spans = [s for s in chats if s.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"]
    assert len(failed_spans) == 3
    assert all(s.status.status_code is StatusCode.ERROR for s in failed_spans)
    served = [s for s in chats if sc.AMAS_AI_FALLBACK_FROM in s.attributes]
    assert len(served) == 3 and all(s.attributes[sc.AMAS_AI_FALLBACK_FROM] == "openai" for s in served)
    assert {s.attributes[sc.GEN_AI_PROVIDER_NAME] for s in served} == {"anthropic"}
    assert {s.parent.span_id for s in failed_spans} <= {s.parent.span_id for s in served}
    # quality is lower when a fallback was needed
    assert all(r["quality_score"] < 0.99 * 0.85 + 1e-9 for r in rows)

    opened = [line for line in service.logs() if "circuit breaker openai opened" in line["message"]]
    assert len(opened) == 1 and opened[0]["level"] == "WARNING" and opened[0]["trace_id"]

    # the provider recovers: after the reset time the breaker is half-open, one probe closes it
    providers["openai"].outage(False)
    await asyncio.sleep(1.6)
    assert _breaker(service)["openai"] == 2
    task_id = await service.submit("summarize")
    await service.wait_done([task_id])
    assert _breaker(service)["openai"] == 0
    assert service.total(sc.AMAS_AI_FALLBACKS) == 3  # no new fallback
    assert [line["message"] for line in service.logs() if "circuit breaker openai" in line["message"]] == [
        "circuit breaker openai opened after 3 consecutive failures; retrying in 1.5 s",
        "circuit breaker openai is half-open: the next call probes the provider",
        "circuit breaker openai closed: the provider answered",
    ]


async def test_all_providers_down_fails_the_task(start_service, providers):
    service = await start_service(workers=1)
    for provider in providers.values():
        provider.outage(True)
    task_id = await service.submit("summarize")
    (row,) = await service.wait_done([task_id])
    assert row["status"] == "failed"
    assert row["error"].startswith("AllProvidersFailed: no AI provider could answer")

    (task,) = [s for s in service.spans() if s.name == "task summarize"]
    assert task.status.status_code is StatusCode.ERROR
    assert task.attributes[sc.ERROR_TYPE] == "AllProvidersFailed"
    assert service.count(sc.AMAS_TASK_DURATION, {sc.ERROR_TYPE: "AllProvidersFailed"}) == 1
    assert service.count(sc.AMAS_TASK_QUALITY) == 0  # no score for a failed task
    assert service.count(sc.AMAS_AGENT_DURATION, {sc.GEN_AI_AGENT_NAME: "summarizer"}) == 1
    # one failed call per provider, error.type as each SDK names an HTTP 503
    failed = [p for p in service.points(sc.GEN_AI_CLIENT_OPERATION_DURATION) if sc.ERROR_TYPE in p.attributes]
    assert {p.attributes[sc.GEN_AI_PROVIDER_NAME]: p.count for p in failed} == {
        "openai": 1,
        "anthropic": 1,
        "mistral_ai": 1,
    }

    response = await service.client.get(f"/tasks/{task_id}")
    assert response.json()["status"] == "failed"
