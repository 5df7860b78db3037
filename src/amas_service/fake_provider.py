"""A fake AI provider: a real HTTP server answering like a chat-completions API.

    python -m amas_service.fake_provider --port 8101 --name openai --latency-ms 50 --error-rate 0.0

``POST /v1/chat/completions`` answers with deterministic text and ``usage`` token counts
after the configured latency; a random share of calls (``--error-rate``) gets a 503, and
an outage switch makes every call fail. If ``FAKE_PROVIDER_API_KEY`` is set, requests
must carry ``Authorization: Bearer <that key>`` (else 401). Admin endpoints:

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

__all__ = ["FakeProvider", "main"]

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
    ) -> None:
        self.name = name
        self.latency_ms = latency_ms
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
                    "completion_tokens",
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

    def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) of one chat-completions call."""
        failure, jitter = self.chance()
        time.sleep(self.latency_ms * jitter / 1000.0)
        if self.down:
            return 503, _error("the provider is down (outage)", "server_error")
        if failure < self.error_rate:
            return 503, _error("overloaded, try again later", "server_error")
        messages = body.get("messages")
        model = body.get("model")
        if not isinstance(messages, list) or not messages or not isinstance(model, str):
            return 400, _error(
                "'model' and a non-empty 'messages' list are required", "invalid_request_error"
            )
        text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        prompt_tokens = max(1, len(text) // 4) + 3 * len(messages)
        if prompt_tokens > self.max_context_tokens:
            return 400, _error(
                f"context_length_exceeded: {prompt_tokens} tokens > {self.max_context_tokens}",
                "invalid_request_error",
            )
        digest = hashlib.sha256(f"{self.name}|{model}|{text}".encode()).digest()
        max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 256
        completion_tokens = max(1, min(max_tokens, 12 + digest[0] % 120))
        words = [_WORDS[b % len(_WORDS)] for b in digest[1 : 1 + max(1, completion_tokens - 6)]]
        score = 0.55 + (digest[-1] % 45) / 100
        content = f"[{self.name}] {' '.join(words)}. score: {score:.2f}"
        return 200, {
            "id": "chatcmpl-" + digest[:12].hex(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": RESPONSE_MODELS.get(model, model),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _error(message: str, kind: str) -> dict[str, Any]:
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
        if self.path == "/v1/chat/completions":
            provider.count(requests=1)
            if provider.api_key and self.headers.get("Authorization") != f"Bearer {provider.api_key}":
                provider.count(unauthorized=1, errors=1)
                self._reply(401, _error("invalid API key", "authentication_error"))
                return
            if not isinstance(body, dict):
                provider.count(rejected=1, errors=1)
                self._reply(400, _error("the body is not JSON", "invalid_request_error"))
                return
            status, answer = provider.complete(body)
            if status == 200:
                usage = answer["usage"]
                provider.count(
                    ok=1, prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"]
                )
            else:
                provider.count(errors=1, rejected=1 if status == 400 else 0)
            self._reply(status, answer)
        elif self.path == "/admin/outage" and isinstance(body, dict) and isinstance(body.get("down"), bool):
            provider.down = body["down"]
            self._reply(200, {"name": provider.name, "down": provider.down})
        elif self.path == "/admin/config" and isinstance(body, dict):
            if isinstance(body.get("latency_ms"), int | float):
                provider.latency_ms = float(body["latency_ms"])
            if isinstance(body.get("error_rate"), int | float):
                provider.error_rate = float(body["error_rate"])
            self._reply(200, {"latency_ms": provider.latency_ms, "error_rate": provider.error_rate})
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
