"""What the fake provider says, in the wire formats of the two APIs it speaks.

An :class:`Answer` (model, words, token counts) is rendered as an OpenAI chat completion
(``/v1/chat/completions``, streamed as ``chat.completion.chunk`` server-sent events with the
usage in a last chunk when ``stream_options.include_usage`` is set) or as an Anthropic
message (``/v1/messages``, streamed as ``message_start`` … ``message_delta`` (output usage)
… ``message_stop`` events). Field names follow the providers' API references, so the real
``openai`` and ``anthropic`` SDKs parse them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "anthropic_events", "anthropic_message", "openai_chunks", "openai_completion", "sse"]


@dataclass(frozen=True)
class Answer:
    id: str
    model: str
    words: tuple[str, ...]
    input_tokens: int
    """All input tokens, cached ones included."""
    cached_tokens: int
    output_tokens: int

    @property
    def content(self) -> str:
        return " ".join(self.words)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    body = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {body}\n\n".encode()


# --- OpenAI chat completions -----------------------------------------------------------------


def _openai_usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
    }


def openai_completion(answer: Answer) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + answer.id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.content},
                "finish_reason": "stop",
            }
        ],
        "usage": _openai_usage(answer),
    }


def openai_chunks(answer: Answer, include_usage: bool) -> Iterator[bytes]:
    """One chunk per word, a finishing chunk, the usage chunk if asked, then ``[DONE]``."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        body: dict[str, Any] = {
            "id": "chatcmpl-" + answer.id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": answer.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None
        return sse(body)

    for n, word in enumerate(answer.words):
        delta = {"content": word if n == 0 else " " + word}
        yield chunk({"role": "assistant", **delta} if n == 0 else delta, None)
    yield chunk({}, "stop")
    if include_usage:
        yield sse(
            {
                "id": "chatcmpl-" + answer.id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": answer.model,
                "choices": [],
                "usage": _openai_usage(answer),
            }
        )
    yield sse("[DONE]")


# --- Anthropic messages ----------------------------------------------------------------------


def _anthropic_usage(answer: Answer, output_tokens: int) -> dict[str, Any]:
    # Anthropic's input_tokens leave out the tokens read from the prompt cache
    return {
        "input_tokens": answer.input_tokens - answer.cached_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": answer.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def anthropic_message(answer: Answer) -> dict[str, Any]:
    return {
        "id": "msg_" + answer.id,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": [{"type": "text", "text": answer.content}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(answer, answer.output_tokens),
    }


def anthropic_events(answer: Answer) -> Iterator[bytes]:
    message = anthropic_message(answer) | {"content": [], "stop_reason": None}
    message["usage"] = _anthropic_usage(answer, 1)
    yield sse({"type": "message_start", "message": message}, "message_start")
    yield sse(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        "content_block_start",
    )
    for n, word in enumerate(answer.words):
        delta = {"type": "text_delta", "text": word if n == 0 else " " + word}
        yield sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
    yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": answer.output_tokens},
        },
        "message_delta",
    )
    yield sse({"type": "message_stop"}, "message_stop")
