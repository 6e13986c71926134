#!/bin/bash
# PostgreSQL store benchmark:
#  1. rows/s through the writer: `danescan db bench` pushes synthetic records
#     (15 rows per domain over 6 tables) through the real sink into the
#     scripts/db cluster;
#  2. slowdown of a bulk lab scan with --db (+ --output) against --output
#     only: same input, the two kinds alternated RUNS times each, medians
#     compared; once warm (resolver cache filled once: the scan is CPU-bound
#     and shares the 2 cores with Unbound and PostgreSQL) and once cold
#     (Unbound reloaded before every run: resolution-bound, like a real scan).
#     The CPU seconds PostgreSQL spent are printed beside each --db run. Every run must exit 0 and write one
#     line per domain (and, with --db, one domains row per domain), else the
#     benchmark fails instead of reporting a meaningless time.
# Usage: bench/bench_store.sh [BULK_DOMAINS (default 200000)] [WRITER_DOMAINS (default 200000)] [RUNS (default 3)]
# Env: DANESCAN (binary), DANESCAN_LAB_NS (default danescan-storebench),
# BENCH_LAB_STATE (the lab's DANESCAN_STATE, default /tmp/storebench-state;
# only the lab gets it: scripts/db keeps the caller's DANESCAN_STATE).
# Starts scripts/db and the lab when not up and stops what it started.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
bulk=${1:-200000}
writer_domains=${2:-200000}
runs=${3:-3}
danescan=${DANESCAN:-$repo/build/scanner/danescan}
export DANESCAN_LAB_NS=${DANESCAN_LAB_NS:-danescan-storebench}
lab_state=${BENCH_LAB_STATE:-/tmp/storebench-state}
lab() { DANESCAN_STATE=$lab_state "$repo/scripts/lab" "$@"; }
tmp=$(mktemp -d /tmp/danescan-bench-store.XXXXXX)
chmod 755 "$tmp"
db_started=0 lab_started=0 url=
cleanup() {
  if [ -n "$url" ]; then
    psql "$url" -qc "DROP DATABASE IF EXISTS danescan_bench WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$lab_started" = 1 ]; then lab down >/dev/null 2>&1 || true; fi
  if [ "$db_started" = 1 ]; then "$repo/scripts/db" stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench_store: $*" >&2; exit 1; }

[ -x "$danescan" ] || die "no danescan binary at $danescan (set DANESCAN)"
if ! "$repo/scripts/db" status >/dev/null 2>&1; then "$repo/scripts/db" start >/dev/null; db_started=1; fi
url=$("$repo/scripts/db" url)
PGOPTIONS="-c client_min_messages=warning" psql "$url" -qc "DROP DATABASE IF EXISTS danescan_bench WITH (FORCE)" >/dev/null
psql "$url" -qc "CREATE DATABASE danescan_bench" >/dev/null
burl=${url/\/danescan\?/\/danescan_bench?}
"$danescan" db migrate --db "$burl" >/dev/null

echo "== writer: $writer_domains synthetic domains (danescan db bench)"
"$danescan" db bench --db "$burl" --domains "$writer_domains" || die "db bench failed"

echo "== lab scan of $bulk bulk domains (--probe none): --output only vs --db + --output, $runs runs each"
if ! lab status >/dev/null 2>&1; then
  lab up --bulk "$bulk" >"$tmp/lab-up.log" 2>&1 || { cat "$tmp/lab-up.log" >&2; die "lab up failed"; }
  lab_started=1
fi
lab bulk-domains "$bulk" >"$tmp/in.txt"
[ "$(wc -l <"$tmp/in.txt")" = "$bulk" ] || die "lab bulk-domains did not give $bulk names"

lab_scan() { lab exec "$danescan" scan --probe none --no-progress --quiet "$@" "$tmp/in.txt"; }

# run_scan KIND: prints the seconds; fails the benchmark on a non-zero exit or
# a wrong record count.
run_no=0
. "$repo/bench/pg_cpu.sh"
ubconf="$lab_state/lab/unbound/unbound.conf"
cold=0
run_scan() {
  local kind=$1 start end rc=0 lines rows scan_id cpu0 cpu1
  if [ "$cold" = 1 ]; then unbound-control -c "$ubconf" reload >/dev/null; fi
  cpu0=$(pg_cpu)
  run_no=$((run_no + 1))
  rm -f "$tmp/out.jsonl"
  scan_id="bench-$$-$run_no"
  start=$(date +%s.%N)
  if [ "$kind" = db ]; then
    # --workers 0: the writer alone, as before the work queue (bench_workers.sh measures the workers)
    lab_scan --output "$tmp/out.jsonl" --db "$burl" --workers 0 --scan-id "$scan_id" 2>"$tmp/err" || rc=$?
  else
    lab_scan --output "$tmp/out.jsonl" 2>"$tmp/err" || rc=$?
  fi
  end=$(date +%s.%N)
  cpu1=$(pg_cpu)
  echo "$(( (cpu1 - cpu0) ))" >"$tmp/pgticks"
  [ "$rc" = 0 ] || { cat "$tmp/err" >&2; die "$kind scan run $run_no exited $rc"; }
  lines=$(wc -l <"$tmp/out.jsonl")
  [ "$lines" = "$bulk" ] || { cat "$tmp/err" >&2; die "$kind scan run $run_no wrote $lines lines, not $bulk"; }
  if [ "$kind" = db ]; then
    rows=$(psql "$burl" -Atc "SELECT count(*) FROM domains WHERE scan_id = '$scan_id'")
    [ "$rows" = "$bulk" ] || die "db scan run $run_no stored $rows domains rows, not $bulk"
    psql "$burl" -Atc "SELECT danescan_drop_scan('$scan_id')" >/dev/null
  fi
  python3 -c "print(f'{$end - $start:.3f}')"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "  warm-up (fills the resolver cache): $(run_scan out) s"
hz=$(getconf CLK_TCK)
compare() { # LABEL
  local outs=() dbs=() t i
  for i in $(seq 1 "$runs"); do
    t=$(run_scan out); outs+=("$t"); echo "  $1 --output        run $i: $t s"
    t=$(run_scan db); dbs+=("$t")
    echo "  $1 --output --db   run $i: $t s (PostgreSQL CPU $(python3 -c "print(f'{$(cat "$tmp/pgticks") / $hz:.2f}')") s)"
  done
  local m_out m_db
  m_out=$(median "${outs[@]}") m_db=$(median "${dbs[@]}")
  echo "$1: median --output: $m_out s; median --output --db: $m_db s; slowdown: $(python3 -c "print(round(100 * ($m_db - $m_out) / $m_out, 1))") %"
}
compare warm
cold=1
[ "${BENCH_COLD:-1}" = 1 ] && compare cold
