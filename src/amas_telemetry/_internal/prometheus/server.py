"""``/metrics`` on its own address (the ``metrics_address`` setting), off the app's public port.

The app's route would answer whoever reaches the app. A separate listener lets the metrics
stay on an interface or port the public load balancer never routes to (``127.0.0.1:9464``
for a local agent, a cluster-internal port for Prometheus). It serves ``metrics_path`` only
(GET; 404 for anything else) in a daemon thread, never on the request path of the app.

Several workers of one app bind the same address with ``SO_REUSEPORT`` (the kernel spreads
the scrapes); every worker answers for the whole app (:mod:`.endpoint` merges the others'
files), so any of them can take a scrape. A forked child closes the copy of its parent's
socket it inherited and listens on its own.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from amas_telemetry._internal.config.settings import ConfigError
from amas_telemetry._internal.forking import renew_after_fork
from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint

__all__ = ["MetricsServer"]

_log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, handler, bind_and_activate=False)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):  # the app's other workers listen here too
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise


class MetricsServer:
    """Serves ``endpoint`` at ``http://host:port{path}`` until :meth:`close`."""

    def __init__(self, address: tuple[str, int], path: str, endpoint: PrometheusEndpoint) -> None:
        self._address, self._path, self._endpoint = address, path, endpoint
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._start()
        renew_after_fork(self, MetricsServer._after_fork)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        path, endpoint = self._path, self._endpoint

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != path:
                    self._answer(404, b"not found\n", "text/plain; charset=utf-8")
                    return
                try:
                    body, content_type = endpoint.render(self.headers.get("Accept"))
                except Exception:  # a scrape must not take the server down
                    _log.exception("amas_telemetry: rendering /metrics failed")
                    self._answer(500, b"rendering failed\n", "text/plain; charset=utf-8")
                    return
                self._answer(200, body, content_type)

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def _start(self) -> None:
        try:
            self._server = _Server(self._address, self._handler())
        except OSError as error:
            host, port = self._address
            raise ConfigError(
                f"Invalid metrics_address: expected an address this process can listen on, got "
                f"'{host}:{port}' ({error.strerror or error})"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="amas-metrics-server", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port listened on (the one the OS chose when the setting said 0)."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def _after_fork(self) -> None:
        # the parent's thread does not run here; its socket copy is closed, not shut down
        # (a shutdown would stop the parent's listener too)
        if self._server is not None:
            self._server.socket.close()
        self._server = None
        try:
            self._start()
        except ConfigError as error:
            _log.warning("amas_telemetry: this worker does not serve /metrics: %s", error)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
