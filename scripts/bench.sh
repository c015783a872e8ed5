#!/usr/bin/env bash
# Load benchmark of the main pages: a release build on a fresh embedded database with the demo
# data plus generated load (scripts/bench-data.sql: CHILDREN children with answered transitions
# in Vejle, STAFF pedagogues to log in as), then examples/loadgen.rs: SESSIONS concurrent
# sessions that each log in and loop over the pages, each page alone, each floor page alone, and
# at last a burst of sign-ins posted at once (--logins, default 256; 0 skips).
#
#   scripts/bench.sh [--sessions 64] [--duration 300] [--warmup 10] [--solo 20] [--rounds 5]
#                    [--pages '/transitions,/transitions/{id},/transitions/{id}/form,/children']
#                    [--floor '/healthz,/account'] [--logins 256]
#   CHILDREN=900 STAFF=64 BENCH_PORT=18482 scripts/bench.sh --duration 30
#
# Every option is handed to the load client; `{id}` in a page is a random transition of
# Børnehaven Solsikken, where the generated pedagogues work. Adding a page is one more entry in
# --pages (the default list is in examples/loadgen.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
children=${CHILDREN:-900}
staff=${STAFF:-64}
port=${BENCH_PORT:-18482}
base="http://127.0.0.1:$port"
work=$(mktemp -d /tmp/overgang-bench.XXXXXX)
chmod 755 "$work"
app_pid=""
cleanup() {
  [[ -n "$app_pid" ]] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin overgang --example loadgen

env -u DATABASE_URL OVERGANG_DATA_DIR="$work/data" OVERGANG_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  target/release/overgang serve > "$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 240); do curl -sf "$base/healthz" > /dev/null && break; sleep 0.5; done
curl -sf "$base/healthz" > /dev/null || { echo "the app did not start"; cat "$work/app.log"; exit 1; }

psql=(psql -h "$work/data/run" -U postgres -d overgang -q -v children="$children" -v staff="$staff")
"${psql[@]}" -f scripts/bench-data.sql
"${psql[@]}" -tAc "SELECT t.id FROM transitions t JOIN institutions i ON i.id = t.sending_institution_id
                   WHERE i.name = 'Børnehaven Solsikken'" > "$work/ids.txt"
echo "data: $("${psql[@]}" -tAc "SELECT (SELECT count(*) FROM children) || ' children, ' ||
  (SELECT count(*) FROM transitions) || ' transitions, ' || (SELECT count(*) FROM answers) || ' answers, ' ||
  (SELECT count(*) FROM users) || ' users'"); $(wc -l < "$work/ids.txt") transitions at Solsikken"
echo "machine: $(nproc) cores, $(git rev-parse --short HEAD); database connections: ${OVERGANG_DB_CONNECTIONS:-the default, 4 per core}"

target/release/examples/loadgen --base "$base" --users 'bench-{n}@vejle.overgang.test' \
  --user-count "$staff" --ids "$work/ids.txt" --pid "$app_pid" \
  --pg-pid "$(head -1 "$work/data/pg/postmaster.pid")" "$@"

echo "audit entries written during the run: $("${psql[@]}" -tAc "SELECT count(*) FROM audit_log")"
if grep -E ' ERROR ' "$work/app.log" | head -5; then echo "(errors in the app log above)"; fi
