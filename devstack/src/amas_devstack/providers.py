"""A fake AI provider (``python -m amas_service.fake_provider``) as a child process."""

from __future__ import annotations

import json
import os
import selectors
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amas_devstack.processes import ChildProcess, ServerError

__all__ = ["FakeProviderProcess"]


class FakeProviderProcess:
    """``python -m amas_service.fake_provider`` on a free port, with its admin API."""

    def __init__(
        self,
        base: Path,
        name: str,
        *,
        latency_ms: float = 20,
        error_rate: float = 0.0,
        api_key: str | None = None,
        seed: int = 0,
        max_context_tokens: int = 8192,
    ) -> None:
        self.name = name
        self.latency_ms, self.error_rate, self.api_key, self.seed = latency_ms, error_rate, api_key, seed
        self.max_context_tokens = max_context_tokens
        self.process = ChildProcess(f"fake provider {name}", Path(base) / f"provider-{name}.log")
        self.base_url = ""

    def start(self, timeout: float = 20.0) -> FakeProviderProcess:
        env = {**os.environ}
        env.pop("FAKE_PROVIDER_API_KEY", None)
        if self.api_key:
            env["FAKE_PROVIDER_API_KEY"] = self.api_key
        self.process.spawn(
            [
                sys.executable,
                "-m",
                "amas_service.fake_provider",
                "--port",
                "0",
                "--name",
                self.name,
                "--latency-ms",
                str(self.latency_ms),
                "--error-rate",
                str(self.error_rate),
                "--seed",
                str(self.seed),
                "--max-context-tokens",
                str(self.max_context_tokens),
            ],
            env=env,
            stdout_pipe=True,
        )
        popen = self.process.popen
        assert popen is not None and popen.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(popen.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                raise ServerError(f"{self.process.name} printed no address within {timeout:.0f} s")
        line = popen.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            self.process.check_running()
            raise ServerError(f"{self.process.name}: unexpected first line {line!r}")
        self.base_url = line.removeprefix("listening on ")
        return self

    def admin(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET (no body) or POST one admin endpoint; its JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method="POST" if data else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def outage(self, down: bool) -> None:
        self.admin("/admin/outage", {"down": down})

    def configure(self, **settings: float) -> None:
        self.admin("/admin/config", settings)

    def stats(self) -> dict[str, Any]:
        return self.admin("/admin/stats")

    def stop(self) -> None:
        self.process.stop(timeout=5)
