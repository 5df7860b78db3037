"""The secret shapes, as :class:`~amas_telemetry._internal.redact.engine.Rule` s.

Which shapes: the ones the maintained secret-scanning lists name (gitleaks, GitHub secret
scanning, trufflehog): provider token formats (:mod:`.providers`), JWTs, PEM private keys,
credentials in URLs and ``curl -u``, ``Authorization``/``Cookie`` headers, and ``name = value``
pairs whose name ends in a secret word (``POSTGRES_PASSWORD``, ``db_password``, ``SECRET_KEY``,
``accessToken``, ``clientSecret``, ``AccountKey``, ``X-Amz-Signature``, ``the api key``…) in
query strings, JSON (also backslash-escaped, also in a URL), env lines, reprs, XML, SQL
(``PASSWORD '…'``, ``IDENTIFIED BY '…'``) and prose; a value that is itself a credential
(``auth=Bearer …``) keeps its scheme.

Secrets, not words: a prefixed key whose prefix also starts words must hold a random-looking
run (``sk-prod-cluster-eu-1`` is a name), and a value in prose (``token: …``, ``Bearer …``,
``the api key is …``) must look generated; an assignment (``password=…``) or a quoted value
is always a secret.
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
from amas_telemetry._internal.redact.providers import KEY_SHAPES, TAIL

__all__ = [
    "AUTH_SCHEMES",
    "CLI_CREDENTIALS",
    "PAIRS",
    "PEM_KEYS",
    "QUERY_SECRETS",
    "RULES",
    "TOKEN_SHAPES",
    "URL_CREDENTIALS",
]

# A shape starts a word: after a non-word character (zero-width, so a shape right after a
# value a rule kept is still found), an underscore, or an escape (`%3Dsk-…`, `\\nsk-…` in a repr).
# The pattern has no groups (groups over a hundred alternatives cost an NFA pass per match):
# the handler finds where the key starts.
_CONSUMED_BOUNDARY: Final = r"""_|%[0-9A-Fa-f]{2}|\\[nrtvfab0'"\\]|\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}"""
_SHAPE: Final = rf"(?:{'|'.join(s.pattern for s in KEY_SHAPES)}){TAIL}"
_CONSUMED = anchored(f"(?:{_CONSUMED_BOUNDARY})")
_SHAPE_AT = anchored(_SHAPE)

_RANDOM_PREFIXES: Final = tuple(shape.prefix.encode() for shape in KEY_SHAPES if shape.random)


def _needs_random_body(key: bytes) -> bool:
    """A shape whose prefix also starts words (``sk-``, ``secret_``) whose body is not random:
    ``sk-prod-cluster-eu-west-1`` is a name."""
    for prefix in _RANDOM_PREFIXES:
        if key.startswith(prefix):
            return not looks_random(key[len(prefix) :])
    return False


def _key_start(m: Match) -> int:
    """Past the boundary the match took (``_``, ``%3D``, ``\\n``), if it took one."""
    if m.data[m.start : m.start + 1] not in (b"_", b"%", b"\\"):
        return m.start
    after = _CONSUMED.end(m.data, m.start)
    return after if after > 0 and _SHAPE_AT.end(m.data, after) == m.end else m.start


def _token_shape(m: Match) -> Decision:
    key_start = _key_start(m)
    if _needs_random_body(m.data[key_start : m.end]):
        return None, m.end, m.end
    return m.data[m.start : key_start] + REDACTED_BYTES, m.end, m.end


TOKEN_SHAPES: Final = Rule(
    "shape",
    rf"(?:\b|{_CONSUMED_BOUNDARY}){_SHAPE}",
    _token_shape,
    trigger="|".join(s.trigger_pattern for s in KEY_SHAPES),
)
"""Provider keys and tokens by their prefix (:mod:`~amas_telemetry._internal.redact.providers`),
wherever they stand."""


_PEM_HEAD = r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_TAIL = r"-----END[A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----"


def _pem(m: Match) -> Decision:
    head_end = m.data.find(b"-----", m.start + 10) + 5
    if m.data.startswith(REDACTED_BYTES, head_end):
        return None, m.end, m.end  # scrubbed already
    tail = b"-----END PRIVATE KEY-----" if m.data.find(b"-----END", m.start + 10, m.end) >= 0 else b""
    return b"-----BEGIN PRIVATE KEY-----" + REDACTED_BYTES + tail, m.end, m.end


PEM_KEYS: Final = Rule(
    "pem", rf"{_PEM_HEAD}(?:[\s\S]*?{_PEM_TAIL}|[A-Za-z0-9+/=\s\\:.,\-]*)", _pem, trigger="private key"
)
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
    trigger=r"://|%3a%2f%2f",
)
"""``postgresql://user:secret@host``, also percent-encoded (``https%3A%2F%2Fu%3Ap%40h``)."""


