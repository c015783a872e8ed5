#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup functions are reached through trap
# Browser journeys against a real server: build the release binary, start it on a free loopback
# port with a fresh embedded PostgreSQL (a new temporary OVERGANG_DATA_DIR), run e2e/tests with
# node's test runner, then stop the server and remove the data dir, also on failure.
#
#   scripts/e2e.sh                       build, start, test
#   OVERGANG_BIN=target/debug/overgang scripts/e2e.sh    use that binary, skip the build
#   scripts/e2e.sh e2e/tests/login.test.mjs              run only the given test files
#
# Exit code: the test runner's (or non-zero if the server never became healthy).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[e2e] %s\n' "$*" >&2; }

if [[ -z "${OVERGANG_BIN:-}" ]]; then
  log "cargo build --release"
  cargo build --release
  OVERGANG_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/overgang"
fi
[[ -x "$OVERGANG_BIN" ]] || { log "no executable at $OVERGANG_BIN"; exit 1; }

ARTIFACTS="$ROOT/e2e/artifacts"
mkdir -p "$ARTIFACTS"
APP_LOG="$ARTIFACTS/app.log"

DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/overgang-e2e.XXXXXX")"
# mktemp makes it 0700; when we run as root the app runs PostgreSQL as the `postgres` user, which
# must be able to get through this directory to its cluster below it.
chmod 0755 "$DATA_DIR"

APP_PID=""

stop_app() {
  if [[ -n "$APP_PID" ]] && kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do # up to 30 s for a graceful shutdown (it also stops its PostgreSQL)
      kill -0 "$APP_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$APP_PID" 2>/dev/null; then
      log "server did not stop within 30 s after SIGTERM; killing it"
      kill -KILL "$APP_PID" 2>/dev/null || true
    fi
    wait "$APP_PID" 2>/dev/null || true
  fi
  APP_PID=""
  # If the app died without stopping its embedded PostgreSQL, stop that postmaster ourselves
  # (SIGINT = PostgreSQL's "fast" shutdown) before its data directory is removed.
  local pidfile pg_pid
  while IFS= read -r pidfile; do
    pg_pid="$(head -n1 "$pidfile" 2>/dev/null || true)"
    if [[ "$pg_pid" =~ ^[0-9]+$ ]] && kill -0 "$pg_pid" 2>/dev/null; then
      log "stopping leftover PostgreSQL (pid $pg_pid, $(dirname "$pidfile"))"
      kill -INT "$pg_pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$pg_pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  done < <(find "$DATA_DIR" -maxdepth 4 -name postmaster.pid 2>/dev/null)
}

cleanup() {
  local rc=$?
  stop_app
  rm -rf "$DATA_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(node -e '
  const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
')"
BASE_URL="http://127.0.0.1:$PORT"

log "starting $OVERGANG_BIN serve on $BASE_URL (data dir $DATA_DIR, log $APP_LOG)"
# e2e always gets its own fresh embedded database, whatever DATABASE_URL the caller has.
env -u DATABASE_URL \
  OVERGANG_ADDR="127.0.0.1:$PORT" \
  OVERGANG_DATA_DIR="$DATA_DIR" \
  OVERGANG_SECURE_COOKIES=false \
  RUST_LOG="${RUST_LOG:-info}" \
  "$OVERGANG_BIN" serve >"$APP_LOG" 2>&1 &
APP_PID=$!

healthy() {
  if command -v curl >/dev/null 2>&1; then
    [[ "$(curl -fsS --max-time 2 "$BASE_URL/healthz" 2>/dev/null || true)" == ok* ]]
  else
    node -e '
      fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
        .then(async (r) => process.exit(r.ok && (await r.text()).startsWith("ok") ? 0 : 1))
        .catch(() => process.exit(1));
    ' "$BASE_URL/healthz"
  fi
}

show_log() {
  log "---- last 200 lines of the server log ($APP_LOG) ----"
  tail -n 200 "$APP_LOG" >&2 || true
  log "---- end of server log ----"
}

started=$SECONDS
deadline=$((started + 120))
until healthy; do
  if ! kill -0 "$APP_PID" 2>/dev/null; then
    wait "$APP_PID" && status=0 || status=$?
    APP_PID=""
    log "server exited (status $status) before /healthz answered"
    show_log
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    log "server did not answer $BASE_URL/healthz within 120 s"
    show_log
    exit 1
  fi
  sleep 0.5
done
log "server is healthy after $((SECONDS - started)) s"

# Enough history for the insights pages to show figures rather than "færre end 5": one synthetic
# municipality (code 9001, analyst analytiker@syn9001.overgang.test) written into the running
# server's own cluster through its socket.
log "seed-synthetic: one municipality with history for the insights journey"
DATABASE_URL="postgres://postgres@localhost/overgang?host=$DATA_DIR/run" \
  "$OVERGANG_BIN" seed-synthetic --municipalities 1 --children 200 >>"$APP_LOG" 2>&1 \
  || { log "seed-synthetic failed"; show_log; exit 1; }

cd "$ROOT/e2e"
# npm ci only when node_modules is missing or older than the lockfile.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund >&2
fi
cd "$ROOT"

if (($# > 0)); then
  tests=("$@")
else
  tests=(e2e/tests/*.test.mjs) # explicit files: node 20 and 22 treat a bare directory differently
fi

set +e
BASE_URL="$BASE_URL" node --test "${tests[@]}"
rc=$?
set -e
if ((rc != 0)); then
  show_log
fi
exit "$rc"
