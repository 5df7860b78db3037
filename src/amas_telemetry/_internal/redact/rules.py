"""The secret shapes, as :class:`~amas_telemetry._internal.redact.engine.Rule` s.

Which shapes: the ones public secret-scanning rule sets list (gitleaks, detect-secrets,
GitHub secret scanning): provider key prefixes, JWTs, PEM private keys, credentials in URLs,
``Authorization``/``Cookie`` headers, and ``name = value`` pairs whose name ends in a secret
word (``POSTGRES_PASSWORD``, ``db_password``, ``SECRET_KEY``, ``accessToken``,
``clientSecret``, ``X-Amz-Signature``…) in query strings, JSON (also backslash-escaped),
env lines, reprs and SQL (``PASSWORD '…'``, ``IDENTIFIED BY '…'``).

Secrets, not words: a prefixed key must hold a random-looking run (``sk-prod-cluster-eu-1``
is a name), and a value in prose (``token: …``, ``Bearer …``) must look generated; an
assignment (``password=…``) or a quoted value is always a secret.
"""

from __future__ import annotations

import re
from typing import Final

from amas_telemetry._internal.redact.engine import (
    REDACTED_BYTES,
    Decision,
    Match,
    Rule,
    anchored,
    looks_random,
    looks_secret,
)

__all__ = ["AUTH_SCHEMES", "PAIRS", "PEM_KEYS", "QUERY_SECRETS", "RULES", "TOKEN_SHAPES", "URL_CREDENTIALS"]

# A shape may follow a non-alphanumeric character or an escape: `%3Dsk-…`, `\nsk-…` in a repr.
_BOUNDARY: Final = (
    r"""(?:^|[^A-Za-z0-9]|%[0-9A-Fa-f]{2}|\\[nrtvfab0'"\\]|\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4})"""
)

_KEY_SHAPES: Final = (
    r"sk-[A-Za-z0-9_\-]{16,}",  # OpenAI (sk-proj-…), Anthropic (sk-ant-…), DeepSeek…: checked by looks_random
    r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe secret and restricted keys
    r"whsec_[A-Za-z0-9+/=]{16,}",  # Stripe webhook secret
    r"github_pat_[A-Za-z0-9_]{22,}",  # GitHub fine-grained token
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub classic, OAuth, user-to-server, server, refresh
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack
    r"xapp-[A-Za-z0-9\-]{10,}",  # Slack app-level
    r"(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}",  # AWS access key id
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
    r"ya29\.[0-9A-Za-z_\-]{20,}",  # Google OAuth access token
    r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"gsk_[A-Za-z0-9]{40,}",  # Groq
    r"npm_[A-Za-z0-9]{36,}",  # npm
    r"pypi-AgE[A-Za-z0-9_\-]{50,}",  # PyPI
    r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",  # SendGrid
    r"sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,}",  # Square
    r"dop_v1_[a-f0-9]{64}",  # DigitalOcean
    r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",  # Shopify
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",  # JWT (also unsigned)
    r"hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}",  # Slack webhook
)


def _token_shape(m: Match) -> Decision:
    key = m.group("shape_key") or b""
    if key.startswith(b"sk-") and not looks_random(key[3:]):
        return None, m.end, m.end  # a name like sk-prod-cluster-eu-west-1
    pre_end = m.bounds("shape_pre")[1]
    return m.data[m.start : pre_end] + REDACTED_BYTES, m.end, m.end


TOKEN_SHAPES: Final = Rule(
    "shape", rf"(?P<shape_pre>{_BOUNDARY})(?P<shape_key>{'|'.join(_KEY_SHAPES)})", _token_shape
)
"""Provider keys and tokens by their prefix, wherever they stand."""


_PEM_HEAD = r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_TAIL = r"-----END[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----"


def _pem(m: Match) -> Decision:
    head_end = m.data.find(b"-----", m.start + 10) + 5
    if m.data.startswith(REDACTED_BYTES, head_end):
        return None, m.end, m.end  # scrubbed already
    tail = b"-----END PRIVATE KEY-----" if m.data.find(b"-----END", m.start + 10, m.end) >= 0 else b""
    return b"-----BEGIN PRIVATE KEY-----" + REDACTED_BYTES + tail, m.end, m.end


PEM_KEYS: Final = Rule("pem", rf"{_PEM_HEAD}(?:[\s\S]*?{_PEM_TAIL}|[A-Za-z0-9+/=\s\\:.,\-]*)", _pem)
"""PEM private-key blocks (RSA, EC, DSA, OpenSSH, PGP, PKCS#8), also with escaped newlines."""


_URL_PASSWORD = anchored(r"[^\s?#]*@")  # greedy: a password may hold '@' and '/'
_ENCODED_URL_PASSWORD = anchored(r"[^\s&#]*%40")


