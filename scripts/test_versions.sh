#!/usr/bin/env bash
# The library's tests against the oldest or the newest dependencies its ranges allow.
#
#   bash scripts/test_versions.sh lowest    # every range at its floor (uv --resolution lowest-direct)
#   bash scripts/test_versions.sh highest   # the newest the index serves (contrib betas included)
#   extra args go to pytest (after the mode)
#
# The library is installed from its wheel (built here, so packaging mistakes show), into
# .venv-lowest / .venv-highest (git-ignored; made again on every run, from uv's cache). Its
# ranges (pyproject.toml) are passed to uv as direct requirements, so that lowest-direct moves
# exactly them; the test tools are pinned at the versions of uv.lock, so only the library's own
# ranges move. The client libraries an app brings (asyncpg, redis, httpx, openai, anthropic) are
# at tests/versions/clients-lowest.txt for `lowest` and the newest for `highest`.
#
# `lowest` runs twice: the asyncpg extra needs a newer OpenTelemetry train than the rest of the
# library (its instrumentation honours untraced() from 0.66b0 on), so the unit tests run first
# without asyncpg at all (the core floor), then, with the asyncpg extra, the tests that involve
# asyncpg and the integration tests (whose fixtures import the service, hence asyncpg).
#
# Tests: tests/unit (less the files about the service and the dev stack) and the
# integration tests of the library alone (client instrumentations and GenAI SDKs on real
# PostgreSQL, Redis and fake providers; their fixtures come from the workspace's amas-service
# and amas-devstack, installed without dependencies). Why each floor is where it is, and what
# failed one version below it: docs/versions.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode="${1:-}"
case "$mode" in
  lowest|highest) shift ;;
  *) echo "usage: bash scripts/test_versions.sh lowest|highest [pytest args]" >&2; exit 2 ;;
esac

export UV_PYTHON_DOWNLOADS=never  # the machine's python3: no interpreter is downloaded
UV="$(bash scripts/uv.sh)"
PYTHON="$(command -v "${PYTHON:-python3}")"
venv=".venv-$mode"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { printf '\n==> [%s] %s\n' "$mode" "$*" >&2; }

# promtool checks the exposition (tests/unit/test_exposition.py): built once per machine, keyed
[ -x "${AMAS_BUILD_DIR:-$HOME/.cache/amas-telemetry}/bin/promtool" ] || bash scripts/build_binaries.sh promtool

step "building the library's wheel"
"$UV" build --quiet --wheel --out-dir "$work/dist" . >&2
wheel="$(ls "$work"/dist/amas_telemetry-*.whl)"

# the test tools at uv.lock's versions (== pins, so lowest-direct leaves them where they are)
TOOLS='pytest|pytest-asyncio|inline-snapshot|hypothesis|pyyaml|uvicorn|gunicorn|httpx2'
"$UV" export --frozen --no-hashes --all-packages --group test --no-emit-workspace 2>/dev/null \
  | grep -E "^($TOOLS)==" >"$work/tools.txt"
[ "$(wc -l <"$work/tools.txt")" -eq 8 ] || { echo "test tools missing from uv.lock:" >&2; cat "$work/tools.txt" >&2; exit 1; }

# test tools of the OpenTelemetry train (each pins the SDK's or contrib's version exactly), with
# the library's own floors as theirs so that lowest-direct does not wander into old trains
floor() { sed -n "s/^ *\"$1>=\([^,\"]*\).*/\1/p" pyproject.toml | head -1; }
sdk_floor="$(floor opentelemetry-sdk)"
contrib_floor="$(floor opentelemetry-exporter-prometheus)"
[ -n "$sdk_floor" ] && [ -n "$contrib_floor" ] || { echo "no OpenTelemetry floors in pyproject.toml" >&2; exit 1; }
cat >"$work/train-tools.txt" <<EOF
opentelemetry-proto>=$sdk_floor
opentelemetry-instrumentation-fastapi>=$contrib_floor
opentelemetry-instrumentation-logging>=$contrib_floor
EOF

