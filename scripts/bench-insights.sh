#!/usr/bin/env bash
# Benchmark of the insights pages at national scale: a fresh database on the PostgreSQL server at
# 127.0.0.1:5432, `overgang seed-synthetic` (default 98 municipalities, 60,000 children a cohort,
# 5 cohorts), the release server, then REPEAT timed requests per page as the analyst of the
# largest municipality (9001): municipality, cluster, institution, cluster report and CSV.
# Prints p50/p99 per page and appends a section to docs/performance.md.
#
#   scripts/bench-insights.sh [MUNICIPALITIES] [CHILDREN_PER_COHORT]
#   env: PGURL (server, default postgres://postgres@127.0.0.1:5432), REPEAT (default 50),
#        BENCH_PORT, KEEP_DB=1 to keep the database afterwards,
#        BENCH_DB=name to time an already seeded database (skips creating and seeding; kept),
#        OVERGANG_BIN=path to use that binary instead of building the release one
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
municipalities=${1:-98}
children=${2:-60000}
repeat=${REPEAT:-50}
server=${PGURL:-postgres://postgres@127.0.0.1:5432}
db=${BENCH_DB:-"overgang_bench_$(date +%Y%m%d%H%M%S)"}
[[ -n "${BENCH_DB:-}" ]] && KEEP_DB=1
url="$server/$db"
port=${BENCH_PORT:-18482}
base="http://127.0.0.1:$port"
work=$(mktemp -d /tmp/overgang-insights-bench.XXXXXX)
app_pid=""
cleanup() {
  if [[ -n "$app_pid" ]]; then kill "$app_pid" 2>/dev/null; wait "$app_pid" 2>/dev/null || true; fi
  if [[ "${KEEP_DB:-0}" != 1 ]]; then psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "${OVERGANG_BIN:-}" ]]; then
  cargo build --release --quiet
  OVERGANG_BIN=target/release/overgang
fi
build=$([[ "$OVERGANG_BIN" == *release* ]] && echo "release build" || echo "binary $OVERGANG_BIN")
if [[ -z "${BENCH_DB:-}" ]]; then
  psql "$server/postgres" -qc "CREATE DATABASE $db"
  start=$(date +%s.%N)
  DATABASE_URL="$url" RUST_LOG=error "$OVERGANG_BIN" seed-synthetic \
    --municipalities "$municipalities" --children "$children" > "$work/seed.log"
  seed_secs=$(printf '%.0f s' "$(echo "$(date +%s.%N) - $start" | bc)")
  tail -1 "$work/seed.log"
else
  seed_secs="${SEED_SECS:-an earlier run}"
fi
q() { psql "$url" -tAc "$1"; }
mid=$(q "SELECT id FROM municipalities WHERE code = '9001'")
totals=$(q "SELECT (SELECT count(*) FROM transitions) || ' transitions, ' || (SELECT count(*) FROM transition_events) || ' events, ' || (SELECT count(*) FROM answers) || ' answers, ' || (SELECT count(*) FROM feedback_ratings) || ' ratings, ' || (SELECT count(*) FROM consent_records) || ' consent decisions'")
largest=$(q "SELECT count(*) FROM transitions WHERE municipality_id = '$mid'")
cluster=$(q "SELECT c.id FROM clusters c WHERE c.municipality_id = '$mid' ORDER BY c.name LIMIT 1")
institution=$(q "SELECT i.id FROM institutions i WHERE i.municipality_id = '$mid' AND i.cluster_id = '$cluster' AND i.kind = 'boernehave' ORDER BY i.name LIMIT 1")
year=$(q "SELECT extract(year FROM max(planned_date))::int - 1 FROM transitions WHERE municipality_id = '$mid'")
echo "data: $totals; largest municipality: $largest transitions"

DATABASE_URL="$url" OVERGANG_ADDR="127.0.0.1:$port" OVERGANG_SECURE_COOKIES=false RUST_LOG=warn \
  "$OVERGANG_BIN" serve > "$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 120); do curl -sf "$base/healthz" > /dev/null && break; sleep 0.5; done

jar="$work/cookies"
token=$(curl -s -b "$jar" -c "$jar" "$base/login" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
status=$(curl -s -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' -H "Origin: $base" \
  --data-urlencode "_csrf=$token" --data-urlencode "email=analytiker@syn9001.overgang.test" \
  --data-urlencode "password=Overgang-demo-2026" "$base/login")
[[ "$status" == 303 ]] || { echo "login answered $status"; exit 1; }

pages=(
  "municipality, all years|/insights"
  "municipality, one cohort and kind|/insights?year=$year&kind=kindergarten_school"
  "cluster|/insights/clusters/$cluster"
  "institution|/insights/institutions/$institution"
  "cluster report|/insights/clusters/$cluster/report?year=$year"
  "CSV, municipality|/insights?format=csv"
)
rows=""
for page in "${pages[@]}"; do
  name=${page%%|*}; path=${page#*|}
  code=$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' "$base$path")
  [[ "$code" == 200 ]] || { echo "$path answered $code"; tail -5 "$work/app.log"; exit 1; }
  for _ in $(seq 1 "$repeat"); do
    curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$path"
  done | sort -n > "$work/times"
  p50=$(awk -v n="$repeat" 'NR == int((n + 1) / 2) { printf "%.1f", $1 * 1000 }' "$work/times")
  p99=$(awk -v n="$repeat" 'NR == int(n * 0.99 + 0.999) { printf "%.1f", $1 * 1000 }' "$work/times")
  printf '%-40s p50 %6s ms   p99 %6s ms\n' "$name" "$p50" "$p99"
  rows+="| $name | \`${path//$mid/…}\` | $p50 ms | $p99 ms |"$'\n'
done

{
  echo
  echo "### Run of $(date -u +%Y-%m-%d) ($(nproc) cores): $municipalities municipalities × $children children a cohort × 5 cohorts"
  echo
  echo "Seeded in $seed_secs: $totals. Largest municipality (9001): $largest transitions."
  echo "Each page $repeat times in a row as its analyst (curl, logged-in cookie, $build; load average at the start: $(cut -d' ' -f1 /proc/loadavg)):"
  echo
  echo "| page | path | p50 | p99 |"
  echo "|---|---|---|---|"
  printf '%s' "$rows"
} >> docs/performance.md
echo "appended to docs/performance.md"
