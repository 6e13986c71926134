#!/bin/bash
# Report and diff benchmark (issue 17): two synthetic scans of N domains in
# the project's schema, then the time of everything a researcher runs on
# them.
#  1. load: `danescan db bench --realistic` pushes the survey of
#     scanner/store/bench_model.h (75 % with MX, providers with a long tail,
#     a few percent with TLSA, probes) through the real COPY sink; the second
#     scan is variant 1 of the same survey (1 % of the domains changed). The
#     summaries (migration 009) are computed when each scan finishes; their
#     time is printed apart (scan_summaries.compute_ms).
#     The history of migration 019 (domain_latest, domain_dane_seen,
#     domain_failure_episodes) is brought up to date with them; its last
#     update's time per kind is printed;
#  2. `danescan report --previous` (summaries fresh), the same after the
#     summaries were deleted (the first report of a scan computes them),
#     and `danescan diff`;
#  3. every reports/*.sql file in psql (the newer scan, the older as
#     previous; diff files from the older to the newer);
#  4. the researcher queries of schema/README.md on the newer scan;
#  5. sizes: bytes per domain of each per-scan table (heap + indexes + TOAST
#     of the scan's partition), and of the summaries;
#  6. `danescan db drop` of the older scan.
# With --explain (the test suite's small-N run: tests/integration/
# test_report_scale.py) it also prints each file's EXPLAIN, and with
# --check-plans fails unless every plan reads only the two scans'
# partitions and the host lookups use the (host) indexes.
# With --before DIR it also times the reports/ files of DIR (e.g. an older
# version: `git archive COMMIT reports | tar -x -C /tmp/old`, DIR /tmp/old/reports) on the same
# scans, each under a 300 s statement timeout, for a before/after table.
# With --load-only it loads the two scans, keeps the database and stops;
# with --reuse it times the scans a --load-only (or --keep) run left instead
# of loading them again (generating 10M-domain scans takes half an hour),
# with --raw (and --load-only) it loads the raw rows only, without the
# summaries (DANESCAN_DB_SUMMARIES=0): the next --reuse computes and times
# them with whatever version it runs, and with --no-drop it leaves the older scan in place for the next --reuse.
# Usage: bench/bench_report.sh [--explain] [--check-plans] [--keep] [--load-only [--raw]] [--reuse] [--no-drop]
#        [--before DIR] [N (default 1000000)]
# Env: BENCH_SKIP_COLD_REPORT=1 skips the second report (the one that
# computes both summaries again: minutes at 10M domains; the summaries' own
# time is printed at load or --reuse anyway).
# DANESCAN (binary, default build/scanner/danescan), DANESCAN_STATE
# (scripts/db's state), BENCH_DB (database name, default danescan_rbench).
# Starts scripts/db when not up and stops what it started.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
explain=0 check_plans=0 keep=0 before= load_only=0 reuse=0 no_drop=0 raw=0
while [ $# -gt 0 ]; do
  case "$1" in
    --before) before=$2; shift ;;
    --explain) explain=1 ;;
    --check-plans) explain=1 check_plans=1 ;;
    --keep) keep=1 ;;
    --load-only) load_only=1 keep=1 ;;
    --reuse) reuse=1 keep=1 ;;
    --no-drop) no_drop=1 ;;
    --raw) raw=1 ;;
    -*) echo "usage: bench/bench_report.sh [--explain] [--check-plans] [--keep] [--load-only [--raw]] [--reuse] [--no-drop] [--before DIR] [N]" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
