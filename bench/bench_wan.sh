#!/usr/bin/env bash
# WAN benchmark (issue 15): danescan against dnsperf at Internet latency and
# loss. Brings the lab up with N bulk domains (scripts/lab up --bulk N) in
# each mode below, and per repetition runs, against a cold Unbound (reloaded
# before every run):
#   danescan scan --probe none --allow-reserved --max-queries Q   (the whole
#       DNS pipeline: MX, A, AAAA, TLSA and DNSSEC states)
#   dnsperf -q Q   (the same N domains' MX queries, Q in flight, one pass,
#       no retries: a name whose reply is lost is lost)
# against the same resolver (the lab Unbound, 127.0.0.1) with the same number
# of queries in flight, the two in alternating order. Modes:
#   lan     the clean lab, no WAN (reference)
#   delay   scripts/lab up --wan delay: per-server delay 20-300 ms, no loss
#   loss1   --wan loss1: delay + 1% of resolver->authority exchanges lost
#   loss10  --wan loss10: delay + 10% lost
#   all10   --wan delay + scripts/lab loss 10: 10% of EVERY packet in the
#           namespace lost (scanner<->Unbound included; nftables input hook,
#           the sender does not notice)
#   all10send  the same on the output hook (scripts/lab loss 10 --at-send):
#           the sender's sendto() fails with EPERM for each dropped packet,
#           as in issue 15's first measurement (not a silent loss)
# Reports per run and per mode: wall times, danescan/dnsperf ratio, names
# answered by each (danescan: domains not lookup-failed; dnsperf: NOERROR +
# NXDOMAIN replies), danescan's lookup-failed domains and the wrong verdicts
# among them (domains failed although `scripts/lab bulk-expect N`, i.e. the
# clean lab, has them answered), scanner CPU per query (GNU time user+sys /
# dns.queries_sent of the metadata, the summary's "queries sent"), and the
# CPU the lab's processes used (python3 = the WAN proxies).
#
#   bench/bench_wan.sh                          # N=20000, 2 repetitions, all modes
#   BENCH_DOMAINS=5000 BENCH_MODES="delay all10" bench/bench_wan.sh
# Environment: BENCH_DOMAINS (N, default 20000), BENCH_INFLIGHT (Q, default
# 1000), BENCH_REPEAT (default 2), BENCH_MODES (default "lan delay loss1
# loss10 all10"; also all10send), BENCH_DNSPERF_TIMEOUT (s, dnsperf -t, default 5),
# BENCH_NO_BUILD=1 (use build/), DANESCAN (binary), DANESCAN_LAB_NS (default
# danescan-wanbench), DANESCAN_STATE (lab state root, default
# /var/tmp/danescan-wanbench: the signed zone is cached there),
# BENCH_RESULTS (JSON lines of every run, default
# /tmp/bench-wan-<time>.jsonl, kept), BENCH_KEEP=1 (keep the work dir).
# Needs root; installs dnsperf, nftables and time with apt-get when missing.
# Refuses to run when a lab is already up in its namespace; brings down the
# lab it started.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
N=${BENCH_DOMAINS:-20000}
Q=${BENCH_INFLIGHT:-1000}
REPEAT=${BENCH_REPEAT:-2}
MODES=${BENCH_MODES:-lan delay loss1 loss10 all10}
DP_TIMEOUT=${BENCH_DNSPERF_TIMEOUT:-5}
export DANESCAN_LAB_NS=${DANESCAN_LAB_NS:-danescan-wanbench}
export DANESCAN_STATE=${DANESCAN_STATE:-/var/tmp/danescan-wanbench}
unset DANESCAN_LAB_WAN DANESCAN_LAB_BULK
lab="$repo/scripts/lab"
results=${BENCH_RESULTS:-/tmp/bench-wan-$(date -u +%Y%m%dT%H%M%S).jsonl}
die() { echo "bench_wan: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench_wan: needs root (network namespaces)" >&2; exit 2; }
for mode in $MODES; do
  case $mode in lan|delay|loss1|loss10|all10|all10send) ;; *) die "unknown mode $mode";; esac
done

missing=
command -v dnsperf >/dev/null || missing="$missing dnsperf"
command -v nft >/dev/null || missing="$missing nftables"
[ -x /usr/bin/time ] || missing="$missing time"
if [ -n "$missing" ]; then
  echo "== apt-get install$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null || die "apt-get install$missing failed"
fi
if [ -e "/run/netns/$DANESCAN_LAB_NS" ]; then
  die "namespace $DANESCAN_LAB_NS exists (a lab is up?): set DANESCAN_LAB_NS to another one"
fi

