"""The settings of ``configure()`` (import: ``redact``, to scrub values shown in errors).

``setting``: what one setting is (default, parser, variables, doc); ``settings``: the table,
one field of :class:`Settings` per keyword; ``resolve``: keyword > environment > default, and
``configure()``'s typed signature; ``parsers`` and ``otlp_parsers``: one parser per kind of
value, and :class:`ConfigError`.
"""
