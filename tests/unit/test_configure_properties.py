"""Any bad setting, as a keyword or from the environment, ends in one ConfigError and leaves nothing.

Property-based (hypothesis, derandomized, bounded): ``configure()`` either works (and is shut
down) or raises ``ConfigError`` naming the setting, never another exception, and no thread it
started outlives it. Named cases of issue 11 come first, as plain tests.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amas_telemetry
from amas_telemetry import ConfigError
from amas_telemetry._internal.config.settings import SETTINGS
from amas_telemetry.testing import capture

EXAMPLES = int(os.environ.get("AMAS_PROPERTY_EXAMPLES", "150"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
QUIET = {"system_metrics": False, "json_logs": False, "otlp_endpoint": False}


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _configure(app: Any = None, **kwargs: Any) -> None:
    """configure() and shut it down at once when it works; a ConfigError goes through."""
    telemetry = amas_telemetry.configure(app, **{**QUIET, **kwargs})
    telemetry.shutdown()


class NotIterable:
    pass


def _broken_iterable() -> Iterator[str]:
    yield "/a"
    raise RuntimeError("broken while iterating")


NAMED_BAD = [
    ({"cardinality_limit": math.inf}, "cardinality_limit"),
    ({"cardinality_limit": 10**30}, "cardinality_limit"),
    ({"excluded_urls": 42}, "excluded_urls"),
    ({"excluded_urls": NotIterable()}, "excluded_urls"),
    ({"excluded_urls": _broken_iterable()}, "excluded_urls"),
    ({"instrumentations": 42}, "instrumentations"),
    ({"instrumentations": NotIterable()}, "instrumentations"),
    ({"otlp_endpoint": "http://[::1"}, "otlp_endpoint"),
    ({"otlp_endpoint": "http://collector:99999"}, "otlp_endpoint"),
    ({"otlp_endpoint": "http://collector:port"}, "otlp_endpoint"),
    ({"otlp_endpoint": "http://collector:0"}, "otlp_endpoint"),
    ({"otlp_endpoint": "http://coll ector:4317"}, "otlp_endpoint"),
    ({"metric_export_interval": math.nan}, "metric_export_interval"),
    ({"metric_export_interval": math.inf}, "metric_export_interval"),
    ({"metric_export_interval": 1e-12}, "metric_export_interval"),
    ({"metrics_path": "/metrics now"}, "metrics_path"),
    ({"excluded_urls": ["/a b"]}, "excluded_urls"),
]


@pytest.mark.parametrize(("kwargs", "setting"), NAMED_BAD)
def test_a_bad_keyword_is_one_config_error(kwargs, setting):
    before = _threads()
    with pytest.raises(ConfigError, match=setting):
        _configure(**kwargs)
    assert _threads() <= before


def test_a_bad_endpoint_error_does_not_repeat_its_credentials():
    with pytest.raises(ConfigError) as info:
        _configure(otlp_endpoint="http://ops:c0ll3ctor-Pa55@collector:99999")
    assert "c0ll3ctor-Pa55" not in str(info.value)
    assert "otlp_endpoint" in str(info.value)


def test_otel_metric_export_interval_errors_speak_milliseconds(monkeypatch):
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "0.000001")
    with pytest.raises(ConfigError, match=r"OTEL_METRIC_EXPORT_INTERVAL.*milliseconds"):
        _configure()


def test_metrics_path_must_not_shadow_an_app_route():
    app = FastAPI()  # serves /docs, /redoc, /openapi.json
    with pytest.raises(ConfigError, match=r"metrics_path.*'/docs'"):
        _configure(app, metrics_path="/docs")
    assert [r.path for r in app.routes].count("/docs") == 1


async def test_excluded_urls_are_exact_paths_not_suffixes():
    app = FastAPI()

    @app.get("/api/metrics")
    async def api_metrics() -> dict[str, int]:
        return {"n": 1}

    cap = capture(app)  # excluded_urls defaults to /metrics
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
            assert (await client.get("/api/metrics")).status_code == 200
            assert (await client.get("/metrics?x=1")).status_code == 200
        assert [s.name for s in cap.spans()] == ["GET /api/metrics"]
    finally:
        cap.shutdown()


def test_a_failure_while_building_leaves_no_exporter_thread(monkeypatch):
    """The periodic metric reader starts a thread when built; the rollback stops it."""
    from amas_telemetry._internal import telemetry as pipeline

    real = pipeline.Telemetry._exporter

    def failing(self, signal, meter_provider=None):
        if signal == "traces":
            raise RuntimeError("exporter failed to build")
        return real(self, signal, meter_provider)

    # the OTLP exporter of a signal, spooled or not: the metric reader is built before it
    monkeypatch.setattr(pipeline.Telemetry, "_exporter", failing)
    before = _threads()
    with pytest.raises(RuntimeError, match="failed to build"):
        _configure(otlp_endpoint="http://127.0.0.1:9")
    assert _threads() <= before


# --- the property ------------------------------------------------------------------------------

BAD_ENDPOINTS = [
    "http://[::1",
    "http://h:99999",
    "http://h:-1",
    "http://u:p@h :1",
    "ftp://h",
    "http://",
    "http://h\x00:4317",
    "http://h:4317/\n",
]
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=10),
    st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers()), max_size=3),
    st.sampled_from([NotIterable(), object(), math.nan, math.inf, -math.inf, 1e-12, 1e308, *BAD_ENDPOINTS]),
)
SETTING_NAMES = [s.name for s in SETTINGS if s.name != "otlp_endpoint"]  # the endpoint: its own draw
ENV_VARS = sorted(
    {
        var
        for s in SETTINGS
        for var in s.env_vars
        if var not in ("AMAS_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    }
    | {"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_METRIC_EXPORT_INTERVAL"}
)


@BOUNDED
@given(
    kwargs=st.dictionaries(st.sampled_from(SETTING_NAMES), ANYTHING, max_size=3),
    env=st.dictionaries(
        st.sampled_from(ENV_VARS), st.text(max_size=30).filter(lambda v: "\x00" not in v), max_size=2
    ),
    endpoint=st.one_of(st.just(False), st.sampled_from(BAD_ENDPOINTS), st.text(max_size=20)),
    with_app=st.booleans(),
)
def test_any_bad_value_ends_in_one_config_error_and_leaves_no_thread(kwargs, env, endpoint, with_app):
    """The endpoint is always bad or off: a valid one would make shutdown() wait on exports."""
    before = _threads()
    with patch.dict(os.environ, env):
        try:
            _configure(FastAPI() if with_app else None, **{**kwargs, "otlp_endpoint": endpoint})
        except ConfigError as error:
            assert str(error).startswith(("Invalid ", "Unknown "))
    assert _threads() <= before