def _url(m: Match) -> Decision:
    encoded = m.group("url_sep") != b"://"
    end = (_ENCODED_URL_PASSWORD if encoded else _URL_PASSWORD).end(m.data, m.end)
    at = 3 if encoded else 1
    if end < 0 or end - at == m.end:
        return None, m.end, m.end
    return m.data[m.start : m.end] + REDACTED_BYTES, end - at, end


URL_CREDENTIALS: Final = Rule(
    "url",
    r"(?i:[a-z][a-z0-9+.\-]*)(?P<url_sep>://|%3[Aa]%2[Ff]%2[Ff])[^\s:/@?#%]*(?::|%3[Aa])",
    _url,
)
"""``postgresql://user:secret@host``, also percent-encoded (``https%3A%2F%2Fu%3Ap%40h``)."""


def _auth_scheme(m: Match) -> Decision:
    start, end = m.bounds("scheme_v")
    if looks_secret(m.data[start:end]):
        return m.data[m.start : start] + REDACTED_BYTES, end, end
    return None, start, start


AUTH_SCHEMES: Final = Rule(
    "scheme", r"\b(?i:bearer|basic|token)\s+(?P<scheme_v>[A-Za-z0-9._~+/=\-]{8,})", _auth_scheme
)
"""``Bearer eyJ…`` / ``Basic dXNl…`` in prose; ``Bearer authentication required`` stays."""


_SECRET_WORDS: Final = (
    r"password|passwd|passphrase|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key"
    r"|secret[_\-]?key|credentials?|authorization|cookie|signature|session[_\-]?id|sessionid|auth|dsn"
)
SECRET_NAME: Final = re.compile(rf"(?i)(?:{_SECRET_WORDS})\Z")
"""A name (attribute key, parameter) whose value is a secret: it ends in a secret word.

Python ``re`` is fine here: an anchored alternation of literals, on short names."""

_SQL_QUOTED = anchored(r"(?:[^']|'')*")
_JSON_QUOTED = anchored(r"""(?:[^"\\]|\\[\s\S])*""")
_UNQUOTED = anchored(r"""[^\s"'<>]*""")
_ENV_LINE = anchored(r"[^\r\n]*")
_LINE = anchored(r"""[^\r\n"'\\]*""")
_SCHEME_WORD = anchored(r"(?i:bearer|basic|digest|token|negotiate|ntlm|aws4-hmac-sha256|apikey|key)\s+")
_ESCAPES: Final = (b"\\n", b"\\r", b"\\t", b'\\"', b"\\'")
_PAIR_SPLIT = re.compile(rb"&|%26")
_PAIR_NAME = re.compile(rb"[A-Za-z0-9_.\-\[\]]+(?:=|%3[Dd])")
_NAME_ONLY = re.compile(rb"[A-Za-z0-9_.\-\[\]]+")


def _value_end(m: Match, open_quote: bytes) -> int:
    """Where the value after ``name=`` ends (before its closing quote)."""
    data, pos = m.data, m.end
    if open_quote == b'"':
        end = _JSON_QUOTED.end(data, pos)
        # `\\"` closes a JSON string, but in JSON inside a repr it is an escaped quote: a value
        # ending in a backslash runs on to the next quote (over-redacting plain JSON, rarely)
        while data[end - 1 : end] == b"\\" and end < len(data) and end > pos:
            end = _JSON_QUOTED.end(data, end + 1)
        return end
    if open_quote == b"'":
        return _SQL_QUOTED.end(data, pos)
    if open_quote:  # backslash-escaped quote: up to the same escaped quote
        found = data.find(open_quote, pos)
        return found if found >= 0 else _UNQUOTED.end(data, pos)
    end = _UNQUOTED.end(data, pos)
    for escape in _ESCAPES:  # a repr's escape ends the value
        found = data.find(escape, pos, end)
        if found >= 0:
            end = found
    while end > pos and data[end - 1] in b")]}>":
        end -= 1
    return end


def _redact_query_tail(value: bytes) -> bytes:
    """``hunter2&next=/&token=x`` → ``[REDACTED]&next=/&token=[REDACTED]``.

    A ``&`` (or ``%26``) starts a new parameter only when ``name=`` follows; otherwise it is
    part of the password. Linear: each separator and name is looked at once.
    """
    starts = []
    for sep in _PAIR_SPLIT.finditer(value):
        name = _PAIR_NAME.match(value, sep.end())
        if name is not None:
            starts.append((sep.start(), sep.end(), name.end()))
    pieces = [REDACTED_BYTES]
    for i, (sep_start, name_start, value_start) in enumerate(starts):
        value_end = starts[i + 1][0] if i + 1 < len(starts) else len(value)
        raw_name = _NAME_ONLY.match(value, name_start)
        # the secret word ends the name: its last 64 characters decide (and bound the search)
        secret = (
            raw_name is not None and SECRET_NAME.search(raw_name.group()[-64:].decode("ascii")) is not None
        )
        pieces.append(value[sep_start:value_start])
        pieces.append(REDACTED_BYTES if secret and value_end > value_start else value[value_start:value_end])
    return b"".join(pieces)


