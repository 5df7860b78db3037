"""``/metrics`` off the app's public port: the ``metrics_address`` setting, with real sockets."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import amas_telemetry
from amas_telemetry._internal.config.settings import ConfigError

QUIET = {"otlp_endpoint": False, "json_logs": False, "system_metrics": False}


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, ""


def test_metrics_move_to_their_own_address_and_leave_the_app() -> None:
    app = FastAPI()

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    telemetry = amas_telemetry.configure(app, metrics_address="127.0.0.1:0", **QUIET)
    try:
        port = telemetry.metrics_server.port  # type: ignore[union-attr]
        with TestClient(app) as client:
            assert client.get("/hello").status_code == 200
            assert client.get("/metrics").status_code == 404, "the public app serves no metrics"
        status, body = _get(port, "/metrics")
        assert status == 200
        assert "http_server_request_duration_seconds_count{" in body and 'http_route="/hello"' in body
        assert _get(port, "/anything-else")[0] == 404
    finally:
        telemetry.shutdown()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # closed with the handle


def test_the_path_setting_applies_there() -> None:
    telemetry = amas_telemetry.configure(metrics_address="127.0.0.1:0", metrics_path="/internal/m", **QUIET)
    try:
        port = telemetry.metrics_server.port  # type: ignore[union-attr]
        assert _get(port, "/internal/m")[0] == 200
        assert _get(port, "/metrics")[0] == 404
    finally:
        telemetry.shutdown()


def test_an_address_taken_by_another_program_is_a_config_error() -> None:
    with socket.socket() as taken:  # no SO_REUSEPORT: nobody else may listen here
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"Invalid metrics_address: .*'127.0.0.1:{port}'"):
            amas_telemetry.configure(metrics_address=f"127.0.0.1:{port}", **QUIET)


def test_without_the_setting_the_route_stays_on_the_app() -> None:
    app = FastAPI()
    telemetry = amas_telemetry.configure(app, **QUIET)
    try:
        assert telemetry.metrics_server is None
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 200
    finally:
        telemetry.shutdown()
