#!/usr/bin/env bash
# Benchmark of the input reader alone (issues 5 and 16). Generates a
# CZDS-style signed TLD zone (bench/gen_zone.py: delegations with 2-3 NS,
# glue A/AAAA, DS, NSEC3 and RRSIG lines), plain and gzip'd, in a temp dir,
# and times `danescan inputs --count FILE` against peers in the same run, on
# the same file, in the page cache, runs interleaved:
#   - Knot DNS's zone scanner, a full parse (bench/zscanner_count.c, built
#     here against libzscanner; apt package libknot-dev, installed if absent;
#     without it `kzonecheck` from package knot is timed instead);
#   - `zcat FILE.gz > /dev/null` for the gzip'd file;
#   - optionally (SLOW_PEERS=1) ldns-read-zone and named-compilezone
#     (bind9-utils) on a slice of SLOW_DELEGATIONS delegations: ~30x slower.
# Reports medians of RUNS (wall time), MB/s (uncompressed bytes), names/s,
# peak RSS (/usr/bin/time -v), danescan/peer ratios, peak RSS at a second,
# smaller zone (memory must not grow with the zone beyond the duplicate
# filter's budget), and the targets as PASS/FAIL lines:
#   plain: danescan <= 1.0 x zscanner's full parse;
#   gzip: danescan <= 1.0 x zcat > /dev/null (on 2 or more cores);
#   memory: peak RSS <= the duplicate filter's budget (48 MiB) + 24 MB at
#   both sizes.
# Environment:
#   DANESCAN=build/scanner/danescan  binary under test (release build)
#   BASELINE=            an older danescan binary, timed in the same runs
#   DELEGATIONS=3000000  delegations of the main zone (~200 bytes each)
#   SMALL_DELEGATIONS=DELEGATIONS/4  second zone, for peak RSS only (0: skip)
#   RUNS=5               runs per command (medians)
#   SLOW_PEERS=0         1: also ldns-read-zone and named-compilezone
#   SLOW_DELEGATIONS=100000  size of their slice
#   INSTALL=1            0: never apt-get install missing peers
#   BENCH_DIR=/tmp       where the temp dir goes (needs ~1.5 x the zone)
#   KEEP_ZONE=FILE       reuse this plain zone instead of generating one
#                        (its .gz next to it is used when present)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DANESCAN=${DANESCAN:-$here/../build/scanner/danescan}
DELEGATIONS=${DELEGATIONS:-3000000}
SMALL_DELEGATIONS=${SMALL_DELEGATIONS:-$((DELEGATIONS / 4))}
RUNS=${RUNS:-5}
SLOW_PEERS=${SLOW_PEERS:-0}
SLOW_DELEGATIONS=${SLOW_DELEGATIONS:-100000}
INSTALL=${INSTALL:-1}
BASELINE=${BASELINE:-}
[ -x "$DANESCAN" ] || { echo "no danescan binary at $DANESCAN (set DANESCAN)"; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/tmp}/bench-inputs.XXXXXX")
trap 'rm -rf "$work"' EXIT

install_if_absent() { # package test-command...
  local package=$1
  shift
  if "$@" > /dev/null 2>&1; then return 0; fi
  if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "installing $package ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" > /dev/null 2>&1 || true
  fi
  "$@" > /dev/null 2>&1
}
install_if_absent time test -x /usr/bin/time || { echo "needs /usr/bin/time (Debian package: time)"; exit 1; }

calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- the zone ----
if [ -n "${KEEP_ZONE:-}" ]; then
  zone=$KEEP_ZONE
  if [ -f "$KEEP_ZONE.gz" ]; then zone_gz=$KEEP_ZONE.gz; else zone_gz=$work/zone.gz; gzip -6 -c "$zone" > "$zone_gz"; fi
else
  echo "generating a zone of $DELEGATIONS delegations in $work ..."
  zone=$work/zone
  zone_gz=$work/zone.gz
  python3 "$here/gen_zone.py" "$DELEGATIONS" com > "$zone"
  gzip -6 -c "$zone" > "$zone_gz"
