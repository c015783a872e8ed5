#!/usr/bin/env bash
# Benchmark of the children CSV import: a release build on a fresh embedded database, a generated
# file of N children (default 50,000) with two guardians and one enrolment each, uploaded and
# confirmed over HTTP as the Vejle administrator. Prints the time of the preview (parse + every
# check) and of the confirmation (checks again + one transaction), and the rows in the database.
#
#   scripts/bench-import.sh [N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-50000}
port=${BENCH_PORT:-18481}
base="http://127.0.0.1:$port"
work=$(mktemp -d /tmp/overgang-bench.XXXXXX)
chmod 755 "$work"
app_pid=""
cleanup() {
  [[ -n "$app_pid" ]] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet
python3 scripts/gen_children_csv.py "$n" > "$work/children.csv"
echo "file: $n children, $(du -h "$work/children.csv" | cut -f1)"

env -u DATABASE_URL OVERGANG_DATA_DIR="$work/data" OVERGANG_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  target/release/overgang serve > "$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 120); do curl -sf "$base/healthz" > /dev/null && break; sleep 0.5; done

jar="$work/cookies"
csrf() { curl -s -b "$jar" -c "$jar" "$base$1" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//'; }
token=$(csrf /login)
curl -s -b "$jar" -c "$jar" -o /dev/null -H "Origin: $base" \
  --data-urlencode "_csrf=$token" --data-urlencode "email=admin@vejle.overgang.test" \
  --data-urlencode "password=Overgang-demo-2026" "$base/login"
token=$(csrf /import)

start=$(date +%s.%N)
curl -s -b "$jar" -c "$jar" -H "Origin: $base" -F "_csrf=$token" -F "file=@$work/children.csv;type=text/csv" \
  "$base/import/children" > "$work/preview.html"
preview=$(echo "$(date +%s.%N) - $start" | bc)
action=$(grep -o 'action="/import/batch/[^"]*"' "$work/preview.html" | sed 's/action="//; s/"$//')
if [[ -z "$action" ]]; then
  echo "preview did not accept the file:"; grep -o '<td>[^<]*</td><td><code>[^<]*</code></td><td>[^<]*' "$work/preview.html" | head; exit 1
fi
token=$(grep -o 'name="_csrf" value="[^"]*"' "$work/preview.html" | head -1 | sed 's/.*value="//; s/"$//')

start=$(date +%s.%N)
status=$(curl -s -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' -H "Origin: $base" --data-urlencode "_csrf=$token" "$base$action")
confirm=$(echo "$(date +%s.%N) - $start" | bc)
[[ "$status" == 303 ]] || { echo "confirm answered $status"; tail -20 "$work/app.log"; exit 1; }

rows=$(psql -h "$work/data/run" -U postgres -d overgang -tAc \
  "SELECT (SELECT count(*) FROM children) || ' children, ' || (SELECT count(*) FROM guardians) || ' guardians, ' || (SELECT count(*) FROM enrolments) || ' enrolments, ' || (SELECT count(*) FROM audit_log WHERE action = 'import_create') || ' audit entries'")
printf 'preview (parse + check %s rows): %.2f s\nconfirm (check again + insert in one transaction): %.2f s\ntotal: %.2f s\nin the database: %s\n' \
  "$n" "$preview" "$confirm" "$(echo "$preview + $confirm" | bc)" "$rows"
