"""Agents: each builds its prompt from the task and earlier results, then asks a provider."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from amas_service.db import TaskRecord
from amas_service.providers import Completion, ProviderClient
from amas_telemetry import agent_span, tool_span

__all__ = ["AGENTS", "Agent", "AgentResult"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentResult:
    agent: str
    completion: Completion


@dataclass(frozen=True)
class Agent:
    name: str
    instructions: str
    max_tokens: int = 256
    stream: bool = False
    """Read the answer as a stream (time to first chunk is measured)."""
    provider: str | None = None
    """Provider tried first (if configured); the others follow in their configured order."""
    tools: tuple[str, ...] = ()
    """Tools (:data:`TOOLS`) run before the model call; their results join the prompt."""

    def prompt(
        self, task: TaskRecord, inputs: Sequence[AgentResult], notes: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        context = "\n\n".join(f"[{r.agent}]\n{r.completion.content}" for r in inputs)
        user = f"Task ({task.type}): {task.prompt}"
        if context:
            user += f"\n\nWork so far:\n{context}"
        if notes:
            user += "\n\nTool results:\n" + "\n".join(notes)
        return [{"role": "system", "content": self.instructions}, {"role": "user", "content": user}]

    def _run_tools(self, task: TaskRecord, inputs: Sequence[AgentResult]) -> list[str]:
        notes = []
        for name in self.tools:
            with tool_span(name, call_id=f"{name}:{task.id}"):
                notes.append(f"{name}: {TOOLS[name](task, inputs)}")
        return notes

    async def run(
        self, providers: ProviderClient, task: TaskRecord, inputs: Sequence[AgentResult]
    ) -> AgentResult:
        with agent_span(self.name, agent_id=f"{self.name}:{task.id}"):
            notes = self._run_tools(task, inputs)
            completion = await providers.chat(
                self.prompt(task, inputs, notes),
                max_tokens=self.max_tokens,
                stream=self.stream,
                prefer=self.provider,
            )
            _log.info(
                "agent %s answered via %s/%s: %d input and %d output tokens",
                self.name,
                completion.provider,
                completion.model,
                completion.input_tokens,
                completion.output_tokens,
            )
            return AgentResult(self.name, completion)


def _word_count(task: TaskRecord, inputs: Sequence[AgentResult]) -> str:
    words = len(task.prompt.split()) + sum(len(r.completion.content.split()) for r in inputs)
    return f"{words} words in the task and the work so far"


TOOLS: Mapping[str, Callable[[TaskRecord, Sequence[AgentResult]], str]] = {"word_count": _word_count}
"""Tools an agent may call: each call is an ``execute_tool`` span (``amas.tool.duration``)."""


_SCORE = re.compile(r"\bscore[:=\s]+([01](?:\.\d+)?)", re.IGNORECASE)


def review_score(result: AgentResult) -> float:
    """The reviewer's score (0..1) in its answer; 0.5 if it gave none."""
    match = _SCORE.search(result.completion.content)
    return min(1.0, max(0.0, float(match.group(1)))) if match else 0.5


AGENTS: Mapping[str, Agent] = {
    agent.name: agent
    for agent in (
        Agent("planner", "Break the task into at most five concrete steps."),
        Agent("researcher", "Collect the facts the plan needs; cite sources.", 384),
        Agent("analyst", "Analyse the facts: trade-offs, risks, numbers.", 384, tools=("word_count",)),
        Agent("security_reviewer", "Review the change for security problems.", 320),
        # a model genai-prices has no price for: its calls show in amas_ai_unpriced_calls_total
        Agent("style_reviewer", "Review the change for readability and style.", 256, provider="mistral_ai"),
        Agent("test_reviewer", "Review the change's tests and missing cases.", 256),
        Agent("summarizer", "Summarize the input faithfully and briefly.", 320, stream=True),
        Agent("writer", "Write the final answer from the work so far.", 512, stream=True),
        # the same instructions every time: Anthropic's prompt cache serves them (cached input tokens)
        Agent(
            "reviewer",
            "Rate the final answer: reply with 'score: <0..1>' and one sentence.",
            64,
            provider="anthropic",
        ),
    )
}