n=${1:-1000000}
danescan=${DANESCAN:-$repo/build/scanner/danescan}
dbname=${BENCH_DB:-danescan_rbench}
tmp=$(mktemp -d /tmp/danescan-bench-report.XXXXXX)
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
die() { echo "bench_report: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

[ -x "$danescan" ] || die "no danescan binary at $danescan (set DANESCAN)"
if ! "$repo/scripts/db" status >/dev/null 2>&1; then "$repo/scripts/db" start >/dev/null; db_started=1; fi
url=$("$repo/scripts/db" url)
burl=${url/\/danescan\?/\/$dbname?}
q() { psql "$burl" -X -qAt -v ON_ERROR_STOP=1 "$@"; }
old=bench-old new=bench-new
if [ "$reuse" = 1 ]; then
  have=$(q -c "SELECT count(*) FROM scans WHERE id IN ('$old', '$new') AND domains = $n AND complete" 2>/dev/null) ||
    die "--reuse: no database $dbname (run --load-only $n first)"
  [ "$have" = 2 ] || die "--reuse: $dbname does not hold the two scans of $n domains (run --load-only $n first)"
  "$danescan" db migrate --db "$burl" >/dev/null 2>&1 || die "migrate failed"
  echo "== reusing the 2 scans of $n synthetic domains in $dbname (migrated to this version)"
  for id in $old $new; do
    t0=$(now)
    computed=$(q -c "SELECT danescan_summarize_scan('$id')")
    t1=$(now)
    if [ "$computed" = t ]; then
      echo "  $id: summaries computed (a migration forgot them, or none yet) in $(secs "$t0" "$t1") s"
    else
      echo "  $id: summaries fresh"
    fi
  done
else
PGOPTIONS="-c client_min_messages=warning" psql "$url" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null
psql "$url" -qc "CREATE DATABASE $dbname" >/dev/null
"$danescan" db migrate --db "$burl" >/dev/null 2>&1 || die "migrate failed"

# The leaf certificates the model's probes name (bench_model_leaf_sha256:
# byte 0 = key type index + 1, then 0xbe).
q -c "INSERT INTO certificates (sha256, der, subject, key_type, key_bits)
      SELECT decode(lpad(to_hex(k + 1), 2, '0') || repeat('be', 31), 'hex'), '\\x30'::bytea, 'CN=bench ' || t, t, b
        FROM (VALUES (0, 'RSA', 2048), (1, 'EC', 256), (2, 'RSA', 4096)) v(k, t, b)
      ON CONFLICT DO NOTHING"

echo "== load: 2 scans of $n synthetic domains (danescan db bench --realistic; the second 1 % changed)"
for v in 0 1; do
  id=$old
  [ "$v" = 1 ] && id=$new
  t0=$(now)
  summaries=1
  [ "$raw" = 1 ] && summaries=0
  DANESCAN_DB_SUMMARIES=$summaries "$danescan" db bench --db "$burl" --realistic --variant "$v" --keep --scan-id "$id" --domains "$n" >"$tmp/load.log" 2>&1 ||
    { cat "$tmp/load.log" >&2; die "loading $id failed"; }
  t1=$(now)
  echo "  $id: $(secs "$t0" "$t1") s in all; $(sed -n 's/^danescan db bench: //p' "$tmp/load.log" | cut -d'(' -f1)"
  if [ "$raw" = 1 ]; then
    echo "  $id: raw rows only (--raw): --reuse computes the summaries"
  else
    echo "  $id: summaries computed at completion in $(q -c "SELECT round(compute_ms / 1000.0, 2) FROM scan_summaries WHERE scan_id = '$id'") s"
  fi
done
if [ "$raw" = 1 ]; then q -c "ANALYZE" >/dev/null; echo "== loaded raw; kept in $dbname (summaries and timings with --reuse $n)"; exit 0; fi
fi
# The pair summary of the two scans (migration 018: what changed between
# them, read by status_changes, dane_adoption, input_change and the diff);
# computed at completion for a scan and the one before it in its series
# (the bench scans have no input files, so no series) or by the first
# report/diff of the pair.
t0=$(now)
computed=$(q -c "SELECT danescan_summarize_pair('$new', '$old')")
t1=$(now)
if [ "$computed" = t ]; then echo "  pair $old -> $new: summary computed in $(secs "$t0" "$t1") s"; else echo "  pair $old -> $new: summary fresh"; fi
# The history of domain_latest, domain_dane_seen and domain_failure_episodes
# (migration 019): brought up to date by danescan_summarize_scan; the time
# of its last update per kind (latest: every scan; the others per input set).
if [ "$(q -c "SELECT to_regclass('domain_history_state') IS NOT NULL")" = t ]; then
  t0=$(now)
  computed=$(q -c "SELECT danescan_summarize_history()")
  t1=$(now)
  [ "$computed" = t ] && echo "  history (migration 019): brought up to date now in $(secs "$t0" "$t1") s"
  q -c "SELECT format('  history %s: %s input set(s), last update %s s (%s)', kind, count(*),
                      round(sum(compute_ms) / 1000.0, 2),
                      string_agg(DISTINCT CASE WHEN incremental THEN 'incremental' ELSE 'from scratch' END, ', '))
          FROM domain_history_state GROUP BY kind ORDER BY kind"
