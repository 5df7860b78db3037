"""Links into the native stack's UIs, as a person opens them: one place for their formats.

The demo prints them, the Jaeger trace view's config uses :func:`trace_logs` (with Jaeger
UI's ``#{trace_id}`` placeholder), and the browser test opens them.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

__all__ = [
    "TRACE_ID_PLACEHOLDER",
    "exemplars",
    "jaeger_ui_config",
    "prometheus_graph",
    "trace",
    "trace_logs",
]

#: the placeholder of Jaeger UI's linkPatterns for the trace id (trace view: the same)
TRACE_ID_PLACEHOLDER = "#{trace_id}"


def trace(jaeger_url: str, trace_id: str) -> str:
    """The trace page of the stack's trace UI (served by Jaeger's query service)."""
    return f"{jaeger_url}/trace/{trace_id}"


def trace_logs(victorialogs_url: str, trace_id: str) -> str:
    """VictoriaLogs' UI (vmui) showing the log lines of one trace, over the last 24 hours."""
    query = quote('trace_id:"', safe="") + trace_id + quote('"', safe="")
    return f"{victorialogs_url}/select/vmui/#/?query={query}&g0.relative_time=last_24_hours"


def prometheus_graph(prometheus_url: str, expr: str, range_input: str = "5m") -> str:
    """Prometheus's query page with ``expr`` drawn as a graph over the last ``range_input``."""
    params = urlencode({"g0.expr": expr, "g0.tab": "graph", "g0.range_input": range_input})
    return f"{prometheus_url}/query?{params}"


def exemplars(prometheus_url: str, expr: str, seconds: float = 3600.0) -> str:
    """Prometheus's exemplar API for ``expr`` over the last ``seconds`` (JSON: Prometheus
    3's UI draws no exemplars, so the trace ids are read there)."""
    now = time.time()
    return f"{prometheus_url}/api/v1/query_exemplars?" + urlencode(
        {"query": expr, "start": f"{now - seconds:.0f}", "end": f"{now + 60:.0f}"}
    )


def jaeger_ui_config(victorialogs_url: str) -> dict[str, object]:
    """Jaeger UI's config (``ui.config_file``): each trace links to its logs in VictoriaLogs."""
    return {
        "linkPatterns": [
            {
                "type": "traces",
                "url": trace_logs(victorialogs_url, TRACE_ID_PLACEHOLDER),
                "text": "Logs of this trace (VictoriaLogs)",
            }
        ]
    }
