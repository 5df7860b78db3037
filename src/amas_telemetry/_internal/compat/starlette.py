"""What our FastAPI wiring relies on in Starlette and FastAPI, beyond their documented API.

- :func:`wrap_middleware_stack`: our server-span middleware wraps the app's whole middleware
  stack by replacing ``build_middleware_stack`` on the app instance and resetting
  ``middleware_stack``, which Starlette builds lazily on the first request when it is None.
  ``add_middleware`` would put it inside the error middleware and refuses a started app.
- ``scope["route"].path_format``: FastAPI's router puts the matched route in the scope, and
  the route's template names the server span (``GET /items/{item_id}``) with no scan of the
  route list (:mod:`amas_telemetry._internal.integrations.asgi`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from amas_telemetry._internal.compat.verify import Reach, require

__all__ = ["REACHES", "route_template", "unwrap_middleware_stack", "wrap_middleware_stack"]

_MARK = "amas_telemetry"


def wrap_middleware_stack(app: Any, wrap: Callable[[Any], Any]) -> bool:
    """Make ``app`` run ``wrap(its middleware stack)``; False if it is wrapped already."""
    if "build_middleware_stack" in vars(app):
        return False
    build = app.build_middleware_stack

    def build_middleware_stack() -> Any:
        return wrap(build())

    setattr(build_middleware_stack, _MARK, True)
    app.build_middleware_stack = build_middleware_stack
    app.middleware_stack = None  # rebuilt, wrapped, on the next request
    return True


def unwrap_middleware_stack(app: Any) -> bool:
    """Undo :func:`wrap_middleware_stack`; False if ``app`` was not wrapped by it."""
    if not getattr(vars(app).get("build_middleware_stack"), _MARK, False):
        return False
    del app.build_middleware_stack
    app.middleware_stack = None
    return True


def route_template(scope: Any) -> str | None:
    """The template of the route the router matched (``/items/{item_id}``), if any."""
    return getattr(scope.get("route"), "path_format", None)


def _check_middleware_stack() -> None:
    """A throwaway app, called without an event loop (nothing in it waits)."""
    from starlette.applications import Starlette

    app = Starlette()
    called: list[str] = []

    async def marker(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["type"])

    require(wrap_middleware_stack(app, lambda stack: marker), "build_middleware_stack on the app")
    with contextlib.suppress(StopIteration):  # the coroutine ended: nothing in it waited
        app({"type": "http"}, None, None).send(None)
    require(called == ["http"], "Starlette.__call__ building middleware_stack when it is None")
    require(unwrap_middleware_stack(app) and "build_middleware_stack" not in vars(app), "the unwrap")


def _check_route_in_scope() -> None:
    from fastapi.routing import APIRoute

    def item(item_id: int) -> None: ...

    route = APIRoute("/items/{item_id}", item, methods=["GET"])
    scope = {"type": "http", "path": "/items/3", "method": "GET", "root_path": "", "path_params": {}}
    _, child = route.matches(scope)
    require(child.get("route") is route, "APIRoute.matches putting the route in the scope")
    require(route_template(child) == "/items/{item_id}", "route.path_format")


REACHES: tuple[Reach, ...] = (
    Reach(
        "starlette",
        "Starlette.build_middleware_stack and the lazily built middleware_stack (our server span "
        "wraps the whole stack)",
        _check_middleware_stack,
        module="starlette",
    ),
    Reach(
        "fastapi",
        'scope["route"].path_format set by the router (the server span\'s route template)',
        _check_route_in_scope,
        module="fastapi",
    ),
)
