#!/usr/bin/env bash
# Set up a fresh machine for amas-telemetry: Debian packages, the Python venv, the Go binaries.
# Idempotent: what is already there is kept. Safe to run again after a pull.
#
#   bash scripts/setup.sh            # everything (the Go binaries and web UIs take ~12 min on 2 cores the first time,
#                                    # Docker Compose ~7 more; podman from Debian for the compose test)
#   bash scripts/setup.sh --no-go    # only what the demo needs (PostgreSQL, Redis, Python);
#                                    # no Go binaries, web UIs, Chromium or podman
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
with_go=1
[ "${1:-}" = "--no-go" ] && with_go=0

missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "$with_go" = 1 ]; then  # the browser tests (tests/browser) open the stack's UIs
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
fi
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  bash scripts/apt_install.sh "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  "$PYTHON" -m venv .venv
fi
step "installing the workspace from uv.lock into .venv (the library, the service, the dev stack, the test tools)"
# uv is bootstrapped once per machine with the machine's own pip (scripts/uv.sh); the versions
# come from uv.lock, never from a fresh resolution (--frozen), so every machine gets the same.
UV="$(bash scripts/uv.sh)"
UV_PYTHON_DOWNLOADS=never "$UV" sync --frozen --all-packages --quiet

if [ "$with_go" = 1 ]; then
  step "building the Go binaries of the native stack (cached in \$HOME/.cache/amas-telemetry)"
  bash scripts/build_binaries.sh
  # the compose test (tests/compose/test_compose_up.py) runs compose.yaml in podman
  bash scripts/containers/install.sh
fi
step "setup done"
