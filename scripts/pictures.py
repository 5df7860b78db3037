"""Regenerate the pictures of docs/ui.md from a real run, in one command.

    .venv/bin/python scripts/pictures.py                      # screenshots and benchmark plots
    .venv/bin/python scripts/pictures.py --bench-from DIR     # plots from benchmark JSON in DIR
    .venv/bin/python scripts/pictures.py --no-bench           # screenshots only

1. Screenshots: the browser tests (tests/browser) run a demo (300 tasks here) with the native
   stack and open its links in headless Chromium; the pages the docs show are copied to
   docs/images, scaled down and reduced to a palette (a few tens of kB each).
2. Plots: benchmarks/plots.py draws docs/images/overhead.png and exactness.png from the JSON
   of ``benchmarks.request_overhead --drivers socket`` and ``benchmarks.exactness``, which
   run here first (about 15 minutes on 2 cores) unless ``--bench-from`` names a folder that
   has them (``benchmarks/run_all.sh`` writes them to ``$AMAS_BENCH_OUT``).

Needs the ``pictures`` dependency group (matplotlib: ``uv sync --frozen --all-packages
--group pictures``, with the uv of ``scripts/uv.sh``), the Go binaries and Chromium
(``bash scripts/setup.sh``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGES = REPO_ROOT / "docs" / "images"
#: screenshot of the browser tests -> picture in the docs
SCREENSHOTS = {
    "trace.png": "trace.png",
    "logs.png": "trace-logs.png",
    "prometheus-latency.png": "prometheus-latency.png",
    "prometheus-metrics.png": "prometheus-task-rate.png",
    "alertmanager-config.png": "alertmanager-config.png",
}
WIDTH = 1100  # pixels; the screenshots are taken at 1400
DEMO_TASKS = 300


def screenshots(work: Path) -> None:
    shots = work / "screenshots"
    # a longer demo than the test's default, so the graphs have a few minutes' shape
    env = {**os.environ, "AMAS_SCREENSHOT_DIR": str(shots), "AMAS_BROWSER_DEMO_TASKS": str(DEMO_TASKS)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/browser"], cwd=REPO_ROOT, env=env, check=True
    )
    from PIL import Image

    for shot, picture in SCREENSHOTS.items():
        with Image.open(shots / shot) as image:
            small = image.convert("RGB").resize(
                (WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS
            )
            small.quantize(colors=128).save(IMAGES / picture, optimize=True)
        print(IMAGES / picture, f"{(IMAGES / picture).stat().st_size // 1024} kB")


def benchmarks(work: Path, source: Path | None) -> None:
    if source is None:
        source = work / "bench"
        source.mkdir()
        for name, extra in (("request_overhead", ["--drivers", "socket"]), ("exactness", [])):
            subprocess.run(
                [sys.executable, "-m", f"benchmarks.{name}", *extra, "--json", str(source / f"{name}.json")],
                cwd=REPO_ROOT,
                check=True,
            )
    subprocess.run(
        [sys.executable, "-m", "benchmarks.plots", "--from", str(source), "--out", str(IMAGES)],
        cwd=REPO_ROOT,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-from", type=Path, help="plot benchmark JSON from this folder")
    parser.add_argument("--no-bench", action="store_true", help="screenshots only")
    parser.add_argument("--no-screenshots", action="store_true", help="plots only")
    args = parser.parse_args(argv)
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="amas-pictures-") as tmp:
        if not args.no_screenshots:
            screenshots(Path(tmp))
        if not args.no_bench:
            benchmarks(Path(tmp), args.bench_from)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
