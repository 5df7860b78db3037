"""The exposition on a port of its own (``metrics_port``), off the app's public port.

Which process listens: every worker of the app group binds the same address with
``SO_REUSEPORT``, and the kernel hands each scrape to one of them; any worker's answer is the
app's totals (see :mod:`.workers`), so it does not matter which. No election, no takeover: a
worker that dies stops getting scrapes, the others go on. A gunicorn master that loaded the
app (``--preload``) does not listen (it serves no requests, and its view is not the app
group's), nor does a helper process forked from a worker (it closes the socket it inherited).
Where ``SO_REUSEPORT`` does not exist, the first worker to bind serves alone.

The server is the standard library's, one request at a time with a timeout per connection: a
scrape takes milliseconds, and a client that stalls cannot hold more than one thread.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint

__all__ = ["MetricsServer"]

_log = logging.getLogger(__name__)

_CONNECTION_TIMEOUT = 10.0


class _ReusePortServer(HTTPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Any, family: socket.AddressFamily) -> None:
        self.address_family = family  # IPv4 or IPv6, as the host resolves
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if hasattr(socket, "SO_REUSEPORT"):  # every worker on one address; the kernel spreads scrapes
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class MetricsServer:
    """Serves ``endpoint`` at ``path`` on ``host:port``, from a daemon thread."""

    def __init__(self, endpoint: PrometheusEndpoint, host: str, port: int, path: str) -> None:
        self._endpoint = endpoint
        self._host = host
        self._port = port
        self._path = path
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """Where this process listens now (None: it does not)."""
        server = self._server
        return None if server is None else server.server_address[:2]

    def start(self) -> None:
        """Bind and serve; a failure to bind is logged, never raised into the app."""
        if self._server is not None:
            return
        try:
            family = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)[0][0]
            server = _ReusePortServer((self._host, self._port), self._handler(), family)
        except OSError as error:
            _log.error(
                "amas_telemetry: cannot serve metrics on %s:%s (%s); the app runs without them",
                self._host,
                self._port,
                error,
            )
            return
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="amas-metrics", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited socket (the parent's stays open); no thread runs here."""
        server, self._server, self._thread = self._server, None, None
        if server is not None:
            server.socket.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint, path = self._endpoint, self._path

        class Handler(BaseHTTPRequestHandler):
            timeout = _CONNECTION_TIMEOUT

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != path:
                    self._send(404, b"not found\n", "text/plain; charset=utf-8")
                    return
                try:
                    body, content_type = endpoint.render(self.headers.get("accept"))
                except Exception:  # a broken collection answers 500; the app goes on
                    _log.exception("amas_telemetry: rendering metrics failed")
                    self._send(500, b"metrics unavailable\n", "text/plain; charset=utf-8")
                    return
                self._send(200, body, content_type)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
