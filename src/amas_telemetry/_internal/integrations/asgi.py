"""The HTTP server span, made by a small pure-ASGI middleware.

It wraps the whole Starlette/FastAPI middleware stack (outside ``ServerErrorMiddleware``,
so the 500 of an unhandled exception is seen), reads the request headers once, and takes
the route template from ``scope["route"]``, which the router sets when it matches: no
per-route scan, whatever the number of routes. The span starts with the request
attributes (the sampler and the active-requests count see them) and is renamed
``METHOD route`` once routing is known.

Attributes follow the stable HTTP server conventions, as the contrib ASGI instrumentor
sets them in ``OTEL_SEMCONV_STABILITY_OPT_IN=http`` mode (``tests/unit/test_server_span.py``
compares the two key by key), except ``server.address``, which is the host alone (the
conventions' rule; contrib leaves ``host:port`` there), and the conventions' sensitive query
parameters (``sig``, ``Signature``…), whose values are ``REDACTED``. Other values are raw here: the export
path scrubs every attribute of a sampled span (``url.query``, captured headers) with
:class:`~amas_telemetry.redact.Scrubber`, and unsampled spans never leave the process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from amas_telemetry import semconv as sc
from amas_telemetry._internal.compat.starlette import route_template

__all__ = ["KNOWN_METHODS", "ServerSpanMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(__name__)

KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})
"""Methods kept as they are in ``http.request.method``; any other becomes ``_OTHER``."""

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

SENSITIVE_QUERY_PARAMETERS = frozenset({"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"})
"""Query parameters whose values the HTTP conventions say to replace by ``REDACTED``."""


def _redacted_query(query: str) -> str:
    """``url.query`` with the conventions' sensitive values redacted (the rest is scrubbed on export)."""
    if "ig" not in query and "AWSAccessKeyId" not in query:  # every sensitive name but one has "ig"
        return query
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, equals, _ = part.partition("=")
        if equals and name in SENSITIVE_QUERY_PARAMETERS:
            parts[i] = f"{name}=REDACTED"
    return "&".join(parts)


def _host_and_port(host: str) -> tuple[str, int | None]:
    """``example.com:8080`` → (``example.com``, 8080); ``[::1]:80`` → (``::1``, 80)."""
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        return address, int(rest[1:]) if rest[1:].isdigit() else None
    address, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return address, int(port)
    return host, None


