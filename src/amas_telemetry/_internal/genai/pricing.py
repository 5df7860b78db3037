"""Cost of a GenAI call from the maintained price table ``genai-prices`` (the one Logfire uses).

A full ``genai_prices.calc_price`` (model matching, unit decomposition, Decimal arithmetic)
costs too much for the span-end path (benchmarks/RESULTS.md, section 7). Token prices
without tiers are linear in the usage counts, so :class:`PriceTable` asks genai-prices once
per (provider, model) for the price of one million of each token kind and then prices a call
with a few Decimal products.
A model whose prices have tiers (the rate depends on the call's size) is priced by
genai-prices itself, call by call. A test compares both paths with ``calc_price``.

The resolved rates are kept for an hour, so a dated price change in the table takes effect.
A model the table does not know is never guessed: :meth:`PriceTable.cost` returns ``None``.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["GENAI_PRICES_PROVIDER_IDS", "PriceTable", "TokenUsage"]

_log = logging.getLogger(__name__)

GENAI_PRICES_PROVIDER_IDS: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
}
"""``gen_ai.provider.name`` (as the conventions list it) → the provider id of genai-prices."""

_MILLION = 1_000_000
_RATE_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one call, as the GenAI conventions define them.

    ``input_tokens`` includes cached input (read and written); ``output_tokens`` includes
    reasoning tokens. genai-prices counts them the same way.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def as_genai_prices(self) -> dict[str, int]:
        usage = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        if self.cache_read_tokens:
            usage["cache_read_tokens"] = self.cache_read_tokens
        if self.cache_write_tokens:
            usage["cache_write_tokens"] = self.cache_write_tokens
        if self.reasoning_tokens:
            usage["output_reasoning_tokens"] = self.reasoning_tokens
        return usage


class _LinearRates:
    """USD per token of each kind, marginal to the kind it is part of (cache ⊂ input)."""

    __slots__ = ("cache_read", "cache_write", "input", "output", "reasoning")

    def __init__(self, price: Any) -> None:
        base_in = _calc(price, input_tokens=_MILLION)
        base_out = _calc(price, output_tokens=_MILLION)
        self.input = base_in / _MILLION
        self.output = base_out / _MILLION
        self.cache_read = (
            _calc(price, input_tokens=_MILLION, cache_read_tokens=_MILLION) - base_in
        ) / _MILLION
        self.cache_write = (
            _calc(price, input_tokens=_MILLION, cache_write_tokens=_MILLION) - base_in
        ) / _MILLION
        self.reasoning = (
            _calc(price, output_tokens=_MILLION, output_reasoning_tokens=_MILLION) - base_out
        ) / _MILLION

    def cost(self, usage: TokenUsage) -> Decimal:
        return (
            usage.input_tokens * self.input
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
            + usage.output_tokens * self.output
            + usage.reasoning_tokens * self.reasoning
        )


class _TieredRates:
    """Prices with tiers: genai-prices prices every call itself (exact, slower)."""

    __slots__ = ("price",)

    def __init__(self, price: Any) -> None:
        self.price = price

    def cost(self, usage: TokenUsage) -> Decimal:
        return _calc(self.price, **usage.as_genai_prices())


def _calc(price: Any, **usage: int) -> Decimal:
    from genai_prices import Usage

    return Decimal(price.calc_price(Usage(**usage))["total_price"])


class PriceTable:
    """Per-(provider, model) rates resolved from genai-prices, cached; thread-safe."""

    def __init__(self, ttl_seconds: float = _RATE_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._rates: dict[tuple[str, str], tuple[float, _LinearRates | _TieredRates | None]] = {}
        self._lock = threading.Lock()

    def knows(self, provider: str | None, model: str | None) -> bool:
        return self._rates_for(provider, model) is not None

    def cost(self, provider: str | None, model: str | None, usage: TokenUsage) -> float | None:
        """USD of one call, or ``None`` when the table has no price for this model."""
        rates = self._rates_for(provider, model)
        return None if rates is None else float(rates.cost(usage))

    def _rates_for(self, provider: str | None, model: str | None) -> _LinearRates | _TieredRates | None:
        if not model:
            return None
        key = (provider or "", model)
        entry = self._rates.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        with self._lock:
            rates = _resolve(provider, model)
            self._rates[key] = (now + self._ttl, rates)
        return rates


def _resolve(provider: str | None, model: str) -> _LinearRates | _TieredRates | None:
    try:
        from datetime import UTC, datetime

        from genai_prices import data_snapshot
        from genai_prices.types import TieredPrices
    except ImportError:
        _log.warning("amas_telemetry: genai-prices is not installed (pip install 'amas-telemetry[genai]')")
        return None
    provider_id = GENAI_PRICES_PROVIDER_IDS.get(provider or "", provider or None)
    try:
        snapshot = data_snapshot.get_snapshot()
        _, model_info = snapshot.find_provider_model(model, None, provider_id, None)
        price = model_info.get_prices(datetime.now(tz=UTC))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if any(isinstance(v, TieredPrices) for v in vars(price).values()):
                return _TieredRates(price)
            return _LinearRates(price)
    except (LookupError, ValueError):
        _log.info("amas_telemetry: no price for model %r of provider %r", model, provider)
        return None
