"""``metrics_port``: the exposition on a port of its own (127.0.0.1 by default), the app's port
without a metrics route; bad values are one ConfigError; a port it cannot bind never stops the app."""

from __future__ import annotations

import http.client
import logging
import os
import re
import socket

import httpx
import pytest
from fastapi import FastAPI

import amas_telemetry
from amas_telemetry import ConfigError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str = "/metrics", accept: str | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"accept": accept} if accept else {})
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/tasks/{task_id}")
    async def task(task_id: int) -> dict[str, int]:
        return {"id": task_id}

    return app


@pytest.mark.parametrize(
    ("kwargs", "env", "named"),
    [
        ({"metrics_port": "nine"}, {}, "metrics_port"),
        ({"metrics_port": 0}, {}, "metrics_port"),
        ({"metrics_port": 70000}, {}, "metrics_port"),
        ({"metrics_port": True}, {}, "metrics_port"),
        ({}, {"AMAS_METRICS_PORT": "-1"}, "AMAS_METRICS_PORT (for metrics_port)"),
        ({}, {"OTEL_EXPORTER_PROMETHEUS_PORT": "x"}, "OTEL_EXPORTER_PROMETHEUS_PORT (for metrics_port)"),
        ({"metrics_port": 9464, "metrics_host": "not a host"}, {}, "metrics_host"),
        ({"metrics_port": 9464, "metrics_host": "10.0.0.1/24"}, {}, "metrics_host"),
        ({"metrics_port": 9464, "metrics_path": False}, {}, "metrics_port"),
    ],
)
def test_a_bad_value_is_one_config_error_naming_it(monkeypatch, kwargs, env, named):
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=rf"^Invalid {re.escape(named)}: "):
        amas_telemetry.configure(json_logs=False, **kwargs)


async def test_the_exposition_moves_to_its_own_port_and_off_the_app_s(monkeypatch):
    port = _free_port()
    monkeypatch.setenv("AMAS_METRICS_PORT", str(port))
    app = _app()
    telemetry = amas_telemetry.configure(app, json_logs=False, system_metrics=False)
    try:
        assert telemetry.metrics_address == ("127.0.0.1", port)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as client:
            for i in range(3):
                assert (await client.get(f"/tasks/{i}")).status_code == 200
            assert (await client.get("/metrics")).status_code == 404  # not on the app's port
        status, content_type, body = _get(port)
        assert status == 200 and content_type.startswith("text/plain")
        counted = [
            line
            for line in body.decode().splitlines()
            if line.startswith("http_server_request_duration_seconds_count{") and "/tasks/{task_id}" in line
        ]
        assert len(counted) == 1 and float(counted[0].rsplit(" ", 1)[1]) == 3
        status, content_type, body = _get(port, accept="application/openmetrics-text")
        assert content_type.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")
        assert _get(port, "/other")[0] == 404
    finally:
        telemetry.shutdown()
    assert telemetry.metrics_address is None
    with pytest.raises(OSError):
        _get(port)  # closed with the handle


def test_without_the_setting_nothing_listens_and_the_route_stays():
    app = _app()
    telemetry = amas_telemetry.configure(app, json_logs=False, system_metrics=False)
    try:
        assert telemetry.metrics_address is None
        assert "/metrics" in [getattr(r, "path", None) for r in app.routes]
    finally:
        telemetry.shutdown()


def test_a_port_it_cannot_bind_is_logged_and_the_app_runs(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: nobody may share it
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR):
            telemetry = amas_telemetry.configure(metrics_port=port, json_logs=False, system_metrics=False)
        try:
            assert telemetry.metrics_address is None
            assert any(f"cannot serve metrics on 127.0.0.1:{port}" in r.getMessage() for r in caplog.records)
        finally:
            telemetry.shutdown()


def test_a_helper_forked_from_a_serving_process_does_not_listen():
    """The child closes the socket it inherited; the parent goes on serving."""
    port = _free_port()
    telemetry = amas_telemetry.configure(metrics_port=port, json_logs=False, system_metrics=False)
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            os._exit(0 if telemetry.metrics_address is None else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert telemetry.metrics_address == ("127.0.0.1", port)
        assert _get(port)[0] == 200
    finally:
        telemetry.shutdown()
