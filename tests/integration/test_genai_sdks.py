"""The real openai and anthropic SDKs, instrumented by their OTel instrumentations, against the
fake provider (a real HTTP server): exact calls, tokens and costs, streamed or not.

The instrumentations also record GenAI metrics of their own through the global MeterProvider;
the counts below (one point per call in ``gen_ai.client.operation.duration``) hold whether or
not that provider is ours, so nothing is counted twice. The anthropic SDK (2.x) also traces its
own calls: with the instrumentation, each call has two spans, and still counts once.
"""

from __future__ import annotations

import genai_prices
import pytest
from anthropic import Anthropic, AsyncAnthropic
from openai import AsyncOpenAI, OpenAI
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

import amas_telemetry
from amas_telemetry import semconv as sc
from amas_telemetry._internal.genai.pricing import TokenUsage
from amas_telemetry.testing import capture

PROMPTS = [f"summarize report {n} " + "with numbers " * n for n in range(6)]
SYSTEM = "You summarize reports faithfully and briefly."


@pytest.fixture
def cap(monkeypatch):
    monkeypatch.setenv("TRACELOOP_TRACE_CONTENT", "false")
    captured = capture()
    openai_instrumentor, anthropic_instrumentor = OpenAIInstrumentor(), AnthropicInstrumentor()
    openai_instrumentor.instrument()
    anthropic_instrumentor.instrument()
    try:
        yield captured
    finally:
        openai_instrumentor.uninstrument()
        anthropic_instrumentor.uninstrument()
        captured.shutdown()


@pytest.fixture
def cap_latest(monkeypatch):
    """openai-v2 on the latest conventions (through opentelemetry-util-genai).

    What OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental does in a fresh process; the
    contrib reads that variable once per process, so the test sets the mode it resolved to."""
    from opentelemetry.instrumentation._semconv import (
        _OpenTelemetrySemanticConventionStability as Stability,
    )
    from opentelemetry.instrumentation._semconv import _OpenTelemetryStabilitySignalType as Signal
    from opentelemetry.instrumentation._semconv import _StabilityMode as Mode

    Stability._initialize()
    latest = {
        **Stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING,
        Signal.GEN_AI: Mode.GEN_AI_LATEST_EXPERIMENTAL,
    }
    monkeypatch.setattr(Stability, "_OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING", latest)
    captured = capture()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        yield captured
    finally:
        instrumentor.uninstrument()
        captured.shutdown()


@pytest.fixture
def openai_fake(providers):
    provider = providers["openai"]
    provider.admin("/admin/reset", {})
    return provider


@pytest.fixture
def anthropic_fake(providers):
    provider = providers["anthropic"]
    provider.admin("/admin/reset", {})
    return provider


def _price(provider_id: str, model: str, usage: TokenUsage) -> float:
    calculation = genai_prices.calc_price(
        genai_prices.Usage(**usage.as_genai_prices()), model, provider_id=provider_id
    )
    return float(calculation.total_price)


def _chat_spans(cap, provider):
    return [
        s
        for s in cap.spans()
        if s.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat"
        and provider in (s.attributes.get(sc.GEN_AI_PROVIDER_NAME), s.attributes.get(sc.LEGACY_GEN_AI_SYSTEM))
    ]


def _assert_one_series_per_call(cap, provider: str, calls: int, fake_stats) -> None:
    duration = [
        p
        for p in cap.points(sc.GEN_AI_CLIENT_OPERATION_DURATION)
        if p.attributes.get(sc.GEN_AI_PROVIDER_NAME) == provider
    ]
    assert sum(p.count for p in duration) == calls == fake_stats["ok"]
    tokens = {
        kind: sum(
            p.sum
            for p in cap.points(sc.GEN_AI_CLIENT_TOKEN_USAGE)
            if p.attributes.get(sc.GEN_AI_PROVIDER_NAME) == provider
            and p.attributes.get(sc.GEN_AI_TOKEN_TYPE) == kind
        )
        for kind in ("input", "output")
    }
    assert tokens == {"input": fake_stats["prompt_tokens"], "output": fake_stats["completion_tokens"]}


