#!/usr/bin/env bash
# Benchmark of the input reader alone (issue 5): generates a TLD-like zone of
# DELEGATIONS (default 5 million) delegations, plain and gzip'd, in a temp
# dir, and reports for `danescan inputs --count FILE`: MB/s (uncompressed
# bytes), names/s and peak RSS (/usr/bin/time -v), best of RUNS (default 3)
# with the file in the page cache; for the gzip'd file also `zcat FILE >
# /dev/null` for comparison. Targets: plain >= 300 MB/s, gzip within 1.2x of
# zcat, peak RSS < 64 MB.
#   DANESCAN=build/scanner/danescan bench/bench_inputs.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DANESCAN=${DANESCAN:-$here/../build/scanner/danescan}
DELEGATIONS=${DELEGATIONS:-5000000}
RUNS=${RUNS:-3}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package: time)"; exit 1; }
[ -x "$DANESCAN" ] || { echo "no danescan binary at $DANESCAN (set DANESCAN)"; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/tmp}/bench-inputs.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
is_less() { awk "BEGIN { exit !($1 < $2) }"; }
echo "generating a zone of $DELEGATIONS delegations in $work ..."
python3 "$here/gen_zone.py" "$DELEGATIONS" bench > "$work/zone"
gzip -6 -c "$work/zone" > "$work/zone.gz"
plain_bytes=$(stat -c %s "$work/zone")
gz_bytes=$(stat -c %s "$work/zone.gz")
echo "plain: $plain_bytes bytes; gzip: $gz_bytes bytes; $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

# measure FILE: best wall time of RUNS, peak RSS, names; sets best, rss, names
measure() {
  local file=$1 start end t
  cat "$file" > /dev/null # page cache
  best=""
  for _ in $(seq 1 "$RUNS"); do
    start=$(now)
    /usr/bin/time -v "$DANESCAN" inputs --count "$file" > "$work/out" 2> "$work/time"
    end=$(now)
    t=$(calc "$end - $start")
    if [ -z "$best" ] || is_less "$t" "$best"; then best=$t; fi
  done
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
  names=$(awk '$1 == "names" { print $2 }' "$work/out")
}

measure "$work/zone"
printf 'plain  %8.2f s  %7.1f MB/s  %10.0f names/s  peak RSS %6.1f MB  (%s names)\n' \
  "$best" "$(calc "$plain_bytes / $best / 1000000")" "$(calc "$names / $best")" \
  "$(calc "$rss / 1024")" "$names"
plain_best=$best
measure "$work/zone.gz"
gz_best=$best
printf 'gzip   %8.2f s  %7.1f MB/s  %10.0f names/s  peak RSS %6.1f MB  (%s names)\n' \
  "$best" "$(calc "$plain_bytes / $best / 1000000")" "$(calc "$names / $best")" \
  "$(calc "$rss / 1024")" "$names"
zbest=""
for _ in $(seq 1 "$RUNS"); do
  start=$(now); zcat "$work/zone.gz" > /dev/null; end=$(now)
  t=$(calc "$end - $start")
  if [ -z "$zbest" ] || is_less "$t" "$zbest"; then zbest=$t; fi
done
printf 'zcat   %8.2f s  %7.1f MB/s\n' "$zbest" "$(calc "$plain_bytes / $zbest / 1000000")"
printf 'gzip reading / zcat: %.2fx (target <= 1.2); plain %s MB/s (target >= 300)\n' \
  "$(calc "$gz_best / $zbest")" "$(printf '%.0f' "$(calc "$plain_bytes / $plain_best / 1000000")")"
