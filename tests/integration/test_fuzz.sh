#!/usr/bin/env bash
# Short fuzzing run of every libFuzzer target in tests/fuzz (the input
# readers and every parser of bytes from the network: DNS replies, SMTP
# replies and sessions, TLSA records, certificates): builds them with clang
# (-DDANESCAN_FUZZ=ON, ASan+UBSan) in a build dir of its own and runs each
# for FUZZ_SECONDS (default 10), FUZZ_JOBS (default 2) at a time, from the
# seed corpus in tests/fuzz/corpus/<target without fuzz_>/ (copied: the tree
# is not written). libFuzzer runs every seed (INITED) before it looks at the
# time budget, so the default smoke run (FUZZ_SECONDS 3 s per target; 10 s with
# DANESCAN_LONG_TESTS=1) still runs the whole corpus through every parser.
# With the defaults the 11 targets take about a minute on 2 cores, most of
# it the clang build. Fails on any crash, leak, timeout or sanitizer report;
# the input that failed is kept in FUZZ_ARTIFACTS (default <build>/fuzz-artifacts).
# Longer runs and reproducing a crash: tests/fuzz/README.md.
set -euo pipefail
SOURCE=${DANESCAN_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ "${DANESCAN_LONG_TESTS:-0}" = 1 ]; then default_seconds=10; else default_seconds=3; fi
SECONDS_EACH=${FUZZ_SECONDS:-$default_seconds}
JOBS=${FUZZ_JOBS:-2}
command -v clang >/dev/null || { echo "clang missing"; exit 1; }
if [ -z "${FUZZ_TARGETS:-}" ]; then
  FUZZ_TARGETS=$(cd "$SOURCE/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -n "${DANESCAN_BUILD:-}" ]; then
  build="$DANESCAN_BUILD/fuzz-build" # kept: rebuilding is incremental
else
  build="$work/build"
fi
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
mkdir -p "$artifacts"
# Warnings are not errors here: clang may warn where gcc does not, in files
# this test does not cover.
CC=clang cmake -S "$SOURCE" -B "$build" -DDANESCAN_FUZZ=ON -DDANESCAN_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $FUZZ_TARGETS > "$work/build.log" 2>&1 \
  || { tail -50 "$work/build.log"; exit 1; }

run_one() { # target: fuzzes it, exit status of libFuzzer
  local target=$1 corpus="$work/corpus-$1" seeds="$SOURCE/tests/fuzz/corpus/${1#fuzz_}"
  mkdir -p "$corpus"
  if [ -d "$seeds" ]; then cp "$seeds"/* "$corpus"/; fi
  (cd "$work" && exec "$build/tests/fuzz/$target" -max_total_time="$SECONDS_EACH" -max_len=65536 \
     -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
     "$corpus" > "$work/$target.log" 2>&1)
}

report() { # target status
  local target=$1 status=$2 log="$work/$1.log"
  local runs cov
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'DONE *cov: [0-9]* ft: [0-9]*' "$log" | sed 's/DONE *//' || true)
  if [ "$status" -eq 0 ]; then
    echo "ok $target: $runs runs in ${SECONDS_EACH}s, $cov"
  else
    echo "FAIL $target (exit $status)"
    tail -40 "$log"
    ls "$artifacts/$target-"* 2>/dev/null | sed 's/^/  kept: /' || true
    failures=$((failures + 1))
  fi
}

failures=0
declare -A pid_target=()
for target in $FUZZ_TARGETS; do
  [ -x "$build/tests/fuzz/$target" ] || { echo "FAIL $target: not built"; failures=$((failures + 1)); continue; }
  while [ "${#pid_target[@]}" -ge "$JOBS" ]; do
    set +e; wait -n -p done_pid; status=$?; set -e
    report "${pid_target[$done_pid]}" "$status"
    unset "pid_target[$done_pid]"
  done
  run_one "$target" &
  pids+=($!)
  pid_target[$!]=$target
done
while [ "${#pid_target[@]}" -gt 0 ]; do
  set +e; wait -n -p done_pid; status=$?; set -e
  report "${pid_target[$done_pid]}" "$status"
  unset "pid_target[$done_pid]"
done
count=$(echo $FUZZ_TARGETS | wc -w)
echo "$((count - failures)) passed, $failures failed"
[ "$failures" -eq 0 ] || exit 1