class ServerSpanMiddleware:
    """One SERVER span per HTTP request or WebSocket connection, with the stable conventions."""

    def __init__(
        self,
        app: ASGIApp,
        tracer: trace.Tracer,
        excluded_paths: frozenset[str] = frozenset(),
        captured_headers: tuple[str, ...] = (),
        send_receive_spans: bool = False,
    ) -> None:
        self.app = app
        self._tracer = tracer
        self._excluded = excluded_paths
        self._captured = {name.lower().encode("latin-1"): name.lower() for name in captured_headers}
        self._send_receive = send_receive_spans
        self._textmap: Any = None
        self._fields: frozenset[str] = frozenset()
        self._native_checked = False

    def _propagation_fields(self) -> frozenset[str]:
        """The header names the global propagator reads (cached until it is replaced)."""
        textmap = propagate.get_global_textmap()
        if textmap is not self._textmap:
            self._textmap, self._fields = textmap, frozenset(f.lower() for f in textmap.fields)
        return self._fields

    def _is_excluded(self, scope: Scope) -> bool:
        """The path, with or without the app's ``root_path`` (a mount or a proxy prefix)."""
        path = scope["path"]
        if path in self._excluded:
            return True
        root = scope.get("root_path")
        return bool(root) and path.startswith(root) and path[len(root) :] in self._excluded

    def _check_native_telemetry(self, scope: Scope) -> None:
        """Warn once when FastAPI's own telemetry runs around this app (see ``FASTAPI_SCOPE``)."""
        self._native_checked = True
        if scope.get("fastapi.telemetry") is not None:
            _log.warning(
                "amas_telemetry: FastAPI's own telemetry runs on every request of this app; its "
                "spans are dropped, but its per-request work is not. Build the app with "
                "FastAPI(telemetry={'tracing': False, 'metrics': False, 'logs': False}) to skip it."
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind != "http" and kind != "websocket") or self._is_excluded(scope):
            await self.app(scope, receive, send)
            return

        if not self._native_checked:
            self._check_native_telemetry(scope)
        fields = self._propagation_fields()
        captured = self._captured
        carrier: dict[str, str] = {}
        host = user_agent = None
        attributes: dict[str, Any] = {}
        for raw_name, raw_value in scope["headers"]:
            if raw_name == b"host":
                host = raw_value.decode("latin-1")
            elif raw_name == b"user-agent":
                user_agent = raw_value.decode("latin-1")
            else:
                name = raw_name.decode("latin-1")
                if name in fields:
                    value = raw_value.decode("latin-1")
                    carrier[name] = f"{carrier[name]},{value}" if name in carrier else value
            if captured and raw_name in captured:
                key = f"{sc.HTTP_REQUEST_HEADER_PREFIX}{captured[raw_name]}"
                attributes[key] = (*attributes.get(key, ()), raw_value.decode("latin-1"))

        if kind == "http":
            original = scope["method"]
            method = original if original in KNOWN_METHODS else "_OTHER"
            attributes[sc.HTTP_REQUEST_METHOD] = method
            if method != original:
                attributes[sc.HTTP_REQUEST_METHOD_ORIGINAL] = original
            span_method = "HTTP" if method == "_OTHER" else method
        else:
            span_method = ""
        scheme = scope.get("scheme") or ("http" if kind == "http" else "ws")
        attributes[sc.URL_SCHEME] = scheme
        attributes[sc.URL_PATH] = scope["path"]
        query = scope.get("query_string")
        if query:
            attributes[sc.URL_QUERY] = _redacted_query(query.decode("latin-1"))
        if host is not None:
            address, port = _host_and_port(host)
            attributes[sc.SERVER_ADDRESS] = address
            attributes[sc.SERVER_PORT] = port if port is not None else _DEFAULT_PORTS.get(scheme)
        elif scope.get("server"):
            attributes[sc.SERVER_ADDRESS], attributes[sc.SERVER_PORT] = scope["server"]
        client = scope.get("client")
        if client:
            attributes[sc.CLIENT_ADDRESS], attributes[sc.CLIENT_PORT] = client
        version = scope.get("http_version")
        if version:
            attributes[sc.NETWORK_PROTOCOL_VERSION] = version
        if user_agent is not None:
            attributes[sc.USER_AGENT_ORIGINAL] = user_agent

        parent = propagate.extract(carrier) if carrier else None
        span = self._tracer.start_span(
            span_method or scope["path"], context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        status_code = 0

        async def send_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                if captured:
                    _capture_response_headers(span, captured, message.get("headers", ()))
            await send(message)

        inner_send: Send = send_status if kind == "http" else send
        inner_receive = receive
        if self._send_receive:
            inner_send = _traced_send(self._tracer, span_method, inner_send)
            inner_receive = _traced_receive(self._tracer, span_method, receive)
        failure: BaseException | None = None
        try:
            await self.app(scope, inner_receive, inner_send)
        except BaseException as error:
            failure = error
            raise
        finally:
            try:
                _finish(span, scope, span_method, status_code, failure)
            finally:
                context.detach(token)


def _finish(
    span: trace.Span, scope: Scope, span_method: str, status_code: int, failure: BaseException | None
) -> None:
    ended: dict[str, Any] = {}
    route = route_template(scope)
    if route:
        span.update_name(f"{span_method} {route}" if span_method else route)
        ended[sc.HTTP_ROUTE] = route
    if status_code:
        ended[sc.HTTP_RESPONSE_STATUS_CODE] = status_code
    if failure is not None:
        if isinstance(failure, Exception):
            span.record_exception(failure)
        if status_code < 500:  # no answer was sent: the exception is the error
            ended[sc.ERROR_TYPE] = type(failure).__qualname__
            span.set_status(Status(StatusCode.ERROR, f"{type(failure).__name__}: {failure}"))
    if status_code >= 500:
        ended[sc.ERROR_TYPE] = str(status_code)
        span.set_status(Status(StatusCode.ERROR))
    if ended:
        span.set_attributes(ended)
    span.end()


def _capture_response_headers(span: trace.Span, captured: dict[bytes, str], headers: Any) -> None:
    values: dict[str, tuple[str, ...]] = {}
    for raw_name, raw_value in headers:
        name = captured.get(raw_name.lower())
        if name is not None:
            key = f"{sc.HTTP_RESPONSE_HEADER_PREFIX}{name}"
            values[key] = (*values.get(key, ()), raw_value.decode("latin-1"))
    if values:
        span.set_attributes(values)


def _traced_send(tracer: trace.Tracer, span_method: str, send: Send) -> Send:
    """The opt-in per-message ``http send`` child spans."""

    async def traced(message: Message) -> None:
        with tracer.start_as_current_span(
            f"{span_method} http send".strip(), kind=SpanKind.INTERNAL
        ) as child:
            child.set_attribute(sc.ASGI_EVENT_TYPE, message["type"])
            if message["type"] == "http.response.start":
                child.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, message["status"])
            await send(message)

    return traced


def _traced_receive(tracer: trace.Tracer, span_method: str, receive: Receive) -> Receive:
    """The opt-in per-message ``http receive`` child spans."""

    async def traced() -> Message:
        with tracer.start_as_current_span(
            f"{span_method} http receive".strip(), kind=SpanKind.INTERNAL
        ) as child:
            message = await receive()
            child.set_attribute(sc.ASGI_EVENT_TYPE, message["type"])
            return message

    return traced