work=$(mktemp -d /tmp/bench-wan.XXXXXX)
lab_started=0
cleanup() {
  local rc=$?
  if [ "$lab_started" = 1 ]; then "$lab" down >/dev/null 2>&1 || echo "bench_wan: lab down failed" >&2; fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  "$repo/scripts/build" release >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
fi
DANESCAN=${DANESCAN:-$repo/build/scanner/danescan}
[ -x "$DANESCAN" ] || die "no binary $DANESCAN"

mkdir -p "$DANESCAN_STATE"
"$lab" bulk-domains "$N" > "$work/domains.txt"
"$lab" bulk-expect "$N" > "$work/expect.jsonl"
awk '{ print $1 " MX" }' "$work/domains.txt" > "$work/dnsperf.txt"
ubconf="$DANESCAN_STATE/lab/unbound/unbound.conf"
: > "$results"

# CPU ticks of the lab's processes: "comm ticks" per process in the namespace.
server_ticks() {
  local pid
  for pid in $(ip netns pids "$DANESCAN_LAB_NS"); do
    [ -r "/proc/$pid/stat" ] || continue
    awk '{ print substr($2, 2, length($2) - 2), $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
  done
}
ticks_json() {  # before after -> {"unbound": CPU s, ...}
  awk -v hz="$(getconf CLK_TCK)" '
    FNR == NR { b[$1] += $2; next } { a[$1] += $2 }
    END { printf "{"; sep = ""
          for (k in a) { printf "%s\"%s\": %.2f", sep, k, (a[k] - b[k]) / hz; sep = ", " }
          printf "}\n" }' "$1" "$2"
}

# The WAN proxies one by one: a proxy is one Python process, and one whose
# CPU nears the wall time is the bottleneck, not the scanner or Unbound.
proxy_ticks() {
  local f pid
  for f in "$DANESCAN_STATE"/lab/wan/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    awk -v n="$(basename "$f" .pid)" '{ print n, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
  done
}

# run_one MODE REP TOOL: one cold run; appends a JSON line to $results.
run_one() {
  local mode=$1 rep=$2 tool=$3 base="$work/$1.$2.$3" t0 t1 rc=0
  unbound-control -c "$ubconf" reload >/dev/null   # restart in place: caches dropped
  server_ticks > "$base.ticks0"
  proxy_ticks > "$base.pticks0"
  t0=$(date +%s.%N)
  if [ "$tool" = danescan ]; then
    "$lab" exec /usr/bin/time -v -o "$base.time" "$DANESCAN" scan --probe none --allow-reserved \
      --no-progress --max-queries "$Q" --metadata "$base.meta.json" --output "$base.jsonl" \
      "$work/domains.txt" 2> "$base.err" || rc=$?
  else
    "$lab" exec /usr/bin/time -v -o "$base.time" dnsperf -s 127.0.0.1 -d "$work/dnsperf.txt" \
      -q "$Q" -c 1 -n 1 -t "$DP_TIMEOUT" > "$base.out" 2> "$base.err" || rc=$?
  fi
  t1=$(date +%s.%N)
  server_ticks > "$base.ticks1"
  proxy_ticks > "$base.pticks1"
  [ "$rc" = 0 ] || { cat "$base.err" >&2; die "$tool ($mode, run $rep) exited $rc"; }
  ticks_json "$base.ticks0" "$base.ticks1" > "$base.cpu.json"
  python3 - "$mode" "$rep" "$tool" "$base" "$t0" "$t1" "$N" "$work/expect.jsonl" \
    "$repo/bench/bench_resolve_check.py" >> "$results" <<'PY'
import json, re, subprocess, sys
mode, rep, tool, base, t0, t1, n, expect, check = sys.argv[1:10]
wall = float(t1) - float(t0)
out = {"mode": mode, "run": int(rep), "tool": tool, "wall_s": round(wall, 2), "names": int(n),
       "lab_cpu_s": json.load(open(base + ".cpu.json"))}
hz = float(subprocess.run(["getconf", "CLK_TCK"], stdout=subprocess.PIPE, text=True).stdout)
def ticks(path):
    return {l.split()[0]: int(l.split()[1]) for l in open(path) if len(l.split()) == 2}
p0, p1 = ticks(base + ".pticks0"), ticks(base + ".pticks1")
busy = {k: (p1[k] - p0.get(k, 0)) / hz / wall for k in p1}
if busy:
    k = max(busy, key=busy.get)
    out["busiest_proxy"] = [k, round(busy[k], 2)]   # its CPU share of one core
if tool == "danescan":
    r = json.loads(subprocess.run([sys.executable, check, expect, base + ".jsonl", base + ".meta.json",
                                   base + ".time", str(wall)], check=True,
                                  stdout=subprocess.PIPE).stdout)
    failed = r["status_counts"].get("lookup-failed", 0)
    summary = open(base + ".err").read()
    m = re.search(r"domains in ([0-9.]+) s", summary)
    out["scan_s"] = float(m.group(1)) if m else None
    out.update(answered=r["domains"] - failed, lookup_failed=failed,
               wrongly_failed=r["wrongly_failed"], wrongly_failed_sample=r["wrongly_failed_sample"],
               mismatches=r["mismatches"], mismatch_sample=r["mismatch_sample"],
               queries_sent=r["queries_sent"], scanner_cpu_s=r["scanner_cpu_s"],
               cpu_us_per_query=r["cpu_us_per_query"],
               retries=r["dns"].get("retries"), timeouts=r["dns"].get("timeouts"),
               servfail=r["dns"].get("servfail"), dns_failed=r["dns"].get("failed"),
               resolver_lines=[l.strip() for l in summary.splitlines()
                               if "silent" in l or "down" in l][:4])
else:
    text = open(base + ".out").read()
    def num(label):
        m = re.search(label + r":\s+([0-9.]+)", text)
        return float(m.group(1)) if m else None
    codes = dict((k, int(v)) for k, v in re.findall(r"([A-Z]+) (\d+) \(", text.split("Response codes:", 1)[-1].split("\n", 1)[0]))
    out.update(sent=int(num("Queries sent") or 0), completed=int(num("Queries completed") or 0),
               lost=int(num("Queries lost") or 0), rcodes=codes,
               answered=codes.get("NOERROR", 0) + codes.get("NXDOMAIN", 0),
               dnsperf_run_s=num("Run time \\(s\\)"))
print(json.dumps(out))
PY
  tail -1 "$results" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("   %-8s run %d %-8s %7.2f s  answered %d/%d%s" % (r["mode"], r["run"], r["tool"], r["wall_s"], r["answered"], r["names"], ("  lookup-failed %d (wrong %d), %.2f us/query" % (r["lookup_failed"], r["wrongly_failed"], r["cpu_us_per_query"])) if r["tool"] == "danescan" else ("  lost %d, SERVFAIL %d" % (r["lost"], r["rcodes"].get("SERVFAIL", 0)))))'
}

for mode in $MODES; do
  case $mode in
    lan) wan=() ;;
    all10|all10send) wan=(--wan delay) ;;
    *) wan=(--wan "$mode") ;;
  esac
  echo "== $mode: lab up --bulk $N ${wan[*]} (namespace $DANESCAN_LAB_NS)"
  lab_started=1
  "$lab" up --bulk "$N" "${wan[@]}" > "$work/lab-up.$mode.log" 2>&1 \
    || { cat "$work/lab-up.$mode.log" >&2; die "lab up failed"; }
  if [ "$mode" = all10 ]; then "$lab" loss 10 >/dev/null; fi
  if [ "$mode" = all10send ]; then "$lab" loss 10 --at-send >/dev/null; fi
  for rep in $(seq 1 "$REPEAT"); do
    if [ $((rep % 2)) = 1 ]; then order="danescan dnsperf"; else order="dnsperf danescan"; fi
    for tool in $order; do run_one "$mode" "$rep" "$tool"; done
  done
