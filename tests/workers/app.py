"""A small app under test for several workers: one route, one custom OTel-API counter.

Settings come from the environment the test gives the server (AMAS_METRICS_DIR,
AMAS_OTLP_ENDPOINT, ...). Every answer names the worker that gave it (``x-worker-pid``).
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from opentelemetry import metrics

import amas_telemetry

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


telemetry = amas_telemetry.configure(
    app, service_name="workers-test", json_logs=False, system_metrics=False, excluded_urls=["/metrics"]
)
