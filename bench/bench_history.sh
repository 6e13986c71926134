#!/bin/bash
# The per-domain history of a rolling window (migrations 019 and 022): what
# the weekly cycle of a periodic scan costs the views domain_latest,
# domain_dane_seen and domain_failure_episodes.
#
#   bench/bench_history.sh [--scans K] [--rotations R] [N]
#
# 1. K scans of N synthetic domains (`danescan db bench --realistic`,
#    variants 0..K-1: each 1 % changed from variant 0), one after the other,
#    each summarised at completion as the scanner does (the history
#    appended incrementally).
# 2. R rotations, as a weekly job would run them: a new scan (the next
#    variant, summarised at completion), then `danescan db drop` of the
#    oldest (timed), then danescan_summarize_history() (timed; what the
#    next report or scan completion pays), with each kind's compute_ms and
#    whether it was incremental (domain_history_state).
# 3. For comparison, the same history computed from scratch over the K
#    scans kept (the state forgotten, danescan_summarize_history() again):
#    what every rotation cost before migration 022.
# Defaults: K 6, R 2, N 1000000. DANESCAN (binary, default
# build/scanner/danescan), DANESCAN_STATE (scripts/db's state), BENCH_DB
# (database name, default danescan_hbench; dropped at the end unless
# --keep). Starts scripts/db when not up and stops what it started.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
scans=6 rotations=2 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scans) scans=$2; shift ;;
    --rotations) rotations=$2; shift ;;
    --keep) keep=1 ;;
    -*) echo "usage: bench/bench_history.sh [--scans K] [--rotations R] [--keep] [N]" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
n=${1:-1000000}
[ "$scans" -ge 2 ] || { echo "bench_history: --scans must be at least 2" >&2; exit 2; }
danescan=${DANESCAN:-$repo/build/scanner/danescan}
dbname=${BENCH_DB:-danescan_hbench}
tmp=$(mktemp -d /tmp/danescan-bench-history.XXXXXX)
db_started=0 url=
cleanup() {
  if [ -n "$url" ] && [ "$keep" = 0 ]; then
    psql "$url" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$db_started" = 1 ]; then "$repo/scripts/db" stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench_history: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

[ -x "$danescan" ] || die "no danescan binary at $danescan (set DANESCAN)"
if ! "$repo/scripts/db" status >/dev/null 2>&1; then "$repo/scripts/db" start >/dev/null; db_started=1; fi
url=$("$repo/scripts/db" url)
burl=${url/\/danescan\?/\/$dbname?}
q() { psql "$burl" -X -qAt -v ON_ERROR_STOP=1 "$@"; }
PGOPTIONS="-c client_min_messages=warning" psql "$url" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null
psql "$url" -qc "CREATE DATABASE $dbname" >/dev/null
"$danescan" db migrate --db "$burl" >/dev/null 2>&1 || die "migrate failed"
# The leaf certificates the model's probes name (as bench/bench_report.sh).
q -c "INSERT INTO certificates (sha256, der, subject, key_type, key_bits)
      SELECT decode(lpad(to_hex(k + 1), 2, '0') || repeat('be', 31), 'hex'), '\\x30'::bytea, 'CN=bench ' || t, t, b
        FROM (VALUES (0, 'RSA', 2048), (1, 'EC', 256), (2, 'RSA', 4096)) v(k, t, b)
      ON CONFLICT DO NOTHING"

# One kind's last computation: "compute_ms ms (incremental|from scratch)".
kinds() {
  q -F ' ' -c "SELECT kind || ' ' || compute_ms || ' ms' || CASE WHEN incremental THEN ' incr' ELSE ' full' END
                 FROM domain_history_state ORDER BY kind" | paste -sd ';' | sed 's/;/; /g'
}
load() { # variant scan-id
  local t0 t1
  t0=$(now)
  "$danescan" db bench --db "$burl" --realistic --variant "$1" --keep --scan-id "$2" --domains "$n" >"$tmp/load.log" 2>&1 ||
    { cat "$tmp/load.log" >&2; die "loading $2 failed"; }
  t1=$(now)
  echo "  $2: loaded and summarised in $(secs "$t0" "$t1") s; history: $(kinds)"
}

echo "== $scans scans of $n synthetic domains"
for ((v = 0; v < scans; v++)); do load "$v" "hist-$v"; done
oldest=0
for ((r = 1; r <= rotations; r++)); do
  v=$((scans - 1 + r))
  echo "== rotation $r: scan hist-$v appended, hist-$oldest dropped"
  load "$v" "hist-$v"
  t0=$(now)
  "$danescan" db drop "hist-$oldest" --db "$burl" >/dev/null 2>&1 || die "drop failed"
  t1=$(now)
  echo "  db drop hist-$oldest: $(secs "$t0" "$t1") s"
  oldest=$((oldest + 1))
  t0=$(now)
  q -c "SELECT danescan_summarize_history()" >/dev/null
  t1=$(now)
  echo "  the next danescan_summarize_history(): $(secs "$t0" "$t1") s; history: $(kinds)"
done
echo "== from scratch, for comparison: the same $scans scans, the history state forgotten"
q -c "CREATE TABLE bench_seen AS SELECT * FROM domain_dane_seen_rows;
      CREATE TABLE bench_episodes AS SELECT * FROM domain_failure_episode_rows;
      DELETE FROM domain_history_state WHERE kind IN ('dane_seen', 'episodes')" >/dev/null
t0=$(now)
q -c "SELECT danescan_summarize_history()" >/dev/null
t1=$(now)
echo "  danescan_summarize_history(): $(secs "$t0" "$t1") s; history: $(kinds)"
# The rows the rotations left must be the rows computed from scratch.
differ=$(q -c "SELECT (SELECT count(*) FROM ((TABLE bench_seen EXCEPT ALL TABLE domain_dane_seen_rows)
                        UNION ALL (TABLE domain_dane_seen_rows EXCEPT ALL TABLE bench_seen)) x),
                      (SELECT count(*) FROM ((TABLE bench_episodes EXCEPT ALL TABLE domain_failure_episode_rows)
                        UNION ALL (TABLE domain_failure_episode_rows EXCEPT ALL TABLE bench_episodes)) y),
                      (SELECT count(*) FROM bench_seen), (SELECT count(*) FROM bench_episodes)")
IFS='|' read -r seen_diff episodes_diff seen_rows episode_rows <<<"$differ"
echo "  rows after the rotations against from scratch: dane_seen $seen_rows rows, $seen_diff differ;" \
  "episodes $episode_rows rows, $episodes_diff differ"
[ "$seen_diff" = 0 ] && [ "$episodes_diff" = 0 ] || die "the incremental history differs from the one computed from scratch"
