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

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "$with_go" = 1 ]; then  # the browser tests (tests/browser) open the stack's UIs
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
fi
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  # The packages' own services are not used (tests and the demo start private servers on
  # random ports), so Debian is told not to start them: a policy-rc.d that says no.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
