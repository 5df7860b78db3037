"""Baseline (b): the original AMAS monitoring plan's design, rebuilt for comparison.

Modelled on the plan's step 6.3 ("FastAPI Middleware for Automatic Metrics") and step 6B.1
(tracing service), from the facts the plan states, not its code:

- a Starlette ``BaseHTTPMiddleware`` that skips ``/metrics``, labels by the RAW request path
  (``request.url.path``), increments an active-requests Gauge(method, endpoint), times the
  call with ``time.time()``, then records Counter(method, endpoint, status_code) and
  Histogram(method, endpoint) (buckets 0.01 … 10 s) through a ``record_http_request`` helper
  that also logs a debug line built with an f-string; an exception is recorded as a 500;
- prometheus_client metrics in their own ``CollectorRegistry``, served by a ``/metrics`` route;
- OTel tracing: ``TracerProvider(resource)`` with a ``BatchSpanProcessor(OTLPSpanExporter)``,
  set as the global provider, and ``FastAPIInstrumentor.instrument_app(app)`` with defaults.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.middleware.base import BaseHTTPMiddleware

__all__ = ["PlanMetrics", "install_plan_baseline"]

_log = logging.getLogger("amas.plan_baseline")


class PlanMetrics:
    """The HTTP part of the plan's metrics service (names, labels and buckets as in the plan)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.http_requests_total = Counter(
            "amas_http_requests_total",
            "Total HTTP requests",
            ["method", "endpoint", "status_code"],
            registry=self.registry,
        )
        self.http_request_duration_seconds = Histogram(
            "amas_http_request_duration_seconds",
            "HTTP request duration in seconds",
            ["method", "endpoint"],
            buckets=[0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10],
            registry=self.registry,
        )
        self.http_requests_active = Gauge(
            "amas_http_requests_active",
            "Number of active HTTP requests",
            ["method", "endpoint"],
            registry=self.registry,
        )

    def record_http_request(self, method: str, endpoint: str, status_code: int, duration: float) -> None:
        self.http_requests_total.labels(method=method, endpoint=endpoint, status_code=str(status_code)).inc()
        self.http_request_duration_seconds.labels(method=method, endpoint=endpoint).observe(duration)
        _log.debug(f"Recorded HTTP metrics: {method} {endpoint} - {status_code}")  # f-string, as planned


class PlanMetricsMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: Any, metrics: PlanMetrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        if request.url.path == "/metrics":
            return await call_next(request)
        endpoint = request.url.path  # the raw path: one series per distinct id
        method = request.method
        self.metrics.http_requests_active.labels(method=method, endpoint=endpoint).inc()
        start_time = time.time()
        try:
            response = await call_next(request)
            duration = time.time() - start_time
            self.metrics.record_http_request(method, endpoint, response.status_code, duration)
            return response
        except Exception:
            duration = time.time() - start_time
            self.metrics.record_http_request(method, endpoint, 500, duration)
            raise
        finally:
            self.metrics.http_requests_active.labels(method=method, endpoint=endpoint).dec()


def install_plan_baseline(
    app: FastAPI, otlp_endpoint: str, service_name: str = "amas-bench"
) -> TracerProvider:
    """Wires the plan's metrics middleware, /metrics route and tracing into ``app``."""
    metrics = PlanMetrics()
    app.add_middleware(PlanMetricsMiddleware, metrics=metrics)

    def metrics_route() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics_route, methods=["GET"], include_in_schema=False)

    resource = Resource.create(
        {
            "service.name": service_name,
            "service.version": "1.0.0",
            "deployment.environment": "production",
            "service.namespace": "amas",
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app)
    return provider
