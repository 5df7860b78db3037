#!/usr/bin/env bash
# Build the Go binaries of the native test stack, once per machine, from the Go module proxy.
#
#   scripts/build_binaries.sh [--force] [--print-dir] [NAME ...]
#
# NAME is any of: collector prometheus promtool alertmanager amtool jaeger victorialogs telemetrygen
# compose thanos helm (default: all). Binaries land in  ${AMAS_BUILD_DIR:-$HOME/.cache/amas-telemetry}/bin
# (outside the repo, so that fresh clones on the same machine, e.g. CI, reuse them); the
# repo-local, git-ignored build/ is made a symlink to that folder.
#
# Each binary is keyed by its module version (the Collector by the builder version and a
# hash of collector/builder-config.yaml; Prometheus and Alertmanager also by the key of the
# web UI they embed, built with Node.js by scripts/ui_builds.sh and cached in <cache>/ui,
# see docs/ui.md): the build is skipped when the binary for that key
# exists, and redone when the key changes. bin/NAME is a symlink to store/NAME@KEY/NAME.
# Builds run one after another (small machines); each build's wall time is printed to stderr
# and appended to <cache>/build-times.log.
set -euo pipefail

# ---- versions (change here; the key of each binary follows) --------------------------------
OCB_VERSION="v0.165.0"                    # go.opentelemetry.io/collector/cmd/builder
PROMETHEUS_MODULE="github.com/prometheus/prometheus"
PROMETHEUS_VERSION="v0.316.0"             # Go module version of Prometheus v3.16.0
PROMETHEUS_RELEASE="3.16.0"
PROMETHEUS_TAGS="remove_all_sd"           # no cloud service discovery (static/file SD remain)
ALERTMANAGER_MODULE="github.com/prometheus/alertmanager"
ALERTMANAGER_VERSION="v0.35.0"
JAEGER_MODULE="github.com/jaegertracing/jaeger"
JAEGER_VERSION="v1.76.0"                  # Go module tag of the Jaeger v2 release line
VICTORIALOGS_MODULE="github.com/VictoriaMetrics/VictoriaLogs"
VICTORIALOGS_VERSION="v1.52.1"
# the Collector project's OTLP load generator (e2e: delta and cumulative metrics from a
# client that is not ours); v0.161.0 is the newest the module proxy here serves
TELEMETRYGEN_MODULE="github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen"
TELEMETRYGEN_VERSION="v0.161.0"
# Docker Compose v2 (the compose implementation users run), for the compose test: it drives
# podman through podman's Docker-compatible API (tests/compose/test_compose_up.py)
COMPOSE_MODULE="github.com/docker/compose/v2"
COMPOSE_VERSION="v2.40.3"

# metrics past one Prometheus (docs/scaling.md): receive hashring, query, rule
THANOS_MODULE="github.com/thanos-io/thanos"
THANOS_VERSION="v0.42.5"
THANOS_GOTOOLCHAIN="go1.27.3"             # v0.42.5 needs Go >= 1.26.10; the proxy serves this toolchain
# the tags of Thanos's own release build (.promu.yml): without slicelabels its zero-copy label
# conversions misread Prometheus's default (stringlabels) layout and the gRPC servers panic
THANOS_TAGS="netgo,slicelabels"
# the Helm chart's lint and template tests (deploy/helm); no cluster is needed for either
HELM_MODULE="helm.sh/helm/v4"
HELM_VERSION="v4.3.2"

ALL=(collector jaeger victorialogs prometheus promtool alertmanager amtool telemetrygen compose thanos helm)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${AMAS_BUILD_DIR:-$HOME/.cache/amas-telemetry}"
BIN_DIR="$CACHE_DIR/bin"
STORE_DIR="$CACHE_DIR/store"
WORK_ROOT="$CACHE_DIR/work"
TIMES_LOG="$CACHE_DIR/build-times.log"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
export CGO_ENABLED="${CGO_ENABLED:-0}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export GOWORK=off   # module zips may ship a go.work naming folders that are not in the zip

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[build] ERROR: %s\n' "$*" >&2; exit 1; }

FORCE=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --print-dir) echo "$BIN_DIR"; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    all) targets+=("${ALL[@]}") ;;
    collector|prometheus|promtool|alertmanager|amtool|jaeger|victorialogs|telemetrygen|compose|thanos|helm) targets+=("$arg") ;;
    *) die "unknown binary '$arg' (known: ${ALL[*]})" ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${ALL[@]}")

