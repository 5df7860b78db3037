"""``python -m amas_service``: how it runs uvicorn."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

import amas_service.__main__ as service_main


def test_idle_connections_stay_open_longer_than_clients_reuse_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's default (5 s) equals httpx's reuse window: a request sent on a connection the
    server is closing dies with a reset. The service must keep idle connections longer."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(service_main, "create_app", lambda settings: object())
    monkeypatch.setattr(service_main.uvicorn, "run", lambda app, **options: runs.append(options))
    httpx_logger = logging.getLogger("httpx")
    level = httpx_logger.level
    try:
        monkeypatch.setenv("AMAS_PROVIDERS", "openai=http://127.0.0.1:9")
        assert service_main.main(["--port", "8123"]) == 0
        assert service_main.main(["--timeout-keep-alive", "120"]) == 0
    finally:
        httpx_logger.setLevel(level)
    default, chosen = runs
    assert default["timeout_keep_alive"] > httpx.Limits().keepalive_expiry
    assert default["port"] == 8123
    assert chosen["timeout_keep_alive"] == 120


def test_the_otlp_token_comes_from_the_file_compose_mounts(tmp_path) -> None:
    from amas_service.app import otlp_token_headers
    from amas_service.settings import SettingsError

    token = tmp_path / "token"
    token.write_text("s3cr3t-token  made by certgen\n")
    assert otlp_token_headers({"AMAS_OTLP_TOKEN_FILE": str(token)}) == {
        "authorization": "Bearer s3cr3t-token"
    }
    assert otlp_token_headers({}) is None
    with pytest.raises(SettingsError, match="AMAS_OTLP_TOKEN_FILE"):
        otlp_token_headers({"AMAS_OTLP_TOKEN_FILE": str(tmp_path / "missing")})
    token.write_text("\n")
    with pytest.raises(SettingsError, match="holds no token"):
        otlp_token_headers({"AMAS_OTLP_TOKEN_FILE": str(token)})
