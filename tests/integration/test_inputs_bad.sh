#!/usr/bin/env bash
# Bad input through `danescan inputs`: binary garbage, a truncated gzip, a
# line of 1 MB, a name of 300 characters, labels over 63 bytes, embedded NUL,
# a missing file, $INCLUDE (missing, loop, stdin, nested), format detection of
# a multi-line SOA, the mostly-bad rule, generic NS rdata, $GENERATE. Each must give a clear message, the documented
# exit code (0 with bad lines, 1 unreadable input) and no crash; the good
# names around the bad ones are still printed. Also: stdin, gzip on stdin,
# shards that partition the input, --count.
set -euo pipefail
DANESCAN=${DANESCAN:?set DANESCAN to the danescan binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run NAME EXPECTED_RC ARGS...: output in $work/NAME.out / .err
run() {
  local name=$1 want=$2; shift 2
  local rc=0
  "$DANESCAN" inputs "$@" > "$work/$name.out" 2> "$work/$name.err" || rc=$?
  if [ "$rc" -ge 128 ]; then fail "$name: crashed (rc $rc)"; cat "$work/$name.err"; fi
  [ "$rc" -eq "$want" ] || { fail "$name: exit code $rc, want $want"; cat "$work/$name.err"; }
}
expect_err() { grep -q -- "$2" "$work/$1.err" || { fail "$1: no message matching '$2'"; cat "$work/$1.err"; }; }
expect_out() { diff <(printf '%s\n' "${@:2}") "$work/$1.out" > /dev/null || { fail "$1: output differs"; cat "$work/$1.out"; }; }

head -c 200000 /dev/urandom > "$work/garbage.bin"
run garbage 1 "$work/garbage.bin"
expect_err garbage "binary data"
run garbage_forced 0 --input-format list --count "$work/garbage.bin"

seq 1 20000 | sed 's/$/.example.com/' | gzip -c > "$work/full.gz"
size=$(stat -c %s "$work/full.gz")
head -c $((size / 2)) "$work/full.gz" > "$work/trunc.gz"
run truncated 1 "$work/trunc.gz"
expect_err truncated "truncated gzip"
[ "$(wc -l < "$work/truncated.out")" -gt 1000 ] || fail "truncated: names before the cut not printed"

{ echo a.com; head -c 1048576 /dev/zero | tr '\0' x; echo; echo b.com; } > "$work/longline.txt"
run longline 0 "$work/longline.txt"
expect_err longline "longline.txt:2: line longer than"
expect_out longline a.com b.com

{ echo ok.com; printf 'a%.0s' $(seq 1 296); echo .com; } > "$work/long.txt"
run longname 0 "$work/long.txt"
expect_err longname "long.txt:2: invalid name .*longer than 253"
expect_out longname ok.com

{ echo "$(printf 'b%.0s' $(seq 1 64)).com"; echo ok.com; } > "$work/label.txt"
run label 0 "$work/label.txt"
expect_err label "label.txt:1: invalid name .*64 bytes (longer than 63)"
expect_out label ok.com

printf 'nul\0here.com\nok.com\n' > "$work/nul.txt"
run nul 0 --input-format list "$work/nul.txt"
expect_err nul "nul.txt:1: invalid name .*NUL"
expect_out nul ok.com

# $INCLUDE of a file that is not there ends the input (a zone read without
# it would be silently incomplete): the message names the file and line.
printf 'zone.\t3600\tIN\tSOA\ta. b. 1 2 3 4 5\n$INCLUDE no-such-part.zone\nx.zone.\t3600\tIN\tNS\tns.\n' > "$work/inc.zone"
run include 1 "$work/inc.zone"
expect_err include "inc.zone:2: \$INCLUDE .*no-such-part.zone: No such file"
# $INCLUDE relative to the including file's directory, with an origin, nested.
mkdir -p "$work/parts"
printf '$ORIGIN zone.\n@ 300 IN SOA a. b. 1 2 3 4 5\n$INCLUDE parts/a.zone\nb NS ns\n$INCLUDE parts/c.zone c.zone.\n' > "$work/incok.zone"
printf 'a NS ns\n$INCLUDE nested.zone\n' > "$work/parts/a.zone"
printf 'n NS ns\n' > "$work/parts/nested.zone"
printf '@ NS ns\nsub NS ns\n' > "$work/parts/c.zone"
run include_ok 0 "$work/incok.zone"
expect_out include_ok a.zone n.zone b.zone c.zone
expect_err include_ok "parts/nested.zone: included file read to the end (1 lines, sha256 "
printf 'zone. 300 IN SOA a. b. 1 2 3 4 5\n$INCLUDE loop.zone\n' > "$work/loop.zone"
run include_loop 1 "$work/loop.zone"
expect_err include_loop "loop.zone:2: \$INCLUDE .*loop.zone: a loop"
run include_stdin 1 - < "$work/incok.zone"
expect_err include_stdin "(stdin):3: \$INCLUDE parts/a.zone refused"
# Lines of an included file: too long (skipped, named by file and line),
# a record left open at its end.
{ printf 'a NS ns\n'; head -c 300000 /dev/zero | tr '\0' x; printf '\nb NS ns\nc NS ( ns\n'; } > "$work/parts/long.inc"
printf '$ORIGIN zone.\n@ 300 IN SOA a. b. 1 2 3 4 5\n$INCLUDE parts/long.inc\nz NS ns\n' > "$work/inclong.zone"
run include_long 0 "$work/inclong.zone"
expect_out include_long a.zone b.zone z.zone
expect_err include_long "parts/long.inc:2: line longer than 262144 bytes skipped"
expect_err include_long "parts/long.inc:4: end of file inside parentheses"

# Issue 16, 1: a multi-line SOA's continuation lines do not vote "list".
printf '$TTL 300\nexample. IN SOA ns.example. hostmaster.example. (\n        1\n        3600\n        1800\n        1814400\n        3600\n        )\nexample. NS ns.example.\nchild.example. NS ns.child.example.\n' > "$work/minimal.zone"
run detect_soa 0 "$work/minimal.zone"
expect_out detect_soa child.example
# A file mostly bad as its detected format fails and names the file.
printf '$TTL 300\na.com\nb.com\nc.com\n' > "$work/mostlybad.txt"
run mostly_bad 1 "$work/mostlybad.txt"
expect_err mostly_bad "mostlybad.txt: 3 of the first 4 lines are bad lines as a zone file"
# ... but not when the format is given.
run mostly_bad_forced 0 --input-format zone "$work/mostlybad.txt"

# Issue 16, 2: NS in RFC 3597's generic form; a malformed one is a bad line.
printf 'example. 300 IN SOA ns h 1 2 3 4 5\na NS \\# 4 026e7300\nb TYPE2 \\# 4 026e7300\nc CLASS1 TYPE2 ns.example.\nd NS \\# ( 4\n 026e\n 7300 )\ne NS \\# 4 026e73\nf NS \\# 4 036e7300\n' > "$work/generic.zone"
run generic 0 --count --origin example "$work/generic.zone"
grep -q '^names 4$' "$work/generic.out" && grep -q '^bad_lines 2$' "$work/generic.out" || { fail "generic: counts"; cat "$work/generic.out"; }
run generic_names 0 --origin example "$work/generic.zone"
expect_out generic_names a.example b.example c.example d.example
expect_err generic_names "generic.zone:8: generic rdata (\\\\#): length 4 but 6 hex digits given"
expect_err generic_names "generic.zone:9: generic NS rdata of 4 bytes is not exactly one name"

# Issue 16, 3: $GENERATE of NS records yields the delegations.
printf '$ORIGIN example.\n@ 300 IN SOA ns h 1 2 3 4 5\n$GENERATE 1-3 child$ NS ns$\n$GENERATE 1-3 h$ A 192.0.2.$\n$GENERATE 8-12/2 w${-8,2,d} IN 300 NS ns\n$GENERATE 1-2000000 q$ NS ns\n$GENERATE 1-2 x${0,1,q} NS ns\n' > "$work/generate.zone"
run generate 0 "$work/generate.zone"
expect_out generate child1.example child2.example child3.example w00.example w02.example w04.example
expect_err generate "generate.zone:6: \$GENERATE range of 2000000 names above the limit of 1000000"
expect_err generate "generate.zone:7: \$GENERATE: bad modifier"
run generate_limit 0 --limit 2 "$work/generate.zone"
expect_out generate_limit child1.example child2.example

run missing 1 "$work/does-not-exist.zone"
expect_err missing "does-not-exist.zone: No such file"
run usage 2 --shard 3/3 "$work/nul.txt"

# Standard input, plain and gzip'd; counts.
printf 'B.com\nA.com.\nb.com\n' > "$work/list.txt"
rc=0; "$DANESCAN" inputs - < "$work/list.txt" > "$work/stdin.out" 2>&1 || rc=$?
[ $rc -eq 0 ] && diff <(printf 'b.com\na.com\n') "$work/stdin.out" > /dev/null || fail "stdin list"
rc=0; gzip -c "$work/list.txt" | "$DANESCAN" inputs --count - > "$work/stdin.out" 2>&1 || rc=$?
grep -q '^names 2$' "$work/stdin.out" && grep -q '^duplicates 1$' "$work/stdin.out" || fail "gzip stdin counts"

# Shards partition the input; --limit; --sample is a stable subset.
seq 1 5000 | sed 's/^/n/; s/$/.example/' > "$work/many.txt"
for i in 0 1 2 3; do "$DANESCAN" inputs --shard $i/4 "$work/many.txt"; done | sort > "$work/shards"
sort "$work/many.txt" | cmp -s - "$work/shards" || fail "shards do not partition the input"
[ "$("$DANESCAN" inputs --limit 10 "$work/many.txt" | wc -l)" -eq 10 ] || fail "--limit"
"$DANESCAN" inputs --sample 0.1 "$work/many.txt" > "$work/s1"
"$DANESCAN" inputs --sample 10% "$work/many.txt" > "$work/s2"
n=$(wc -l < "$work/s1")
{ cmp -s "$work/s1" "$work/s2" && [ "$n" -gt 350 ] && [ "$n" -lt 650 ]; } || fail "--sample ($n names)"

[ "$failures" -eq 0 ] && echo PASS || { echo "$failures failures"; exit 1; }
