"""A small bookshop API wired with amas_telemetry: the complete example of the README and the docs.

    pip install 'amas-telemetry[fastapi]' uvicorn
    python bookshop.py --port 8000      # or, in a clone of the repository: python -m examples.bookshop

Then ``curl localhost:8000/books``, ``curl -X POST localhost:8000/books/1/orders`` and
``curl localhost:8000/metrics``. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``AMAS_OTLP_ENDPOINT``)
set, traces, metrics and logs also go to that OTLP endpoint (a Collector).
tests/examples/test_bookshop.py runs it.
"""

# --8<-- [start:app]
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from opentelemetry import trace

import amas_telemetry
from amas_telemetry import InstrumentKind, MetricSpec
from amas_telemetry.spanmetrics import rule

log = logging.getLogger("bookshop")
tracer = trace.get_tracer("bookshop")  # at import time is fine: it follows configure()

# A gauge of our own, read when metrics are collected (a scrape of /metrics, an OTLP export).
BOOKS_IN_STOCK = MetricSpec(
    "bookshop.books.in_stock", InstrumentKind.GAUGE, "{copy}", "Copies on the shelf, by book.",
    attributes=("bookshop.book",),
)
# A metric derived from our own span: one point per "place order" span, sampled or not.
ORDER_VALUE = MetricSpec(
    "bookshop.order.value", InstrumentKind.HISTOGRAM, "{EUR}", "Value of the orders placed.",
    attributes=("bookshop.genre",), buckets=(5, 10, 20, 50, 100),
)
ORDER_VALUE_RULE = rule(
    ORDER_VALUE,
    when=lambda span, attrs: span.name == "place order",
    value=lambda span, attrs: attrs.get("bookshop.order.value"),
    attributes=(("bookshop.genre", lambda span, attrs: attrs.get("bookshop.genre")),),
)


def create_app(**settings: Any) -> FastAPI:
    """The bookshop; ``settings`` go to ``amas_telemetry.configure()`` (e.g. sampling_ratio=0.1)."""
    shelf = {
        1: {"title": "Dune", "genre": "sf", "price": 9.5, "stock": 3},
        2: {"title": "Emma", "genre": "classic", "price": 6.0, "stock": 5},
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        telemetry.shutdown()  # flushes what is pending, then undoes configure()

    # FastAPI's own telemetry off: amas_telemetry makes the server span
    app = FastAPI(title="Bookshop", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/books")
    def list_books() -> dict[int, dict[str, Any]]:
        return shelf

    @app.post("/books/{book_id}/orders")
    def place_order(book_id: int, copies: int = 1) -> dict[str, Any]:
        book = shelf.get(book_id)
        if book is None:
            raise HTTPException(404, "no such book")
        with tracer.start_as_current_span("place order") as span:
            span.set_attribute("bookshop.genre", book["genre"])
            if book["stock"] < copies:
                raise HTTPException(409, "not enough copies")  # the span records the error
            book["stock"] -= copies
            span.set_attribute("bookshop.order.value", copies * book["price"])
        log.info("order placed: %d of book %d", copies, book_id)  # carries trace_id and span_id
        return {"book_id": book_id, "copies": copies, "left": book["stock"]}

    telemetry = amas_telemetry.configure(
        app, service_name="bookshop", span_metric_rules=[ORDER_VALUE_RULE], **settings
    )
    telemetry.observe(
        BOOKS_IN_STOCK, lambda: [(book["stock"], {"bookshop.book": book["title"]}) for book in shelf.values()]
    )
    app.state.telemetry = telemetry
    return app
# --8<-- [end:app]


def main(argv: list[str] | None = None) -> None:
    """Serve the bookshop with uvicorn on 127.0.0.1 (``--host`` to change it)."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="The amas_telemetry bookshop example.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