fi
plain_bytes=$(stat -c %s "$zone")
gz_bytes=$(stat -c %s "$zone_gz")
echo "plain: $plain_bytes bytes, $(wc -l < "$zone") lines; gzip: $gz_bytes bytes; $(nproc) CPUs;$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the peers ----
zscanner=""
if install_if_absent libknot-dev test -f /usr/include/libzscanner/scanner.h &&
  cc -O2 -o "$work/zscanner_count" "$here/zscanner_count.c" -lzscanner 2> "$work/cc.log"; then
  zscanner="$work/zscanner_count"
  peer_label=zscanner
  peer_name="zscanner full parse (libzscanner $(dpkg-query -W -f '${Version}' libzscanner4 2> /dev/null || echo '?'))"
  peer_cmd=("$zscanner" "$zone" .)
elif install_if_absent knot command -v kzonecheck; then
  peer_label=kzonecheck
  peer_name="kzonecheck (no libzscanner headers: zone check incl. semantic checks)"
  peer_cmd=(kzonecheck -o com. "$zone")
else
  peer_name=""
fi

# ---- timing: every command RUNS times, interleaved ----
declare -A times rss out
commands=(danescan_plain danescan_gz zcat)
[ -n "$peer_name" ] && commands+=(peer)
[ -n "$BASELINE" ] && commands+=(baseline_plain baseline_gz)
run_one() { # name
  local name=$1 start end
  local -a cmd
  case $name in
    danescan_plain) cmd=("$DANESCAN" inputs --count "$zone") ;;
    danescan_gz) cmd=("$DANESCAN" inputs --count "$zone_gz") ;;
    zcat) cmd=(sh -c 'zcat "$1" > /dev/null' zcat "$zone_gz") ;;
    peer) cmd=("${peer_cmd[@]}") ;;
    baseline_plain) cmd=("$BASELINE" inputs --count "$zone") ;;
    baseline_gz) cmd=("$BASELINE" inputs --count "$zone_gz") ;;
  esac
  start=$(date +%s.%N)
  /usr/bin/time -v "${cmd[@]}" > "$work/out.$name" 2> "$work/time.$name"
  end=$(date +%s.%N)
  times[$name]+="$(calc "$end - $start") "
  rss[$name]+="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.$name") "
}
cat "$zone" "$zone_gz" > /dev/null # page cache
for _ in $(seq 1 "$RUNS"); do
  for name in "${commands[@]}"; do run_one "$name"; done
done
med() { tr ' ' '\n' <<< "${times[$1]}" | grep . | median; }
med_rss() { tr ' ' '\n' <<< "${rss[$1]}" | grep . | median; }
names=$(awk '$1 == "names" { print $2 }' "$work/out.danescan_plain")
gz_names=$(awk '$1 == "names" { print $2 }' "$work/out.danescan_gz")
[ "$names" = "$gz_names" ] || { echo "plain and gzip'd name counts differ: $names / $gz_names"; exit 1; }

row() { # label seconds rss_kb with_names
  local mbs names_s="" rss_mb=""
  mbs=$(calc "$plain_bytes / $2 / 1000000")
  [ "$4" = 1 ] && names_s=$(printf '%.2f M' "$(calc "$names / $2 / 1000000")")
  [ -n "$3" ] && rss_mb=$(printf '%.1f MB' "$(calc "$3 / 1024")")
  printf '| %s | %.2f s | %.0f | %s | %s |\n' "$1" "$2" "$mbs" "$names_s" "$rss_mb"
}
echo
echo "medians of $RUNS runs; MB/s of uncompressed bytes ($names names)"
echo
echo "| input | time | MB/s | names/s | peak RSS |"
echo "|---|---|---|---|---|"
t_plain=$(med danescan_plain)
t_gz=$(med danescan_gz)
t_zcat=$(med zcat)
row "danescan, plain" "$t_plain" "$(med_rss danescan_plain)" 1
[ -n "$peer_name" ] && { t_peer=$(med peer); row "$peer_name" "$t_peer" "$(med_rss peer)" 0; }
row "danescan, gzip'd" "$t_gz" "$(med_rss danescan_gz)" 1
row "zcat > /dev/null" "$t_zcat" "" 0
if [ -n "$BASELINE" ]; then
  row "baseline, plain" "$(med baseline_plain)" "$(med_rss baseline_plain)" 1
  row "baseline, gzip'd" "$(med baseline_gz)" "$(med_rss baseline_gz)" 1
