"""The demo's load: tasks of every type and priority, GETs (cache hits and misses), logins
(some wrong), integration events, a few bad requests and a few tasks too long for any model."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

TASK_TYPES = (("research", 0.4), ("summarize", 0.35), ("code_review", 0.25))
PRIORITIES = (("high", 0.15), ("normal", 0.7), ("low", 0.15))
PROMPTS = {
    "research": [
        "Compare message queues for a task service",
        "What drives LLM latency at p95?",
        "Options to cut inference cost by half",
    ],
    "summarize": [
        "Summarize the incident report of last night",
        "Summarize this design review thread",
        "Summarize the quarterly OKR update",
    ],
    "code_review": [
        "Review the retry logic in the provider client",
        "Review the new cache invalidation",
        "Review the database migration for tasks",
    ],
}
EVENTS = (
    ("github", "pull_request"),
    ("github", "push"),
    ("gitlab", "merge_request"),
    ("slack", "app_mention"),
    ("slack", "message"),
    ("jira", "issue_created"),
    ("jira", "issue_updated"),
)
BAD_REQUESTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("POST", "/tasks", {"json": {"type": "dance", "prompt": "x", "user_id": "user01"}}),
    ("POST", "/tasks", {"json": {"type": "research", "prompt": "", "user_id": "user01"}}),
    ("POST", "/tasks", {"content": b"{oops", "headers": {"content-type": "application/json"}}),
    ("GET", "/tasks/not-a-task-id", {}),
    ("GET", "/tasks/00000000-0000-4000-8000-000000000000", {}),
    ("POST", "/integrations/myspace/events", {"json": {"event_type": "poke"}}),
    ("POST", "/login", {"json": {"username": "user01"}}),
)


def pick(choices: Iterable[tuple[str, float]], rng: random.Random) -> str:
    names, weights = zip(*choices, strict=True)
    return rng.choices(names, weights)[0]


@dataclass
class Load:
    tasks: int
    rate: float
    seed: int
    results: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    submitted: int = 0
    errors: list[str] = field(default_factory=list)

    def actions(self) -> list[tuple[str, Any]]:
        rng = random.Random(self.seed)
        plan: list[tuple[str, Any]] = []
        for i in range(self.tasks):
            task_type = pick(TASK_TYPES, rng)
            prompt = rng.choice(PROMPTS[task_type])
            if i % 60 == 37:  # too long for any model's context: the task fails for real
                prompt = "Please read all of this. " + "lorem ipsum dolor sit amet " * 700
            body = {
                "type": task_type,
                "prompt": prompt,
                "priority": pick(PRIORITIES, rng),
                "user_id": f"user{rng.randint(1, 25):02d}",
            }
            plan.append(("task", body))
            if rng.random() < 0.45:
                plan.append(("get", None))
        extras: list[tuple[str, Any]] = []
        extras += [
            ("login", (f"user{rng.randint(1, 25):02d}", rng.random() < 0.75)) for _ in range(self.tasks // 8)
        ]
        extras += [("event", rng.choice(EVENTS)) for _ in range(self.tasks // 10)]
        extras += [("bad", request) for request in BAD_REQUESTS for _ in range(2)]
        for extra in extras:
            plan.insert(rng.randrange(len(plan) + 1), extra)
        return plan

    async def run(self, client: httpx.AsyncClient) -> None:
        rng = random.Random(self.seed + 1)
        pending: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(16)

        async def act(kind: str, arg: Any) -> None:
            async with limit:
                try:
                    await self._act(client, rng, kind, arg)
                except httpx.HTTPError as error:
                    self.errors.append(f"{kind}: {type(error).__name__}: {error}")

        for kind, arg in self.actions():
            task = asyncio.create_task(act(kind, arg))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if kind == "task":
                self.submitted += 1
                await asyncio.sleep(1.0 / self.rate)
        await asyncio.gather(*pending)

    async def _act(self, client: httpx.AsyncClient, rng: random.Random, kind: str, arg: Any) -> None:
        if kind == "task":
            response = await client.post("/tasks", json=arg)
            if response.status_code == 202:
                self.accepted.append(response.json()["id"])
            self.results[f"POST /tasks {response.status_code}"] += 1
        elif kind == "get" and self.accepted:
            # half of the reads poll a recent task (often still running: a miss), half re-read
            # one of the first tasks (finished and cached after its first read: a hit)
            task_id = rng.choice(self.accepted[-30:] if rng.random() < 0.5 else self.accepted[:15])
            response = await client.get(f"/tasks/{task_id}")
            self.results[
                f"GET /tasks/{{id}} {response.status_code} {response.headers.get('x-cache', '')}"
            ] += 1
        elif kind == "login":
            user, right = arg
            password = f"password-{user[4:]}" if right else "guess"
            response = await client.post("/login", json={"username": user, "password": password})
            self.results[f"POST /login {response.status_code}"] += 1
        elif kind == "event":
            platform, event_type = arg
            body = {
                "event_type": event_type,
                "payload": {"title": f"{platform} {event_type} #{rng.randint(1, 999)}"},
            }
            response = await client.post(f"/integrations/{platform}/events", json=body)
            if response.status_code == 202 and response.json().get("task_id"):
                self.accepted.append(response.json()["task_id"])
            self.results[f"POST /integrations {response.status_code}"] += 1
        elif kind == "bad":
            method, path, kwargs = arg
            response = await client.request(method, path, **kwargs)
            self.results[f"bad request {response.status_code}"] += 1
