#!/usr/bin/env bash
# The zone corpus (tests/data/zones/, see its README): `danescan inputs
# --input-format auto` on each file must exit 0 and print exactly the
# delegations a peer parser reads (the stored FILE.expected, made by
# peer-delegations.sh), name for name. When the peer (named-compilezone, or
# ldns-read-zone for the files BIND refuses) is installed, its live output
# must match the stored expectation too, so a stale .expected is caught.
set -euo pipefail
DANESCAN=${DANESCAN:?set DANESCAN to the danescan binary}
SOURCE=${DANESCAN_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
zones=$SOURCE/tests/data/zones
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checked=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

while read -r file origin peer; do
  case "$file" in '' | '#'*) continue ;; esac
  checked=$((checked + 1))
  rc=0
  "$DANESCAN" inputs --input-format auto "$zones/$file" > "$work/out" 2> "$work/err" || rc=$?
  [ "$rc" -eq 0 ] || { fail "$file: exit code $rc"; cat "$work/err"; }
  sort "$work/out" > "$work/sorted"
  if ! cmp -s "$work/sorted" "$zones/$file.expected"; then
    fail "$file: names differ from $file.expected (< danescan, > expected)"
    diff "$work/sorted" "$zones/$file.expected" | head -20 || true
  fi
  [ "$(sort -u "$work/out" | wc -l)" -eq "$(wc -l < "$work/out")" ] || fail "$file: a name printed twice"
  tool=named-compilezone
  [ "$peer" = ldns ] && tool=ldns-read-zone
  if command -v "$tool" > /dev/null; then
    if "$zones/peer-delegations.sh" "$zones/$file" "$origin" "$peer" > "$work/peer" 2> "$work/peer.err"; then
      cmp -s "$work/peer" "$zones/$file.expected" || { fail "$file: live $tool differs from $file.expected"; diff "$work/peer" "$zones/$file.expected" | head -10 || true; }
    else
      fail "$file: $tool refused it"; cat "$work/peer.err"
    fi
  else
    echo "note: $tool not installed; $file compared with the stored expectation only"
  fi
done < "$zones/MANIFEST"

[ "$checked" -ge 10 ] || fail "only $checked corpus files listed in MANIFEST"
if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS ($checked zone files)"
