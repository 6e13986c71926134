#!/usr/bin/env bash
# bench_probe.sh: STARTTLS probe benchmark (issue 3).
# Runs N probes with concurrency C through danescan-probe against
# danescan-labsmtp on 127.0.0.1 with an ECDSA P-256 and an RSA-2048 leaf
# (chain leaf+intermediate+root, TLSA 3 1 1 on the leaf), with and without the
# second key-type handshake, and prints probes/s, client CPU per probe and per
# TLS connection, and beside it the cost of the client-side cryptography of one
# handshake from `openssl speed` (X25519 keygen+derive, the server signature
# verification, and the chain signature a DANE-TA/PKIX check would verify).
# Finally peak RSS with CONCURRENT (default 2000) TLS sessions held open.
#
# Then, in the same run and against the same labsmtp servers and
# certificates, the target: danescan's CPU per probe at most 1.2x that of
# bench/starttls_client.c, a minimal OpenSSL client doing the same exchange
# on the wire (greeting, EHLO, STARTTLS, handshake with SNI and OpenSSL DANE
# on the same TLSA 3 1 1, QUIT inside TLS), with the same N and C. Compared
# for one handshake per probe (danescan --no-key-types), ECDSA P-256 and
# RSA-2048; each pair runs ROUNDS times alternating which client goes first,
# and the table shows medians. A MISS makes the exit status 1.
#
# Usage: bench/bench_probe.sh [N] [C]   (env: DANESCAN_BUILD, CONCURRENT,
#        SPEED_SECONDS, ROUNDS (default 3), COMPARE_ONLY=1 to run only the
#        comparison). Build first in that build dir:
#        cmake --build DIR --target danescan-labsmtp danescan-probe starttls_client
#        Only loopback traffic.
set -u
N=${1:-2000}
C=${2:-50}
CONCURRENT=${CONCURRENT:-2000}
SPEED_SECONDS=${SPEED_SECONDS:-2}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DANESCAN_BUILD:-$SRC/build}
LAB=$BUILD/tests/labsmtp/danescan-labsmtp
PROBE=$BUILD/tests/labsmtp/danescan-probe
MINIMAL=$BUILD/bench/starttls_client
ROUNDS=${ROUNDS:-3}
COMPARE_ONLY=${COMPARE_ONLY:-0}
TARGET_RATIO=1.2
EHLO_NAME=bench.lab.example  # the same EHLO name from both clients
[ -x "$LAB" ] && [ -x "$PROBE" ] && [ -x "$MINIMAL" ] ||
  { echo "build first: $LAB, $PROBE, $MINIMAL (target starttls_client) missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/bench_probe.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ulimit -n 20000 2>/dev/null || true

"$SRC/tests/labsmtp/make-certs.sh" "$WORK/certs" >/dev/null 2>&1 || { echo "make-certs failed" >&2; exit 1; }
CERTS=$WORK/certs

# start NAME KEY [labsmtp args...]: sets PORT.
start() {
  local name=$1 key=$2
  shift 2
  "$LAB" --mode normal --listen 127.0.0.1:0 --port-file "$WORK/$name.ports" \
    --cert "$CERTS/leaf-$key.chain.pem" --key "$CERTS/leaf-$key.key" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/$name.ports" ] && break; sleep 0.05; done
  PORT=$(awk '{print $2; exit}' "$WORK/$name.ports")
  [ -n "$PORT" ] || { echo "labsmtp $name did not start" >&2; exit 1; }
}

# run LABEL KEY PORT LIMIT_S [probe args...]
run() {
  local label=$1 key=$2 port=$3 limit=$4
  shift 4
  local tlsa
  tlsa=$(cat "$CERTS/leaf-$key.spki-sha256")
  "$PROBE" --allow-reserved --port "$port" --host mx.lab.example --tlsa "3 1 1 $tlsa" \
    --repeat "$N" --max-concurrent "$C" --per-ip "$C" --gap-ms 0 --quiet "$@" 127.0.0.1 \
    >/dev/null 2>"$WORK/run.err"
  local summary
  summary=$(grep '^summary' "$WORK/run.err")
  [ -n "$summary" ] || { echo "$label: no summary: $(cat "$WORK/run.err")" >&2; return 1; }
  local get
  get() { echo "$summary" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2; }
  local done conns pps cpu auth
  done=$(get done); conns=$(get connections); pps=$(get probes_per_s); cpu=$(get cpu_s)
  auth=$(get authenticated)
  awk -v l="$label" -v n="$done" -v c="$conns" -v p="$pps" -v cpu="$cpu" -v a="${auth:-0}" \
      -v lim="$limit" 'BEGIN {
    per = cpu * 1000 / n; perc = cpu * 1000 / c;
    printf "%-26s probes=%d authenticated=%d conns=%d probes/s=%.0f cpu/probe=%.3f ms cpu/conn=%.3f ms ratio=%.1fx\n",
      l, n, a, c, p, per, perc, per / (lim * 1000)
  }'
  [ "${auth:-0}" = "$done" ] && [ "$done" = "$N" ] ||
    { echo "  FAIL: not every probe authenticated: $summary"; STATUS=1; }
}

