"""amas_telemetry: OpenTelemetry traces, span-derived metrics and trace-correlated logs.

    import amas_telemetry

    telemetry = amas_telemetry.configure(app, service_name="amas-api", sampling_ratio=0.01)
    ...
    telemetry.shutdown()

App code records spans with the plain OTel API (or the domain helpers below); every
count, error rate, duration, token and cost metric is derived from those spans.
"""

from amas_telemetry import semconv
from amas_telemetry._internal.compat.verify import UnsupportedDependency
from amas_telemetry._internal.config.settings import Settings
from amas_telemetry._internal.errors import ConfigError
from amas_telemetry._internal.genai.calls import GenAICall, genai_call, time_stream
from amas_telemetry._internal.integrations.instrument import untraced
from amas_telemetry._internal.telemetry import STATE_GAUGES, Telemetry, configure
from amas_telemetry._internal.tracing.domain_spans import (
    agent_span,
    genai_span,
    integration_span,
    login_span,
    record_fallback,
    record_genai_usage,
    record_quality,
    set_login_result,
    task_span,
    tool_span,
)
from amas_telemetry._version import __version__
from amas_telemetry.catalog import InstrumentKind, MetricSpec

__all__ = [
    "STATE_GAUGES",
    "ConfigError",
    "GenAICall",
    "InstrumentKind",
    "MetricSpec",
    "Settings",
    "Telemetry",
    "UnsupportedDependency",
    "__version__",
    "agent_span",
    "configure",
    "genai_call",
    "genai_span",
    "integration_span",
    "login_span",
    "record_fallback",
    "record_genai_usage",
    "record_quality",
    "semconv",
    "set_login_result",
    "task_span",
    "time_stream",
    "tool_span",
    "untraced",
]
