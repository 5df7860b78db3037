"""The library as a user gets it: its wheel alone, one extra, in a clean venv, with an app of its own.

The wheel is built from this checkout; a venv is made by the machine's own ``python3 -m venv``
and its pip installs ``amas-telemetry[fastapi]`` from the wheel (the other packages from the
index, at the newest versions the library's ranges allow) and uvicorn, the app's server. The
app is examples/bookshop.py, copied alone next to the venv: not the reference service, nothing
else of this repository. It runs as a real process against an OTLP/HTTP endpoint made here.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "bookshop.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OtlpHttpReceiver:
    """OTLP/HTTP on 127.0.0.1: every request of each signal, decoded."""

    MESSAGES = {
        "/v1/traces": ExportTraceServiceRequest,
        "/v1/logs": ExportLogsServiceRequest,
        "/v1/metrics": ExportMetricsServiceRequest,
    }

    def __init__(self) -> None:
        self.received: dict[str, list[Any]] = {path: [] for path in self.MESSAGES}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                message = receiver.MESSAGES[self.path]()
                message.ParseFromString(body)
                with receiver.lock:
                    receiver.received[self.path].append(message)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[Any]:
        with self.lock:
            return [
                span
                for request in self.received["/v1/traces"]
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]

    def log_records(self) -> list[Any]:
        with self.lock:
            return [
                record
                for request in self.received["/v1/logs"]
                for resource_logs in request.resource_logs
                for scope_logs in resource_logs.scope_logs
                for record in scope_logs.log_records
            ]

    def metric_names(self) -> set[str]:
        with self.lock:
            return {
                metric.name
                for request in self.received["/v1/metrics"]
                for resource_metrics in request.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics
            }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv = subprocess.run(["bash", str(ROOT / "scripts" / "uv.sh")], capture_output=True, text=True, check=True)
    subprocess.run(
        [uv.stdout.strip(), "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    (built,) = out.glob("amas_telemetry-*.whl")
    return built


def test_the_wheel_holds_the_library_alone_with_ranges_and_types(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        entry_points = [n for n in names if n.endswith("entry_points.txt")]
    packages = {n.split("/")[0] for n in names if not n.startswith("amas_telemetry-")}
    assert packages == {"amas_telemetry"}, packages
    assert "amas_telemetry/py.typed" in names
    assert entry_points == [], "no console script and no pytest plugin registered by installing"
    requires = metadata.get_all("Requires-Dist")
    assert requires and not [r for r in requires if "==" in r.split(";")[0]], requires  # ranges, no pins
    assert {"fastapi", "asyncpg", "redis", "httpx", "openai", "anthropic", "pricing"} <= set(
        metadata.get_all("Provides-Extra")
    )
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(c == "Typing :: Typed" for c in metadata.get_all("Classifier"))


@pytest.fixture(scope="module")
def user_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of the machine's python3, its own (old) pip: the wheel with one extra, and uvicorn."""
    home = tmp_path_factory.mktemp("user")
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", str(home / "venv")], check=True)
    pip = [str(home / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, f"{wheel}[fastapi]", "uvicorn"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.copy(EXAMPLE, home / "bookshop.py")
    return home


@contextlib.contextmanager
def _bookshop(home: Path, receiver: OtlpHttpReceiver) -> Iterator[tuple[int, Path]]:
    port = _free_port()
    clean = ("OTEL_", "AMAS_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(clean)}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_METRIC_EXPORT_INTERVAL="500",
        AMAS_EXPORT_SPOOL_DIR=str(home / "spool"),
    )
    log = home / "bookshop.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(home / "venv" / "bin" / "python"), "bookshop.py", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(lambda: _get(port, "/metrics") is not None or process.poll() is not None, 60)
            assert process.poll() is None, log.read_text()[-3000:]
            yield port, log
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _get(port: int, path: str, method: str = "GET") -> tuple[int, str] | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None


def _wait(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s")


def test_the_public_api_imports_and_runs_with_nothing_but_the_extra(user_venv: Path):
    """Every public name, and the helpers that need optional-looking packages (untraced)."""
    code = (
        "import amas_telemetry, amas_telemetry.redact, amas_telemetry.spanmetrics, amas_telemetry.semconv\n"
        "missing = [n for n in amas_telemetry.__all__ if not hasattr(amas_telemetry, n)]\n"
        "assert not missing, missing\n"
        "with amas_telemetry.untraced(), amas_telemetry.task_span('t'):\n"
        "    pass\n"
        "print(amas_telemetry.__version__)\n"
    )
    python = str(user_venv / "venv" / "bin" / "python")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=user_venv, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == amas_telemetry_version()


def amas_telemetry_version() -> str:
    import amas_telemetry

    return amas_telemetry.__version__


def test_an_app_of_its_own_counts_traces_and_logs_from_the_installed_wheel(user_venv: Path):
    receiver = OtlpHttpReceiver()
    try:
        with _bookshop(user_venv, receiver) as (port, log):
            for _ in range(4):
                assert _get(port, "/books")[0] == 200
            assert _get(port, "/books/1/orders?copies=2", "POST")[0] == 200
            assert _get(port, "/books/1/orders?copies=5", "POST")[0] == 409
            status, text = _get(port, "/metrics")
            assert status == 200
            counts: dict[tuple[str, ...], float] = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if s.name == "http_server_request_duration_seconds_count":
                        labels = s.labels
                        key = (labels["http_route"], labels["http_request_method"])
                        key += (labels["http_response_status_code"],)
                        counts[key] = counts.get(key, 0) + s.value
            assert counts == {
                ("/books", "GET", "200"): 4,
                ("/books/{book_id}/orders", "POST", "200"): 1,
                ("/books/{book_id}/orders", "POST", "409"): 1,
            }
            assert 'bookshop_books_in_stock{bookshop_book="Dune"} 1.0' in text
            assert "bookshop_order_value_count" in text

            order_spans = _wait(lambda: [s for s in receiver.spans() if s.name == "place order"], 30)
            records = _wait(
                lambda: [r for r in receiver.log_records() if "order placed" in r.body.string_value], 30
            )
            assert records[0].trace_id in {s.trace_id for s in order_spans}
            assert _wait(lambda: "http.server.request.duration" in receiver.metric_names(), 30)
            lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
            placed = [line for line in lines if line.get("message", "").startswith("order placed")]
            assert placed and placed[0]["trace_id"] == records[0].trace_id.hex()
    finally:
        receiver.close()
