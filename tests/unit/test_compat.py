"""Every reach into another package's internals fails at configure(), naming package and version.

For each reach, the test takes the internal away the way an upgrade would (a renamed method,
a moved logger, a different class) and checks that ``configure()`` raises one
UnsupportedDependency naming the package and its installed version, with nothing wired.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from fastapi import FastAPI

import amas_telemetry
from amas_telemetry._internal.compat import sdk, starlette
from amas_telemetry._internal.compat.verify import installed_version, verify_all
from amas_telemetry._internal.tracing.provider import global_tracer_provider


@pytest.fixture(autouse=True)
def _checks_run_again():
    """verify_all() runs once per process; each test here needs it to run anew."""
    verify_all.cache_clear()
    yield
    verify_all.cache_clear()


def _configure_fails(package: str, *words: str) -> None:
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(amas_telemetry.UnsupportedDependency) as raised:
        amas_telemetry.configure(FastAPI(), otlp_endpoint=False, json_logs=False, system_metrics=False)
    message = str(raised.value)
    assert f"does not support {package} {installed_version(package)}" in message, message
    for word in words:
        assert word in message, message
    assert isinstance(raised.value, amas_telemetry.ConfigError)
    assert raised.value.__traceback__ is None or raised.value.__cause__ is None
    assert global_tracer_provider().active is None, "something was wired before the check"
    assert logging.getLogger().handlers == handlers


def test_the_installed_versions_pass_every_check():
    verify_all()
    with amas_telemetry.configure(otlp_endpoint=False, json_logs=False, system_metrics=False):
        pass


def test_the_checks_pass_whatever_sampler_the_environment_names(monkeypatch):
    """A service run with OTEL_TRACES_SAMPLER (a ratio, or always_off) must not fail the check
    of span attributes: its probe span is recorded whatever the environment samples."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    verify_all()


def test_a_metric_reader_without_its_collect_callback(monkeypatch):
    from opentelemetry.sdk.metrics.export import MetricReader

    monkeypatch.delattr(MetricReader, "_set_collect_callback")
    _configure_fails("opentelemetry-sdk", "_set_collect_callback")


def test_a_meter_provider_whose_measurement_consumer_moved(monkeypatch):
    from opentelemetry.sdk.metrics import MeterProvider

    original = MeterProvider.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._consumer = self.__dict__.pop("_measurement_consumer")  # renamed, as an upgrade might

    monkeypatch.setattr(MeterProvider, "__init__", init)
    _configure_fails("opentelemetry-sdk", "_measurement_consumer")


def test_span_attributes_kept_in_another_class(monkeypatch):
    monkeypatch.setattr(sdk, "BoundedAttributes", type("Elsewhere", (), {}))
    _configure_fails("opentelemetry-sdk", "BoundedAttributes._dict")


def test_a_periodic_reader_without_its_export_lock(monkeypatch):
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    real = PeriodicExportingMetricReader.__init__

    def without_lock(self, *args, **kwargs):
        real(self, *args, **kwargs)
        del self._export_lock

    monkeypatch.setattr(PeriodicExportingMetricReader, "__init__", without_lock)
    _configure_fails("opentelemetry-sdk", "_export_lock")


def test_providers_without_update_resource(monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    monkeypatch.delattr(TracerProvider, "_update_resource")
    _configure_fails("opentelemetry-sdk", "_update_resource")


def test_a_renamed_self_metrics_variable(monkeypatch):
    from opentelemetry.sdk import environment_variables

    monkeypatch.setattr(environment_variables, "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "OTEL_SDK_METRICS")
    _configure_fails("opentelemetry-sdk", "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED")


def test_an_exporter_logger_the_scrubber_does_not_filter(monkeypatch):
    """As if the gRPC exporter logged under a new name: its errors would leave unscrubbed."""
    kept = tuple(n for n in sdk.SDK_LOGGERS if n != "opentelemetry.exporter.otlp.proto.grpc.exporter")
    monkeypatch.setattr(sdk, "SDK_LOGGERS", kept)
    _configure_fails(
        "opentelemetry-exporter-otlp-proto-grpc", "opentelemetry.exporter.otlp.proto.grpc.exporter"
    )


def test_a_filtered_logger_module_that_is_gone(monkeypatch):
    monkeypatch.setattr(sdk, "SDK_LOGGERS", (*sdk.SDK_LOGGERS, "opentelemetry.sdk.trace.export.gone"))
    _configure_fails("opentelemetry-exporter-otlp-proto-grpc", "ModuleNotFoundError")


def test_the_prometheus_exporter_without_its_name_mapping(monkeypatch):
    gone = sdk._missing(ImportError("no _mapping.sanitize_full_name"))
    monkeypatch.setattr(sdk, "sanitize_full_name", gone)
    _configure_fails("opentelemetry-exporter-prometheus", "sanitize_full_name")


def test_the_api_without_its_proxy_meter_provider(monkeypatch):
    monkeypatch.setattr(sdk, "_ProxyMeterProvider", sdk._missing(ImportError("no _ProxyMeterProvider")))
    _configure_fails("opentelemetry-api", "_ProxyMeterProvider")


def test_starlette_no_longer_building_its_middleware_stack_lazily(monkeypatch):
    from starlette.applications import Starlette

    async def call(self, scope, receive, send):  # a Starlette that builds its stack elsewhere
        return None

    monkeypatch.setattr(Starlette, "__call__", call)
    _configure_fails("starlette", "middleware_stack")


def test_fastapi_no_longer_putting_the_route_in_the_scope(monkeypatch):
    from fastapi.routing import APIRoute

    original = APIRoute.matches

    def matches(self, scope):
        match, child = original(self, scope)
        child.pop("route", None)
        return match, child

    monkeypatch.setattr(APIRoute, "matches", matches)
    _configure_fails("fastapi", 'scope["route"]')


def test_uvicorn_loading_workers_elsewhere(monkeypatch):
    import uvicorn._subprocess

    monkeypatch.delattr(uvicorn._subprocess, "subprocess_started")
    _configure_fails("uvicorn", "subprocess_started")


def test_gunicorn_loading_the_app_elsewhere(monkeypatch):
    from gunicorn.workers.base import Worker

    monkeypatch.delattr(Worker, "load_wsgi")
    _configure_fails("gunicorn", "load_wsgi")


def test_google_re2_without_its_low_level_class_fails_at_import():
    """The redaction rules are compiled at import, so this reach fails there, the same way."""
    code = textwrap.dedent(
        """
        import re2  # google-re2 1.0 has _re2 beside re2.py, 1.1 inside the re2 package
        del re2._re2.RE2
        try:
            import amas_telemetry
        except Exception as error:
            print(type(error).__name__, error)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.startswith("UnsupportedDependency"), result.stdout + result.stderr
    assert f"does not support google-re2 {installed_version('google-re2')}" in result.stdout


def test_every_reach_is_covered_here():
    """One test per reach: adding a reach without its test fails here."""
    from amas_telemetry._internal.compat import servers
    from amas_telemetry._internal.compat.verify import all_reaches

    assert len(sdk.REACHES) == 8
    assert len(starlette.REACHES) == 2
    assert len(servers.REACHES) == 2
    assert len(all_reaches()) == 8 + 2 + 2 + 1
