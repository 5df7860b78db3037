"""Plots of benchmark output for the docs: request overhead and exact counts under sampling.

Reads the JSON that ``python -m benchmarks.request_overhead --json`` and
``python -m benchmarks.exactness --json`` write (``benchmarks/run_all.sh`` writes both to
``$AMAS_BENCH_OUT``) and draws:

- ``overhead.png``: time per request as a ratio to bare FastAPI, per variant, for each
  route of the socket driver (ours at two sampling ratios, the span-only floor, stock OTel,
  Logfire): the median of the per-round ratios, whiskers at their quartiles;
- ``exactness.png``: the true request count, ours (span-derived), and the Collector's
  spanmetrics connector scaled by 1/ratio, at each sampling ratio.

    python -m benchmarks.plots --from /tmp/amas-bench --out docs/images
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as c

#: variant -> (label, colour); in plot order
OVERHEAD_VARIANTS = {
    "span-only": ("server span alone (floor)", "#9aa5b1"),
    "ours:0.01:sink": ("amas-telemetry, sampling 0.01", "#2f7ed8"),
    "ours:1.0:sink": ("amas-telemetry, sampling 1.0", "#1f4e8c"),
    "stock": ("stock OTel (contrib instrumentor)", "#e0812b"),
    "logfire": ("Logfire (no export)", "#b04fb4"),
    "logfire:sink": ("Logfire (exporting)", "#7a2a7e"),
}
DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def stamp(payload: dict[str, Any], source: Path) -> str:
    """When and where the benchmark ran: the JSON's date, cores and load average."""
    machine = payload.get("machine") or {}
    load = ", ".join(f"{x:.1f}" for x in machine.get("load_avg") or ())
    day = time.strftime("%Y-%m-%d", time.gmtime(source.stat().st_mtime))
    return f"{payload.get('benchmark', '')} run of {day}: {machine.get('nproc', '?')} cores, load avg {load}"


def quartiles(samples: dict[str, list[float]], name: str, base: str) -> tuple[float, float]:
    """First and third quartile of the per-round ratios (the whiskers: how noisy a bar is)."""
    ratios = [a / b for a, b in zip(samples[name], samples[base], strict=False) if b > 0]
    if len(ratios) < 2:
        return ratios[0], ratios[0]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return q1, q3


def plot_overhead(payload: dict[str, Any], out: Path, note: str = "") -> Path:
    """Ratio to bare per variant, one group of bars per route (socket driver)."""
    plt = _pyplot()
    cells = {k.split("|")[1]: v for k, v in payload["cells"].items() if k.startswith("socket|")}
    if not cells:
        raise SystemExit("request_overhead JSON has no socket-driver cells (run it with --drivers socket)")
    routes = [r for r in ("minimal", "realistic") if r in cells]
    variants = [v for v in OVERHEAD_VARIANTS if all(v in cells[r] for r in routes)]
    fig, ax = plt.subplots(figsize=(8.5, 4.2), dpi=DPI)
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        label, colour = OVERHEAD_VARIANTS[variant]
        ratios = [c.ratio(cells[r], variant, "bare") for r in routes]
        spread = [quartiles(cells[r], variant, "bare") for r in routes]
        errors = [
            [m - q1 for m, (q1, _) in zip(ratios, spread, strict=True)],
            [q3 - m for m, (_, q3) in zip(ratios, spread, strict=True)],
        ]
        xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(routes))]
        bars = ax.bar(
            xs,
            ratios,
            width * 0.92,
            label=label,
            color=colour,
            yerr=errors,
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#555"},
        )
        ax.bar_label(bars, labels=[f"{r:.2f}x" for r in ratios], fontsize=7, padding=2)
    ax.axhline(1.0, color="#333", linewidth=0.8)
    ax.set_yscale("log", base=2)  # 1.3x and 15x on one chart; the whiskers of a noisy run stay readable
    ax.yaxis.set_major_formatter(lambda y, _: f"{y:g}x")
    ax.set_xticks(range(len(routes)), [f"{r} route ({len(cells[r]['bare'])} rounds)" for r in routes])
    ax.set_ylabel("time per request / bare FastAPI\n(median of rounds; whiskers: quartiles)")
    ax.set_title("Request overhead over a uvicorn socket (lower is better)")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_ylim(0.9, ax.get_ylim()[1] * 1.3)
    fig.text(0.99, 0.01, note, ha="right", fontsize=7, color="#666")
    fig.tight_layout()
    path = out / "overhead.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_exactness(payload: dict[str, Any], out: Path, note: str = "") -> Path:
    """True count vs ours vs the Collector's estimate, per sampling ratio."""
    plt = _pyplot()
    n = payload["requests"]
    ratios = sorted(payload["runs"], key=float)
    series = {
        "true count": ([n for _ in ratios], "#444"),
        "amas-telemetry (span-derived, every span)": (
            [payload["runs"][r]["derived"] for r in ratios],
            "#2f7ed8",
        ),
        "Collector spanmetrics x 1/ratio (exported spans only)": (
            [payload["runs"][r]["collector_calls"] / float(r) for r in ratios],
            "#e0812b",
        ),
    }
    fig, ax = plt.subplots(figsize=(8.5, 4.0), dpi=DPI)
    width = 0.8 / len(series)
    for i, (label, (values, colour)) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(ratios))]
        bars = ax.bar(xs, values, width * 0.92, label=label, color=colour)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7, padding=2)
    ticks = [
        f"sampling {r}: {run['exported_server_spans']:,} server spans,\n"
        f"{run['bytes']['traces'] / 1e6:.1f} MB of traces exported"
        for r, run in ((r, payload["runs"][r]) for r in ratios)
    ]
    ax.set_xticks(range(len(ratios)), ticks)
    ax.set_ylabel("requests counted")
    ax.set_title(f"Request counts under trace sampling ({n:,} requests sent)")
    ax.legend(fontsize=8, frameon=False, loc="upper center", ncol=3)
    ax.set_ylim(0, n * 1.3)
    fig.text(0.99, 0.01, note, ha="right", fontsize=7, color="#666")
    fig.tight_layout()
    path = out / "exactness.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from", dest="source", type=Path, required=True, help="folder of the benchmark JSON"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    plots = ((plot_overhead, "request_overhead.json"), (plot_exactness, "exactness.json"))
    for plot, name in plots:
        source = args.source / name
        if not source.is_file():
            raise SystemExit(f"{source} not found: run the benchmark with --json {source}")
        payload = json.loads(source.read_text())
        print(plot(payload, args.out, stamp(payload, source)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
