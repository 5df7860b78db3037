#!/bin/sh
# The demo on a fresh machine: a virtualenv with the reference service and the dev stack from
# uv.lock (once), then the demo (amas_devstack.demo.cli).
#   scripts/demo.sh [--tasks 300] [--keep-running] [--stop] ...
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            rm -rf .venv && "$PYTHON" -m venv .venv
        else
            echo "demo: needs python3 (>= 3.11) with venv: sudo apt-get install python3-venv" >&2
            exit 1
        fi
    fi
fi
if ! .venv/bin/python -c "import amas_devstack.demo.cli" 2>/dev/null; then
    echo "demo: installing the reference service and the dev stack into .venv (from uv.lock) ..." >&2
    UV=$(bash scripts/uv.sh)
    UV_PYTHON_DOWNLOADS=never "$UV" sync --frozen --package amas-devstack --no-default-groups --quiet
fi
exec .venv/bin/python -m amas_devstack.demo.cli "$@"
