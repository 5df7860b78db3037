"""GenAI calls (import: ``semconv``).

``span_attributes``: what the derivation rules read from a GenAI span, whoever made it (our
helpers, openai-v2, anthropic); ``calls``: context for a call whose span someone else makes
(fallbacks, streams, agent totals); ``pricing``: cost from genai-prices.
"""
