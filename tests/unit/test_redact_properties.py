"""Property-based: secret shapes by places by sinks, and ordinary text that must survive.

Shapes are generated with random bodies (the families public secret-scanning rule sets
list), wrapped the ways text carries them (query strings, JSON, escaped JSON, env lines,
reprs, SQL, headers, percent-encoding), put into a random place, and every sink of
``CapturedTelemetry`` is searched for each random part of the secret. Bounded for CI:
``derandomize=True`` (the same examples every run), a fixed number of examples, no deadline.
"""

from __future__ import annotations

import base64
import json
import os
import string
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redaction_places import PLACES, clear, exported

import amas_telemetry
from amas_telemetry.redact import REDACTED, Scrubber
from amas_telemetry.testing import CapturedTelemetry

EXAMPLES = int(os.environ.get("AMAS_PROPERTY_EXAMPLES", "150"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ALNUM = string.ascii_letters + string.digits
PASSWORD_MARKS = " ,;&/@"


def core(min_size: int = 10, max_size: int = 24) -> st.SearchStrategy[str]:
    """A random run that looks generated: mixed case and a digit, as keys and passwords are."""
    return st.text(ALNUM, min_size=min_size, max_size=max_size).map(lambda s: f"Q7{s}x")


def exact(size: int, alphabet: str = ALNUM) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


# --- shapes: (text, the random parts that must not come out) ---------------------------------

KEY_SHAPES = st.one_of(
    core(20, 40).map(lambda b: f"sk-proj-{b}"),
    core(20, 40).map(lambda b: f"sk-ant-api03-{b}"),
    st.builds(lambda p, b: f"{p}_live_{b}", st.sampled_from(["sk", "rk"]), core(16, 30)),
    core(24, 32).map(lambda b: f"whsec_{b}"),
    core(30, 60).map(lambda b: f"github_pat_{b}"),
    st.builds(lambda p, b: f"gh{p}_{b}", st.sampled_from("pousr"), exact(36)),
    st.builds(lambda d, b: f"xoxb-{d}-{b}", exact(12, string.digits), core(16, 24)),
    exact(16, string.ascii_uppercase + string.digits).map(lambda b: f"AKIA{b}"),
    exact(35).map(lambda b: f"AIza{b}"),
    core(20, 40).map(lambda b: f"ya29.{b}"),
    core(20, 24).map(lambda b: f"glpat-{b}"),
    exact(34).map(lambda b: f"hf_{b}"),
    exact(52).map(lambda b: f"gsk_{b}"),
    exact(36).map(lambda b: f"npm_{b}"),
    st.builds(
        lambda h, p, s: f"eyJ{h}.eyJ{p}.{s}", core(10, 30), core(10, 60), st.text(ALNUM + "-_", max_size=43)
    ),
)


def _token(key: str) -> tuple[str, list[str]]:
    return key, [key[-12:]]


TOKEN_CONTEXTS = [
    "{}",
    "key {} used",
    "Authorization: Bearer {}",
    "Bearer {}",
    "x-api-key: {}",
    "https://api.example.com/v1?key=%3D{}",
    "'line\\n{}'",
    '{{"k": "{}"}}',
]
token_texts = st.builds(
    lambda key, ctx: (ctx.format(key), [key[-12:]]), KEY_SHAPES, st.sampled_from(TOKEN_CONTEXTS)
)

NAMES = [
    "password",
    "POSTGRES_PASSWORD",
    "db_password",
    "SECRET_KEY",
    "AWS_SESSION_TOKEN",
    "api_key",
    "apiKey",
    "accessToken",
    "clientSecret",
    "SecretAccessKey",
    "private_key",
    "auth_token",
    "refresh_token",
    "client_secret",
]


@st.composite
def password(draw: st.DrawFn, marks: str = PASSWORD_MARKS) -> tuple[str, list[str]]:
    """A password of random parts joined by marks (space , ; & / @) when the form allows them."""
    parts = draw(st.lists(core(6, 12), min_size=1, max_size=3))
    joints = [draw(st.sampled_from(marks)) if marks else "" for _ in parts[1:]]
    value = parts[0] + "".join(j + p for j, p in zip(joints, parts[1:], strict=True))
    return value, parts


@st.composite
def pair_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    name = draw(st.sampled_from(NAMES))
    form = draw(
        st.sampled_from(["assign", "query", "json", "escaped_json", "prose", "env", "sql", "repr", "encoded"])
    )
    if form == "assign":
        value, parts = draw(password(""))
        return f"{name}={value}", parts
    if form == "query":
        value, parts = draw(password(""))
        return f"/login?user=ann&{name}={value}&next=/home", parts
    if form == "json":
        value, parts = draw(password(PASSWORD_MARKS + "\"'\\"))
        return json.dumps({"user": "ann", name: value}), parts
    if form == "escaped_json":
        value, parts = draw(password())
        return json.dumps(json.dumps({name: value})), parts
    if form == "prose":
        value, parts = draw(password(""))
        return f"{name}: {value}", parts
    if form == "env":
        value, parts = draw(password())
        return f"{name.upper()}={value}", parts
    if form == "sql":
        value, parts = draw(password(PASSWORD_MARKS + "'"))
        return f"ALTER USER app PASSWORD '{value.replace(chr(39), chr(39) * 2)}'", parts
    if form == "repr":
        value, parts = draw(password())
        return repr({name: value}), parts
    value, parts = draw(password())
    return quote(f"{name}={value}", safe=""), parts


@st.composite
def url_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    value, parts = draw(password("@/;,&"))
    scheme = draw(st.sampled_from(["postgresql", "redis", "amqp", "https"]))
    url = f"{scheme}://app:{value}@db.internal:5432/amas"
    return (quote(url, safe="") if draw(st.booleans()) else url), parts


@st.composite
def header_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    first, second = draw(core()), draw(core())
    kind = draw(st.sampled_from(["cookie", "basic", "code", "signature", "pem"]))
    if kind == "cookie":
        return f"Cookie: theme=dark; session={first}; csrf={second}", [first, second]
    if kind == "basic":
        credential = base64.b64encode(f"ann:{first}".encode()).decode()
        return f"Authorization: Basic {credential}", [credential[4:16]]
    if kind == "code":
        return f"https://app.example.com/callback?code={first}&state=xyz", [first]
    if kind == "signature":
        return f"https://b.s3.amazonaws.com/k?X-Amz-Credential=AK/{second}&X-Amz-Signature={first}", [first]
    body = base64.b64encode((first + second).encode() * 3).decode()
    return f"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----", [body[8:24]]


SECRET_TEXTS = st.one_of(token_texts, pair_texts(), url_texts(), header_texts())

# --- ordinary text: words that look like secret words, in prose ----------------------------

VOCAB = [
    "token",
    "tokens",
    "basic",
    "Bearer",
    "bearer",
    "authentication",
    "required",
    "password:",
    "api_key:",
    "secret:",
    "top",
    "secret",
    "must",
    "be",
    "at",
    "least",
    "12",
    "characters",
    "generation",
    "took",
    "1.2s",
    "missing",
    "the",
    "plan",
    "summarization",
    "research",
    "session",
    "cookie",
    "key",
    "code",
    "review",
    "sk-prod-cluster-eu-west-1",
    "GET",
    "/tasks/42",
    "200",
    "max_tokens",
]
ORDINARY = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8).map(" ".join)


@pytest.fixture(scope="module")
def cap() -> Iterator[CapturedTelemetry]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("OTEL_", "AMAS_"))}
    captured = CapturedTelemetry(json_logs=True, cardinality_limit=1_000_000)  # labels accumulate
    try:
        yield captured
    finally:
        captured.shutdown()
        os.environ.update(saved)


