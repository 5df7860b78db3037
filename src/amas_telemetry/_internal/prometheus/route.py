"""The app's ``/metrics`` route (path from the ``metrics_path`` setting)."""

from __future__ import annotations

from typing import Any

from amas_telemetry._internal.errors import ConfigError
from amas_telemetry._internal.prometheus.endpoint import PrometheusEndpoint

__all__ = ["add_metrics_route", "check_metrics_path", "check_metrics_serving"]


def check_metrics_path(app: Any, path: str | None) -> None:
    """The metrics route must not shadow (or be shadowed by) a route the app already has."""
    if path is None:
        return
    taken = [getattr(route, "path", None) for route in getattr(app, "routes", ())]
    if path in taken:
        raise ConfigError(
            f"Invalid metrics_path: expected a path the app does not serve yet, got {path!r} "
            "(pass another path, or None to serve no metrics route)"
        )


def check_metrics_serving(path: str | None, port: int | None) -> None:
    """A port of its own serves ``metrics_path``: the two go together."""
    if port is not None and path is None:
        raise ConfigError(
            f"Invalid metrics_port: expected None when metrics_path is None (no metrics served), "
            f"got {port!r} (set metrics_path, e.g. '/metrics', to serve it on that port)"
        )


def add_metrics_route(app: Any, path: str | None, endpoint: PrometheusEndpoint) -> Any:
    """Serve ``endpoint`` at ``path`` (``None``: no route); the route added, for its removal."""
    if path is None:
        return None
    from fastapi import Header, Response

    def metrics(accept: str | None = Header(default=None)) -> Response:
        body, content_type = endpoint.render(accept)
        return Response(body, headers={"content-type": content_type})

    app.add_api_route(path, metrics, methods=["GET"], include_in_schema=False)
    return app.router.routes[-1]
