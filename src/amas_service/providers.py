"""AI providers over HTTP (chat-completions API) with ordered fallback and a breaker each.

Every attempt is one ``chat {model}`` GenAI span (the httpx client span nests inside). A
call served by a later provider carries ``amas.ai.fallback_from`` = the first provider
that failed or was skipped by its open breaker. API keys go in the Authorization header
only; nothing here puts them on a span or in a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from amas_service.breaker import CircuitBreaker
from amas_service.pricing import cost_usd
from amas_service.settings import ProviderConfig
from amas_telemetry import genai_span, record_fallback, record_genai_usage
from amas_telemetry import semconv as sc

__all__ = [
    "AllProvidersFailed",
    "Completion",
    "ProviderClient",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "ProviderUnreachable",
]

_log = logging.getLogger(__name__)


class ProviderError(Exception):
    """One provider failed one call. The class name becomes the span's ``error.type``."""

    breaker_fault = True
    """Does this failure count towards opening the provider's breaker?"""


class ProviderUnavailable(ProviderError):
    """5xx or 429: the provider is down or overloaded."""


class ProviderTimeout(ProviderError):
    pass


class ProviderUnreachable(ProviderError):
    """Connection refused, reset, DNS: nothing answered."""


class ProviderRejected(ProviderError):
    """4xx other than 429 (bad key, context too long) or an unreadable answer: this request's fault."""

    breaker_fault = False


class AllProvidersFailed(Exception):
    """No provider in the fallback list could serve the call."""


@dataclass(frozen=True)
class Completion:
    provider: str
    model: str
    response_model: str
    content: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    fallback_from: str | None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase


class ProviderClient:
    """Calls providers in order until one answers."""

    def __init__(
        self,
        providers: Sequence[ProviderConfig],
        http: httpx.AsyncClient,
        *,
        failure_threshold: int,
        reset_seconds: float,
    ) -> None:
        self._providers = tuple(providers)
        self._http = http
        self.breakers: Mapping[str, CircuitBreaker] = {
            p.name: CircuitBreaker(p.name, failure_threshold=failure_threshold, reset_seconds=reset_seconds)
            for p in providers
        }

    def breaker_states(self) -> Iterable[tuple[float, Mapping[str, Any]]]:
        """Readings of the ``amas.ai.breaker.state`` gauge."""
        return [(float(b.peek().value), {sc.GEN_AI_PROVIDER_NAME: name}) for name, b in self.breakers.items()]

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int = 256) -> Completion:
        failed_first: str | None = None
        failures: list[str] = []
        for provider in self._providers:
            breaker = self.breakers[provider.name]
            if not breaker.allow():
                failed_first = failed_first or provider.name
                failures.append(f"{provider.name}: circuit open")
                continue
            settled = False
            try:
                with genai_span(provider.name, provider.model) as span:
                    if failed_first is not None:
                        record_fallback(span, failed_first)
                    completion = await self._call(provider, messages, max_tokens, failed_first)
                    record_genai_usage(
                        span,
                        input_tokens=completion.input_tokens,
                        output_tokens=completion.output_tokens,
                        cost_usd=completion.cost_usd,
                        response_model=completion.response_model,
                    )
                breaker.record_success()
                settled = True
                if failed_first is not None:
                    _log.info("served by fallback provider %s after %s failed", provider.name, failed_first)
                return completion
            except ProviderError as error:
                if error.breaker_fault:
                    breaker.record_failure()
                    settled = True
                failed_first = failed_first or provider.name
                failures.append(f"{provider.name}: {error}")
                _log.warning("provider %s failed (%s): %s", provider.name, type(error).__name__, error)
            finally:
                if not settled:
                    breaker.release()
        raise AllProvidersFailed("no AI provider could answer: " + "; ".join(failures))

    async def _call(
        self,
        provider: ProviderConfig,
        messages: list[dict[str, str]],
        max_tokens: int,
        fallback_from: str | None,
    ) -> Completion:
        headers = {"Authorization": f"Bearer {provider.api_key}"} if provider.api_key else {}
        body = {"model": provider.model, "messages": messages, "max_tokens": max_tokens}
        try:
            response = await self._http.post(
                f"{provider.base_url}/v1/chat/completions", json=body, headers=headers
            )
        except httpx.TimeoutException:
            raise ProviderTimeout(f"no answer within {self._http.timeout.read} s") from None
        except httpx.TransportError as error:
            raise ProviderUnreachable(type(error).__name__) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(f"HTTP {response.status_code}: {_error_message(response)}")
        if response.status_code >= 400:
            raise ProviderRejected(f"HTTP {response.status_code}: {_error_message(response)}")
        try:
            data = response.json()
            usage = data["usage"]
            input_tokens, output_tokens = int(usage["prompt_tokens"]), int(usage["completion_tokens"])
            content = str(data["choices"][0]["message"]["content"])
            response_model = str(data.get("model") or provider.model)
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderRejected("unreadable chat-completions answer") from None
        return Completion(
            provider=provider.name,
            model=provider.model,
            response_model=response_model,
            content=content,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd(provider.model, input_tokens, output_tokens),
            fallback_from=fallback_from,
        )