done

echo
echo "N=$N domains, $Q queries in flight, $REPEAT runs per mode, cold Unbound; runs in $results"
python3 - "$results" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
modes = []
for r in runs:
    if r["mode"] not in modes:
        modes.append(r["mode"])
def rng(vals, fmt="%.1f"):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    lo, hi = min(vals), max(vals)
    return fmt % lo if lo == hi else (fmt % lo) + "-" + (fmt % hi)
def mean(vals):
    return sum(vals) / len(vals) if vals else None
hdr = ("mode", "danescan s (scan)", "dnsperf s", "ratio", "danescan answered", "dnsperf answered",
       "lookup-failed (wrong)", "us/query", "queries sent", "busiest proxy")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
clean = None
for m in modes:
    d = [r for r in runs if r["mode"] == m and r["tool"] == "danescan"]
    p = [r for r in runs if r["mode"] == m and r["tool"] == "dnsperf"]
    ratios = [a["wall_s"] / b["wall_s"] for a, b in zip(sorted(d, key=lambda r: r["run"]),
                                                         sorted(p, key=lambda r: r["run"]))]
    if m == "delay":
        clean = mean([r["wall_s"] for r in d])
    print("| " + " | ".join([
        m, rng([r["wall_s"] for r in d]) + " (" + rng([r.get("scan_s") for r in d]) + ")",
        rng([r["wall_s"] for r in p]), rng(ratios, "%.2f"),
        rng([r["answered"] for r in d], "%d"), rng([r["answered"] for r in p], "%d"),
        rng([r["lookup_failed"] for r in d], "%d") + " (" + rng([r["wrongly_failed"] for r in d], "%d") + ")",
        rng([r["cpu_us_per_query"] for r in d]), rng([r["queries_sent"] for r in d], "%d"),
        rng([r["busiest_proxy"][1] for r in d + p if r.get("busiest_proxy")], "%.2f")]) + " |")
if clean:
    print()
    for m in ("all10", "all10send"):
        a = [r["wall_s"] for r in runs if r["mode"] == m and r["tool"] == "danescan"]
        if a:
            print(f"{m} / delay (danescan wall): {mean(a) / clean:.2f}x")
for r in runs:
    if r["tool"] == "danescan" and (r["wrongly_failed"] or r["resolver_lines"]):
        print(f"{r['mode']} run {r['run']}: wrong {r['wrongly_failed_sample']} "
              f"retries {r['retries']} timeouts {r['timeouts']} {' / '.join(r['resolver_lines'])}")
PY