class TestOpenAI:
    def test_sync_calls(self, cap, openai_fake, api_keys, request):
        client = OpenAI(base_url=openai_fake.base_url + "/v1", api_key=api_keys["openai"], max_retries=0)
        request.addfinalizer(client.close)
        host, port = openai_fake.base_url.removeprefix("http://").split(":")
        usages = []
        for prompt in PROMPTS:
            # openai-v2 2.4b0 reads server.* only from an httpx (not httpx2) client: the app adds them
            with amas_telemetry.genai_call(server_address=host, server_port=int(port)):
                response = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                    max_tokens=64,
                )
            usages.append(TokenUsage(response.usage.prompt_tokens, response.usage.completion_tokens))
        _assert_one_series_per_call(cap, "openai", len(PROMPTS), openai_fake.stats())
        point = cap.point(sc.GEN_AI_CLIENT_OPERATION_DURATION, gen_ai__provider__name="openai")
        assert dict(point.attributes) == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",  # the instrumentation wrote gen_ai.system
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "server.address": host,
            "server.port": int(port),
        }
        expected = sum(_price("openai", "gpt-4o-mini-2024-07-18", u) for u in usages)
        assert cap.counter_total(sc.AMAS_AI_COST, gen_ai__provider__name="openai") == pytest.approx(
            expected, rel=1e-12
        )
        assert cap.points(sc.AMAS_AI_UNPRICED_CALLS) == []

    @staticmethod
    async def _stream_all(client):
        usages, texts = [], []
        with amas_telemetry.agent_span("summarizer"):
            for prompt in PROMPTS:
                with amas_telemetry.genai_call() as call:
                    stream = await client.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=[{"role": "user", "content": prompt}],
                        max_tokens=64,
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                    parts = []
                    async for chunk in call.stream(stream):
                        if chunk.choices and chunk.choices[0].delta.content:
                            parts.append(chunk.choices[0].delta.content)
                        if chunk.usage:
                            usages.append(
                                TokenUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                            )
                    texts.append("".join(parts))
        return usages, texts

    async def test_async_streamed_calls_inside_an_agent(self, cap, openai_fake, api_keys):
        client = AsyncOpenAI(base_url=openai_fake.base_url + "/v1", api_key=api_keys["openai"], max_retries=0)
        async with client:
            usages, texts = await self._stream_all(client)
        stats = openai_fake.stats()
        assert stats["streamed"] == len(PROMPTS)
        _assert_one_series_per_call(cap, "openai", len(PROMPTS), stats)
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == len(PROMPTS)
        # one per chunk after the first: per word, plus the finishing and the usage chunk
        words = sum(len(t.split()) for t in texts)
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK) == words + len(PROMPTS)
        for span in _chat_spans(cap, "openai"):
            assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
            assert (
                0
                < span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
                < (span.end_time - span.start_time) / 1e9
            )
        expected = sum(_price("openai", "gpt-4o-mini-2024-07-18", u) for u in usages)
        assert cap.counter_total(sc.AMAS_AI_COST) == pytest.approx(expected, rel=1e-12)
        assert cap.counter_total(sc.AMAS_AGENT_COST, gen_ai__agent__name="summarizer") == pytest.approx(
            expected, rel=1e-12
        )
        assert (
            cap.counter_total(sc.AMAS_AGENT_TOKEN_USAGE, gen_ai__token__type="output")
            == stats["completion_tokens"]
        )


