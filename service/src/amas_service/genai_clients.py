"""The ``openai`` and ``anthropic`` SDK clients of the providers, and their OTel instrumentations.

Each provider gets one client of its SDK, pointed at its base URL (the fake providers in
tests and the demo), with the SDK's retries off: the fallback chain and the breakers decide
what happens after a failure. Streamed answers are read through ``call.stream`` so that the
span the instrumentation made gets its time to first chunk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import anthropic
import openai
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

from amas_service.settings import ProviderConfig
from amas_telemetry import GenAICall

__all__ = ["SdkClients", "Usage", "instrument_sdks"]

Usage = tuple[str, int, int, int]
"""(response model, input tokens with cached ones, output tokens, cached input tokens)"""


def instrument_sdks() -> None:
    """Instruments both SDKs once per process (the instrumentors are process-wide)."""
    # prompts stay off spans: the anthropic instrumentation records them unless told not to
    os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "false")
    for instrumentor in (OpenAIInstrumentor(), AnthropicInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


class SdkClients:
    def __init__(self, providers: Sequence[ProviderConfig], timeout: float) -> None:
        instrument_sdks()
        self._openai: dict[str, openai.AsyncOpenAI] = {}
        self._anthropic: dict[str, anthropic.AsyncAnthropic] = {}
        for p in providers:
            key = p.api_key or "unused"
            if p.name == "anthropic":
                # the instrumentation makes the span: the SDK's own tracing would make a second one
                self._anthropic[p.name] = anthropic.AsyncAnthropic(
                    base_url=p.base_url, api_key=key, max_retries=0, timeout=timeout, open_telemetry=False
                )
            else:
                self._openai[p.name] = openai.AsyncOpenAI(
                    base_url=p.base_url + "/v1", api_key=key, max_retries=0, timeout=timeout
                )

    @staticmethod
    def address(provider: ProviderConfig) -> tuple[str | None, int | None]:
        parts = urlsplit(provider.base_url)
        return parts.hostname, parts.port

    async def aclose(self) -> None:
        for client in (*self._openai.values(), *self._anthropic.values()):
            await client.close()

    async def openai_chat(
        self,
        provider: ProviderConfig,
        messages: list[dict[str, str]],
        max_tokens: int,
        stream: bool,
        call: GenAICall,
    ) -> tuple[str, Usage]:
        client = self._openai[provider.name]
        if not stream:
            response = await client.chat.completions.create(
                model=provider.model,
                messages=messages,
                max_tokens=max_tokens,  # type: ignore[arg-type]
            )
            usage = response.usage
            assert usage is not None
            return str(response.choices[0].message.content), (
                response.model,
                usage.prompt_tokens,
                usage.completion_tokens,
                _openai_cached(usage),
            )
        chunks = await client.chat.completions.create(
            model=provider.model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        model, final = provider.model, None
        async for chunk in call.stream(chunks):
            model = chunk.model or model
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                final = chunk.usage
        if final is None:
            raise ValueError("the stream ended without usage")
        return "".join(parts), (model, final.prompt_tokens, final.completion_tokens, _openai_cached(final))

    async def anthropic_chat(
        self,
        provider: ProviderConfig,
        messages: list[dict[str, str]],
        max_tokens: int,
        stream: bool,
        call: GenAICall,
    ) -> tuple[str, Usage]:
        client = self._anthropic[provider.name]
        system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        turns: Any = [m for m in messages if m["role"] != "system"]
        if not stream:
            message = await client.messages.create(
                model=provider.model, system=system, messages=turns, max_tokens=max_tokens
            )
            text = "".join(getattr(block, "text", "") for block in message.content)
            return text, (message.model, *_anthropic_tokens(message.usage))
        events = await client.messages.create(
            model=provider.model, system=system, messages=turns, max_tokens=max_tokens, stream=True
        )
        parts: list[str] = []
        model, start_usage, output_tokens = provider.model, None, 0
        async for event in call.stream(events):
            if event.type == "message_start":
                model, start_usage = event.message.model, event.message.usage
            elif event.type == "content_block_delta" and getattr(event.delta, "text", None):
                parts.append(event.delta.text)
            elif event.type == "message_delta":
                output_tokens = event.usage.output_tokens
        if start_usage is None:
            raise ValueError("the stream had no message_start")
        input_tokens, _, cached = _anthropic_tokens(start_usage)
        return "".join(parts), (model, input_tokens, output_tokens, cached)


def _openai_cached(usage: Any) -> int:
    details = getattr(usage, "prompt_tokens_details", None)
    return int(getattr(details, "cached_tokens", 0) or 0)


def _anthropic_tokens(usage: Any) -> tuple[int, int, int]:
    """(input with cached, output, cached read): Anthropic's input_tokens leave the cache out."""
    cached = int(usage.cache_read_input_tokens or 0)
    written = int(usage.cache_creation_input_tokens or 0)
    return int(usage.input_tokens) + cached + written, int(usage.output_tokens), cached