def _auth_scheme(m: Match) -> Decision:
    start, end = m.bounds("scheme_v")
    if looks_secret(m.data[start:end]):
        return m.data[m.start : start] + REDACTED_BYTES, end, end
    return None, start, start


_SCHEME_SEP: Final = r"(?:\s+|\+|%20)"  # a space, also as a query string writes it

AUTH_SCHEMES: Final = Rule(
    "scheme",
    rf"\b(?i:bearer|basic|token){_SCHEME_SEP}(?P<scheme_v>[A-Za-z0-9._~+/=:\-]{{8,}})",
    _auth_scheme,
    trigger="bearer|basic|token",
)
"""``Bearer eyJ…`` / ``Basic dXNl…`` in prose and in query values (``Bearer%20…``,
``Bearer+…``); ``Bearer authentication required`` stays."""


# A secret word may be two (`api key`, `secret access key`: also with a space, as prose
# writes them); a name ending in `key` is a secret when a qualifier says which key.
_SECRET_WORDS: Final = (
    r"password|passwd|passphrase|pwd|secret|token|credentials?|authorization|cookie|signature"
    r"|session[_\- ]?id|sessionid|auth|dsn|apikey"
    r"|(?:api|access|private|secret|account|app|client|consumer|encryption|license|master|signing"
    r"|subscription|functions?|service|shared|storage|hmac|sas)[_\- ]?key"
)
SECRET_NAME: Final = re.compile(rf"(?i)(?:{_SECRET_WORDS})\Z")
"""A name (attribute key, parameter) whose value is a secret: it ends in a secret word.

Python ``re`` is fine here: an anchored alternation of literals, on short names."""

_SQL_QUOTED = anchored(r"(?:[^']|'')*")
_JSON_QUOTED = anchored(r"""(?:[^"\\]|\\[\s\S])*""")
_UNQUOTED = anchored(r"""[^\s"'<>]*""")
_ENV_LINE = anchored(r"[^\r\n]*")
_LINE = anchored(r"""[^\r\n"'\\]*""")
_SCHEME_WORD = anchored(
    rf"(?i:bearer|basic|digest|token|negotiate|ntlm|aws4-hmac-sha256|apikey|key){_SCHEME_SEP}"
)
_SCHEME_INITIALS: Final = frozenset(bytes([c]) for c in b"abdkntABDKNT")
_XML_TEXT = anchored(r"[^<\r\n]*")
_CLOSERS: Final = {b"<": b">", b"`": b"`"}
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
    if open_quote:  # backslash-escaped quote, `<…>`, a backtick: up to its closer
        found = data.find(_CLOSERS.get(open_quote, open_quote), pos)
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
    core = sep.strip()
    open_quote = m.group("pair_open") or b""
    value_start = m.end
    keep: Decision = (None, value_start, value_start)
    if m.data.startswith(REDACTED_BYTES, value_start):
        return keep  # scrubbed already (logs pass two scrubbers)
    if core == b">":
        return _xml_element(m)
    if not core and open_quote in _CLOSERS:
        return keep  # "token <= 5": no assignment
    if not open_quote and (not core or core in _PROSE_VERBS):
        return _prose(m)  # "api key AKxyz7890abc", "the password is …"; not "password reset page"
    if name.endswith(b"cookie") and not open_quote:
        end = _LINE.end(m.data, value_start)
        return m.data[m.start : value_start] + _redact_cookies(m.data[value_start:end]), end, end
    env_line = not open_quote and sep == b"=" and _is_env_name(m.group("pair_name") or b"")
    maybe_scheme = not (open_quote or env_line) and m.data[value_start : value_start + 1] in _SCHEME_INITIALS
    scheme_end = _SCHEME_WORD.end(m.data, value_start) if maybe_scheme else -1
    if scheme_end > 0:  # `auth=Bearer x`, `auth=Basic%20…`: the credential after the scheme
        end = _query_value_end(m.data, scheme_end)
        prose = _is_prose_colon(sep) and not name.endswith(b"authorization")
        if end == scheme_end or (prose and not looks_secret(m.data[scheme_end:end])):
            return None, scheme_end, scheme_end  # "password: token token"
        return m.data[m.start : scheme_end] + REDACTED_BYTES, end, end
    if env_line:
        end = _ENV_LINE.end(m.data, value_start)  # an env line, POSTGRES_PASSWORD=pa ss: to its end
        for escape in (b"\\n", b"\\r"):  # or to an escaped line break in a repr
            found = m.data.find(escape, value_start, end)
            end = found if found >= 0 else end
    else:
        end = _value_end(m, open_quote)
    if name.endswith(b"authorization"):
        scheme_end = _SCHEME_WORD.end(m.data, value_start)
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
    if _is_prose_colon(sep) and not looks_secret(value):
        return keep  # prose: "password: must be at least 12 characters"
    return m.data[m.start : value_start] + _redact_query_tail(value), end, end