class TestOpenAILatestConventions:
    def test_sync_calls_plain_and_streamed(self, cap_latest, openai_fake, api_keys, request):
        cap = cap_latest
        client = OpenAI(base_url=openai_fake.base_url + "/v1", api_key=api_keys["openai"], max_retries=0)
        request.addfinalizer(client.close)
        usages = []
        for prompt in PROMPTS[:3]:
            response = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], max_tokens=32
            )
            usages.append(TokenUsage(response.usage.prompt_tokens, response.usage.completion_tokens))
        for prompt in PROMPTS[3:]:
            with amas_telemetry.genai_call() as call:
                stream = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=32,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                for chunk in call.stream(stream):  # the wrapper has __iter__ and __aiter__
                    if chunk.usage:
                        usages.append(TokenUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens))
        spans = _chat_spans(cap, "openai")
        assert {s.instrumentation_scope.name for s in spans} == {"opentelemetry.util.genai.handler"}
        assert all(sc.LEGACY_GEN_AI_SYSTEM not in s.attributes for s in spans)  # the current name only
        _assert_one_series_per_call(cap, "openai", len(PROMPTS), openai_fake.stats())
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == len(PROMPTS) - 3
        expected = sum(_price("openai", "gpt-4o-mini-2024-07-18", u) for u in usages)
        assert cap.counter_total(sc.AMAS_AI_COST) == pytest.approx(expected, rel=1e-12)


class TestAnthropic:
    def test_sync_calls_with_prompt_cache(self, cap, anthropic_fake, api_keys, request):
        client = Anthropic(base_url=anthropic_fake.base_url, api_key=api_keys["anthropic"], max_retries=0)
        request.addfinalizer(client.close)
        usages = []
        for prompt in PROMPTS:
            message = client.messages.create(
                model="claude-3-5-haiku",
                system=SYSTEM,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=64,
            )
            u = message.usage
            usages.append(
                TokenUsage(
                    u.input_tokens + u.cache_read_input_tokens,
                    u.output_tokens,
                    cache_read_tokens=u.cache_read_input_tokens,
                )
            )
        stats = anthropic_fake.stats()
        assert stats["cached_tokens"] > 0  # the system prompt, from the second call on
        assert len(_chat_spans(cap, "anthropic")) == 2 * len(PROMPTS)  # the SDK's and the instrumentation's
        _assert_one_series_per_call(cap, "anthropic", len(PROMPTS), stats)
        assert cap.counter_total(sc.AMAS_AI_CACHE_READ_INPUT_TOKENS) == stats["cached_tokens"]
        expected = sum(_price("anthropic", "claude-3-5-haiku-20241022", u) for u in usages)
        assert cap.counter_total(sc.AMAS_AI_COST, gen_ai__provider__name="anthropic") == pytest.approx(
            expected, rel=1e-12
        )
        point = cap.point(sc.GEN_AI_CLIENT_OPERATION_DURATION, gen_ai__provider__name="anthropic")
        assert point.attributes["gen_ai.response.model"] == "claude-3-5-haiku-20241022"

    async def test_async_streamed_calls(self, cap, anthropic_fake, api_keys):
        client = AsyncAnthropic(
            base_url=anthropic_fake.base_url, api_key=api_keys["anthropic"], max_retries=0
        )
        events = 0
        async with client:
            for prompt in PROMPTS:
                with amas_telemetry.genai_call(fallback_from="openai") as call:
                    stream = await client.messages.create(
                        model="claude-3-5-haiku",
                        messages=[{"role": "user", "content": prompt}],
                        max_tokens=64,
                        stream=True,
                    )
                    async for _event in call.stream(stream):
                        events += 1
        stats = anthropic_fake.stats()
        assert stats["streamed"] == len(PROMPTS)
        _assert_one_series_per_call(cap, "anthropic", len(PROMPTS), stats)
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == len(PROMPTS)
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK) == events - len(PROMPTS)
        assert cap.point(sc.AMAS_AI_FALLBACKS).value == len(PROMPTS)
        assert cap.counter_total(sc.AMAS_AI_COST) > 0

    def test_unknown_model_is_counted_not_priced(self, cap, anthropic_fake, api_keys, request):
        client = Anthropic(base_url=anthropic_fake.base_url, api_key=api_keys["anthropic"], max_retries=0)
        request.addfinalizer(client.close)
        for prompt in PROMPTS[:3]:
            client.messages.create(
                model="claude-in-house-9", messages=[{"role": "user", "content": prompt}], max_tokens=16
            )
        assert cap.point(sc.AMAS_AI_UNPRICED_CALLS, gen_ai__request__model="claude-in-house-9").value == 3
        assert cap.points(sc.AMAS_AI_COST) == []
