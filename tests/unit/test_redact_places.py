"""Every place a secret can travel is scrubbed, in every sink; prompt text goes nowhere; words stay."""

from __future__ import annotations

import logging

import pytest
from opentelemetry._logs import LogRecord
from redaction_places import PLACES, clear, exported
from test_redact import SECRETS

import amas_telemetry
from amas_telemetry.redact import REDACTED
from amas_telemetry.testing import capture


@pytest.mark.parametrize("place", sorted(PLACES))
def test_no_secret_leaves_through_any_place(place):
    cap = capture(json_logs=True)
    try:
        for text, secret in SECRETS:
            PLACES[place](cap, text)
            out = exported(cap)
            assert secret not in out, f"{secret!r} of {text!r} leaked through {place}"
            assert REDACTED in out
            clear(cap)
    finally:
        cap.shutdown()


def test_resource_attributes_are_scrubbed_once_in_every_signal():
    cap = capture(
        json_logs=True,
        resource_attributes={
            "deploy.token": "t0k-4f9aQz8xYtR2",
            "deploy.note": "key sk-proj-4f9aQz8xYtR2mK7pL1nB0vC",
        },
    )
    try:
        with amas_telemetry.task_span("summarize"):
            logging.getLogger("amas.test").warning("done")
        out = exported(cap)
        assert "t0k-4f9aQz8xYtR2" not in out and "4f9aQz8xYtR2mK7pL1nB0vC" not in out
        (span,) = cap.spans()
        assert span.resource.attributes["deploy.token"] == REDACTED
        assert span.resource.attributes["deploy.note"] == f"key {REDACTED}"
    finally:
        cap.shutdown()


def test_the_sdk_s_own_export_warnings_lose_the_endpoint_credentials():
    """The gRPC exporter names its endpoint without the scheme: user:secret@host:port."""
    cap = capture(json_logs=True)
    try:
        logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").error(
            # a format string no other test uses: the SDK's DuplicateFilter drops a repeat
            "Failed to export spans to %s, error code: %s",
            "ops:c0ll3ctor-Pa55@otel:4317",
            "UNAVAILABLE",
        )
        (line,) = cap.json_lines()
        assert "c0ll3ctor-Pa55" not in line["message"]
        expected = f"Failed to export spans to ops:{REDACTED}@otel:4317, error code: UNAVAILABLE"
        assert line["message"] == expected
    finally:
        cap.shutdown()


def test_ordinary_words_survive_in_names_labels_and_logs():
    cap = capture(json_logs=True)
    try:
        with amas_telemetry.task_span("basic research"), amas_telemetry.agent_span("token counter"):
            logging.getLogger("amas.test").info("token generation took 1.2s")
        assert cap.histogram_count("amas.task.duration", amas__task__type="basic research") == 1
        assert cap.histogram_count("amas.agent.duration", gen_ai__agent__name="token counter") == 1
        assert {s.name for s in cap.spans()} == {"task basic research", "invoke_agent token counter"}
        (line,) = cap.json_lines()
        assert line["message"] == "token generation took 1.2s"
        (record,) = cap.logs()
        assert record.log_record.body == "token generation took 1.2s"
    finally:
        cap.shutdown()


PROMPT = "summarize the quarterly report for ACME"
PROMPT_ATTRIBUTES = [
    "gen_ai.prompt",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.content",
    "gen_ai.request.messages",
    "llm.prompts",
    "llm.input_messages.0.message.content",
    "input.value",
    "output.value",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
]
PROMPT_EVENTS = [
    "gen_ai.user.message",
    "gen_ai.system.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
]


def _emit_prompts(cap) -> None:
    with amas_telemetry.genai_span("openai", "gpt-4o") as span:
        for name in PROMPT_ATTRIBUTES:
            span.set_attribute(name, PROMPT)
        for name in PROMPT_EVENTS:
            span.add_event(name, {"content": PROMPT, "gen_ai.system": "openai"})
    logger = cap.telemetry.logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
    for name in PROMPT_EVENTS:  # what openai-v2 emits: events on the Logs API
        attributes = {"gen_ai.system": "openai"}
        logger.emit(LogRecord(event_name=name, body={"content": PROMPT}, attributes=attributes))
    logger.emit(
        LogRecord(
            event_name="gen_ai.client.inference.operation.details",
            attributes={
                "gen_ai.input.messages": PROMPT,
                "gen_ai.output.messages": PROMPT,
                "gen_ai.request.model": "m",
            },
        )
    )


def test_prompt_and_completion_text_goes_nowhere_in_any_known_form():
    cap = capture()
    try:
        _emit_prompts(cap)
        assert PROMPT not in exported(cap)
        (span,) = cap.spans()
        assert [e.name for e in span.events] == PROMPT_EVENTS  # the events stay, without their text
        assert span.attributes["gen_ai.request.model"] == "gpt-4o"
        details = [r.log_record for r in cap.logs() if r.log_record.event_name.endswith(".details")]
        assert dict(details[0].attributes) == {"gen_ai.request.model": "m"}
    finally:
        cap.shutdown()


def test_prompt_text_is_kept_when_asked_for():
    cap = capture(record_prompts=True)
    try:
        _emit_prompts(cap)
        (span,) = cap.spans()
        assert all(span.attributes[name] == PROMPT for name in PROMPT_ATTRIBUTES)
        assert all(r.log_record.body == {"content": PROMPT} for r in cap.logs() if r.log_record.body)
    finally:
        cap.shutdown()


async def test_server_paths_and_query_strings_are_scrubbed_percent_encoded_or_not():
    import httpx
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/files/{name}")
    async def files(name: str) -> dict[str, str]:
        logging.getLogger("amas.test").info("serving %s", name)
        return {"name": "ok"}

    cap = capture(app, json_logs=True)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            for path in (
                "/files/key%3Dsk-proj-4f9aQz8xYtR2mK7pL1nB0vC?password=hunter2-Pa55",
                "/files/x?redirect=https%3A%2F%2Fops%3Ac0ll3ctor-Pa55%40collector%2F",
                "/files/Bearer%20eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz",
            ):
                assert (await client.get(path)).status_code == 200
        out = exported(cap)
        for secret in ("4f9aQz8xYtR2mK7pL1nB0vC", "hunter2-Pa55", "c0ll3ctor-Pa55", "c2lnbmF0dXJlMTIz"):
            assert secret not in out
        assert [s.attributes["http.route"] for s in cap.spans()] == ["/files/{name}"] * 3
    finally:
        cap.shutdown()
