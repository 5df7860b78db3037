"""HTTP routes and the JSON error responses of bad requests."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from starlette.exceptions import HTTPException

from amas_service.auth import verify_login
from amas_service.models import IntegrationEventIn, LoginIn, Platform, TaskAccepted, TaskIn
from amas_service.services import Services
from amas_telemetry import integration_span, login_span, set_login_result, untraced

__all__ = ["install", "router"]

_log = logging.getLogger(__name__)

router = APIRouter()

_TERMINAL = frozenset({"completed", "failed"})

KNOWN_EVENTS: Mapping[Platform, frozenset[str]] = {
    Platform.GITHUB: frozenset({"push", "pull_request", "issue_comment", "issues", "release"}),
    Platform.GITLAB: frozenset({"push", "merge_request", "note", "pipeline"}),
    Platform.SLACK: frozenset({"message", "app_mention", "reaction_added"}),
    Platform.JIRA: frozenset({"issue_created", "issue_updated", "comment_created"}),
}
"""Event types kept as the ``amas.integration.event_type`` label; others count as ``other``."""

TRIGGERS: Mapping[tuple[Platform, str], str] = {
    (Platform.GITHUB, "pull_request"): "code_review",
    (Platform.GITLAB, "merge_request"): "code_review",
    (Platform.SLACK, "app_mention"): "summarize",
    (Platform.JIRA, "issue_created"): "research",
}
"""Events that start a task, and its type."""


def _services(request: Request) -> Services:
    return request.app.state.services


class ApiError(Exception):
    """A request the service refuses: becomes a JSON error response."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _error_body(error: str, message: str, detail: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if detail is not None:
        body["detail"] = detail
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        body["trace_id"] = format(span_context.trace_id, "032x")
    return body


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


# --- tasks -----------------------------------------------------------------------------------
@router.post("/tasks", status_code=202, response_model=TaskAccepted)
async def submit_task(body: TaskIn, request: Request) -> TaskAccepted:
    """Stored in PostgreSQL before the 202, then queued with the request's trace context."""
    services = _services(request)
    task_id = uuid.uuid4()
    try:
        await services.db.insert_task(task_id, body.type, body.priority, body.user_id, body.prompt)
    except (asyncpg.DataError, UnicodeEncodeError) as error:  # the input, not the store, is at fault
        _log.warning("task not stored: %s: %s", type(error).__name__, error)
        raise ApiError(422, "unstorable_input", f"the task cannot be stored: {error}") from None
    except Exception as error:
        _log.error("task not stored: %s: %s", type(error).__name__, error)
        raise ApiError(
            503, "unavailable", "the task store is unavailable; nothing was accepted, retry"
        ) from None
    services.activity.user_seen(body.user_id)
    await services.enqueue(task_id, body.type, body.priority)
    _log.info("task %s accepted: type %s, priority %s", task_id, body.type, body.priority)
    return TaskAccepted(id=task_id)


@router.get("/tasks/{task_id}")
async def get_task(task_id: uuid.UUID, request: Request, response: Response) -> dict[str, Any]:
    """Finished tasks are served from the Redis cache; the rest from PostgreSQL."""
    services = _services(request)
    cached = await services.cache.get(task_id)
    if cached is not None:
        response.headers["X-Cache"] = "hit"
        return cached
    task = await services.db.get_task(task_id)
    if task is None:
        raise ApiError(404, "not_found", f"no task {task_id}")
    if task["status"] in _TERMINAL:  # never changes again: safe to cache
        await services.cache.put(task_id, task)
    response.headers["X-Cache"] = "miss"
    return task


# --- login -----------------------------------------------------------------------------------
@router.post("/login")
async def login(body: LoginIn, request: Request) -> dict[str, str]:
    services = _services(request)
    with login_span() as span:
        ok = await verify_login(services.db, body.username, body.password)
        set_login_result(span, ok)
    if not ok:
        _log.info("login refused for user %s", body.username)
        raise ApiError(401, "invalid_credentials", "unknown user or wrong password")
    services.activity.user_seen(body.username)
    _log.info("user %s logged in", body.username)
    return {"user": body.username, "login": "success"}


# --- integrations ----------------------------------------------------------------------------
@router.post("/integrations/{platform}/events", status_code=202)
async def integration_event(platform: Platform, body: IntegrationEventIn, request: Request) -> dict[str, Any]:
    services = _services(request)
    label = body.event_type if body.event_type in KNOWN_EVENTS[platform] else "other"
    with integration_span(platform.value, label):
        task_type = TRIGGERS.get((platform, body.event_type))
        task_id = uuid.uuid4() if task_type else None
        if task_id is not None and task_type is not None:
            prompt = str(body.payload.get("title") or body.payload.get("text") or json.dumps(body.payload))[
                :2000
            ]
            await services.db.insert_task(
                task_id, task_type, "normal", f"{platform.value}-bot", prompt, source=platform.value
            )
        event_id = await services.db.insert_integration_event(
            platform.value, body.event_type, body.payload, task_id
        )
        if task_id is not None and task_type is not None:
            await services.enqueue(task_id, task_type, "normal")
        _log.info("integration event %s/%s stored as %d", platform.value, body.event_type, event_id)
    return {"event_id": event_id, "task_id": str(task_id) if task_id else None}


# --- health ----------------------------------------------------------------------------------
@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Checks PostgreSQL and Redis, untraced (probes are not traffic)."""
    services: Services | None = getattr(request.app.state, "services", None)
    checks: dict[str, str] = {}
    if services is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    with untraced():
        for name, check in (("postgresql", services.db.ping), ("redis", services.redis.ping)):
            try:
                await check()
                checks[name] = "ok"
            except Exception as error:
                checks[name] = f"{type(error).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", **checks, "workers": services.settings.workers}
    return JSONResponse(body, status_code=200 if healthy else 503)


# --- errors ----------------------------------------------------------------------------------
async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # loc/msg/type only: the offending input is not echoed (it may be a password)
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)
    _log.warning("rejected %s %s with 422: %s", request.method, _route(request), summary)
    return JSONResponse(_error_body("validation_error", "the request is invalid", detail), status_code=422)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    log = _log.warning if exc.status < 500 else _log.error
    log("rejected %s %s with %d: %s", request.method, _route(request), exc.status, exc.message)
    return JSONResponse(_error_body(exc.error, exc.message), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    _log.warning("rejected %s %s with %d: %s", request.method, _route(request), exc.status_code, exc.detail)
    return JSONResponse(_error_body(error, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    _log.error("%s %s failed: %s", request.method, _route(request), type(exc).__name__, exc_info=exc)
    return JSONResponse(_error_body("internal_error", "the service failed; see the trace"), status_code=500)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
