#!/usr/bin/env bash
# Run every test: unit, integration (real PostgreSQL + Redis), rules/dashboards/compose checks,
# the docs (built by mkdocs --strict, then tests/docs), and end-to-end (real Collector,
# Prometheus, Jaeger, VictoriaLogs). Sets the machine up first
# (scripts/setup.sh: idempotent, seconds when all is there). Extra args go to pytest.
#
#   bash scripts/test.sh                 # all
#   bash scripts/test.sh tests/unit -x   # a part
#   AMAS_SKIP_SETUP=1 bash scripts/test.sh ...   # skip the setup check
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${AMAS_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
.venv/bin/ruff check .
# the docs site (mkdocs.yml): a broken link, anchor, snippet or nav entry fails the build
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir site
exec .venv/bin/python -m pytest "$@"