command -v go >/dev/null 2>&1 || die "go not found (expected on PATH or at /usr/local/go/bin)"
mkdir -p "$BIN_DIR" "$STORE_DIR" "$WORK_ROOT"

# one build at a time per cache (two clones building at once would share work folders)
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/.build.lock"
  if ! flock -n 9; then
    log "another build is running in $CACHE_DIR; waiting for it"
    flock 9
  fi
fi

# repo-local build/ -> cache (only when build/ does not exist as something else)
if [ ! -e "$REPO_ROOT/build" ] && [ ! -L "$REPO_ROOT/build" ]; then
  ln -s "$BIN_DIR" "$REPO_ROOT/build" 2>/dev/null || true
fi

# ---- helpers -------------------------------------------------------------------------------
sha_of() { sha256sum "$1" | cut -c1-12; }

# the Collector's key: its manifest plus the local modules it names (collector/*receiver/)
collector_sources_sha() {
  ( cd "$REPO_ROOT/collector" && find builder-config.yaml $(sed -n 's|^[[:space:]]*path:[[:space:]]*\./||p' builder-config.yaml) \
      -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.yaml' \) -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum ) | sha256sum | cut -c1-12
}

# run CMD... with output to LOGFILE; on failure, name the binary and show the last lines
run_logged() {
  local name="$1" logfile="$2"; shift 2
  if ! "$@" >>"$logfile" 2>&1; then
    printf '[build] ERROR: building %s failed: %s\n' "$name" "$*" >&2
    printf '[build] last lines of %s:\n' "$logfile" >&2
    tail -n 25 "$logfile" | sed 's/^/    /' >&2
    return 1
  fi
}

# download MODULE@VERSION through the module proxy; print its (read-only) source dir
module_dir() {
  local name="$1" mod="$2" ver="$3" logfile="$4" json dir
  if ! json="$(cd "$WORK_ROOT" && go mod download -json "$mod@$ver" 2>>"$logfile")"; then
    printf '[build] ERROR: %s: go mod download %s@%s failed\n' "$name" "$mod" "$ver" >&2
    printf '%s\n' "$json" | tail -n 10 >&2; tail -n 10 "$logfile" >&2
    return 1
  fi
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
  [ -n "$dir" ] && [ -d "$dir" ] || { printf '[build] ERROR: %s: no Dir in go mod download output\n%s\n' "$name" "$json" >&2; return 1; }
  printf '%s\n' "$dir"
}

# Build ./PKG of MODULE@VERSION inside a writable copy of the module (go install mod@ver
# refuses modules with replace directives; a copy keeps the module's own go.mod/go.sum).
build_from_module() {
  local name="$1" mod="$2" ver="$3" pkg="$4" out="$5" logfile="$6" tags="${7:-}" ldflags="${8:-}" prepare="${9:-}"
  local src work
  src="$(module_dir "$name" "$mod" "$ver" "$logfile")" || return 1
  work="$(mktemp -d "$WORK_ROOT/$name.XXXXXX")"
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  if [ -n "$prepare" ]; then ( cd "$work" && "$prepare" ) || { rm -rf "$work"; return 1; }; fi
  local args=(build -trimpath -o "$out")
  [ -n "$tags" ] && args+=(-tags "$tags")
  args+=(-ldflags "-s -w $ldflags")
  args+=("./$pkg")
  ( cd "$work" && run_logged "$name" "$logfile" go "${args[@]}" ) || { rm -rf "$work"; return 1; }
  rm -rf "$work"
}

# Prometheus embeds its web UI (built by ui_builds.sh) with the `builtinassets` tag; its own
# scripts/compress_assets.sh gzips the prebuilt files into web/ui/static and writes embed.go.
prepare_prometheus_ui() {
  local ui
  ui="$(ui_build prometheus)" || return 1
  PREBUILT_ASSETS_STATIC_DIR="$ui/static" bash scripts/compress_assets.sh >/dev/null
}

# Alertmanager embeds ui/app/dist: the new UI (ui/mantine-ui, served at /ui/) and, at /, in
# place of the classic Elm UI, which cannot be built here, a page that says so (both made by
# ui_builds.sh).
prepare_alertmanager_ui() {
  local ui
  ui="$(ui_build alertmanager)" || return 1
  rm -rf ui/app/dist && mkdir -p ui/app/dist
  cp -r "$ui/mantine" "$ui/elm" ui/app/dist/
}

key_for() {
  case "$1" in
    collector) echo "ocb-${OCB_VERSION}-$(collector_sources_sha)" ;;
    prometheus) echo "${PROMETHEUS_VERSION}-ui-$(ui_key prometheus)" ;;  # the UI is built in
    promtool) echo "${PROMETHEUS_VERSION}" ;;
    alertmanager) echo "${ALERTMANAGER_VERSION}-ui-$(ui_key alertmanager)" ;;
    amtool) echo "${ALERTMANAGER_VERSION}" ;;
    jaeger) echo "${JAEGER_VERSION}" ;;
    victorialogs) echo "${VICTORIALOGS_VERSION}" ;;
    telemetrygen) echo "${TELEMETRYGEN_VERSION}" ;;
    compose) echo "${COMPOSE_VERSION}" ;;
    thanos) echo "${THANOS_VERSION}-${THANOS_GOTOOLCHAIN}-${THANOS_TAGS//,/-}" ;;
    helm) echo "${HELM_VERSION}" ;;
  esac
}