start ec ec; EC_PORT=$PORT
start rsa rsa; RSA_PORT=$PORT

# field SUMMARY NAME: the value of NAME=... in a summary line.
field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# once CLIENT KEY PORT: one run of N probes; prints "probes_per_s cpu_ms_per_probe".
once() {
  local client=$1 key=$2 port=$3 tlsa summary n=${once_n:-$N}
  tlsa=$(cat "$CERTS/leaf-$key.spki-sha256")
  if [ "$client" = danescan ]; then
    "$PROBE" --allow-reserved --port "$port" --host mx.lab.example --tlsa "3 1 1 $tlsa" \
      --ehlo "$EHLO_NAME" --repeat "$n" --max-concurrent "$C" --per-ip "$C" --gap-ms 0 \
      --quiet --no-key-types 127.0.0.1 >/dev/null 2>"$WORK/once.err"
  else
    "$MINIMAL" --port "$port" --host mx.lab.example --tlsa "3 1 1 $tlsa" --ehlo "$EHLO_NAME" \
      --repeat "$n" --max-concurrent "$C" 127.0.0.1 >/dev/null 2>"$WORK/once.err"
  fi
  summary=$(grep '^summary' "$WORK/once.err")
  if [ -z "$summary" ] || [ "$(field "$summary" authenticated)" != "$n" ] ||
     [ "$(field "$summary" done)" != "$n" ]; then
    echo "FAIL: $client $key: not every probe authenticated: $summary $(grep -v '^summary' "$WORK/once.err" | head -3)" >&2
    return 1
  fi
  echo "$(field "$summary" probes_per_s) $(field "$summary" cpu_ms_per_probe)"
}

# compare LABEL KEY PORT: ROUNDS alternating pairs, one table row of medians.
compare() {
  local label=$1 key=$2 port=$3 r first second out
  : >"$WORK/danescan.runs"
  : >"$WORK/minimal.runs"
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then first=danescan second=minimal; else first=minimal second=danescan; fi
    for client in $first $second; do
      out=$(once "$client" "$key" "$port") || { STATUS=1; return; }
      echo "$out" >>"$WORK/$client.runs"
    done
  done
  local d_pps d_cpu m_pps m_cpu
  d_pps=$(awk '{print $1}' "$WORK/danescan.runs" | median)
  d_cpu=$(awk '{print $2}' "$WORK/danescan.runs" | median)
  m_pps=$(awk '{print $1}' "$WORK/minimal.runs" | median)
  m_cpu=$(awk '{print $2}' "$WORK/minimal.runs" | median)
  local row
  row=$(awk -v l="$label" -v dp="$d_pps" -v dc="$d_cpu" -v mp="$m_pps" -v mc="$m_cpu" -v t="$TARGET_RATIO" 'BEGIN {
    ratio = dc / mc;
    printf "%-12s %10.0f %10.3f %10.0f %10.3f %7.2fx %s", l, dp, dc, mp, mc, ratio, ratio <= t ? "PASS" : "MISS"
  }')
  echo "$row"
  echo "             runs cpu ms/probe: danescan $(awk '{printf "%s ", $2}' "$WORK/danescan.runs")| minimal $(awk '{printf "%s ", $2}' "$WORK/minimal.runs")"
  case "$row" in *MISS) STATUS=1 ;; esac
}

# The comparison is fair only if both clients say the same on the wire:
# one probe of each against a logging server, and labsmtp's record of the
# commands, EHLO name, TLS version, cipher and SNI must be the same.
wire() {
  local client=$1
  : >"$WORK/wire.log"
  if [ "$client" = danescan ]; then
    once_n=1 once danescan ec "$WIRE_PORT" >/dev/null || return 1
  else
    once_n=1 once minimal ec "$WIRE_PORT" >/dev/null || return 1
  fi
  sleep 0.2  # labsmtp logs the close after the client is gone
  sed -E 's/^[^ ]+ //; s/ (t|active|max_active)=[0-9]+//g' "$WORK/wire.log"
}
STATUS=0
start wire ec --log "$WORK/wire.log"; WIRE_PORT=$PORT
WIRE_D=$(wire danescan) && WIRE_M=$(wire minimal) || exit 1
if [ "$WIRE_D" != "$WIRE_M" ] || ! echo "$WIRE_D" | grep -q '^cmd QUIT tls'; then
  echo "FAIL: the clients differ on the wire:"
  diff <(echo "$WIRE_D") <(echo "$WIRE_M")
  exit 1
