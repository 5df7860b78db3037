"""Shared helpers: interleaved rounds, medians, tables, child processes, machine facts."""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import re
import socket
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = (
    Path(os.environ.get("AMAS_BUILD_DIR", Path.home() / ".cache" / "amas-telemetry")).expanduser() / "bin"
)

# spawn: every child starts from a clean interpreter (no inherited OTel globals, no threads)
MP = multiprocessing.get_context("spawn")


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller run (< 30 s) for a smoke check")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def write_json(path: str | None, payload: Mapping[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps({"machine": machine_info(), **payload}, indent=2, default=str))


# --- statistics ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def interleaved(
    variants: Mapping[str, Callable[[], float]],
    rounds: int,
    *,
    deadline: float | None = None,
) -> dict[str, list[float]]:
    """Runs ``rounds`` rounds; each round calls every variant once (ABC…, then …CBA, and so on).

    Each callable returns one sample (e.g. seconds per request over a batch). Alternating the
    order cancels a linear drift; the per-round pairing lets ratios be taken round by round.
    Stops early (after at least 3 rounds) once ``deadline`` (time.monotonic()) has passed.
    """
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for index in range(rounds):
        for name in order if index % 2 == 0 else reversed(order):
            samples[name].append(variants[name]())
        if deadline is not None and index >= 2 and time.monotonic() > deadline:
            break
    return samples


def ratio(samples: Mapping[str, Sequence[float]], name: str, base: str) -> float:
    """Median over rounds of sample[name] / sample[base] from the same round."""
    pairs = zip(samples[name], samples[base], strict=False)
    return median([a / b for a, b in pairs if b > 0])


def spread(values: Sequence[float]) -> str:
    """Interquartile range as a ± percentage of the median, to show how noisy a cell was."""
    if len(values) < 4:
        return "n/a"
    q = statistics.quantiles(values, n=4)
    mid = median(values)
    return f"±{(q[2] - q[0]) / 2 / mid * 100:.0f}%" if mid else "n/a"


# --- output ------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes straight into RESULTS.md)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = {}
    for name in (
        "opentelemetry-sdk",
        "opentelemetry-instrumentation-fastapi",
        "opentelemetry-exporter-otlp-proto-grpc",
        "opentelemetry-exporter-prometheus",
        "prometheus-client",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "grpcio",
        "protobuf",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
        "packages": packages,
    }


def print_header(title: str) -> None:
    info = machine_info()
    load = ", ".join(f"{x:.2f}" for x in info["load_avg"])
    print(f"# {title}")
    print(f"nproc={info['nproc']} cpu={info['cpu']!r} python={info['python']} load avg={load}")
    print()


# --- processes and sockets ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def child(target: Callable[..., None], *args: Any) -> Iterator[tuple[Any, Any]]:
    """A spawned child process with a pipe; terminated (then killed) on exit, even on failure."""
    parent_end, child_end = MP.Pipe()
    process = MP.Process(target=target, args=(child_end, *args), daemon=True)
    process.start()
    child_end.close()
    try:
        yield process, parent_end
    finally:
        stop_process(process)
        parent_end.close()


def stop_process(process: Any, timeout: float = 5.0) -> None:
    if process.is_alive():
        process.terminate()
        process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(timeout)


def receive(conn: Any, timeout: float, what: str) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer from {what} within {timeout:.0f} s")
    return conn.recv()


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size now (VmRSS) of a process (default: this one)."""
    path = f"/proc/{pid or 'self'}/status"
    for line in Path(path).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(pid: int | None = None) -> int:
    path = f"/proc/{pid or 'self'}/status"
    for line in Path(path).read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def binary(name: str) -> Path:
    path = BIN_DIR / name
    if not path.exists():
        raise SystemExit(f"{path} not found: build it with `bash scripts/build_binaries.sh`")
    return path


def wait_http(url: str, timeout: float, process: Any = None) -> None:
    """Polls ``url`` until it answers 2xx; fails early if ``process`` (a Popen) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if 200 <= response.status < 300:
                    return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url} answered")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def popen(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess (output to log_path), terminated then killed on exit, even on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(argv), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def prometheus_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of metric ``name`` in a Prometheus text exposition."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        head, _, value = line.rpartition(" ")
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', head))
        found.append((labels, float(value)))
    return found


def counter_total(text: str, name: str, **match: str) -> float:
    """Sum of a counter over its series (with or without the ``_total`` suffix), filtered by labels."""
    return sum(
        v
        for n in (name, f"{name}_total")
        for labels, v in prometheus_samples(text, n)
        if all(labels.get(k) == want for k, want in match.items())
    )


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