if [ "$mode" = lowest ]; then
  resolution=(--resolution lowest-direct)
  grep -v '^#' tests/versions/clients-lowest.txt >"$work/clients.txt"
else
  resolution=(--resolution highest)
  sed -n 's/^\([a-z0-9-]*\)==.*/\1/p' tests/versions/clients-lowest.txt >"$work/clients.txt"
fi

# install EXTRAS [CLIENT]: a fresh venv with the wheel and its ranges as direct requirements,
# the test tools, and the client libraries (less CLIENT)
install() {
  local extras="$1" without="${2:-}"
  local extra_args=()
  for e in ${extras//,/ }; do extra_args+=(--extra "$e"); done
  grep -vE "^${without:-(none)}(==|$)" "$work/clients.txt" >"$work/clients-now.txt"
  "$UV" venv --quiet --clear --python "$PYTHON" "$venv" >&2
  "$UV" pip install --quiet --python "$venv/bin/python" "${resolution[@]}" --prerelease if-necessary-or-explicit \
    -r pyproject.toml "${extra_args[@]}" "$wheel[$extras]" \
    -r "$work/tools.txt" -r "$work/train-tools.txt" -r "$work/clients-now.txt" >&2
  # the integration fixtures (PostgreSQL, Redis, fake providers) live in the workspace's members
  "$UV" pip install --quiet --python "$venv/bin/python" --no-deps ./service ./devstack >&2
  "$UV" pip list --python "$venv/bin/python" 2>/dev/null \
    | grep -E '^(opentelemetry-[a-z0-9-]+|fastapi|starlette|prometheus-client|google-re2|psutil|genai-prices|asyncpg|redis|httpx|openai|anthropic|protobuf|grpcio) ' \
    | awk '{printf "%s==%s  ", $1, $2} END {print ""}' >&2
}

run_tests() {
  # the library from the wheel, not from src/ (the tests never put src/ first on sys.path)
  "$venv/bin/python" -c 'import amas_telemetry, sys; f = amas_telemetry.__file__; sys.exit(0 if "site-packages" in f else f"amas_telemetry imported from {f}")'
  # logfire caps OpenTelemetry (<1.46 today): as a tool here it would hold the newest end back;
  # the locked suite (scripts/test.sh) runs the test next to it
  nice "$venv/bin/python" -m pytest -p no:cacheprovider \
    --deselect tests/unit/test_coexistence.py::test_next_to_pydantic_logfire_configured_first \
    "$@"
}

UNIT=(tests/unit --ignore=tests/unit/test_devstack.py --ignore=tests/unit/test_postgres_reachable.py
      --ignore=tests/unit/test_service_main.py --ignore=tests/unit/test_stack_links.py)
INTEGRATION=(tests/integration/test_client_instrumentation.py tests/integration/test_no_duplicate_metrics.py
             tests/integration/test_genai_sdks.py)
ALL_EXTRAS=fastapi,asyncpg,redis,httpx,openai,anthropic,pricing

if [ "$mode" = lowest ]; then
  step "the core floor: every extra but asyncpg (and no asyncpg), at the lowest versions the ranges allow"
  install "${ALL_EXTRAS/asyncpg,/}" asyncpg
  run_tests "${UNIT[@]}" "$@"
  step "with the asyncpg extra at its floor (it lifts the OpenTelemetry train): the tests that involve asyncpg, and the integration tests (their fixtures need asyncpg)"
  install "$ALL_EXTRAS"
  run_tests tests/unit/test_configure.py tests/unit/test_compat.py "${INTEGRATION[@]}" "$@"
else
  step "every extra, at the newest versions the index serves"
  install "$ALL_EXTRAS"
  run_tests "${UNIT[@]}" "${INTEGRATION[@]}" "$@"
fi
