"""GenAI spans from any source: provider names, prices, streaming, agents and tools."""

from __future__ import annotations

import time

import genai_prices
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import amas_telemetry
from amas_telemetry import semconv as sc
from amas_telemetry._internal.genai.pricing import PriceTable, TokenUsage
from amas_telemetry.testing import capture


@pytest.fixture
def cap():
    captured = capture()
    yield captured
    captured.shutdown()


def _reference_price(provider_id: str, model: str, usage: TokenUsage) -> float:
    return float(
        genai_prices.calc_price(
            genai_prices.Usage(**usage.as_genai_prices()), model, provider_id=provider_id
        ).total_price
    )


def _foreign_chat_span(attributes, name="chat"):
    """A GenAI span as an instrumentation makes it (plain OTel API, no helper of ours)."""
    tracer = trace.get_tracer("some.instrumentation")
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        pass


class TestPriceTable:
    @pytest.mark.parametrize(
        ("provider", "provider_id", "model"),
        [
            ("openai", "openai", "gpt-4o-mini-2024-07-18"),
            ("openai", "openai", "o3-mini"),
            ("anthropic", "anthropic", "claude-3-5-haiku-20241022"),
            ("mistral_ai", "mistral", "mistral-small-latest"),
            ("gcp.gemini", "google", "gemini-2.5-pro"),  # tiered prices: priced call by call
        ],
    )
    @pytest.mark.parametrize(
        "usage",
        [
            TokenUsage(1000, 500),
            TokenUsage(250_000, 700, cache_read_tokens=4000, cache_write_tokens=300, reasoning_tokens=200),
            TokenUsage(17, 1, cache_read_tokens=17),
        ],
    )
    def test_equals_genai_prices(self, provider, provider_id, model, usage):
        assert PriceTable().cost(provider, model, usage) == _reference_price(provider_id, model, usage)

    def test_unknown_model_has_no_price(self):
        table = PriceTable()
        assert table.cost("openai", "no-such-model-xyz", TokenUsage(10, 10)) is None
        assert not table.knows("openai", "no-such-model-xyz")

    def test_rates_are_resolved_once_per_model(self, monkeypatch):
        from amas_telemetry._internal.genai import pricing

        calls = []
        real = pricing._resolve
        monkeypatch.setattr(pricing, "_resolve", lambda p, m: calls.append((p, m)) or real(p, m))
        table = PriceTable()
        for n in range(50):
            table.cost("openai", "gpt-4o-mini", TokenUsage(n, n))
        assert calls == [("openai", "gpt-4o-mini")]