fi
echo "same on the wire (labsmtp log): $(echo "$WIRE_D" | grep -E '^(cmd|tls-ok)' | sed 's/^cmd //' | tr '\n' ',' | sed 's/,$//')"
echo "danescan (danescan-probe --no-key-types) vs minimal OpenSSL client (bench/starttls_client.c)"
echo "N=$N C=$C, one handshake per probe, median of $ROUNDS runs each; target: CPU ratio <= ${TARGET_RATIO}x"
printf "%-12s %10s %10s %10s %10s %8s %s\n" case "d probes/s" "d ms/probe" "m probes/s" "m ms/probe" ratio target
compare "ecdsa-p256" ec "$EC_PORT"
compare "rsa2048" rsa "$RSA_PORT"
[ "$COMPARE_ONLY" = 1 ] && exit $STATUS
echo

# openssl speed: seconds per operation.
SPEED=$(openssl speed -seconds "$SPEED_SECONDS" ecdsap256 rsa2048 ecdhx25519 2>/dev/null)
RSA_VERIFY=$(echo "$SPEED" | awk '/^rsa 2048 bits/ {print 1/$7}')
EC_VERIFY=$(echo "$SPEED" | awk '/ecdsa \(nistp256\)/ {print 1/$(NF)}')
X25519=$(echo "$SPEED" | awk '/ecdh \(X25519\)/ {print 1/$(NF)}')
ms() { awk -v s="$1" 'BEGIN {printf "%.4f", s * 1000}'; }
# Client crypto of one full handshake: X25519 keygen + derive (a keygen costs
# about one derive), one server signature verification; a chain check adds one
# verification of the leaf's signature by the (ECDSA P-256) intermediate.
EC_MIN=$(awk -v x="$X25519" -v v="$EC_VERIFY" 'BEGIN {print 2 * x + v}')
RSA_MIN=$(awk -v x="$X25519" -v v="$RSA_VERIFY" 'BEGIN {print 2 * x + v}')
EC_CHAIN=$(awk -v m="$EC_MIN" -v v="$EC_VERIFY" 'BEGIN {print m + v}')
RSA_CHAIN=$(awk -v m="$RSA_MIN" -v v="$EC_VERIFY" 'BEGIN {print m + v}')
echo "openssl speed ($SPEED_SECONDS s): x25519 derive $(ms "$X25519") ms, ecdsa-p256 verify $(ms "$EC_VERIFY") ms, rsa2048 verify $(ms "$RSA_VERIFY") ms"
echo "client crypto per full handshake: ecdsa $(ms "$EC_MIN") ms (+chain sig $(ms "$EC_CHAIN") ms), rsa2048 $(ms "$RSA_MIN") ms (+chain sig $(ms "$RSA_CHAIN") ms)"
echo "  (DANE-EE 3 1 1 at depth 0 verifies no chain signature; the key-type probe adds a failed"
echo "   handshake against a single-key server: one X25519 keygen, $(ms "$X25519") ms)"

echo "N=$N C=$C (ratio: CPU per probe / crypto of the handshakes the probe needs)"
# Key types on: a full handshake plus a failed restricted one (keygen only).
EC_PROBE=$(awk -v m="$EC_MIN" -v x="$X25519" 'BEGIN {print m + x}')
RSA_PROBE=$(awk -v m="$RSA_MIN" -v x="$X25519" 'BEGIN {print m + x}')
run "ecdsa key-types" ec "$EC_PORT" "$EC_PROBE"
run "ecdsa --no-key-types" ec "$EC_PORT" "$EC_MIN" --no-key-types
run "rsa2048 key-types" rsa "$RSA_PORT" "$RSA_PROBE"
run "rsa2048 --no-key-types" rsa "$RSA_PORT" "$RSA_MIN" --no-key-types

# Peak RSS with CONCURRENT TLS sessions open at once: the server holds each
# session 3 s after the handshake (delayed QUIT reply inside TLS).
start hold ec --tls-reply-delay-ms 3000; HOLD_PORT=$PORT
tlsa=$(cat "$CERTS/leaf-ec.spki-sha256")
"$PROBE" --allow-reserved --port "$HOLD_PORT" --host mx.lab.example --tlsa "3 1 1 $tlsa" \
  --repeat "$CONCURRENT" --max-concurrent "$CONCURRENT" --per-ip "$CONCURRENT" --gap-ms 0 \
  --timeout-ms 20000 --no-key-types --quiet 127.0.0.1 >/dev/null 2>"$WORK/hold.err"
summary=$(grep '^summary' "$WORK/hold.err")
echo "concurrent=$CONCURRENT TLS sessions held 3 s: $(echo "$summary" | tr ' ' '\n' |
  grep -E '^(done|elapsed_s|maxrss_kb|authenticated)=' | tr '\n' ' ')"
hold() { echo "$summary" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2; }
if [ "$(hold authenticated)" != "$CONCURRENT" ] || [ "$(hold maxrss_kb)" -ge $((256 * 1024)) ]; then
  echo "FAIL: $CONCURRENT concurrent sessions need every probe authenticated and peak RSS < 256 MB"
  STATUS=1
fi
exit $STATUS
