"""A small app under test for several workers: one route, one custom OTel-API counter, a gauge
and a span-derived counter of the app's own.

Settings come from the environment the test gives the server (AMAS_METRICS_DIR,
AMAS_OTLP_ENDPOINT, ...). Every answer names the worker that gave it (``x-worker-pid``).
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from opentelemetry import metrics

import amas_telemetry
from amas_telemetry import InstrumentKind, MetricSpec
from amas_telemetry.spanmetrics import rule

orders = metrics.get_meter("shop").create_counter("shop.orders", unit="{order}", description="Orders placed.")

app = FastAPI()


@app.middleware("http")
async def name_the_worker(request: Request, call_next):
    response = await call_next(request)
    response.headers["x-worker-pid"] = str(os.getpid())
    return response


@app.get("/orders/{order_id}")
async def place(order_id: int) -> dict[str, int]:
    orders.add(1, {"shop.channel": "web"})
    return {"id": order_id}


OPEN_CARTS = MetricSpec(
    "shop.open_carts", InstrumentKind.GAUGE, "{cart}", "Carts open in this worker.", worker_merge="sum"
)
ORDER_REQUESTS = MetricSpec(
    "shop.order_requests", InstrumentKind.COUNTER, "{request}", "Order requests, derived from server spans."
)
ORDER_RULE = rule(
    ORDER_REQUESTS,
    when=lambda span, attrs: attrs.get("http.route") == "/orders/{order_id}",
    value=lambda span, attrs: 1.0,
)

telemetry = amas_telemetry.configure(
    app,
    service_name="workers-test",
    json_logs=False,
    system_metrics=False,
    excluded_urls=["/metrics"],
    span_metric_rules=[ORDER_RULE],
)
telemetry.observe(OPEN_CARTS, lambda: 1)
