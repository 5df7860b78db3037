"""Metrics derived from every span, sampled or not: a table of rules.

``rules`` (what a rule is; predicates and getters), ``table`` (the default rules), ``limiter``
(cardinality), ``processor`` (the span processor that matches rules), ``aggregate`` (our own
aggregation, added to every reader's collection), ``active`` (active requests), ``sql``.
"""
