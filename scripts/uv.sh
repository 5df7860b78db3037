#!/usr/bin/env bash
# Print the path of a uv binary of the pinned version, installing it once per machine.
#
#   UV=$(bash scripts/uv.sh)
#
# uv comes from PyPI, installed with the machine's own `python3 -m venv` and its pip (whatever its
# age) into ${AMAS_BUILD_DIR:-~/.cache/amas-telemetry}/uv-<version>, outside the repo, so that fresh
# clones on the same machine (CI, the demo) share it. Everything else is installed by uv from uv.lock.
set -euo pipefail
UV_VERSION="0.13.10"
PYTHON="${PYTHON:-python3}"
dir="${AMAS_BUILD_DIR:-$HOME/.cache/amas-telemetry}/uv-$UV_VERSION"
if [ ! -x "$dir/bin/uv" ]; then
  echo "==> installing uv $UV_VERSION into $dir (once per machine)" >&2
  rm -rf "$dir"  # a half-made install (bin/uv appears last)
  mkdir -p "$(dirname "$dir")"
  if ! "$PYTHON" -m venv "$dir" >&2; then
    echo "uv.sh: '$PYTHON -m venv' failed: install python3 (>= 3.11) with venv (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" >&2
fi
echo "$dir/bin/uv"
