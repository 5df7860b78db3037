"""Benchmark: CPU of the exporting thread per OTLP/HTTP export, kept-alive connection vs a new
connection per export, plaintext and TLS.

The spool's HTTP transport keeps one connection per signal alive (and reopens it after an
error); before, it opened a connection for every export (``urllib.request.urlopen``). Both
are measured here against a local HTTP/1.1 server (a thread of this process, which the
measure leaves out: ``time.thread_time`` of the exporting thread only), with a private CA made
by collector/certgen for the TLS case. Rounds alternate (kept, new, kept, new, ...); each
figure is the median of 5 rounds of ``--exports`` exports of ``--bytes`` bytes.

    python -m benchmarks.otlp_connection_cost [--exports 300] [--bytes 20000]
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from amas_devstack.certgen import certgen_binary
from amas_telemetry._internal.otlp.targets import OtlpTarget
from amas_telemetry._internal.otlp.transport import HttpTransport, Outcome


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def _server(tls_dir: Path | None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    if tls_dir is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_dir / "server.crt", tls_dir / "server.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _kept_alive(url: str, ca: Path | None, body: bytes, n: int) -> float:
    target = OtlpTarget("traces", "http/protobuf", url, ca is not None, str(ca) if ca else None,
                        None, None, {}, None, 5.0)  # fmt: skip
    transport = HttpTransport(target)
    try:
        started = time.thread_time()
        for _ in range(n):
            assert transport.send(body).outcome is Outcome.SENT
        return time.thread_time() - started
    finally:
        transport.close()


def _new_connection(url: str, ca: Path | None, body: bytes, n: int) -> float:
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    headers = {"Content-Type": "application/x-protobuf"}
    started = time.thread_time()
    for _ in range(n):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            response.read()
    return time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exports", type=int, default=300)
    parser.add_argument("--bytes", type=int, default=20_000)
    args = parser.parse_args()
    body = b"x" * args.bytes
    with tempfile.TemporaryDirectory() as tmp:
        tls_dir = Path(tmp) / "tls"
        subprocess.run([str(certgen_binary()), "-dir", str(tls_dir)], check=True, capture_output=True)
        for name, directory in (("plaintext", None), ("TLS", tls_dir)):
            server = _server(directory)
            scheme = "https" if directory else "http"
            url = f"{scheme}://127.0.0.1:{server.server_address[1]}/v1/traces"
            ca = directory / "ca.crt" if directory else None
            kept, new = [], []
            try:
                for _ in range(5):
                    kept.append(_kept_alive(url, ca, body, args.exports))
                    new.append(_new_connection(url, ca, body, args.exports))
            finally:
                server.shutdown()
                server.server_close()
            per_kept = statistics.median(kept) / args.exports * 1e6
            per_new = statistics.median(new) / args.exports * 1e6
            print(
                f"{name}: CPU of the exporting thread per export of {args.bytes} bytes: kept alive "
                f"{per_kept:.0f} µs, new connection {per_new:.0f} µs ({per_new / per_kept:.1f}x)"
            )


if __name__ == "__main__":
    main()
