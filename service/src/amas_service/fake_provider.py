"""A fake AI provider: a real HTTP server answering like the OpenAI and Anthropic APIs.

    python -m amas_service.fake_provider --port 8101 --name openai --latency-ms 50 --error-rate 0.0

``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic) answer with
deterministic text and token usage after the configured latency, or, with ``"stream": true``,
as server-sent events (the first after the latency, the next every ``--chunk-ms``), with the
usage in the final events (see :mod:`.fake_wire`). A system prompt seen before is served from
a prompt cache: its tokens are reported as cached input. A random share of calls
(``--error-rate``) gets a 503, and an outage switch makes every call fail. If
``FAKE_PROVIDER_API_KEY`` is set, requests must carry it (``Authorization: Bearer <key>`` or
``x-api-key: <key>``, else 401). Admin endpoints:

* ``POST /admin/outage`` ``{"down": true}``: every chat call gets a 503 until ``false``;
* ``POST /admin/config`` ``{"latency_ms": 20, "error_rate": 0.1}``: change behaviour;
* ``GET /admin/stats``: calls, errors and the token usage reported so far;
* ``POST /admin/reset``: zero the stats; ``GET /health``.

Standard library only; binds 127.0.0.1 by default. ``--port 0`` picks a free port; the
first line on stdout is always ``listening on http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from amas_service.fake_wire import (
    Answer,
    anthropic_events,
    anthropic_message,
    openai_chunks,
    openai_completion,
)

__all__ = ["FakeProvider", "main"]

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"

RESPONSE_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "claude-3-5-haiku": "claude-3-5-haiku-20241022",
    "mistral-small": "mistral-small-2409",
}
_WORDS = (
    "agent",
    "plan",
    "data",
    "result",
    "review",
    "step",
    "model",
    "token",
    "answer",
    "quality",
    "source",
    "risk",
    "trade-off",
    "test",
    "change",
    "summary",
    "fact",
    "number",
    "context",
    "user",
    "task",
    "provider",
    "latency",
    "cache",
    "queue",
    "trace",
    "metric",
    "log",
)


class FakeProvider:
    """Behaviour and counters, shared by the request threads."""

    def __init__(
        self,
        name: str,
        latency_ms: float,
        error_rate: float,
        api_key: str | None,
        max_context_tokens: int,
        seed: int,
        chunk_ms: float = 1.0,
    ) -> None:
        self.name = name
        self.latency_ms = latency_ms
        self.chunk_ms = chunk_ms
        self._prompt_cache: set[bytes] = set()
        self.error_rate = error_rate
        self.api_key = api_key
        self.max_context_tokens = max_context_tokens
        self.down = False
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.stats: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.stats = dict.fromkeys(
                (
                    "requests",
                    "ok",
                    "errors",
                    "unauthorized",
                    "rejected",
                    "prompt_tokens",
                    "cached_tokens",
                    "completion_tokens",
                    "streamed",
                ),
                0,
            )

    def count(self, **deltas: int) -> None:
        with self._lock:
            for key, delta in deltas.items():
                self.stats[key] += delta

    def chance(self) -> tuple[float, float]:
        with self._lock:
            return self._random.random(), self._random.uniform(0.5, 1.5)

    def complete(self, body: dict[str, Any], api: str) -> tuple[int, Answer | dict[str, Any]]:
        """(200, the answer) or (error status, error body) of one call to ``api``'s path."""
        failure, jitter = self.chance()
        time.sleep(self.latency_ms * jitter / 1000.0)
        if self.down:
            return 503, _error("the provider is down (outage)", "server_error", api)
        if failure < self.error_rate:
            return 503, _error("overloaded, try again later", "overloaded_error", api)
        messages = body.get("messages")
        model = body.get("model")
        if not isinstance(messages, list) or not messages or not isinstance(model, str):
            return 400, _error(
                "'model' and a non-empty 'messages' list are required", "invalid_request_error", api
            )
        system = body.get("system") if api == ANTHROPIC_PATH else None
        if system is None:
            system = next(
                (m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"), ""
            )
        text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        if api == ANTHROPIC_PATH and system:
            text = f"{system}\n{text}"
        prompt_tokens = max(1, len(text) // 4) + 3 * len(messages)
        if prompt_tokens > self.max_context_tokens:
            return 400, _error(
                f"context_length_exceeded: {prompt_tokens} tokens > {self.max_context_tokens}",
                "invalid_request_error",
                api,
            )
        cached = min(prompt_tokens, self._cached_tokens(model, str(system or "")))
        digest = hashlib.sha256(f"{self.name}|{model}|{text}".encode()).digest()
        max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 256
        completion_tokens = max(1, min(max_tokens, 12 + digest[0] % 120))
        words = [_WORDS[b % len(_WORDS)] for b in digest[1 : 1 + max(1, completion_tokens - 6)]]
        score = 0.55 + (digest[-1] % 45) / 100
        words = [f"[{self.name}]", *words[:-1], words[-1] + ".", "score:", f"{score:.2f}"]
        return 200, Answer(
            os.urandom(12).hex(),  # unique per answer, as a real provider's
            RESPONSE_MODELS.get(model, model),
            tuple(words),
            prompt_tokens,
            cached,
            completion_tokens,
        )

    def _cached_tokens(self, model: str, system: str) -> int:
        """A system prompt seen before (for this model) is read from the prompt cache."""
        if not system:
            return 0
        key = hashlib.sha256(f"{model}|{system}".encode()).digest()
        with self._lock:
            seen = key in self._prompt_cache
            self._prompt_cache.add(key)
        return max(1, len(system) // 4) + 3 if seen else 0


def _error(message: str, kind: str, api: str = OPENAI_PATH) -> dict[str, Any]:
    if api == ANTHROPIC_PATH:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, events: Any, chunk_ms: float) -> None:
        """Server-sent events in chunked transfer encoding, one event every ``chunk_ms``."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for n, event in enumerate(events):
            if n and chunk_ms > 0:
                time.sleep(chunk_ms / 1000.0)
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _authorized(self, api_key: str | None) -> bool:
        if not api_key:
            return True
        return (
            self.headers.get("Authorization") == f"Bearer {api_key}"
            or self.headers.get("x-api-key") == api_key
        )

    def _generate(self, provider: FakeProvider, body: Any, api: str) -> None:
        provider.count(requests=1)
        if not self._authorized(provider.api_key):
            provider.count(unauthorized=1, errors=1)
            self._reply(401, _error("invalid API key", "authentication_error", api))
            return
        if not isinstance(body, dict):
            provider.count(rejected=1, errors=1)
            self._reply(400, _error("the body is not JSON", "invalid_request_error", api))
            return
        status, answer = provider.complete(body, api)
        if not isinstance(answer, Answer):
            provider.count(errors=1, rejected=1 if status == 400 else 0)
            self._reply(status, answer)
            return
        streamed = body.get("stream") is True
        provider.count(
            ok=1,
            prompt_tokens=answer.input_tokens,
            cached_tokens=answer.cached_tokens,
            completion_tokens=answer.output_tokens,
            streamed=int(streamed),
        )
        if api == ANTHROPIC_PATH:
            if streamed:
                self._stream(anthropic_events(answer), provider.chunk_ms)
            else:
                self._reply(200, anthropic_message(answer))
        elif streamed:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(openai_chunks(answer, include_usage), provider.chunk_ms)
        else:
            self._reply(200, openai_completion(answer))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_GET(self) -> None:
        provider = self.server.provider
        if self.path == "/health":
            self._reply(200, {"status": "ok", "name": provider.name, "down": provider.down})
        elif self.path == "/admin/stats":
            with provider._lock:
                stats = dict(provider.stats)
            self._reply(200, {"name": provider.name, "down": provider.down, **stats})
        else:
            self._reply(404, _error(f"no route {self.path}", "not_found"))

    def do_POST(self) -> None:
        provider = self.server.provider
        body = self._body()
        if self.path in (OPENAI_PATH, ANTHROPIC_PATH):
            self._generate(provider, body, self.path)
        elif self.path == "/admin/outage" and isinstance(body, dict) and isinstance(body.get("down"), bool):
            provider.down = body["down"]
            self._reply(200, {"name": provider.name, "down": provider.down})
        elif self.path == "/admin/config" and isinstance(body, dict):
            if isinstance(body.get("latency_ms"), int | float):
                provider.latency_ms = float(body["latency_ms"])
            if isinstance(body.get("error_rate"), int | float):
                provider.error_rate = float(body["error_rate"])
            if isinstance(body.get("chunk_ms"), int | float):
                provider.chunk_ms = float(body["chunk_ms"])
            self._reply(
                200,
                {
                    "latency_ms": provider.latency_ms,
                    "error_rate": provider.error_rate,
                    "chunk_ms": provider.chunk_ms,
                },
            )
        elif self.path == "/admin/reset":
            provider.reset()
            self._reply(200, {"reset": True})
        else:
            self._reply(
                404 if self.path not in ("/admin/outage", "/admin/config") else 400,
                _error(f"bad request to {self.path}", "invalid_request_error"),
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], provider: FakeProvider, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.provider = provider
        self.verbose = verbose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amas_service.fake_provider", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed on the first line)")
    parser.add_argument("--name", default="openai")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--chunk-ms", type=float, default=1.0, help="time between streamed events")
    parser.add_argument("--max-context-tokens", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--down", action="store_true", help="start in an outage")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    if not 0.0 <= args.error_rate <= 1.0:
        parser.error("--error-rate must be within 0..1")
    provider = FakeProvider(
        args.name,
        args.latency_ms,
        args.error_rate,
        os.environ.get("FAKE_PROVIDER_API_KEY") or None,
        args.max_context_tokens,
        args.seed,
        args.chunk_ms,
    )
    provider.down = args.down
    server = _Server((args.host, args.port), provider, args.verbose)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