class TestProviderAndAttributes:
    def test_older_gen_ai_system_is_the_provider_lowercase_and_renamed(self, cap):
        _foreign_chat_span({sc.GEN_AI_OPERATION_NAME: "chat", sc.LEGACY_GEN_AI_SYSTEM: "OpenAI"})
        _foreign_chat_span({sc.GEN_AI_OPERATION_NAME: "chat", sc.LEGACY_GEN_AI_SYSTEM: "az.ai.openai"})
        providers = {
            p.attributes[sc.GEN_AI_PROVIDER_NAME] for p in cap.points(sc.GEN_AI_CLIENT_OPERATION_DURATION)
        }
        assert providers == {"openai", "azure.ai.openai"}

    def test_response_model_and_server_on_the_client_metrics(self, cap):
        _foreign_chat_span(
            {
                sc.GEN_AI_OPERATION_NAME: "chat",
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
                sc.SERVER_ADDRESS: "api.example.test",
                sc.SERVER_PORT: 443,
                sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
            }
        )
        expected = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "server.address": "api.example.test",
            "server.port": 443,
        }
        assert dict(cap.point(sc.GEN_AI_CLIENT_OPERATION_DURATION).attributes) == expected
        assert dict(cap.point(sc.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input").attributes) == {
            **expected,
            "gen_ai.token.type": "input",
        }


class TestCost:
    def test_table_prices_a_call_without_cost(self, cap):
        with amas_telemetry.genai_span("openai", "gpt-4o-mini") as span:
            amas_telemetry.record_genai_usage(
                span,
                input_tokens=1200,
                output_tokens=300,
                cache_read_tokens=1000,
                response_model="gpt-4o-mini-2024-07-18",
            )
        usage = TokenUsage(1200, 300, cache_read_tokens=1000)
        assert cap.counter_total(sc.AMAS_AI_COST, gen_ai__provider__name="openai") == _reference_price(
            "openai", "gpt-4o-mini-2024-07-18", usage
        )
        assert cap.counter_total(sc.AMAS_AI_CACHE_READ_INPUT_TOKENS) == 1000
        assert cap.points(sc.AMAS_AI_UNPRICED_CALLS) == []

    def test_the_apps_price_wins(self, cap):
        with amas_telemetry.genai_span("openai", "gpt-4o-mini") as span:
            amas_telemetry.record_genai_usage(span, input_tokens=1200, output_tokens=300, cost_usd=0.5)
        assert cap.counter_total(sc.AMAS_AI_COST) == 0.5

    def test_unknown_model_is_counted_never_guessed(self, cap):
        for _ in range(3):
            with amas_telemetry.genai_span("openai", "in-house-model-7") as span:
                amas_telemetry.record_genai_usage(span, input_tokens=10, output_tokens=5)
        point = cap.point(sc.AMAS_AI_UNPRICED_CALLS)
        assert point.value == 3
        assert dict(point.attributes) == {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "in-house-model-7",
        }
        assert cap.points(sc.AMAS_AI_COST) == []

    def test_a_failed_call_without_usage_is_neither_priced_nor_unpriced(self, cap):
        with pytest.raises(TimeoutError), amas_telemetry.genai_span("openai", "in-house-model-7"):
            raise TimeoutError
        assert cap.points(sc.AMAS_AI_UNPRICED_CALLS) == []
        assert cap.points(sc.AMAS_AI_COST) == []


class TestStreaming:
    def test_time_to_first_chunk_and_per_chunk(self, cap):
        with amas_telemetry.genai_span("openai", "gpt-4o-mini") as span:

            def chunks():
                time.sleep(0.02)
                yield from range(5)

            assert list(amas_telemetry.time_stream(chunks(), span)) == [0, 1, 2, 3, 4]
            amas_telemetry.record_genai_usage(span, input_tokens=10, output_tokens=5)
        exported = cap.spans()[-1].attributes
        assert exported[sc.GEN_AI_REQUEST_STREAM] is True
        assert exported[sc.AMAS_AI_RESPONSE_CHUNKS] == 5
        first = cap.point(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
        assert first.count == 1
        assert first.sum == exported[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0.02
        per_chunk = cap.point(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)
        assert per_chunk.count == 4  # one per chunk after the first
        duration = cap.point(sc.GEN_AI_CLIENT_OPERATION_DURATION).sum
        assert per_chunk.sum == pytest.approx(duration - first.sum)

    async def test_async_streams_too(self, cap):
        async def chunks():
            for n in range(3):
                yield n

        with amas_telemetry.genai_span("openai", "gpt-4o-mini") as span:
            got = [c async for c in amas_telemetry.time_stream(chunks(), span)]
        assert got == [0, 1, 2]
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK) == 2

    def test_unstreamed_calls_have_no_stream_metrics(self, cap):
        with amas_telemetry.genai_span("openai", "gpt-4o-mini"):
            pass
        assert cap.points(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK) == []
        assert cap.points(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK) == []


class TestAgentsAndTools:
    def test_agent_and_tool_spans_follow_the_conventions(self, cap):
        with (
            amas_telemetry.agent_span("researcher", agent_id="researcher:7"),
            amas_telemetry.tool_span("web_search", call_id="call-1"),
        ):
            pass
        tool, agent = cap.spans()
        assert agent.name == "invoke_agent researcher"
        assert (
            dict(agent.attributes).items()
            >= {
                sc.GEN_AI_OPERATION_NAME: "invoke_agent",
                sc.GEN_AI_AGENT_NAME: "researcher",
                sc.GEN_AI_AGENT_ID: "researcher:7",
            }.items()
        )
        assert tool.name == "execute_tool web_search"
        assert dict(tool.attributes) == {
            sc.GEN_AI_OPERATION_NAME: "execute_tool",
            sc.GEN_AI_TOOL_NAME: "web_search",
            sc.GEN_AI_TOOL_CALL_ID: "call-1",
        }
        assert cap.histogram_count(sc.AMAS_TOOL_DURATION, gen_ai__tool__name="web_search") == 1
        assert cap.histogram_count(sc.AMAS_AGENT_DURATION, gen_ai__agent__name="researcher") == 1
        # agents and tools wrap model calls: they are not model calls themselves
        assert cap.points(sc.GEN_AI_CLIENT_OPERATION_DURATION) == []

    def test_agent_sums_calls_made_by_an_instrumentation(self, cap):
        usage = TokenUsage(400, 100)
        with amas_telemetry.agent_span("writer"):
            for _ in range(2):
                _foreign_chat_span(
                    {
                        sc.GEN_AI_OPERATION_NAME: "chat",
                        sc.LEGACY_GEN_AI_SYSTEM: "openai",
                        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                        sc.GEN_AI_USAGE_INPUT_TOKENS: 400,
                        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
                    }
                )
        price = _reference_price("openai", "gpt-4o-mini", usage)
        assert cap.counter_total(sc.AMAS_AGENT_TOKEN_USAGE, gen_ai__token__type="input") == 800
        assert cap.counter_total(sc.AMAS_AGENT_TOKEN_USAGE, gen_ai__token__type="output") == 200
        assert cap.counter_total(sc.AMAS_AGENT_COST, gen_ai__agent__name="writer") == pytest.approx(2 * price)
        assert cap.counter_total(sc.AMAS_AI_COST) == pytest.approx(2 * price)
        assert cap.point(sc.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input").sum == 800

    def test_genai_call_puts_the_apps_attributes_on_the_instrumentations_span(self, cap):
        with amas_telemetry.genai_call(fallback_from="openai") as call:
            _foreign_chat_span({sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic"})
        assert call.span is not None
        assert call.span.attributes[sc.AMAS_AI_FALLBACK_FROM] == "openai"
        assert cap.point(sc.AMAS_AI_FALLBACKS, gen_ai__provider__name="anthropic").value == 1


class TestOneCallTracedTwice:
    @staticmethod
    def _call(scope: str, response_id: str) -> None:
        tracer = trace.get_tracer(scope)
        attributes = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-3-5-haiku",
            sc.GEN_AI_RESPONSE_ID: response_id,
            sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
        }
        with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes=attributes):
            pass

    def test_the_same_response_from_two_scopes_counts_once(self, cap):
        # the anthropic SDK's own span, then the instrumentation's around the same call
        self._call("com.anthropic.sdk.python", "msg_1")
        self._call("opentelemetry.instrumentation.anthropic", "msg_1")
        self._call("com.anthropic.sdk.python", "msg_2")
        self._call("opentelemetry.instrumentation.anthropic", "msg_2")
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_DURATION) == 2
        assert cap.point(sc.GEN_AI_CLIENT_TOKEN_USAGE, gen_ai__token__type="input").sum == 20

    def test_one_scope_repeating_an_id_is_two_calls(self, cap):
        self._call("opentelemetry.instrumentation.anthropic", "msg_same")
        self._call("opentelemetry.instrumentation.anthropic", "msg_same")
        assert cap.histogram_count(sc.GEN_AI_CLIENT_OPERATION_DURATION) == 2
