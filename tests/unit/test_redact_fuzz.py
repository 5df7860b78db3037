"""The secret-shape fuzz (``secret_fuzz``): no shape of the maintained lists leaves, in any place;
prose that looks like the new prefixes stays as it is."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import re2
import secret_fuzz
from redaction_places import PLACES, clear, exported

from amas_telemetry._internal.redact.providers import KEY_SHAPES, TAIL
from amas_telemetry.redact import REDACTED, Scrubber
from amas_telemetry.testing import CapturedTelemetry

CASES = secret_fuzz.cases()


def test_no_secret_shape_leaves_from_any_place():
    scrubber = Scrubber()
    leaks = [
        (c.shape.provider, c.place, c.text) for c in CASES if secret_fuzz.leaked(c, scrubber.text(c.text))
    ]
    assert not leaks, f"{len(leaks)} of {len(CASES)} cases leak, the first: {leaks[:5]}"


def test_the_fuzz_is_as_wide_as_the_issue_says():
    """Prefixed shapes in every place, named shapes where they are named: thousands of cases."""
    places = {c.place for c in CASES}
    assert places == set(secret_fuzz.UNNAMED_PLACES) | set(secret_fuzz.NAMED_PLACES)
    assert len({c.shape.provider for c in CASES}) == len(secret_fuzz.SHAPES) > 150
    assert len(CASES) > 10_000


TOKENS = [shape.make(random.Random(0))[0].encode() for shape in secret_fuzz.SHAPES]


@pytest.mark.parametrize("shape", KEY_SHAPES, ids=lambda s: s.provider)
def test_every_provider_shape_of_the_rules_has_generated_cases(shape):
    """The fuzz is written from the lists, apart from the rules; each rule's shape ends some
    generated token (so a rule the fuzz does not exercise shows up here)."""
    finder = re2.compile(f"(?:{shape.pattern}){TAIL}$")
    assert any(finder.search(token) for token in TOKENS), (
        f"no generated token has the shape of {shape.provider}"
    )


@pytest.fixture(scope="module")
def cap():
    captured = CapturedTelemetry(json_logs=True, cardinality_limit=1_000_000)
    try:
        yield captured
    finally:
        captured.shutdown()


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_sample_of_the_fuzz_leaves_through_no_sink(cap, place):
    """Every 211th case through each telemetry place (span attributes, names, events, logs,
    extras, exceptions, OTLP log events, the SDK's warnings…) and every sink."""
    for case in CASES[::211]:
        clear(cap)
        PLACES[place](cap, case.text)
        assert not secret_fuzz.leaked(case, exported(cap)), f"{case.place}: {case.text!r} through {place}"


ORDINARY = [
    # words that start like the prefixes the rules gained
    "ask-me-anything-about-the-quarterly-report",
    "the task-queue-worker-default-high-priority drained",
    "r8_config_for_the_cluster_rollout_v2 applied",
    "API-GATEWAY-V2 returned 502",
    "secret_key_base is rotated monthly",
    "a key-value store holds the session",
    "sk-learn and scikit-learn are the same package",
    "pat.attributes and sat.orbit are object paths",
    "ico-file-converter-service started",
    "tk-us-east-1 is the closest region",
    "an A3-sized poster",
    "SKU-12345 is out of stock",
    "xai-grok-2 answered",
    "pplx-70b-online is a model name",
    "hf_hub_download fetched the weights",
    "the gsk_ prefix names Groq keys",
    "sha256~ is a separator",
    "dapi-docs and dapibus are words",
    "the Q~ operator",
    "12:34:56 the job 20240101 ran",
    "ghp_ tokens are GitHub's",
    # prose with secret words and no secret
    "the api key is required",
    "the access key was rotated",
    "rotate the secret access key every 90 days",
    "the password is too short",
    "auth service2 is down",
    "signature v1beta1 verified",
    "private key rotation is scheduled",
    "the license key expired yesterday",
    "token count 1200 of 4096",
    "password reset page",
    "--password-file /run/secrets/db",
    "<password></password>",
    "the <token> placeholder",
    "Authorization header missing",
    "curl -u is the user flag",
    "Bearer+authentication+required",
    "/search?q=basic+research&page=2",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_prose_that_looks_like_the_new_shapes_stays(text):
    assert Scrubber().text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app --api-key sk-proj-4f9aQz8xYtR2mK7pL1nB0vC", f"app --api-key {REDACTED}"),
        (
            "the aws secret access key is wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
            f"the aws secret access key is {REDACTED}",
        ),
        ("<password>hunter2</password>", f"<password>{REDACTED}</password>"),
        ('<add key="ApiKey" value="k3y-Value-9" />', f'<add key="ApiKey" value="{REDACTED}" />'),
        ("/cb?auth=Bearer abcdef123456&page=2", f"/cb?auth=Bearer {REDACTED}&page=2"),
        ("/cb?auth=Bearer+abcdef123456&page=2", f"/cb?auth=Bearer+{REDACTED}&page=2"),
        ("curl -u bob:S3cretPw https://x", f"curl -u bob:{REDACTED} https://x"),
        ("api_key=<AKxyz789>", f"api_key=<{REDACTED}>"),
        ("token=`abc123def`", f"token=`{REDACTED}`"),
        ("AccountKey=abc/def+ghi==;EndpointSuffix=core", f"AccountKey={REDACTED}"),
        ("pplx-" + "aB3" * 16, REDACTED),
        ("glpat-abcdefghij0123456789ABCDEFG.01abcdefg", REDACTED),
    ],
)
def test_what_the_new_rules_keep_and_what_they_replace(text, expected):
    assert Scrubber().text(text) == expected


DOCS = (Path(__file__).resolve().parents[2] / "docs" / "redaction.md").read_text()


@pytest.mark.parametrize("shape", KEY_SHAPES, ids=lambda s: s.provider)
def test_every_provider_shape_is_named_in_the_docs(shape):
    assert shape.provider in " ".join(DOCS.split()), f"docs/redaction.md does not name {shape.provider}"
