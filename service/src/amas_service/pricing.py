"""Cost of one call for the task's result, from the same price table the metrics use."""

from __future__ import annotations

from amas_telemetry._internal.genai.pricing import PriceTable, TokenUsage

__all__ = ["cost_usd"]

_PRICES = PriceTable()


def cost_usd(
    provider: str, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0
) -> float:
    """USD of one call by genai-prices; 0 for a model it has no price for (the metrics count
    such calls in ``amas.ai.unpriced_calls``)."""
    usage = TokenUsage(input_tokens, output_tokens, cache_read_tokens=cached_tokens)
    return _PRICES.cost(provider, model, usage) or 0.0
