"""The orchestrator: a plan per task type, steps run in order, agents within a step in parallel.

Span tree of one task::

    task {type}
      step plan        → invoke_agent planner → chat {model} → POST (httpx)
      step gather      → invoke_agent researcher ‖ invoke_agent analyst (asyncio.gather)
      step synthesize  → invoke_agent writer
      step review      → invoke_agent reviewer
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from amas_service.agents import AGENTS, AgentResult, review_score
from amas_service.db import TaskRecord
from amas_service.providers import ProviderClient

__all__ = ["PLANS", "TASK_TYPES", "Orchestrator", "Outcome", "Step"]

_tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    agents: tuple[str, ...]
    """Run concurrently; each sees the results of all earlier steps."""


PLANS: Mapping[str, tuple[Step, ...]] = {
    "research": (
        Step("plan", ("planner",)),
        Step("gather", ("researcher", "analyst")),
        Step("synthesize", ("writer",)),
        Step("review", ("reviewer",)),
    ),
    "code_review": (
        Step("plan", ("planner",)),
        Step("gather", ("security_reviewer", "style_reviewer", "test_reviewer")),
        Step("synthesize", ("writer",)),
        Step("review", ("reviewer",)),
    ),
    "summarize": (
        Step("gather", ("summarizer",)),
        Step("review", ("reviewer",)),
    ),
}
TASK_TYPES = tuple(PLANS)

FALLBACK_PENALTY = 0.85
"""Quality factor of a task that needed a fallback provider."""


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    quality_score: float
    cost_usd: float


class Orchestrator:
    def __init__(self, providers: ProviderClient) -> None:
        self._providers = providers

    async def run(self, task: TaskRecord) -> Outcome:
        results: list[AgentResult] = []
        for step in PLANS[task.type]:
            with _tracer.start_as_current_span(f"step {step.name}"):
                results.extend(await self._run_step(step, task, tuple(results)))
        return self._outcome(results)

    async def _run_step(
        self, step: Step, task: TaskRecord, inputs: Sequence[AgentResult]
    ) -> list[AgentResult]:
        runs = [AGENTS[name].run(self._providers, task, inputs) for name in step.agents]
        if len(runs) == 1:
            return [await runs[0]]
        settled = await asyncio.gather(*runs, return_exceptions=True)
        for item in settled:  # every sibling has finished; the first failure fails the step
            if isinstance(item, BaseException):
                raise item
        return list(settled)  # type: ignore[arg-type]

    @staticmethod
    def _outcome(results: Sequence[AgentResult]) -> Outcome:
        by_agent = {r.agent: r for r in results}
        quality = review_score(by_agent["reviewer"])
        if any(r.completion.fallback_from for r in results):
            quality *= FALLBACK_PENALTY
        answer = by_agent.get("writer") or by_agent.get("summarizer") or results[-1]
        cost = sum(r.completion.cost_usd for r in results)
        return Outcome(
            result={
                "answer": answer.completion.content[:1000],
                "agents": [
                    {
                        "agent": r.agent,
                        "provider": r.completion.provider,
                        "model": r.completion.model,
                        "input_tokens": r.completion.input_tokens,
                        "output_tokens": r.completion.output_tokens,
                        "cost_usd": r.completion.cost_usd,
                        "fallback_from": r.completion.fallback_from,
                    }
                    for r in results
                ],
            },
            quality_score=round(quality, 4),
            cost_usd=cost,
        )
