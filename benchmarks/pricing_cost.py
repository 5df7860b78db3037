"""Benchmark 6: µs to price one GenAI call, genai-prices' ``calc_price`` vs our ``PriceTable``.

The span-metrics processor prices every model call that carries no app cost on the span-end
path. ``calc_price`` matches the model and decomposes the usage on every call; ``PriceTable``
resolves linear rates once per (provider, model) through genai-prices and then multiplies.
Both price the same usages (varied input, cached, output and reasoning tokens over three
models); each variant runs in its own process, rounds interleave, and the results are
checked equal before timing.

    python -m benchmarks.pricing_cost [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

VARIANTS = ("calc_price", "price_table")
FULL = {"rounds": 15, "n": 2000}
QUICK = {"rounds": 5, "n": 500}
MODELS = (
    ("openai", "openai", "gpt-4o-mini-2024-07-18"),
    ("anthropic", "anthropic", "claude-3-5-haiku-20241022"),
    ("openai", "openai", "o3-mini"),
)


def _usages(n: int) -> list[tuple[str, str, str, Any]]:
    from amas_telemetry._internal.genai.pricing import TokenUsage

    return [
        (
            *MODELS[i % len(MODELS)],
            TokenUsage(500 + i, 50 + i % 300, cache_read_tokens=i % 400, reasoning_tokens=i % 7),
        )
        for i in range(n)
    ]


def worker(conn: Any, variant: str, n: int) -> None:
    import genai_prices

    from amas_telemetry._internal.genai.pricing import PriceTable

    usages = _usages(n)
    table = PriceTable()

    def reference(provider_id: str, model: str, usage: Any) -> float:
        priced = genai_prices.calc_price(
            genai_prices.Usage(**usage.as_genai_prices()), model, provider_id=provider_id
        )
        return float(priced.total_price)

    def ours(provider: str, model: str, usage: Any) -> float | None:
        return table.cost(provider, model, usage)

    for provider, provider_id, model, usage in usages:  # warm-up, and the two agree
        assert ours(provider, model, usage) == reference(provider_id, model, usage)
    conn.send("ready")
    while conn.recv() == "round":
        start = time.perf_counter()
        if variant == "calc_price":
            for _, provider_id, model, usage in usages:
                reference(provider_id, model, usage)
        else:
            for provider, _, model, usage in usages:
                ours(provider, model, usage)
        conn.send((time.perf_counter() - start) / n)


def main() -> int:
    args = c.parse_args(__doc__.split("\n")[0])
    params = QUICK if args.quick else FULL
    c.print_header("Benchmark 6: pricing one GenAI call")
    with (
        c.child(worker, "calc_price", params["n"]) as (_, slow),
        c.child(worker, "price_table", params["n"]) as (_, fast),
    ):
        conns = {"calc_price": slow, "price_table": fast}
        for name, conn in conns.items():
            assert c.receive(conn, 120, name) == "ready"

        def sample(name: str) -> Any:
            def run() -> float:
                conns[name].send("round")
                return c.receive(conns[name], 120, name)

            return run

        samples = c.interleaved({name: sample(name) for name in VARIANTS}, params["rounds"])
        for conn in conns.values():
            conn.send("stop")
    rows = [
        (
            name,
            c.us(c.median(samples[name])),
            c.spread(samples[name]),
            f"{c.ratio(samples, name, 'calc_price'):.3f}",
        )
        for name in VARIANTS
    ]
    print(c.table(("variant", "µs per call", "spread", "ratio to calc_price"), rows))
    c.write_json(args.json, {"params": params, "samples": samples})
    return 0


if __name__ == "__main__":
    sys.exit(main())