def _redact_cookies(value: bytes) -> bytes:
    parts = []
    for cookie in value.split(b";"):
        name, eq, _ = cookie.partition(b"=")
        parts.append(name + b"=" + REDACTED_BYTES if eq else (REDACTED_BYTES if cookie.strip() else cookie))
    return b";".join(parts)


def _is_env_name(name: bytes) -> bool:
    """``POSTGRES_PASSWORD`` (also at the end of ``app.`` or a repr's ``\\n``): upper case."""
    tail = name[len(name.rstrip(_ENV_CHARS)) :]
    return len(tail) >= 3 and tail.isupper()


_ENV_CHARS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _pair(m: Match) -> Decision:
    name = (m.group("pair_name") or b"").lower()
    sep = (m.group("pair_sep") or b"").lower()
    open_quote = m.group("pair_open") or b""
    value_start = m.end
    keep: Decision = (None, value_start, value_start)
    if m.data.startswith(REDACTED_BYTES, value_start):
        return keep  # scrubbed already (logs pass two scrubbers)
    if not open_quote and not sep.strip():
        return keep  # "password reset page", "cookie token": no assignment
    if name.endswith(b"cookie") and not open_quote:
        end = _LINE.end(m.data, value_start)
        return m.data[m.start : value_start] + _redact_cookies(m.data[value_start:end]), end, end
    if not open_quote and sep == b"=" and _is_env_name(m.group("pair_name") or b""):
        end = _ENV_LINE.end(m.data, value_start)  # an env line, POSTGRES_PASSWORD=pa ss: to its end
        for escape in (b"\\n", b"\\r"):  # or to an escaped line break in a repr
            found = m.data.find(escape, value_start, end)
            end = found if found >= 0 else end
    else:
        end = _value_end(m, open_quote)
    if name.endswith(b"authorization"):
        scheme_end = _SCHEME_WORD.end(m.data, value_start)
        if scheme_end > 0 and not open_quote:
            end = _UNQUOTED.end(m.data, scheme_end)
        cut = min(max(scheme_end, value_start), end)
        if end <= cut:
            return keep
        return m.data[m.start : cut] + REDACTED_BYTES, end, end
    value = m.data[value_start:end]
    if name.endswith(b"cookie"):
        return m.data[m.start : value_start] + _redact_cookies(value), end, end
    if not value or value.lower() in _EMPTY_WORDS:
        return keep
    if open_quote:
        return m.data[m.start : value_start] + REDACTED_BYTES, end, end
    core = sep.strip()
    if core in (b":", b"%3a") and sep[-1:] in (b" ", b"\t") and not looks_secret(value):
        return keep  # prose: "password: must be at least 12 characters"
    return m.data[m.start : value_start] + _redact_query_tail(value), end, end


_EMPTY_WORDS: Final = frozenset({b"null", b"none", b"nil", b"true", b"false", b"undefined", b"[redacted]"})


PAIRS: Final = Rule(
    "pair",
    rf"(?P<pair_name>(?i:[A-Za-z0-9_.\-]*?(?:{_SECRET_WORDS})|identified\s+by))"
    r"""(?P<pair_q>\\*["'])?(?P<pair_sep>\s*(?:=>|=|:|%3[Dd]|%3[Aa])\s*|\s+)(?P<pair_open>\\*["']|)""",
    _pair,
)
"""``name=value`` whose name ends in a secret word: query strings, JSON, env lines, SQL."""


def _query_secret(m: Match) -> Decision:
    end = _UNQUOTED.end(m.data, m.end)
    amp = m.data.find(b"&", m.end, end)
    end = amp if amp >= 0 else end
    if end == m.end:
        return None, m.end, m.end
    return m.data[m.start : m.end] + REDACTED_BYTES, end, end


QUERY_SECRETS: Final = Rule("query", r"(?:[?&]|%3[Ff]|%26)(?i:code|sig)(?:=|%3[Dd])", _query_secret)
"""Query parameters that are secrets only in a URL: OAuth ``?code=``, Azure SAS ``&sig=``."""

RULES: Final = (AUTH_SCHEMES, PAIRS, URL_CREDENTIALS, TOKEN_SHAPES, PEM_KEYS, QUERY_SECRETS)
"""All rules, in the order that breaks ties between matches starting at the same place."""