fi
echo
echo "all runs (s): plain ${times[danescan_plain]}| gzip ${times[danescan_gz]}| zcat ${times[zcat]}| peer ${times[peer]:-}| baseline ${times[baseline_plain]:-}| ${times[baseline_gz]:-}"
[ -n "$peer_name" ] && cat "$work/out.peer"

# ---- peak RSS at a second size ----
small_rss=""
if [ "$SMALL_DELEGATIONS" -gt 0 ]; then
  python3 "$here/gen_zone.py" "$SMALL_DELEGATIONS" com > "$work/small"
  /usr/bin/time -v "$DANESCAN" inputs --count "$work/small" > "$work/out.small" 2> "$work/time.small"
  small_rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.small")
  printf 'peak RSS: %.1f MB at %s delegations, %.1f MB at %s\n' "$(calc "$small_rss / 1024")" "$SMALL_DELEGATIONS" \
    "$(calc "$(med_rss danescan_plain) / 1024")" "$DELEGATIONS"
  rm -f "$work/small"
fi

# ---- the slow full parsers, on a slice ----
if [ "$SLOW_PEERS" = 1 ]; then
  python3 "$here/gen_zone.py" "$SLOW_DELEGATIONS" com > "$work/slice"
  slice_bytes=$(stat -c %s "$work/slice")
  echo
  echo "slice of $SLOW_DELEGATIONS delegations ($slice_bytes bytes), medians of $RUNS:"
  slow() { # label command...
    local label=$1 s e all=""
    shift
    for _ in $(seq 1 "$RUNS"); do
      s=$(date +%s.%N)
      "$@" > /dev/null 2>&1 || true
      e=$(date +%s.%N)
      all+="$(calc "$e - $s")"$'\n'
    done
    local m
    m=$(grep . <<< "$all" | median)
    printf '  %-22s %8.3f s  %7.1f MB/s\n' "$label" "$m" "$(calc "$slice_bytes / $m / 1000000")"
  }
  slow "danescan" "$DANESCAN" inputs --count "$work/slice"
  install_if_absent ldnsutils command -v ldns-read-zone && slow "ldns-read-zone" ldns-read-zone -q "$work/slice"
  install_if_absent bind9-utils command -v named-compilezone &&
    slow "named-compilezone" named-compilezone -i none -k ignore -n ignore -o /dev/null com "$work/slice"
fi

# ---- targets ----
echo
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
if [ -n "$peer_name" ]; then
  printf 'plain: danescan / %s = %.2fx (target <= 1.0): %s\n' "$peer_label" "$(calc "$t_plain / $t_peer")" \
    "$(verdict "$t_plain <= $t_peer")"
else
  echo "plain: no zscanner-class peer available: SKIP"
fi
printf "gzip: danescan / zcat = %.2fx (target <= 1.0 on 2+ cores, %s here): %s\n" "$(calc "$t_gz / $t_zcat")" "$(nproc)" \
  "$(verdict "$t_gz <= $t_zcat")"
limit_kb=$(((48 + 24) * 1024))
big_rss=$(med_rss danescan_plain)
printf 'memory: peak RSS %.1f MB (and %s MB at the smaller zone), target <= 72 MB: %s\n' "$(calc "$big_rss / 1024")" \
  "${small_rss:+$(printf '%.1f' "$(calc "$small_rss / 1024")")}" \
  "$(verdict "$big_rss <= $limit_kb && ${small_rss:-0} <= $limit_kb")"
