"""The bookshop (examples/bookshop.py), the complete example of the README and the docs, does
what they say: requests counted on /metrics, its own gauge and derived metric there, a log
line that carries the trace of its request; and it serves with uvicorn on the given port."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from examples.bookshop import create_app
from fastapi.testclient import TestClient
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_gauge_derived_metric_and_a_correlated_log_line(capsys):
    app = create_app(otlp_endpoint=False, system_metrics=False)
    with TestClient(app) as client:  # runs the lifespan: telemetry.shutdown() when it ends
        assert client.get("/books").status_code == 200
        assert client.post("/books/1/orders", params={"copies": 2}).json() == {
            "book_id": 1, "copies": 2, "left": 1
        }
        assert client.post("/books/1/orders", params={"copies": 5}).status_code == 409
        assert client.post("/books/9/orders").status_code == 404
        text = client.get("/metrics").text
        openmetrics = client.get("/metrics", headers=OPENMETRICS).text

    samples = _samples(text)
    count = "http_server_request_duration_seconds_count"
    route = "/books/{book_id}/orders"
    by_status = {
        dict(labels)["http_response_status_code"]: value
        for (name, labels), value in samples.items()
        if name == count and dict(labels).get("http_route") == route
    }
    assert by_status == {"200": 1.0, "409": 1.0, "404": 1.0}
    assert samples[(count, frozenset({("http_request_method", "GET"), ("http_route", "/books"),
                                      ("http_response_status_code", "200")}))] == 1.0
    assert samples[("bookshop_books_in_stock", frozenset({("bookshop_book", "Dune")}))] == 1.0
    assert samples[("bookshop_books_in_stock", frozenset({("bookshop_book", "Emma")}))] == 5.0
    # the derived metric: one point, the placed order (the refused one records nothing)
    assert samples[("bookshop_order_value_count", frozenset({("bookshop_genre", "sf")}))] == 1.0
    assert samples[("bookshop_order_value_sum", frozenset({("bookshop_genre", "sf")}))] == 19.0

    # the log line carries the trace of the order, the same trace the derived point's exemplar names
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    placed = [line for line in lines if line["logger"] == "bookshop"]
    assert [line["message"] for line in placed] == ["order placed: 2 of book 1"]
    assert re.fullmatch(r"[0-9a-f]{32}", placed[0]["trace_id"]) and placed[0]["trace_sampled"] is True
    exemplars = [
        s.exemplar
        for family in openmetrics_families(openmetrics)
        if family.name == "bookshop_order_value"
        for s in family.samples
        if s.exemplar is not None
    ]
    assert [e.labels["trace_id"] for e in exemplars] == [placed[0]["trace_id"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_serves_with_uvicorn_on_the_port_given(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMAS_", "OTEL_"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "examples.bookshop", "--port", str(port)],
        cwd=ROOT,
        env=env | {"TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                books = httpx.get(f"http://127.0.0.1:{port}/books", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the bookshop exited before it answered"
                assert time.monotonic() < deadline, "the bookshop did not answer within 60 s"
                time.sleep(0.2)
        assert books.json()["1"]["title"] == "Dune"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'http_route="/books"' in metrics and "bookshop_books_in_stock" in metrics
    finally:
        server.terminate()
        try:
            output = server.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            server.kill()
            output = server.communicate()[0].decode()
    # uvicorn shuts down gracefully on SIGTERM, then exits by that signal
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output
