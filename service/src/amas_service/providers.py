"""AI providers through the real ``openai`` and ``anthropic`` SDKs, with ordered fallback and a
breaker each.

Anthropic is called through its messages API, every other provider through the
OpenAI-compatible chat-completions API. The GenAI span of each attempt comes from the SDK's
OTel instrumentation (:mod:`.genai_clients`); ``genai_call`` adds what only we know: the
provider's name as the conventions spell it, its address, and ``amas.ai.fallback_from`` (the
first provider that failed or was skipped by its open breaker). Streamed calls are timed
onto that span (time to first chunk). Cost is left to amas_telemetry's price table.
API keys go to the SDK clients only; nothing here puts them on a span or in a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from amas_service.breaker import CircuitBreaker
from amas_service.genai_clients import SdkClients
from amas_service.pricing import cost_usd
from amas_service.settings import ProviderConfig
from amas_telemetry import genai_call
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


_TIMEOUTS = (openai.APITimeoutError, anthropic.APITimeoutError)
_UNREACHABLE = (openai.APIConnectionError, anthropic.APIConnectionError)
_STATUS = (openai.APIStatusError, anthropic.APIStatusError)


def _provider_error(error: Exception, timeout: float) -> ProviderError:
    """The SDK's exception as one of ours (timeouts first: they subclass connection errors)."""
    if isinstance(error, _TIMEOUTS):
        return ProviderTimeout(f"no answer within {timeout} s")
    if isinstance(error, _UNREACHABLE):
        return ProviderUnreachable(type(error).__name__)
    if isinstance(error, _STATUS):
        status = error.status_code
        message = f"HTTP {status}: {str(error.message)[:200]}"
        return ProviderUnavailable(message) if status >= 500 or status == 429 else ProviderRejected(message)
    return ProviderRejected(f"unreadable answer: {type(error).__name__}")


class ProviderClient:
    """Calls providers in order until one answers."""

    def __init__(
        self,
        providers: Sequence[ProviderConfig],
        *,
        timeout: float,
        failure_threshold: int,
        reset_seconds: float,
    ) -> None:
        self._providers = tuple(providers)
        self._timeout = timeout
        self._sdk = SdkClients(self._providers, timeout)
        self.breakers: Mapping[str, CircuitBreaker] = {
            p.name: CircuitBreaker(p.name, failure_threshold=failure_threshold, reset_seconds=reset_seconds)
            for p in providers
        }

    async def aclose(self) -> None:
        await self._sdk.aclose()

    def breaker_states(self) -> Iterable[tuple[float, Mapping[str, Any]]]:
        """Readings of the ``amas.ai.breaker.state`` gauge."""
        return [(float(b.peek().value), {sc.GEN_AI_PROVIDER_NAME: name}) for name, b in self.breakers.items()]

    def _chain(self, prefer: str | None) -> tuple[ProviderConfig, ...]:
        """The fallback order, with the preferred provider (if configured) moved first."""
        first = tuple(p for p in self._providers if p.name == prefer)
        return first + tuple(p for p in self._providers if p.name != prefer)

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        stream: bool = False,
        prefer: str | None = None,
    ) -> Completion:
        failed_first: str | None = None
        failures: list[str] = []
        for provider in self._chain(prefer):
            breaker = self.breakers[provider.name]
            if not breaker.allow():
                failed_first = failed_first or provider.name
                failures.append(f"{provider.name}: circuit open")
                continue
            settled = False
            try:
                completion = await self._call(provider, messages, max_tokens, failed_first, stream)
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
        stream: bool,
    ) -> Completion:
        host, port = self._sdk.address(provider)
        with genai_call(
            fallback_from=fallback_from, provider_name=provider.name, server_address=host, server_port=port
        ) as call:
            try:
                if provider.name == "anthropic":
                    content, usage = await self._sdk.anthropic_chat(
                        provider, messages, max_tokens, stream, call
                    )
                else:
                    content, usage = await self._sdk.openai_chat(provider, messages, max_tokens, stream, call)
            except ProviderError:
                raise
            except Exception as error:
                raise _provider_error(error, self._timeout) from None
        response_model, input_tokens, output_tokens, cached_tokens = usage
        return Completion(
            provider=provider.name,
            model=provider.model,
            response_model=response_model,
            content=content,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd(provider.name, response_model, input_tokens, output_tokens, cached_tokens),
            fallback_from=fallback_from,
        )
