"""Request and response bodies (pydantic)."""

from __future__ import annotations

import math
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from amas_service.orchestrator import TASK_TYPES
from amas_service.queue import PRIORITIES

__all__ = ["IntegrationEventIn", "LoginIn", "Platform", "TaskAccepted", "TaskIn"]

TaskType = Literal["research", "code_review", "summarize"]
Priority = Literal["high", "normal", "low"]
assert set(TaskType.__args__) == set(TASK_TYPES), "TaskType and the orchestrator's plans disagree"
assert set(Priority.__args__) == set(PRIORITIES), "Priority and the queue disagree"

MAX_PROMPT_CHARS = 20_000
MAX_PAYLOAD_DEPTH = 32
MAX_PAYLOAD_ITEMS = 10_000


def _storable_text(value: str) -> str:
    """PostgreSQL text holds no NUL character, and UTF-8 no unpaired surrogate (JSON's "\\ud800")."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain unpaired surrogates (\\ud800-\\udfff)") from None
    return value


def _storable_json(payload: dict[str, Any]) -> dict[str, Any]:
    """What jsonb stores: text as above, finite numbers, bounded nesting and size."""
    stack: list[tuple[Any, int]] = [(payload, 0)]
    items = 0
    while stack:
        node, depth = stack.pop()
        items += 1
        if depth > MAX_PAYLOAD_DEPTH or items > MAX_PAYLOAD_ITEMS:
            raise ValueError(
                f"must nest at most {MAX_PAYLOAD_DEPTH} deep and hold at most {MAX_PAYLOAD_ITEMS} items"
            )
        if isinstance(node, str):
            _storable_text(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError("must hold finite numbers only (no NaN or Infinity)")
        elif isinstance(node, dict):
            for key, value in node.items():
                _storable_text(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return payload


StorableText = Annotated[str, AfterValidator(_storable_text)]


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TaskType
    prompt: StorableText = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    priority: Priority = "normal"
    user_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")


class TaskAccepted(BaseModel):
    id: uuid.UUID
    status: Literal["queued"] = "queued"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: StorableText = Field(min_length=1, max_length=64)
    password: StorableText = Field(min_length=1, max_length=256)


class Platform(StrEnum):
    """Integrations the service accepts events from (a closed set: it is a metric label)."""

    GITHUB = "github"
    GITLAB = "gitlab"
    SLACK = "slack"
    JIRA = "jira"


class IntegrationEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,47}$")
    payload: Annotated[dict[str, Any], AfterValidator(_storable_json)] = Field(default_factory=dict)
