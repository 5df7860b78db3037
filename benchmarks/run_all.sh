#!/usr/bin/env bash
# Runs every benchmark in turn; pass --quick for a smoke run (< 30 s each).
# Output goes to stdout and, as JSON, to ${AMAS_BENCH_OUT:-/tmp/amas-bench}/<name>.json.
# Benchmarks 3 and 5 need the Collector (and Jaeger) built by scripts/build_binaries.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
out="${AMAS_BENCH_OUT:-/tmp/amas-bench}"
mkdir -p "$out"
status=0
for name in request_overhead log_cost span_metrics_cost exactness scale collector_throughput tail_decision pricing_cost; do
    echo
    "$python" -m "benchmarks.$name" --json "$out/$name.json" "$@" || { status=1; echo "FAILED: $name" >&2; }
done
exit "$status"
