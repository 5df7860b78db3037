"""Request and response bodies (pydantic)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from amas_service.orchestrator import TASK_TYPES
from amas_service.queue import PRIORITIES

__all__ = ["IntegrationEventIn", "LoginIn", "Platform", "TaskAccepted", "TaskIn"]

TaskType = Literal["research", "code_review", "summarize"]
Priority = Literal["high", "normal", "low"]
assert set(TaskType.__args__) == set(TASK_TYPES), "TaskType and the orchestrator's plans disagree"
assert set(Priority.__args__) == set(PRIORITIES), "Priority and the queue disagree"

MAX_PROMPT_CHARS = 20_000


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TaskType
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    priority: Priority = "normal"
    user_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")


class TaskAccepted(BaseModel):
    id: uuid.UUID
    status: Literal["queued"] = "queued"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Platform(StrEnum):
    """Integrations the service accepts events from (a closed set: it is a metric label)."""

    GITHUB = "github"
    GITLAB = "gitlab"
    SLACK = "slack"
    JIRA = "jira"


class IntegrationEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,47}$")
    payload: dict[str, Any] = Field(default_factory=dict)
