#!/bin/bash
# Work queue benchmark (scan --workers, issue 10):
#  1. the queue alone: `danescan db bench-queue` loads QUEUE_DOMAINS synthetic
#     names into a scan's queue and 16 processes lease and complete every
#     chunk with the resolution replaced by nothing: names/s loaded, leases/s
#     and domains/s handed out (target: >= 200,000 domains/s, so the queue is
#     never what limits 16 workers);
#  2. a BULK-domain lab scan into the database with 1 and with 2 workers, the
#     resolver cold (Unbound reloaded before every run), DNS only (--probe
#     none) and with probes (--probe dane): wall time, domains/s, the scaling
#     ratio (time with 1 worker / time with 2) and the CPU PostgreSQL spent
#     per domain. Every run must exit 0 and store one domains row per name,
#     else the benchmark fails instead of reporting a meaningless time.
# Usage: bench/bench_workers.sh [BULK (default 200000)] [QUEUE_DOMAINS (default 1000000)]
# Env: DANESCAN (binary), DANESCAN_LAB_NS (default danescan-workbench),
# BENCH_LAB_STATE (the lab's DANESCAN_STATE, default /tmp/workbench-state).
# Starts scripts/db and the lab when not up and stops what it started.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
bulk=${1:-200000}
queue_domains=${2:-1000000}
danescan=${DANESCAN:-$repo/build/scanner/danescan}
export DANESCAN_LAB_NS=${DANESCAN_LAB_NS:-danescan-workbench}
lab_state=${BENCH_LAB_STATE:-/tmp/workbench-state}
lab() { DANESCAN_STATE=$lab_state "$repo/scripts/lab" "$@"; }
tmp=$(mktemp -d /tmp/danescan-bench-workers.XXXXXX)
chmod 755 "$tmp"
db_started=0 lab_started=0 url=
cleanup() {
  if [ -n "$url" ]; then
    psql "$url" -qc "DROP DATABASE IF EXISTS danescan_workbench WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$lab_started" = 1 ]; then lab down >/dev/null 2>&1 || true; fi
  if [ "$db_started" = 1 ]; then "$repo/scripts/db" stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench_workers: $*" >&2; exit 1; }

[ -x "$danescan" ] || die "no danescan binary at $danescan (set DANESCAN)"
if ! "$repo/scripts/db" status >/dev/null 2>&1; then "$repo/scripts/db" start >/dev/null; db_started=1; fi
url=$("$repo/scripts/db" url)
PGOPTIONS="-c client_min_messages=warning" psql "$url" -qc "DROP DATABASE IF EXISTS danescan_workbench WITH (FORCE)" >/dev/null
psql "$url" -qc "CREATE DATABASE danescan_workbench" >/dev/null
burl=${url/\/danescan\?/\/danescan_workbench?}
"$danescan" db migrate --db "$burl" >/dev/null

echo "== the queue alone: $queue_domains names, 16 workers, no resolution"
"$danescan" db bench-queue --db "$burl" --domains "$queue_domains" --workers 16 || die "bench-queue failed"

echo "== lab scan of $bulk bulk domains into the database, cold resolver"
if ! lab status >/dev/null 2>&1; then
  lab up --bulk "$bulk" >"$tmp/lab-up.log" 2>&1 || { cat "$tmp/lab-up.log" >&2; die "lab up failed"; }
  lab_started=1
fi
lab bulk-domains "$bulk" >"$tmp/in.txt"
[ "$(wc -l <"$tmp/in.txt")" = "$bulk" ] || die "lab bulk-domains did not give $bulk names"

. "$repo/bench/pg_cpu.sh"
hz=$(getconf CLK_TCK)
ubconf="$lab_state/lab/unbound/unbound.conf"
run_no=0
# run PROBE WORKERS: prints "seconds pg_cpu_seconds"
run() {
  local probe=$1 workers=$2 start end rc=0 rows cpu0 cpu1 scan_id
  run_no=$((run_no + 1))
  scan_id="wb-$$-$run_no"
  unbound-control -c "$ubconf" reload >/dev/null
  cpu0=$(pg_cpu)
  start=$(date +%s.%N)
  lab exec "$danescan" scan --probe "$probe" --allow-reserved --no-progress --quiet --db "$burl" \
    --scan-id "$scan_id" --workers "$workers" "$tmp/in.txt" 2>"$tmp/err" || rc=$?
  end=$(date +%s.%N)
  cpu1=$(pg_cpu)
  [ "$rc" = 0 ] || { cat "$tmp/err" >&2; die "scan $scan_id exited $rc"; }
  rows=$(psql "$burl" -Atc "SELECT count(*) FROM domains WHERE scan_id = '$scan_id'")
  [ "$rows" = "$bulk" ] || die "scan $scan_id stored $rows domains rows, not $bulk"
  psql "$burl" -Atc "SELECT danescan_drop_scan('$scan_id')" >/dev/null
  python3 -c "print(f'{$end - $start:.2f} {($cpu1 - $cpu0) / $hz:.2f}')"
}
for probe in none dane; do
  read -r t1 c1 <<<"$(run "$probe" 1)"
  read -r t2 c2 <<<"$(run "$probe" 2)"
  python3 - "$probe" "$bulk" "$t1" "$c1" "$t2" "$c2" <<'PY'
import sys
probe, n, t1, c1, t2, c2 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
for w, t, c in ((1, t1, c1), (2, t2, c2)):
    print(f"  --probe {probe:4} --workers {w}: {t:7.2f} s  {n / t:8.0f} domains/s  "
          f"PostgreSQL {c:6.2f} CPU-s = {1e6 * c / n:5.1f} us/domain")
print(f"  --probe {probe}: scaling 1 -> 2 workers: {t1 / t2:.2f}x")
PY
done
