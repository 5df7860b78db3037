"""The settings of ``configure()`` (import: ``redact``, to scrub values shown in errors).

``settings``: the table (one :class:`Setting` per keyword) and its resolver; ``parsers``: one
parser per kind of value and :class:`ConfigError`.
"""
