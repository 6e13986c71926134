#!/bin/bash
# PostgreSQL store benchmark:
#  1. rows/s through the writer: `danescan db bench` pushes synthetic records
#     (15 rows per domain over 6 tables) through the real sink into the
#     scripts/db cluster;
#  2. slowdown of a bulk lab scan with --db against --output only (same
#     input, warm resolver cache, best of 3 runs each).
# Usage: bench/bench_store.sh [BULK_DOMAINS (default 200000)] [WRITER_DOMAINS (default 200000)]
# Starts scripts/db and a private lab (namespace danescan-bench) when not up
# and stops what it started.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
bulk=${1:-200000}
writer_domains=${2:-200000}
danescan=${DANESCAN:-$repo/build/scanner/danescan}
export DANESCAN_LAB_NS=danescan-bench
lab_state=/tmp/danescan-bench-lab
tmp=$(mktemp -d /tmp/danescan-bench-store.XXXXXX)
chmod 755 "$tmp"
db_started=0 lab_started=0
cleanup() {
  [ "$lab_started" = 1 ] && DANESCAN_STATE=$lab_state "$repo/scripts/lab" down >/dev/null 2>&1 || true
  [ "$db_started" = 1 ] && "$repo/scripts/db" stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
if ! "$repo/scripts/db" status >/dev/null 2>&1; then "$repo/scripts/db" start >/dev/null; db_started=1; fi
url=$("$repo/scripts/db" url)
PGOPTIONS="-c client_min_messages=warning" psql "$url" -qc "DROP DATABASE IF EXISTS danescan_bench" >/dev/null
psql "$url" -qc "CREATE DATABASE danescan_bench" >/dev/null
burl=${url/\/danescan\?/\/danescan_bench?}
"$danescan" db migrate --db "$burl" >/dev/null

echo "== writer: $writer_domains synthetic domains"
"$danescan" db bench --db "$burl" --domains "$writer_domains"

echo "== lab scan of $bulk bulk domains: --output only vs --db (+ --output)"
DANESCAN_STATE=$lab_state "$repo/scripts/lab" up --bulk "$bulk" >/dev/null && lab_started=1
DANESCAN_STATE=$lab_state "$repo/scripts/lab" bulk-domains "$bulk" > "$tmp/in.txt"
run_scan() { # prints seconds
  local start end
  start=$(date +%s.%N)
  DANESCAN_STATE=$lab_state "$repo/scripts/lab" exec "$danescan" scan --probe none --no-progress --quiet "$@" "$tmp/in.txt" 2>/dev/null
  end=$(date +%s.%N)
  python3 -c "print(round($end - $start, 3))"
}
DANESCAN_STATE=$lab_state "$repo/scripts/lab" exec "$danescan" scan --probe none --no-progress --quiet --output /dev/null "$tmp/in.txt" 2>/dev/null # warm the cache
best_out=999999 best_db=999999
for i in 1 2 3; do
  t=$(run_scan --output "$tmp/out.jsonl"); echo "  --output        run $i: $t s"
  best_out=$(python3 -c "print(min($t, $best_out))")
  t=$(run_scan --output "$tmp/out.jsonl" --db "$burl" --scan-id "bench-scan-$i-$$"); echo "  --output --db   run $i: $t s"
  best_db=$(python3 -c "print(min($t, $best_db))")
done
echo "best --output: $best_out s; best --output --db: $best_db s; slowdown: $(python3 -c "print(round(100 * ($best_db - $best_out) / $best_out, 1))") %"
psql "$url" -qc "DROP DATABASE danescan_bench WITH (FORCE)" >/dev/null