def _is_prose_colon(sep: bytes) -> bool:
    """``password: …`` (a colon, then a space): a label in prose or a header, not an assignment."""
    return sep.strip() in (b":", b"%3a") and sep[-1:] in (b" ", b"\t")


_PROSE_VERBS: Final = frozenset({b"is", b"was", b"are", b"is:", b"was:", b"are:"})


def _prose(m: Match) -> Decision:
    """A name, then a space or ``is``: the next word, when it looks generated and is not
    short (``auth service2``, ``signature v1beta`` are prose; ``api key AKxyz7890abc`` is not)."""
    end = _value_end(m, b"")
    value = m.data[m.end : end].rstrip(b".,;:!?")
    if not (looks_secret(value) and (len(value) >= 10 or looks_random(value))):
        return None, m.end, m.end
    return m.data[m.start : m.end] + REDACTED_BYTES, m.end + len(value), m.end + len(value)


def _xml_element(m: Match) -> Decision:
    """``<password>secret</password>``: the element's text (the name opens a tag, and a
    closing tag follows the text; ``the <token> placeholder`` is prose)."""
    name_start = m.bounds("pair_name")[0]
    text_start = m.bounds("pair_sep")[1]
    end = _XML_TEXT.end(m.data, text_start)
    if (
        m.group("pair_q")
        or m.data[name_start - 1 : name_start] != b"<"
        or end == text_start
        or not m.data.startswith(b"</", end)
    ):
        return None, text_start, text_start
    return m.data[m.start : text_start] + REDACTED_BYTES, end, end


def _query_value_end(data: bytes, pos: int) -> int:
    """An unquoted value from ``pos``: to whitespace, a quote or bracket, or the next ``&``."""
    end = _UNQUOTED.end(data, pos)
    amp = data.find(b"&", pos, end)
    return amp if amp >= 0 else end


_EMPTY_WORDS: Final = frozenset({b"null", b"none", b"nil", b"true", b"false", b"undefined", b"[redacted]"})


PAIRS: Final = Rule(
    "pair",
    rf"(?P<pair_name>(?i:[A-Za-z0-9_.\-]*?(?:{_SECRET_WORDS})|identified\s+by))"
    r"""(?P<pair_q>\\*["'])?"""
    r"""(?P<pair_sep>\s*(?:=>|=|:|%3[Dd]|%3[Aa])\s*|>|\s+(?i:value)\s*=\s*|\s+(?i:is|was|are)(?::)?\s+|\s+)"""
    r"""(?P<pair_open>\\*["'\x60]|<|)""",
    _pair,
    trigger="pass|pwd|secret|token|key|credential|cookie|sig|session|auth|dsn|identified",
)
"""``name=value`` whose name ends in a secret word: query strings, JSON (also in a URL), env
lines, SQL, XML (``<password>…</password>``, ``key="…" value="…"``), and in prose (``the
api key is …``, ``--api-key …``) when the value looks generated."""


def _query_secret(m: Match) -> Decision:
    end = _UNQUOTED.end(m.data, m.end)
    amp = m.data.find(b"&", m.end, end)
    end = amp if amp >= 0 else end
    if end == m.end:
        return None, m.end, m.end
    return m.data[m.start : m.end] + REDACTED_BYTES, end, end


QUERY_SECRETS: Final = Rule(
    "query", r"(?:[?&]|%3[Ff]|%26)(?i:code|sig)(?:=|%3[Dd])", _query_secret, trigger="code|sig"
)
"""Query parameters that are secrets only in a URL: OAuth ``?code=``, Azure SAS ``&sig=``."""


def _cli_credentials(m: Match) -> Decision:
    end = _CLI_VALUE.end(m.data, m.end)
    if end <= m.end or m.data.startswith(REDACTED_BYTES, m.end):
        return None, m.end, m.end
    return m.data[m.start : m.end] + REDACTED_BYTES, end, end


_CLI_VALUE = anchored(r"""[^\s"']+""")

CLI_CREDENTIALS: Final = Rule(
    "cli", r"""\B(?:--user|-u)(?:\s+|=)["']?[^\s:"'@/]{1,64}:""", _cli_credentials, trigger=r"-u\s|--user"
)
"""``curl -u user:password``, ``--user=user:password``: the password."""

RULES: Final = (AUTH_SCHEMES, PAIRS, URL_CREDENTIALS, TOKEN_SHAPES, PEM_KEYS, QUERY_SECRETS, CLI_CREDENTIALS)
"""All rules, in the order that breaks ties between matches starting at the same place."""