# the Go toolchain a binary is built with ("" = the machine's go)
toolchain_for() {
  case "$1" in
    thanos) echo "$THANOS_GOTOOLCHAIN" ;;
    *) echo "" ;;
  esac
}

binary_name() {  # file name in bin/
  case "$1" in
    collector) echo "otelcol-amas" ;;
    victorialogs) echo "victoria-logs" ;;
    compose) echo "docker-compose" ;;
    *) echo "$1" ;;
  esac
}

do_build() {  # NAME OUT LOGFILE
  local name="$1" out="$2" logfile="$3"
  case "$name" in
    collector)
      local gen="$WORK_ROOT/otelcol-amas-$(key_for collector)" cfg
      rm -rf "$gen"; mkdir -p "$gen"
      cfg="$gen/builder-config.yaml"
      # same manifest, output_path pointed into the cache, local module paths made absolute
      sed -e "s|^\([[:space:]]*output_path:\).*|\1 $gen/src|" \
          -e "s|^\([[:space:]]*path:[[:space:]]*\)\./|\1$REPO_ROOT/collector/|" \
          "$REPO_ROOT/collector/builder-config.yaml" >"$cfg"
      grep -q "output_path: $gen/src" "$cfg" || { echo "[build] ERROR: collector: builder-config.yaml has no dist.output_path line" >&2; return 1; }
      ( cd "$gen" && run_logged collector "$logfile" \
          go run "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}" --config "$cfg" ) || return 1
      [ -x "$gen/src/otelcol-amas" ] || { echo "[build] ERROR: collector: builder produced no $gen/src/otelcol-amas" >&2; tail -n 20 "$logfile" >&2; return 1; }
      cp "$gen/src/otelcol-amas" "$out"
      rm -rf "$gen"
      ;;
    prometheus|promtool)
      local prom_tags="$PROMETHEUS_TAGS" prom_prepare=""
      if [ "$name" = prometheus ]; then prom_tags="$PROMETHEUS_TAGS builtinassets"; prom_prepare=prepare_prometheus_ui; fi
      build_from_module "$name" "$PROMETHEUS_MODULE" "$PROMETHEUS_VERSION" "cmd/$name" "$out" "$logfile" \
        "$prom_tags" \
        "-X github.com/prometheus/common/version.Version=${PROMETHEUS_RELEASE} -X github.com/prometheus/common/version.Branch=module -X github.com/prometheus/common/version.Revision=${PROMETHEUS_VERSION}" \
        "$prom_prepare"
      ;;
    alertmanager|amtool)
      local am_prepare=""
      [ "$name" = alertmanager ] && am_prepare=prepare_alertmanager_ui  # amtool embeds no UI
      build_from_module "$name" "$ALERTMANAGER_MODULE" "$ALERTMANAGER_VERSION" "cmd/$name" "$out" "$logfile" "" \
        "-X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v} -X github.com/prometheus/common/version.Branch=module -X github.com/prometheus/common/version.Revision=${ALERTMANAGER_VERSION}" \
        "$am_prepare"
      ;;
    jaeger)
      build_from_module jaeger "$JAEGER_MODULE" "$JAEGER_VERSION" "cmd/jaeger" "$out" "$logfile"
      ;;
    victorialogs)
      build_from_module victorialogs "$VICTORIALOGS_MODULE" "$VICTORIALOGS_VERSION" "app/victoria-logs" "$out" "$logfile" "" \
        "-X github.com/VictoriaMetrics/VictoriaLogs/lib/buildinfo.Version=victoria-logs-${VICTORIALOGS_VERSION}"
      ;;
    telemetrygen)
      build_from_module telemetrygen "$TELEMETRYGEN_MODULE" "$TELEMETRYGEN_VERSION" "." "$out" "$logfile"
      ;;
    compose)
      build_from_module compose "$COMPOSE_MODULE" "$COMPOSE_VERSION" "cmd" "$out" "$logfile" "" \
        "-X ${COMPOSE_MODULE}/internal.Version=${COMPOSE_VERSION}"
      ;;
    thanos)
      build_from_module thanos "$THANOS_MODULE" "$THANOS_VERSION" "cmd/thanos" "$out" "$logfile" "$THANOS_TAGS" \
        "-X github.com/prometheus/common/version.Version=${THANOS_VERSION#v} -X github.com/prometheus/common/version.Branch=module -X github.com/prometheus/common/version.Revision=${THANOS_VERSION}"
      ;;
    helm)
      build_from_module helm "$HELM_MODULE" "$HELM_VERSION" "cmd/helm" "$out" "$logfile" "" \
        "-X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}"
      ;;
  esac
}

