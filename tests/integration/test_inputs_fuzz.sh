#!/usr/bin/env bash
# Short fuzzing run of the input readers: builds the libFuzzer targets of
# tests/fuzz with clang (-DDANESCAN_FUZZ=ON, ASan+UBSan) in a build dir of its
# own and runs each for FUZZ_SECONDS (default 60) from the seed corpus in
# tests/fuzz/corpus/<target without fuzz_>/ (copied: the tree is not
# written). Fails on any crash, leak or sanitizer report.
set -euo pipefail
SOURCE=${DANESCAN_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"fuzz_zone_reader fuzz_list_reader fuzz_name"}
command -v clang >/dev/null || { echo "clang missing"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${DANESCAN_BUILD:-}" ]; then
  build="$DANESCAN_BUILD/fuzz-build" # kept: rebuilding is incremental
else
  build="$work/build"
fi
# Warnings are not errors here: clang may warn where gcc does not, in files
# this test does not cover.
CC=clang cmake -S "$SOURCE" -B "$build" -DDANESCAN_FUZZ=ON -DDANESCAN_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $TARGETS > "$work/build.log" 2>&1 \
  || { tail -50 "$work/build.log"; exit 1; }
failures=0
for target in $TARGETS; do
  corpus="$work/corpus-$target"
  mkdir -p "$corpus"
  seeds="$SOURCE/tests/fuzz/corpus/${target#fuzz_}"
  [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/
  exe=$(find "$build" -type f -name "$target" -perm -u+x | head -1)
  if (cd "$work" && "$exe" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
        -rss_limit_mb=1024 -print_final_stats=1 "$corpus" > "$work/$target.log" 2>&1); then
    echo "ok $target: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$') runs"
  else
    echo "FAIL $target"; tail -40 "$work/$target.log"; failures=$((failures + 1))
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null || true
  fi
done
[ "$failures" -eq 0 ] && echo PASS || exit 1