fi
q -c "ANALYZE" >/dev/null
if [ "$load_only" = 1 ]; then echo "== loaded; kept in $dbname (time it with --reuse $n)"; exit 0; fi

echo "== danescan report / diff"
t0=$(now)
"$danescan" report --db "$burl" --scan "$new" --previous "$old" --out "$tmp/report" >/dev/null 2>"$tmp/err" ||
  { cat "$tmp/err" >&2; die "report failed"; }
t1=$(now)
echo "  report --previous (summaries fresh): $(secs "$t0" "$t1") s"
if [ -n "${BENCH_SKIP_COLD_REPORT:-}" ]; then
  echo "  report --previous (first report: computes both scans' summaries): skipped (BENCH_SKIP_COLD_REPORT)"
else
q -c "DELETE FROM scan_summaries" >/dev/null
t0=$(now)
"$danescan" report --db "$burl" --scan "$new" --previous "$old" --out "$tmp/report2" >/dev/null 2>"$tmp/err" ||
  { cat "$tmp/err" >&2; die "report failed"; }
t1=$(now)
echo "  report --previous (first report: computes both scans' summaries): $(secs "$t0" "$t1") s"
for f in "$tmp"/report/*.csv; do
  cmp -s "$f" "$tmp/report2/$(basename "$f")" || die "$(basename "$f") differs between the two reports"
done
fi
t0=$(now)
"$danescan" diff --db "$burl" "$old" "$new" >"$tmp/diff.tsv" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "diff failed"; }
t1=$(now)
echo "  diff: $(secs "$t0" "$t1") s ($(tail -1 "$tmp/diff.tsv"))"

# run_sql LABEL FILE VARS...: prints the time; with --explain the plan too.
fail=0
plan_check() { # LABEL PLANFILE
  local label=$1 plan=$2 other
  # Only the two scans' partitions: a partition name holds the scan id.
  other=$(grep -oE '(domains|domain_mx|mx_hosts|tlsa_records|addresses|probes|probe_chain)_[a-z0-9_]+_[0-9a-f]{8}' "$plan" |
    grep -vE "_bench_(old|new)_" | sort -u || true)
  if [ -n "$other" ]; then echo "  PLAN $label reads other scans' partitions: $other"; fail=1; fi
  if grep -qE 'Seq Scan on probes_' "$plan" && grep -qE '^(host_failures|algorithm_coverage|diff_hosts)$' <<<"$label"; then
    echo "  PLAN $label reads a whole probes partition (no probes_host index use)"; fail=1
  fi
  # Migration 018: these read the per-scan and pair summaries (through
  # their functions), never a partition of the raw rows in the query itself.
  if grep -qE '^(published_metrics|providers_broken|dane_adoption|input_change|status_changes|time_to_fix|tlsa_parameters|tlsa_parameters_view|failures_by_cause|domain_status_diff)$' <<<"$label"; then
    if grep -qE ' on (domains|domain_mx|mx_hosts|tlsa_records|probes|probe_chain)_' "$plan"; then
      echo "  PLAN $label reads raw rows, not its summary"; fail=1
    fi
    grep -qE 'Function Scan on danescan_(published_metrics|providers_broken|pair_changes|pair_counts|time_to_fix|tlsa_parameters|failures_by_cause)' "$plan" ||
      { echo "  PLAN $label does not read its summary function"; fail=1; }
  fi
}
run_sql() {
  local label=$1 file=$2
  shift 2
  local t0 t1
  if [ "$explain" = 1 ]; then
    # One psql for the plan and the rows (the test suite's run: no timings).
    { echo "EXPLAIN (COSTS OFF)"; cat "$file"; echo "\\echo @@rows@@"; cat "$file"; } >"$tmp/explain.sql"
    file=$tmp/explain.sql
  fi
  t0=$(now)
  q "$@" -f "$file" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "$label failed"; }
  t1=$(now)
  if [ "$explain" = 1 ]; then
    sed '/^@@rows@@$/,$d' "$tmp/out" >"$tmp/plan"
    sed -i '1,/^@@rows@@$/d' "$tmp/out"
    if [ "$check_plans" = 1 ]; then plan_check "$label" "$tmp/plan"; fi
    echo "  -- $label" >>"$tmp/plans"
    sed 's/^/      /' "$tmp/plan" >>"$tmp/plans"
  fi
  printf '  %-22s %8s s  %s rows\n' "$label" "$(secs "$t0" "$t1")" "$(wc -l <"$tmp/out")"
}

echo "== reports/*.sql in psql (scan $new, previous $old)"
: >"$tmp/plans"
for f in "$repo"/reports/*.sql; do
  name=$(basename "$f" .sql)
  case "$name" in
    diff_*) run_sql "$name" "$f" -v from_scan="$old" -v to_scan="$new" ;;
    *) run_sql "$name" "$f" -v scan_id="$new" -v previous_id="$old" ;;
  esac
done

if [ -n "$before" ]; then
  echo "== $before/*.sql in psql (statement_timeout ${BENCH_BEFORE_TIMEOUT:-300} s)"
  for f in "$before"/*.sql; do
    name=$(basename "$f" .sql)
    t0=$(now)
    case "$name" in
      diff_*) vars=(-v from_scan="$old" -v to_scan="$new") ;;
      *) vars=(-v scan_id="$new" -v previous_id="$old") ;;
    esac
    if PGOPTIONS="-c jit=off -c work_mem=128MB -c statement_timeout=${BENCH_BEFORE_TIMEOUT:-300}s" psql "$burl" -X -qAt "${vars[@]}" -f "$f" \
      >/dev/null 2>"$tmp/err"; then
      printf '  %-22s %8s s\n' "$name" "$(secs "$t0" "$(now)")"
    else
      printf '  %-22s %8s (%s)\n' "$name" "-" "$(head -c 60 "$tmp/err")"
    fi
  done
fi

echo "== researcher queries of schema/README.md (scan $new)"
example=$(q -c "SELECT domain FROM domains WHERE scan_id = '$new' AND status = 'dane-valid' LIMIT 1")
i=0
while IFS='|' read -r label sql; do
  [ -n "$label" ] || continue
  i=$((i + 1))
  sql=${sql//@SCAN@/$new}
  sql=${sql//@OLD@/$old}
  sql=${sql//@DOMAIN@/$example}
  echo "$sql;" >"$tmp/q$i.sql"
  run_sql "$label" "$tmp/q$i.sql"
done <<'EOF'
domain_latest/status|SELECT status, count(*) FROM domain_latest GROUP BY status ORDER BY 2 DESC
domain_latest/domain|SELECT * FROM domain_latest WHERE domain = '@DOMAIN@'
domain_hosts|SELECT domain, preference, host, host_status FROM domain_hosts WHERE scan_id = '@SCAN@' AND domain = '@DOMAIN@' ORDER BY preference
scan_funnel|SELECT * FROM scan_funnel WHERE scan_id = '@SCAN@'
adoption_by_tld|SELECT tld, domains, with_tlsa, dane_valid, pct_with_tlsa_of_with_mx FROM adoption_by_tld WHERE scan_id = '@SCAN@' ORDER BY domains DESC LIMIT 20
tlsa_parameters_view|SELECT usage, selector, matching_type, records, hosts FROM tlsa_parameters WHERE scan_id = '@SCAN@' ORDER BY records DESC
failures_by_cause|SELECT level, status, cause, count FROM failures_by_cause WHERE scan_id = '@SCAN@' ORDER BY count DESC
probe_retries|SELECT first_result, first_step, result, count(*) FROM probes WHERE scan_id = '@SCAN@' AND attempts = 2 GROUP BY 1, 2, 3 ORDER BY 4 DESC
mx_providers|SELECT provider, domains, hosts, hosts_with_tlsa, dane_valid_hosts, dane_failed_hosts FROM mx_providers WHERE scan_id = '@SCAN@' ORDER BY domains DESC LIMIT 20
domain_status_changes|SELECT * FROM domain_status_changes WHERE domain = '@DOMAIN@'
domain_status_diff|SELECT new_status, old_status, count(*) FROM domain_status_diff('@OLD@', '@SCAN@') GROUP BY 1, 2
scan_status_counts|SELECT status, domains FROM scan_status_counts WHERE scan_id = '@SCAN@'
scan_series|SELECT scan_id, started_at, position FROM danescan_scan_series('@SCAN@')
domain_dane_seen|SELECT domain, first_dane_valid_scan, last_dane_valid_scan, latest_status FROM domain_dane_seen WHERE input_set = (SELECT input_set FROM scan_input_sets WHERE scan_id = '@SCAN@') AND dane_valid_scans > 0
domain_failure_episodes|SELECT end_kind, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) FROM domain_failure_episodes WHERE input_set = (SELECT input_set FROM scan_input_sets WHERE scan_id = '@SCAN@') GROUP BY end_kind
EOF

echo "== sizes (scan $old, $n domains): bytes per domain, heap + indexes + TOAST of the scan's partition"
q -F' ' -c "
  SELECT format('  %-14s %10s rows %8s bytes/domain %10s', t, c.reltuples::bigint,
                round(pg_total_relation_size(c.oid)::numeric / $n, 1), pg_size_pretty(pg_total_relation_size(c.oid)))
    FROM unnest(danescan_scan_tables()) t
    JOIN pg_class c ON c.relname = danescan_partition_name(t, '$old')
  UNION ALL
  SELECT format('  %-14s %10s rows %8s bytes/domain %10s', 'all per-scan', '',
                round(sum(pg_total_relation_size(c.oid))::numeric / $n, 1), pg_size_pretty(sum(pg_total_relation_size(c.oid))))
    FROM unnest(danescan_scan_tables()) t
    JOIN pg_class c ON c.relname = danescan_partition_name(t, '$old')"
echo "  summaries of both scans: $(q -c "SELECT pg_size_pretty(sum(pg_total_relation_size(t)))
    FROM unnest(ARRAY['scan_domain_counts', 'scan_provider_counts', 'scan_summaries', 'scan_probe_failures',
                      'scan_published_metrics', 'scan_providers_broken', 'scan_tlsa_parameters',
                      'scan_failures_by_cause', 'scan_time_to_fix', 'scan_pairs', 'scan_pair_changes',
                      'scan_pair_host_changes']::regclass[]) t"
  ) + scan_mx_providers $(q -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'scan_mx_providers'::regclass"), rows: $(q -c "SELECT (SELECT count(*) FROM scan_domain_counts) || ' domain counts, ' || (SELECT count(*) FROM scan_provider_counts) || ' provider counts, ' || (SELECT count(*) FROM scan_mx_providers) || ' mx_providers rows, ' || (SELECT count(*) FROM scan_pair_changes) || ' pair changes'")"
echo "  certificates (shared by all scans): $(q -c "SELECT pg_size_pretty(pg_total_relation_size('certificates'))")"

if [ "$no_drop" = 1 ]; then
  echo "== danescan db drop $old: skipped (--no-drop)"
else
t0=$(now)
"$danescan" db drop "$old" --db "$burl" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; die "drop failed"; }
t1=$(now)
echo "== danescan db drop $old: $(secs "$t0" "$t1") s"
fi
if [ "$explain" = 1 ]; then
  echo "== plans"
  cat "$tmp/plans"
fi
[ "$fail" = 0 ] || die "plan check failed"