# shellcheck source=scripts/ui_builds.sh
. "$REPO_ROOT/scripts/ui_builds.sh"

# ---- main ----------------------------------------------------------------------------------
log "cache: $CACHE_DIR  ($(go version))"
failed=()
seen=" "
total_start=$SECONDS
for name in "${targets[@]}"; do
  case "$seen" in *" $name "*) continue ;; esac
  seen+="$name "
  key="$(key_for "$name")"
  file="$(binary_name "$name")"
  dest_dir="$STORE_DIR/$file@$key"
  if [ "$FORCE" = 0 ] && [ -x "$dest_dir/$file" ]; then
    ln -sfn "$dest_dir/$file" "$BIN_DIR/$file"
    log "$name: up to date ($key) -> $BIN_DIR/$file"
    continue
  fi
  logfile="$CACHE_DIR/logs/$file@$key.log"
  mkdir -p "$(dirname "$logfile")"; : >"$logfile"
  log "$name: building $key (log: $logfile) ..."
  start=$SECONDS
  tmp_out="$WORK_ROOT/$file.out.$$"
  # progress line every 60 s while the build runs
  # (the lock fd closed in the ticker: its last `sleep` must not hold the lock after the build)
  ( while sleep 60; do log "$name: still building, $((SECONDS - start)) s"; done ) 9>&- &
  ticker=$!
  toolchain="$(toolchain_for "$name")"
  [ -n "$toolchain" ] && log "$name: with GOTOOLCHAIN=$toolchain (this build only)"
  if ( [ -n "$toolchain" ] && export GOTOOLCHAIN="$toolchain"; do_build "$name" "$tmp_out" "$logfile" ); then
    kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true
    mkdir -p "$dest_dir"
    mv -f "$tmp_out" "$dest_dir/$file"
    chmod +x "$dest_dir/$file"
    ln -sfn "$dest_dir/$file" "$BIN_DIR/$file"
    secs=$((SECONDS - start))
    log "$name: built in ${secs} s -> $BIN_DIR/$file"
    printf '%s\t%s\t%s\t%ss\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$key" "$secs" "${toolchain:-$(go env GOVERSION)}" >>"$TIMES_LOG"
  else
    kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true
    rm -f "$tmp_out"
    secs=$((SECONDS - start))
    log "$name: FAILED after ${secs} s (full log: $logfile)"
    printf '%s\t%s\t%s\tFAILED after %ss\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$key" "$secs" >>"$TIMES_LOG"
    failed+=("$name")
  fi
done
log "done in $((SECONDS - total_start)) s; binaries in $BIN_DIR"
if [ ${#failed[@]} -gt 0 ]; then
  die "failed to build: ${failed[*]} (see the messages above and $CACHE_DIR/logs/)"
fi
