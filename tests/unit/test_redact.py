"""No secret shape survives: in text, span attributes and events, metric labels or logs."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.trace import SpanKind

import amas_telemetry
from amas_telemetry.redact import API_KEYS, BEARER_TOKENS, REDACTED, SECRET_PAIRS, URL_PASSWORDS, Scrubber
from amas_telemetry.testing import capture

# (text containing a secret, the secret itself)
SECRETS = [
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123", "eyJhbGciOiJIUzI1NiJ9"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("calling with key sk-proj-4f9aQz8xYtR2mK7pL1nB0vC", "sk-proj-4f9aQz8xYtR2mK7pL1nB0vC"),
    ("anthropic sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv"),
    ("slack xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl"),
    ("aws AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("github ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("google AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
    ("/login?user=ann&password=hunter2&next=/", "hunter2"),
    ('{"password": "correct horse"}', "correct horse"),
    ("secret=s3cr3t-value", "s3cr3t-value"),
    ("token: abcdef123456", "abcdef123456"),
    ("api_key=AKxyz789", "AKxyz789"),
    ("postgresql://amas:pg-Pa55w0rd@db:5432/amas", "pg-Pa55w0rd"),
    ("redis://:redis-secret@cache:6379/0", "redis-secret"),
    ("Cookie: session=abc; token=tok-99887766", "tok-99887766"),
    # the shapes of issue 11, each one a case
    ("stripe sk_live_51HxQ2eKp9ZqL0vYt8WmN3aBc", "51HxQ2eKp9ZqL0vYt8WmN3aBc"),
    ("stripe rk_live_51HxQ2eKp9ZqL0vYt8WmN3aBc", "51HxQ2eKp9ZqL0vYt8WmN3aBc"),
    ("webhook whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("gh github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "11ABCDEFG0123456789_abcdefghij"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("POSTGRES_PASSWORD=pg-Pa55w0rd", "pg-Pa55w0rd"),
    ("db_password=pg-Pa55w0rd", "pg-Pa55w0rd"),
    ("SECRET_KEY=django-insecure-4f9aQz8x", "django-insecure-4f9aQz8x"),
    ("AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//////////wEaDHqa0AP", "FwoGZXIvYXdzEJr"),
    ('{"accessToken": "at-4f9aQz8xYtR2"}', "at-4f9aQz8xYtR2"),
    ('{"clientSecret":"cs-4f9aQz8xYtR2"}', "cs-4f9aQz8xYtR2"),
    ('{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG"}', "wJalrXUtnFEMI/K7MDENG"),
    (r"{\"password\": \"hunter two\"}", "hunter two"),
    (r"{\"api_key\":\"ak-4f9aQz8xYtR2\"}", "ak-4f9aQz8xYtR2"),
    ("Cookie: theme=dark; session=s3ss10n-4f9aQz", "s3ss10n-4f9aQz"),
    ("Cookie: first=f1rst-c00kie; second=s3cond-c00kie", "s3cond-c00kie"),
    ("Cookie: first=f1rst-c00kie; second=s3cond-c00kie", "f1rst-c00kie"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq98/Z0a1b2c3\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA7bq98",
    ),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA", "b3BlbnNzaC1rZXktdjEAAAAA"),
    ("https://app/callback?code=4/0AfJohXk-9q8&state=xyz", "4/0AfJohXk-9q8"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Signature=9f86d081884c7d65&X-Amz-Date=1", "9f86d081884c7d65"),
    ("hf hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"),
    ("groq gsk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefGH12", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("npm npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("google ya29.a0AfH6SMBx9q8zLkJhGfDsA", "a0AfH6SMBx9q8zLkJhGfDsA"),
    ('{"password": "pa ss w0rd"}', "ss w0rd"),
    ('{"password": "pa,ss;w0&r/d@x"}', "ss;w0&r/d@x"),
    ("password='pa ss,w0rd'", "ss,w0rd"),
    ("postgresql://amas:p@ss/w0rd;x,y&z@db:5432/amas", "ss/w0rd;x,y&z"),
    ("POSTGRES_PASSWORD=pa ss,w;0rd&x/y@z", "ss,w;0rd&x/y@z"),
    ("/login?user=ann&password=pa%20ss%40w0rd&next=/", "ss%40w0rd"),
    ("redirect=https%3A%2F%2Fapi%2Fx%3Fkey%3Dsk-proj-4f9aQz8xYtR2mK7pL1nB0vC", "4f9aQz8xYtR2mK7pL1nB0vC"),
    (r"ValueError('bad key:\nsk-proj-4f9aQz8xYtR2mK7pL1nB0vC')", "4f9aQz8xYtR2mK7pL1nB0vC"),
    ("ALTER USER app PASSWORD 'n3w-Pa55 w0rd'", "n3w-Pa55 w0rd"),
    ("CREATE USER bob IDENTIFIED BY 'b0b-Pa55'", "b0b-Pa55"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_no_secret_shape_survives_the_scrubber(text, secret):
    scrubbed = Scrubber().text(text)
    assert secret not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "GET /tasks/42 200",
        "tokens used: 1200",
        "gen_ai.token.type=input",
        "skill-based routing",
        "password reset page",
        # ordinary text of issue 11, each one a case
        "token generation took 1.2s",
        "basic summarization",
        "Bearer authentication required",
        "password: must be at least 12 characters",
        "top secret: the plan",
        "api_key: missing",
        "sk-prod-cluster-eu-west-1",
        "task basic research",
        "max_tokens=1024",
        "the session ended",
        "https://api.example.com/v1/tasks?limit=10&offset=20",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert Scrubber().text(text) == text


def test_redacting_twice_changes_nothing_more():
    """Logs pass two scrubbers (the logging filter, the OTLP log processor)."""
    scrubber = Scrubber()
    for text, _ in SECRETS:
        once = scrubber.text(text)
        assert Scrubber().text(once) == once


def test_each_redactor_does_one_job():
    assert BEARER_TOKENS("Bearer abcdefgh1234") == "Bearer [REDACTED]"
    assert API_KEYS("key sk-abcdefghijklmnopqrst") == "key [REDACTED]"
    assert SECRET_PAIRS("pwd=x1") == "pwd=[REDACTED]"
    assert URL_PASSWORDS("amqp://u:p@h/") == "amqp://u:[REDACTED]@h/"


def test_secret_header_attributes_are_replaced_whole():
    scrubbed = Scrubber().attributes(
        {"http.request.header.authorization": "opaque-value", "http.request.header.cookie": ["a=b"], "n": 3}
    )
    assert scrubbed == {
        "http.request.header.authorization": REDACTED,
        "http.request.header.cookie": [REDACTED],
        "n": 3,
    }


def test_exported_spans_carry_no_secret():
    cap = capture()
    try:
        tracer = cap.telemetry.tracer("t")
        with tracer.start_as_current_span("call", kind=SpanKind.CLIENT) as span:
            for i, (text, _) in enumerate(SECRETS):
                span.set_attribute(f"attr.{i}", text)
            span.set_attribute("http.request.header.authorization", "Bearer abcdefghijkl")
            span.add_event("retry", {"url": "https://u:hunter2@api/"})
        with pytest.raises(ValueError), tracer.start_as_current_span("fail"):
            raise ValueError("rejected key sk-abcdefghijklmnopqrstuv")
        exported = repr(
            [(s.attributes, [(e.name, e.attributes) for e in s.events], s.status) for s in cap.spans()]
        )
        for _, secret in [*SECRETS, ("", "hunter2"), ("", "sk-abcdefghijklmnopqrstuv")]:
            assert secret not in exported
    finally:
        cap.shutdown()


def test_prompts_are_dropped_unless_enabled():
    for record, expected in ((False, None), (True, "summarize the report")):
        cap = capture(record_prompts=record)
        try:
            with amas_telemetry.genai_span("openai", "gpt-4o") as span:
                span.set_attribute("gen_ai.prompt", "summarize the report")
            (exported,) = cap.spans()
            assert exported.attributes.get("gen_ai.prompt") == expected
        finally:
            cap.shutdown()


def test_logs_carry_no_secret():
    cap = capture(json_logs=True)
    try:
        log = logging.getLogger("amas.test")
        log.warning(
            "connecting to %s",
            "postgresql://amas:pg-Pa55w0rd@db/amas",
            extra={"api_key": "sk-abcdefghijklmnopqrst"},
        )
        try:
            raise RuntimeError("token=tok-1234567")
        except RuntimeError:
            log.exception("failed with Bearer abcdef123456")
        out = cap.json_stream.getvalue()
        otlp = repr([(r.log_record.body, r.log_record.attributes) for r in cap.logs()])
        for secret in ("pg-Pa55w0rd", "sk-abcdefghijklmnopqrst", "tok-1234567", "abcdef123456"):
            assert secret not in out
            assert secret not in otlp
        assert out.count("\n") == 2
    finally:
        cap.shutdown()


def test_dropping_every_attribute_leaves_none():
    """An all-prompt mapping scrubs to an empty one, not back to the original."""
    scrubber = Scrubber(drop_keys={"gen_ai.prompt"})
    assert scrubber.attributes({"gen_ai.prompt": "summarize the report"}) == {}
    assert scrubber.changed_attributes({"gen_ai.prompt": "x"}) == {}
    assert scrubber.changed_attributes({"n": 1}) is None
