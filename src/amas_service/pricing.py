"""Price table: US dollars per million tokens, by model; ``cost_usd`` of one call."""

from __future__ import annotations

import logging
from collections.abc import Mapping

__all__ = ["PRICES", "cost_usd"]

_log = logging.getLogger(__name__)

PRICES: Mapping[str, tuple[float, float]] = {
    # model: (input, output) USD per 1M tokens
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "mistral-small": (0.20, 0.60),
    "mistral-large": (2.00, 6.00),
}

_warned: set[str] = set()


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """Cost of one call; 0 (and one warning) for a model missing from the table."""
    prices = PRICES.get(model)
    if prices is None:
        if model not in _warned:
            _warned.add(model)
            _log.warning("no price for model %s: its calls are counted at 0 USD", model)
        return 0.0
    return (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000