@BOUNDED
@given(secret=SECRET_TEXTS, place=st.sampled_from(sorted(PLACES)))
def test_no_secret_shape_leaves_through_any_place_into_any_sink(cap, secret, place):
    text, parts = secret
    clear(cap)
    PLACES[place](cap, text)
    out = exported(cap)
    for part in parts:
        assert part not in out, f"{part!r} of {text!r} leaked through {place}"


@BOUNDED
@given(text=ORDINARY)
def test_ordinary_text_survives_in_attributes_labels_and_logs(cap, text):
    clear(cap)
    with amas_telemetry.task_span(text) as span:
        span.set_attribute("app.note", text)
    import logging

    logging.getLogger("amas.ordinary").info(text)
    (exported_span,) = cap.spans()
    assert exported_span.name == f"task {text}"
    assert exported_span.attributes["app.note"] == text
    assert exported_span.attributes["amas.task.type"] == text
    assert cap.histogram_count("amas.task.duration", amas__task__type=text) >= 1
    assert cap.json_lines()[-1]["message"] == text
    assert cap.logs()[-1].log_record.body == text


@BOUNDED
@given(text=st.one_of(SECRET_TEXTS.map(lambda s: s[0]), ORDINARY, st.text(max_size=200)))
def test_scrubbing_is_idempotent_and_never_raises(text):
    once = Scrubber().text(text)
    assert Scrubber().text(once) == once
    assert isinstance(once, str)


@BOUNDED
@given(secret=SECRET_TEXTS)
def test_a_secret_is_replaced_not_dropped(secret):
    """The marker says something was there; the text around it stays readable."""
    text, _ = secret
    assert REDACTED in Scrubber().text(text)
