#!/usr/bin/env bash
# Run every test: unit, integration (real PostgreSQL + Redis), rules/dashboards/compose checks,
# and end-to-end (real Collector, Prometheus, Jaeger, VictoriaLogs). Extra args go to pytest.
#
#   bash scripts/test.sh                 # all
#   bash scripts/test.sh tests/unit -x   # a part
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run 'bash scripts/setup.sh' first" >&2; exit 2; }
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
