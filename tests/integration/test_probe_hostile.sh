#!/bin/bash
# Hostile SMTP servers and certificates against the probe engine (hardening
# issue), on loopback with danescan-labsmtp and danescan-probe:
#  1. servers that drip one byte per second (greeting, EHLO reply), never
#     end a multi-line reply (greeting, EHLO), stay silent after STARTTLS / inside the TLS
#     handshake / after QUIT, close right after the 220 to STARTTLS, send TLS
#     alerts, never accept the TCP connection: each asserts the probe result
#     (RESULTS.md word), the step that failed and the time taken (the step's
#     timeout or the session deadline, with a margin); then 200 such sessions
#     at once (100 for the 60 KB certificate), asserting that the server saw
#     them concurrently and that danescan-probe's peak RSS stays under
#     base + sessions x a per-session bound (below).
#  2. certificates built to hurt (tests/labsmtp/make-hostile-certs.py): a
#     10-certificate chain (DANE-TA on its root at depth 9, DANE-EE on the
#     leaf), a 20-certificate chain (reported chain capped at
#     PROBE_MAX_CHAIN_CERTS = 16, chain_sent = 20), 1000 SAN names, a 60 KB
#     extension, a chain over the client's 100 KB limit (tls-failed), an
#     RSA-8192 leaf (16384 with DANESCAN_HOSTILE_FULL=1; made in the
#     background), SAN with an embedded NUL, a CN of non-UTF-8 bytes, an empty
#     subject, a 300-label name, wildcard oddities, an issuer loop, 40
#     copies of an intermediate. DANE-EE 3 1 1 must
#     authenticate whatever the names; DANE-TA must give name-mismatch when no
#     reference identifier matches.
# Every run of either program is checked for sanitizer reports.
#
# Time: ~40 s under ASan. DANESCAN_HOSTILE_FULL=1 adds an RSA-16384 leaf
# (key generation alone takes minutes) and 1000 concurrent sessions instead
# of 200:  DANESCAN_HOSTILE_FULL=1 ctest -R test_probe_hostile$ --output-on-failure
# Needs: DANESCAN_BUILD (build dir), openssl, python3, bc. Cleans up on any exit.
# shellcheck source=SCRIPTDIR/labsmtp_lib.sh
. "$(dirname "$0")/labsmtp_lib.sh"
FULL=${DANESCAN_HOSTILE_FULL:-0}
if [ "$FULL" = 1 ]; then RSA_BITS=16384; MANY=1000; else RSA_BITS=8192; MANY=200; fi
# Peak RSS bounds (kB per session, above one session's peak): a plain-text
# session fed an endless reply or a drip stays under max_reply_total_bytes
# (64 KB; it buffers one line at a time); a session inside a TLS handshake
# (OpenSSL's SSL and record buffers) under TLS_KB; a TLS session holding a
# 61 KB peer chain (OpenSSL's copy, the report's DER copy) under BIGCERT_KB.
# Measured (ASan, 200 sessions): ~18, ~100 and ~420 kB; each run prints its
# "measure" line.
PLAIN_KB=64
TLS_KB=160
BIGCERT_KB=640

passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
check() { # WHAT command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

C=$WORK/certs
"$SRC/tests/labsmtp/make-hostile-certs.py" "$C" || { echo "FAIL make-hostile-certs"; exit 1; }
# The big RSA key takes seconds to minutes: made while the timeout cases run.
"$SRC/tests/labsmtp/make-hostile-certs.py" "$C" --rsa "$RSA_BITS" > "$WORK/rsa.out" 2>&1 &
RSA_PID=$!
PIDS+=($RSA_PID)

# probe [danescan-probe args...]: one or more sessions to 127.0.0.1:PORT;
# sets OUT (report lines), SUMMARY, ELAPSED (s), RSS (peak kB).
# mem_probe: the same for a memory measurement. Under ASan the quarantine of
# freed blocks (256 MB by default) would count every byte ever freed as
# resident, so these runs keep it at 1 MB (ignored by a build without ASan).
mem_probe() {
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" probe "$@"
}
probe() {
  local t0 t1
  t0=$(date +%s.%N)
  OUT=$("$PROBE" --allow-reserved --port "$PORT" --timeout-ms 5000 "$@" 127.0.0.1 2>"$WORK/probe.err")
  t1=$(date +%s.%N)
  ELAPSED=$(echo "$t1 - $t0" | bc)
  SUMMARY=$(grep '^summary' "$WORK/probe.err")
  RSS=$(grep -o 'maxrss_kb=[0-9]*' <<< "$SUMMARY" | cut -d= -f2)
  if grep -q "Sanitizer\|runtime error\|LeakSanitizer" "$WORK/probe.err"; then
    fail "sanitizer report from danescan-probe $*"
    head -40 "$WORK/probe.err"
  fi
}

reason() { echo "$OUT" | head -1 | sed -n 's/.* reason="\(.*\)"$/\1/p'; }

# expect CASE key=value...: each key has the value in the first report line.
expect() {
  local case=$1 pair key want got bad=""
  shift
  for pair in "$@"; do
    key=${pair%%=*} want=${pair#*=}
    got=$(field "$key")
    [ "$got" = "$want" ] || bad="$bad $key='$got'(want '$want')"
  done
  if [ -z "$bad" ]; then ok "$case: $*"; else fail "$case:$bad"; echo "     report: $(head -1 <<< "$OUT")"; fi
}

# took CASE LOW HIGH: LOW <= ELAPSED < HIGH (seconds).
took() {
  if [ "$(echo "$ELAPSED >= $2 && $ELAPSED < $3" | bc)" = 1 ]; then
    ok "$1: took ${ELAPSED}s, within [$2, $3)"
  else
    fail "$1: took ${ELAPSED}s, want [$2, $3)"
  fi
}

reason_has() { # CASE TEXT
  if grep -qF -- "$2" <<< "$(reason)"; then ok "$1: reason says '$2'"; else fail "$1: reason '$(reason)' lacks '$2'"; fi
}

# all_results CASE N WORD: N reports, every one with result=WORD.
all_results() {
  local n words
  n=$(grep -c '^address=' <<< "$OUT")
  words=$(grep -o ' result=[^ ]*' <<< "$OUT" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
  if [ "$n" = "$2" ] && [ "$(grep -c " result=$3 " <<< "$OUT")" = "$2" ]; then
    ok "$1: $2 reports, all $3"
  else
    fail "$1: $n reports ($words), want $2 x $3"
  fi
}

# max_active LOG: the most connections the server had open at once.
max_active() { grep -o 'max_active=[0-9]*' "$1" | cut -d= -f2 | sort -n | tail -1; }

# rss_bound CASE SESSIONS PER_SESSION_KB: RSS <= BASE_RSS + SESSIONS x PER_SESSION_KB.
rss_bound() {
  local limit=$((BASE_RSS + $2 * $3))
  echo "     measure $1: peak RSS ${RSS} kB for $2 sessions (base ${BASE_RSS} kB: $(( (RSS - BASE_RSS) / $2 )) kB/session), elapsed ${ELAPSED}s"
  if [ -n "$RSS" ] && [ "$RSS" -le "$limit" ]; then
    ok "$1: peak RSS ${RSS} kB <= ${BASE_RSS} + $2 x $3 kB"
  else
    fail "$1: peak RSS ${RSS:-?} kB > ${limit} kB (${BASE_RSS} + $2 x $3)"
  fi
}

# ---------------------------------------------------------------------------
# 1. Hostile servers: result, step and time of each.
H=$C/hinter
EE="3 1 1 $(cat "$C/bigext.spki-sha256")"
CHAIN=(--cert "$C/bigext.chain.pem" --key "$C/bigext.key")
start_server base normal "${CHAIN[@]}"
mem_probe --tlsa "$EE" --no-key-types
BASE_RSS=$RSS
expect baseline result=authenticated chain=3

start_server drip-greeting drip-greeting --drip-ms 1000 "${CHAIN[@]}"
probe --tlsa "$EE" --timeout-ms 10000 --greeting-timeout-ms 2500
expect drip-greeting result=timeout step=greeting tls=0
reason_has drip-greeting "timeout: no greeting within"
took drip-greeting 2.4 4.5
probe --tlsa "$EE" --timeout-ms 10000 --deadline-ms 2000
expect drip-greeting-deadline result=timeout step=greeting
reason_has drip-greeting-deadline "session deadline"
took drip-greeting-deadline 1.9 4
check "drip-greeting: the server dripped (nothing but single bytes sent)" \
  bash -c "! grep -q drip-done '$LOG'"

start_server drip-ehlo drip-ehlo --drip-ms 1000 "${CHAIN[@]}"
probe --tlsa "$EE" --timeout-ms 10000 --ehlo-timeout-ms 2500
expect drip-ehlo result=timeout step=ehlo code=220 tls=0
reason_has drip-ehlo "no EHLO reply within"
took drip-ehlo 2.4 4.5
probe --tlsa "$EE" --timeout-ms 10000 --deadline-ms 3000
expect drip-ehlo-deadline result=timeout step=ehlo
reason_has drip-ehlo-deadline "session deadline"
took drip-ehlo-deadline 2.9 5

# A drip that ends inside the step's timeout is slow, not a failure.
start_server drip-fast drip-ehlo --drip-ms 10 "${CHAIN[@]}"
probe --tlsa "$EE" --no-key-types --timeout-ms 5000
expect drip-ehlo-fast result=authenticated step=done
check "drip-ehlo-fast: EHLO time measured (>= 0.5 s for ~70 bytes at 10 ms)" \
  [ "$(field ms | cut -d/ -f3)" -ge 500 ]

start_server endless endless-multiline
probe --tlsa "$EE" --timeout-ms 5000
expect endless-lines result=smtp-failed step=greeting code=0
reason_has endless-lines "too many lines in one reply"
took endless-lines 0 2
probe --tlsa "$EE" --timeout-ms 5000 --max-lines 1000000
expect endless-bytes result=smtp-failed step=greeting
reason_has endless-bytes "more than 65536 bytes"
took endless-bytes 0 2
# Every cap lifted but the step's timeout: bounded in time, and in memory
# (the session buffers one line at a time, whatever the server sends).
mem_probe --tlsa "$EE" --timeout-ms 10000 --greeting-timeout-ms 2000 --max-lines 100000000 --max-total 100000000000
expect endless-uncapped result=timeout step=greeting
took endless-uncapped 1.9 4
rss_bound endless-uncapped 1 "$PLAIN_KB"

start_server endless-ehlo endless-ehlo
probe --tlsa "$EE" --timeout-ms 5000
expect endless-ehlo-lines result=smtp-failed step=ehlo code=220
reason_has endless-ehlo-lines "too many lines in one reply"
took endless-ehlo-lines 0 2
probe --tlsa "$EE" --timeout-ms 5000 --max-lines 1000000
expect endless-ehlo-bytes result=smtp-failed step=ehlo
reason_has endless-ehlo-bytes "more than 65536 bytes"
mem_probe --tlsa "$EE" --timeout-ms 10000 --ehlo-timeout-ms 2000 --max-lines 100000000 --max-total 100000000000
expect endless-ehlo-uncapped result=timeout step=ehlo
took endless-ehlo-uncapped 1.9 4
rss_bound endless-ehlo-uncapped 1 "$PLAIN_KB"

start_server starttls-silent starttls-silent "${CHAIN[@]}"
probe --tlsa "$EE" --timeout-ms 10000 --starttls-timeout-ms 1500
expect starttls-silent result=timeout step=starttls code=250
reason_has starttls-silent "no STARTTLS reply within"
took starttls-silent 1.4 3.5

for mode in tls-close tls-alert tls-garbage; do
  start_server "$mode" "$mode"
  probe --tlsa "$EE" --timeout-ms 10000
  expect "$mode" result=tls-failed step=handshake code=220 tls=0 tlsrpt=validation-failure chain=0
  took "$mode" 0 1.5
done
start_server tls-close2 tls-close
probe --tlsa "$EE"
reason_has tls-close "TLS handshake failed"
start_server tls-alert2 tls-alert
probe --tlsa "$EE"
reason_has tls-alert "alert handshake failure"

start_server tls-silent tls-silent
probe --tlsa "$EE" --timeout-ms 10000 --handshake-timeout-ms 1500
expect tls-silent result=timeout step=handshake code=220 tls=0
reason_has tls-silent "no TLS handshake within"
took tls-silent 1.4 3.5

# A "221" injected in plaintext behind the 220 to STARTTLS is discarded: the
# server never answers QUIT inside TLS, so a client that took the injected
# line for the QUIT reply would end at once instead of after the QUIT timeout.
start_server inject starttls-inject "${CHAIN[@]}"
probe --tlsa "$EE" --no-key-types --timeout-ms 10000 --quit-timeout-ms 1000
expect starttls-inject result=authenticated step=done tls=1
took starttls-inject 0.9 3
check "starttls-inject: QUIT sent inside TLS" grep -q "cmd QUIT tls" "$LOG"

# The verdict is made when TLS is up; a QUIT never answered costs only the
# QUIT timeout.
start_server quit-silent quit-silent "${CHAIN[@]}"
probe --tlsa "$EE" --no-key-types --timeout-ms 10000 --quit-timeout-ms 1000
expect quit-silent result=authenticated step=done tls=1
took quit-silent 0.9 3
check "quit-silent: the server saw QUIT and ignored it" grep -q quit-ignored "$LOG"

# A listener whose accept queue is full drops SYNs: the connect step times out.
python3 - "$WORK/full.port" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
filler = []
for _ in range(4):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(s.getsockname())
    filler.append(c)
time.sleep(0.3)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
EOF
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/full.port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/full.port")
probe --tlsa "$EE" --timeout-ms 10000 --connect-timeout-ms 1500
expect connect-timeout result=timeout step=connect tls=0
reason_has connect-timeout "no TCP connect within"
took connect-timeout 1.4 3.5

# ---------------------------------------------------------------------------
# 1b. Many hostile sessions at once: concurrency seen by the server, peak RSS.
MANYARGS=(--repeat "$MANY" --per-ip "$MANY" --max-concurrent "$MANY" --gap-ms 0 --no-key-types)

start_server many-endless endless-multiline
mem_probe --tlsa "$EE" "${MANYARGS[@]}" --timeout-ms 30000 --max-lines 1000000
all_results "many-endless ($MANY x 64 KB cap)" "$MANY" smtp-failed
check "many-endless: the server had >= $((MANY / 2)) sessions open at once (got $(max_active "$LOG"))" \
  [ "$(max_active "$LOG")" -ge $((MANY / 2)) ]
rss_bound many-endless "$MANY" "$PLAIN_KB"

start_server many-drip drip-greeting --drip-ms 1000
mem_probe --tlsa "$EE" "${MANYARGS[@]}" --timeout-ms 30000 --deadline-ms 2000
all_results "many-drip ($MANY x 1 byte/s, 2 s deadline)" "$MANY" timeout
took many-drip 1.9 6
check "many-drip: all $MANY sessions open at once (got $(max_active "$LOG"))" \
  [ "$(max_active "$LOG")" -ge "$MANY" ]
rss_bound many-drip "$MANY" "$PLAIN_KB"

start_server many-tls-silent tls-silent
mem_probe --tlsa "$EE" "${MANYARGS[@]}" --timeout-ms 30000 --handshake-timeout-ms 1500
all_results "many-tls-silent ($MANY x handshake timeout)" "$MANY" timeout
took many-tls-silent 1.4 8
rss_bound many-tls-silent "$MANY" "$TLS_KB"

start_server many-alert tls-alert
mem_probe --tlsa "$EE" "${MANYARGS[@]}"
all_results "many-tls-alert" "$MANY" tls-failed
rss_bound many-tls-alert "$MANY" "$TLS_KB"

start_server many-bigcert normal --tls-reply-delay-ms 1500 "${CHAIN[@]}"
mem_probe --tlsa "$EE" --repeat 100 --per-ip 100 --max-concurrent 100 --gap-ms 0 --no-key-types --timeout-ms 30000
all_results "many-bigcert (100 x 61 KB chain, held open 1.5 s)" 100 authenticated
check "many-bigcert: >= 50 TLS sessions open at once (got $(max_active "$LOG"))" \
  [ "$(max_active "$LOG")" -ge 50 ]
rss_bound many-bigcert 100 "$BIGCERT_KB"

# ---------------------------------------------------------------------------
# 2. Certificates built to hurt.
TA_H="2 0 1 $(cat "$C/hinter.cert-sha256")"
ee() { echo "3 1 1 $(cat "$C/$1.spki-sha256")"; }

start_server c10 normal --cert "$C/c10.chain.pem" --key "$C/c10.key"
probe --tlsa "$(ee c10)"
expect chain10-ee result=authenticated depth=0 chain=10 chain_sent=10
probe --tlsa "2 0 1 $(cat "$C/c10-root.cert-sha256")"
expect chain10-ta-root result=authenticated index=0 depth=9 chain=10 chain_sent=10
probe --tlsa "2 0 1 $(cat "$C/c10-root.cert-sha256")" --host mx.other.example
expect chain10-ta-wrong-name result=name-mismatch depth=9 tlsrpt=certificate-host-mismatch
start_server c20 normal --cert "$C/c20.chain.pem" --key "$C/c20.key"
probe --tlsa "2 0 1 $(cat "$C/c20-root.cert-sha256")"
expect chain20-ta-root result=authenticated depth=19 chain=16 chain_sent=20
probe --tlsa "$(ee c20)"
expect chain20-ee result=authenticated depth=0 chain=16 chain_sent=20

start_server san1000 normal --cert "$C/san1000.chain.pem" --key "$C/san1000.key"
probe --tlsa "$TA_H"
expect san1000-ta-last-name result=authenticated depth=1 chain=3
probe --tlsa "$TA_H" --host n0999.names.lab.example
expect san1000-ta-no-name result=name-mismatch depth=1
probe --tlsa "$(ee san1000)" --host nowhere.example
expect san1000-ee result=authenticated depth=0

start_server bigext normal "${CHAIN[@]}"
probe --tlsa "$TA_H"
expect bigext-ta result=authenticated depth=1 chain=3
check "bigext: the 60 KB leaf was received whole" [ "$(openssl x509 -in "$C/bigext.pem" -outform DER | wc -c)" -gt 60000 ]
start_server toobig normal --cert "$C/toobig.chain.pem" --key "$C/toobig.key"
probe --tlsa "$(ee toobig)"
expect toobig result=tls-failed step=handshake chain=0
reason_has toobig "excessive message size"
took toobig 0 2

# Malformed names: DANE-EE ignores names, DANE-TA finds none that matches.
for name in nulsan badutf8 emptysubj labels300 wild; do
  start_server "$name" normal --cert "$C/$name.chain.pem" --key "$C/$name.key"
  probe --tlsa "$(ee "$name")"
  expect "$name-ee" result=authenticated depth=0 chain=3 step=done
  probe --tlsa "$TA_H"
  expect "$name-ta" result=name-mismatch depth=1 tlsrpt=certificate-host-mismatch
done
probe --tlsa "$TA_H" --host a.b.lab.example
expect wild-ta-two-stars result=name-mismatch
probe --tlsa "$TA_H" --host mx.lab
expect wild-ta-star-dot-tld result=name-mismatch
probe --tlsa "$TA_H" --host mx.ok.lab.example
expect wild-ta-valid-wildcard result=authenticated depth=1
# An issuer loop (A issued by B issued by A) and 40 copies of one intermediate.
start_server loop normal --cert "$C/loop.chain.pem" --key "$C/loop.key"
probe --tlsa "$(ee loop)"
expect loop-ee result=authenticated depth=0 chain=3
probe --tlsa "2 0 1 $(cat "$C/loopB.cert-sha256")"
expect loop-ta-in-loop result=authenticated depth=2
probe --tlsa "$TA_H"
expect loop-ta-elsewhere result=tlsa-mismatch depth=-1 step=done
took loop-ta-elsewhere 0 2
start_server dup normal --cert "$C/dup.chain.pem" --key "$C/dup.key"
probe --tlsa "$TA_H"
expect dup-ta result=authenticated depth=1 chain=16 chain_sent=42
probe --tlsa "2 0 1 $(cat "$C/c10-root.cert-sha256")"
expect dup-ta-elsewhere result=tlsa-mismatch chain=16 chain_sent=42
start_server nulsan2 normal --cert "$C/nulsan.chain.pem" --key "$C/nulsan.key"
probe --tlsa "$TA_H" --host mx.lab.example --ref evil.example
expect nulsan-ta-after-nul result=name-mismatch

# The big RSA leaf (made in the background since the start).
t0=$(date +%s)
wait "$RSA_PID"
rsa_status=$?
echo "     measure rsa-$RSA_BITS: waited $(( $(date +%s) - t0 )) s more for the key"
if [ "$rsa_status" = 0 ]; then
  start_server rsabig normal --cert "$C/rsabig.chain.pem" --key "$C/rsabig.key"
  probe --tlsa "$(ee rsabig)"
  expect "rsa$RSA_BITS-ee" result=authenticated key="rsa$RSA_BITS" depth=0
  probe --tlsa "$TA_H"
  expect "rsa$RSA_BITS-ta" result=authenticated depth=1
  took "rsa$RSA_BITS-ta" 0 5
else
  fail "rsa-$RSA_BITS key generation: $(cat "$WORK/rsa.out")"
fi

for f in "$WORK"/*.server-err; do
  if grep -q "Sanitizer\|runtime error" "$f"; then fail "sanitizer report from labsmtp: $f"; head -20 "$f"; fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
