"""Benchmark 1: per-request overhead of telemetry on a FastAPI app.

Variants (see ``benchmarks/_apps.py``): (a) bare, (c) ``amas_telemetry.configure()`` with its
defaults (JSON logs to /dev/null, system metrics on) at sampling 1.0 and 0.01, traces, metrics
and logs over OTLP to a local sink, (d) the stock contrib setup a user writes by hand, Pydantic
Logfire without and with OTLP export, and the route-count (``@5``) and FastAPI-default
(``+native``) variants; (b) the original plan and others on request (``--variants``). The app
has 50 routes, the probed ones last.

Each variant lives in its own process (they set OTel globals). Two routes: a minimal one and an
AMAS-like one (4 spans, a log line, ~3 KB JSON each way, 2 ms of awaited I/O). Three drivers:

- ``httpx``: httpx.AsyncClient over httpx.ASGITransport, in the variant's process;
- ``asgi``: the ASGI app called directly (no client library cost diluting the ratio);
- ``socket``: uvicorn (h11, asyncio) in the variant's process, driven from this process by a
  raw keep-alive HTTP/1.1 client over 127.0.0.1 (cheaper per request than httpx or wrk's Lua).

A timed round is n sequential requests followed by the variant's flush (span batch export and
the deferred span-metric recording), so work a variant postpones is charged to it. Rounds of all
variants are interleaved (ABC…CBA…) and each ratio is the median of per-round ratios to bare.

    python -m benchmarks.request_overhead [--quick] [--drivers httpx,asgi,socket]
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c
from benchmarks._sink import serve_in_child

ROUTES = ("minimal", "realistic")
DRIVERS = ("httpx", "asgi", "socket")
BASE = "bare"
FULL = {"rounds": 21, "n": {"minimal": 400, "realistic": 120}, "seconds_per_cell": 100, "warmup": 30}
QUICK = {"rounds": 4, "n": {"minimal": 120, "realistic": 30}, "seconds_per_cell": 2.5, "warmup": 10}


def _request(route: str) -> tuple[str, str, bytes]:
    from benchmarks._apps import MINIMAL_PATH, REALISTIC_BODY, REALISTIC_PATH

    return ("GET", MINIMAL_PATH, b"") if route == "minimal" else ("POST", REALISTIC_PATH, REALISTIC_BODY)


# --- the variant's process: in-process rounds ------------------------------------------------


def inproc_worker(conn: Any, variant: str, sink_endpoint: str | None) -> None:
    import httpx

    from benchmarks._apps import build_app, call_asgi

    wired = build_app(variant, sink_endpoint)
    # httpx logs each request at INFO: the measuring client must not log through the variant's
    # handlers (configure() would be charged for the client's lines)
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx").propagate = False
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=wired.app), base_url="http://bench")
    headers = {"content-type": "application/json"}

    def one(driver: str, route: str) -> Callable[[], Any]:
        method, path, body = _request(route)
        if driver == "httpx":
            return lambda: client.request(method, path, content=body or None, headers=headers)
        return lambda: call_asgi(wired.app, method, path, body)

    async def run(driver: str, route: str, n: int) -> tuple[float, int]:
        make = one(driver, route)
        bad = 0
        start = time.perf_counter()
        for _ in range(n):
            result = await make()
            status = result if isinstance(result, int) else result.status_code
            bad += status != 200
        wired.flush()
        return (time.perf_counter() - start) / n, bad

    sent = 0
    conn.send("ready")
    while True:
        command = conn.recv()
        if command[0] == "round":
            _, driver, route, n = command
            conn.send(loop.run_until_complete(run(driver, route, n)))
            sent += n
        elif command[0] == "metrics":
            wired.flush()
            conn.send((sent, wired.render_metrics() if wired.render_metrics else b""))
        else:
            break
    loop.run_until_complete(client.aclose())


# --- the variant's process: uvicorn on 127.0.0.1 ------------------------------------------------


def server_worker(conn: Any, variant: str, sink_endpoint: str | None) -> None:
    import uvicorn
    from fastapi import Response

    from benchmarks._apps import build_app

    wired = build_app(variant, sink_endpoint)

    def flush() -> Response:
        wired.flush()
        return Response(status_code=204)

    def metrics() -> Response:
        wired.flush()
        return Response(wired.render_metrics() if wired.render_metrics else b"", media_type="text/plain")

    wired.app.add_api_route("/__bench/flush", flush, methods=["POST"])
    wired.app.add_api_route("/__bench/metrics", metrics, methods=["GET"])
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else 40 ms
    # delayed-ACK stalls between the head and the body of each response)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    config = uvicorn.Config(
        wired.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=3600
    )
    uvicorn.Server(config).run(sockets=[sock])


class RawClient:
    """Sequential keep-alive HTTP/1.1 over one TCP connection; ~10 µs of client work per request."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    @staticmethod
    def build(method: str, path: str, body: bytes = b"") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: amas-bench/1.0\r\nAccept: */*\r\n"
        if body or method == "POST":
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return head.encode() + b"\r\n" + body

    def request(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head[9:12])
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        while len(rest) < length:
            self.buffer = rest
            self._read()
            rest = self.buffer
        self.buffer = rest[length:]
        return status, rest[:length]

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


# --- orchestration -----------------------------------------------------------------------------


def _count_requests(exposition: bytes) -> float:
    """Sum of http_server_request_duration_seconds_count over its series (our derived count)."""
    total = 0.0
    for line in exposition.decode().splitlines():
        if line.startswith("http_server_request_duration_seconds_count"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _span_census(sink: Any, send_requests: Callable[[str, int], None], variants: list[str]) -> dict[str, Any]:
    """Exported spans per request of each variant and route (one variant at a time)."""
    census: dict[str, Any] = {}
    for variant in variants:
        for route in ROUTES:
            time.sleep(0.05)
            sink.send("reset")
            sink.recv()
            send_requests(f"{variant}|{route}", 20)
            sink.send("stats")
            stats = sink.recv()
            census[f"{variant}|{route}"] = stats["traces"]["items"] / 20
    return census


def run(args: Any) -> dict[str, Any]:
    plan = QUICK if args.quick else FULL
    drivers = [d for d in args.drivers.split(",") if d]
    variants = [v for v in args.variants.split(",") if v]
    if BASE not in variants:
        variants.insert(0, BASE)
    results: dict[str, Any] = {"plan": plan, "cells": {}}
    with ExitStack() as stack:
        _, sink = stack.enter_context(c.child(serve_in_child))
        grpc_port, _ = c.receive(sink, 30, "the OTLP sink")
        endpoint = f"http://127.0.0.1:{grpc_port}"

        inproc = {d for d in drivers if d in ("httpx", "asgi")}
        if inproc:
            workers = {v: stack.enter_context(c.child(inproc_worker, v, endpoint))[1] for v in variants}
            for v, conn in workers.items():
                assert c.receive(conn, 60, v) == "ready"

            def inproc_round(variant: str, driver: str, route: str, n: int) -> float:
                workers[variant].send(("round", driver, route, n))
                per_request, bad = c.receive(workers[variant], 120, variant)
                if bad:
                    raise RuntimeError(f"{variant}: {bad} of {n} requests did not answer 200")
                return per_request

            # warm-up (imports, caches, first-call paths) and the census of exported spans
            for v in variants:
                for route in ROUTES:
                    inproc_round(v, "asgi", route, plan["warmup"])
                    inproc_round(v, "httpx", route, plan["warmup"])

            def census_send(key: str, n: int) -> None:
                variant, route = key.split("|")
                inproc_round(variant, "asgi", route, n)

            results["spans_per_request"] = _span_census(sink, census_send, variants)
            for driver in ("httpx", "asgi"):
                if driver in inproc:
                    for route in ROUTES:
                        _measure(results, plan, variants, driver, route, inproc_round)
            results["derived_count_check"] = {}
            for v, conn in workers.items():
                if v.startswith("ours"):
                    conn.send(("metrics",))
                    sent, exposition = c.receive(conn, 60, v)
                    results["derived_count_check"][v] = (sent, _count_requests(exposition))

        if "socket" in drivers:
            clients: dict[str, RawClient] = {}
            for v in variants:
                _, conn = stack.enter_context(c.child(server_worker, v, endpoint))
                port = c.receive(conn, 60, f"uvicorn ({v})")
                clients[v] = _connect(port)
                stack.callback(clients[v].close)
            flush_raw = RawClient.build("POST", "/__bench/flush")

            sent: dict[str, int] = dict.fromkeys(variants, 0)

            def socket_round(variant: str, driver: str, route: str, n: int) -> float:
                client = clients[variant]
                sent[variant] += n + 1  # + the flush request, traced too
                raw = RawClient.build(*_request(route))
                start = time.perf_counter()
                for _ in range(n):
                    status, _ = client.request(raw)
                    if status != 200:
                        raise RuntimeError(f"{variant}: status {status}")
                client.request(flush_raw)
                return (time.perf_counter() - start) / n

            for v in variants:
                for route in ROUTES:
                    socket_round(v, "socket", route, plan["warmup"])
            if "spans_per_request" not in results:  # counts the round's flush request too (n + 1)

                def census_socket(key: str, n: int) -> None:
                    variant, route = key.split("|")
                    socket_round(variant, "socket", route, n)

                results["spans_per_request"] = _span_census(sink, census_socket, variants)
            for route in ROUTES:
                _measure(results, plan, variants, "socket", route, socket_round)
            results["socket_derived_count_check"] = {}
            for v in variants:
                if v.startswith("ours"):
                    _, body = clients[v].request(RawClient.build("GET", "/__bench/metrics"))
                    results["socket_derived_count_check"][v] = (sent[v], _count_requests(body))
    return results


def _connect(port: int) -> RawClient:
    deadline = time.monotonic() + 30
    while True:
        try:
            return RawClient(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _measure(
    results: dict[str, Any],
    plan: dict[str, Any],
    variants: list[str],
    driver: str,
    route: str,
    round_fn: Callable[[str, str, str, int], float],
) -> None:
    n = plan["n"][route]
    deadline = time.monotonic() + plan["seconds_per_cell"]
    samples = c.interleaved(
        {v: (lambda v=v: round_fn(v, driver, route, n)) for v in variants}, plan["rounds"], deadline=deadline
    )
    results["cells"][f"{driver}|{route}"] = samples
    print(f"  measured {driver}/{route}: {len(samples[BASE])} rounds x {n} requests", file=sys.stderr)


def _base(variant: str) -> str:
    """The bare app of the same shape: ``bare@5`` for ``x@5``."""
    _, at, routes = variant.partition("@")
    return f"{BASE}@{routes}" if at else BASE


def report(results: dict[str, Any]) -> str:
    out = []
    census = results.get("spans_per_request", {})
    for key, samples in results["cells"].items():
        driver, route = key.split("|")
        rows = []
        for v, values in samples.items():
            base = _base(v)
            rows.append(
                [
                    v,
                    c.us(c.median(values)),
                    c.spread(values),
                    f"{c.ratio(samples, v, base):.3f}" if base in samples else "n/a",
                    c.us(c.median(values) - c.median(samples.get(base, [float("nan")]))),
                    f"{census.get(f'{v}|{route}', float('nan')):.2f}",
                ]
            )
        out.append(f"## {route} route, driver {driver} ({len(samples[BASE])} rounds)")
        out.append(
            c.table(
                ["variant", "µs/request", "IQR", "ratio to bare", "overhead µs", "spans exported/req"], rows
            )
        )
        out.append("")
    out.append("## Targets")
    out.append(c.table(["target", "measured", "verdict"], _verdicts(results)))
    for key, where in (("derived_count_check", "in-process"), ("socket_derived_count_check", "uvicorn")):
        for variant, (sent, derived) in results.get(key, {}).items():
            out.append("")
            out.append(
                f"Derived request count ({where}, {variant}): {derived:.0f} of {sent} sent "
                f"-> {'exact' if derived == sent else 'DIFFERENT'}"
            )
    return "\n".join(out)


TARGETS = {
    ("minimal", "ours:0.01:sink"): 1.30,
    ("minimal", "ours:1.0:sink"): 1.60,
    ("realistic", "ours:0.01:sink"): 1.10,
}
"""Ratio to bare over the uvicorn socket (issue 12)."""
PEERS = ("stock", "logfire", "logfire:sink")


def _added(samples: dict[str, list[float]], variant: str, base: str) -> float:
    return c.median([a - b for a, b in zip(samples[variant], samples[base], strict=False)])


def _verdicts(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, samples in results["cells"].items():
        driver, route = key.split("|")
        for (target_route, ours), limit in TARGETS.items():
            if driver == "socket" and route == target_route and ours in samples:
                r = c.ratio(samples, ours, BASE)
                rows.append([f"{ours}/bare ≤ {limit} ({route}, {driver})", f"{r:.3f}", c.verdict(r <= limit)])
        for ours in ("ours:1.0:sink", "ours:0.01:sink"):
            for peer in (p for p in PEERS if ours in samples and p in samples):
                o = c.ratio(samples, ours, peer)
                rows.append([f"{ours} < {peer} ({route}, {driver})", f"{o:.3f}x", c.verdict(o < 1)])
        shapes = ("ours:0.01:sink", "bare", "ours:0.01:sink@5", "bare@5")
        if all(v in samples for v in shapes):
            # the overhead (µs added per request, median of the per-round differences), not the
            # ratio: bare's own route matching grows with the routes and would dilute a ratio
            o50, o5 = (_added(samples, shapes[i], shapes[i + 1]) for i in (0, 2))
            rows.append(
                [
                    f"ours:0.01:sink overhead, 50 routes within 5 % of 5 ({route}, {driver})",
                    f"{c.us(o50)} vs {c.us(o5)} µs ({o50 / o5 - 1:+.1%})",
                    c.verdict(abs(o50 / o5 - 1) <= 0.05),
                ]
            )
    return rows


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--drivers", default=",".join(DRIVERS), help="httpx,asgi,socket")
        parser.add_argument("--variants", default=",".join(_variants()), help="see benchmarks/_apps.py")

    args = c.parse_args(__doc__.splitlines()[0], extra)
    c.print_header("Benchmark 1: request overhead")
    started = time.monotonic()
    results = run(args)
    print(report(results))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    c.write_json(args.json, {"benchmark": "request_overhead", **results})


def _variants() -> tuple[str, ...]:
    from benchmarks._apps import VARIANTS

    return VARIANTS


if __name__ == "__main__":
    main()
