#!/bin/bash
# Probe engine against lab SMTP servers on loopback (issue 3): one case per
# probe result, DANE-EE/DANE-TA variants, both key types, hostile servers.
# Starts danescan-labsmtp processes on 127.0.0.1 / ::1 with ports picked by the
# kernel, drives the engine through danescan-probe, and checks each report.
# Needs: DANESCAN_BUILD (build dir), openssl. Cleans up on any exit.
# shellcheck source=SCRIPTDIR/labsmtp_lib.sh
. "$(dirname "$0")/labsmtp_lib.sh"

"$SRC/tests/labsmtp/make-certs.sh" "$WORK/certs" || { echo "FAIL: make-certs"; exit 1; }
C=$WORK/certs
failures=0
checks=0

# probe ADDRESS [danescan-probe args...]: sets OUT (report lines) and ELAPSED (s).
probe() {
  local address=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  OUT=$("$PROBE" --allow-reserved --port "$PORT" --timeout-ms 2000 "$@" "$address" 2>"$WORK/probe.err")
  t1=$(date +%s.%N)
  ELAPSED=$(echo "$t1 - $t0" | bc)
  SUMMARY=$(cat "$WORK/probe.err")
  if grep -q "Sanitizer\|runtime error" "$WORK/probe.err"; then
    echo "FAIL: sanitizer report:"; cat "$WORK/probe.err"; failures=$((failures + 1))
  fi
  if [ -z "$OUT" ]; then echo "note: no report; stderr: $SUMMARY"; fi
}

# expect CASE key=value...: every key has the value in the first report line.
expect() {
  local case=$1
  shift
  for pair in "$@"; do
    checks=$((checks + 1))
    local key=${pair%%=*} want=${pair#*=} got
    got=$(field "$key")
    if [ "$got" != "$want" ]; then
      echo "FAIL [$case]: $key is '$got', want '$want'"
      echo "     report: $OUT"
      failures=$((failures + 1))
    fi
  done
}

check() { # CASE description command...
  local case=$1 what=$2
  shift 2
  checks=$((checks + 1))
  if ! "$@"; then
    echo "FAIL [$case]: $what"
    failures=$((failures + 1))
  fi
}

EC_SPKI=$(cat "$C/leaf-ec.spki-sha256")
RSA_SPKI=$(cat "$C/leaf-rsa.spki-sha256")
EC_CERT=$(cat "$C/leaf-ec.cert-sha256")
INTER_CERT=$(cat "$C/inter.cert-sha256")
ROOT_CERT=$(cat "$C/root.cert-sha256")
OTHER_SPKI=$(cat "$C/other.spki-sha256")

# --- a well-behaved server with an ECDSA chain (leaf + intermediate + root)
start_server ec normal --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key"
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect ee311 result=authenticated index=0 depth=0 tlsrpt=none key=ecdsa-p256 starttls=1 step=done code=220 chain=3 expires_soon=0
check ee311 "leaf hash is the SHA-256 of the leaf DER" [ "$(field leaf_sha256)" = "$EC_CERT" ]
check ee311 "TLS 1.3 negotiated" [ "$(field version)" = TLSv1.3 ]
check ee311 "signature algorithm recorded" [ "$(field sigalg)" = ecdsa_secp256r1_sha256 ]
check ee311 "group recorded" [ "$(field group)" != - ]
check ee311 "SNI is the TLSA base" grep -q "sni=mx.lab.example" "$LOG"
probe 127.0.0.1 --tlsa "3 0 1 $EC_CERT"
expect ee301 result=authenticated index=0 depth=0
probe 127.0.0.1 --tlsa "3 1 2 $(cat "$C/leaf-ec.spki-sha512")"
expect ee312 result=authenticated index=0 depth=0
probe 127.0.0.1 --tlsa "3 1 0 $(cat "$C/leaf-ec.spki-hex")"
expect ee310 result=authenticated index=0 depth=0
# The matched record is reported by its index in the RRset.
probe 127.0.0.1 --tlsa "3 1 1 $OTHER_SPKI" --tlsa "0 0 1 $EC_CERT" --tlsa "3 1 1 $EC_SPKI"
expect ee-index result=authenticated index=2 depth=0
# Usage 0/1 records are unusable for SMTP: they never authenticate.
probe 127.0.0.1 --tlsa "1 1 1 $EC_SPKI" --tlsa "0 0 1 $ROOT_CERT"
expect pkix-only result=unauthenticated-tls index=-1 tlsrpt=none
probe 127.0.0.1
expect no-tlsa result=unauthenticated-tls tls=1 rsa=unprobed ecdsa=unprobed
probe 127.0.0.1 --tlsa "3 1 1 $OTHER_SPKI"
expect mismatch result=tlsa-mismatch index=-1 depth=-1 tlsrpt=validation-failure tls=1
# DANE-TA: intermediate at depth 1, root at depth 2, name = TLSA base
probe 127.0.0.1 --tlsa "2 0 1 $INTER_CERT"
expect ta-inter result=authenticated index=0 depth=1
probe 127.0.0.1 --tlsa "2 0 1 $ROOT_CERT"
expect ta-root result=authenticated index=0 depth=2
# DANE-TA with the TLSA base a different name: the MX host name is a reference identifier
probe 127.0.0.1 --host mx.lab.example --tlsa-base mx.provider.example --ref mx.lab.example --tlsa "2 0 1 $INTER_CERT"
expect ta-ref-name result=authenticated depth=1
check ta-ref-name "SNI is the TLSA base, not the host name" grep -q "sni=mx.provider.example" "$LOG"
probe 127.0.0.1 --host mx.lab.example --tlsa-base mx.provider.example --tlsa "2 0 1 $INTER_CERT"
expect ta-no-ref result=name-mismatch tlsrpt=certificate-host-mismatch depth=1
# DANE-EE ignores names: the TLSA base names nothing in the certificate
probe 127.0.0.1 --host mx.elsewhere.example --tlsa "3 1 1 $EC_SPKI"
expect ee-ignores-name result=authenticated
# EHLO name from the config; never MAIL/RCPT/DATA; never talks before the greeting
probe 127.0.0.1 --ehlo probe.lab.example --tlsa "3 1 1 $EC_SPKI"
check ehlo "EHLO name from config" grep -q "ehlo probe.lab.example" "$LOG"
check never-mail "no MAIL/RCPT/DATA sent" bash -c "! grep -q forbidden '$LOG'"

start_server delayed normal --greeting-delay-ms 700 --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key"
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect delayed-greeting result=authenticated
check delayed-greeting "client waited for the greeting" bash -c "! grep -q early-talker '$LOG'"
check delayed-greeting "banner time measured" [ "$(field ms | cut -d/ -f2)" -ge 600 ]

# --- wrong name, expired leaf, soon-expiring leaf under DANE-TA and DANE-EE
start_server wrong normal --cert "$C/leaf-wrong.chain.pem" --key "$C/leaf-wrong.key"
probe 127.0.0.1 --tlsa "2 0 1 $INTER_CERT"
expect ta-wrong-name result=name-mismatch tlsrpt=certificate-host-mismatch index=0 depth=1
probe 127.0.0.1 --tlsa "3 1 1 $(cat "$C/leaf-wrong.spki-sha256")"
expect ee-wrong-name result=authenticated
start_server expired normal --cert "$C/leaf-expired.chain.pem" --key "$C/leaf-expired.key"
probe 127.0.0.1 --tlsa "2 0 1 $INTER_CERT"
expect ta-expired result=cert-expired tlsrpt=certificate-expired depth=1
probe 127.0.0.1 --tlsa "3 1 1 $(cat "$C/leaf-expired.spki-sha256")"
expect ee-expired result=authenticated expires_soon=1 depth=0
# Mixed RRset: DANE-EE for another key, DANE-TA matching: verdict from DANE-TA
probe 127.0.0.1 --tlsa "3 1 1 $OTHER_SPKI" --tlsa "2 0 1 $INTER_CERT"
expect mixed-expired result=cert-expired index=1 depth=1
start_server soon normal --cert "$C/leaf-soon.chain.pem" --key "$C/leaf-soon.key"
probe 127.0.0.1 --tlsa "2 0 1 $INTER_CERT"
expect ta-soon result=authenticated expires_soon=1
probe 127.0.0.1 --tlsa "3 1 1 $(cat "$C/leaf-soon.spki-sha256")"
expect ee-soon result=authenticated expires_soon=0

# --- both key types
start_server dual normal --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key" --cert "$C/leaf-rsa.chain.pem" --key "$C/leaf-rsa.key"
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect dual-ec-only ecdsa=authenticated:0:0 rsa=tlsa-mismatch:-1:-1 partial=1
check dual-ec-only "two sessions" grep -q "connections=2" <<< "$SUMMARY"
probe 127.0.0.1 --tlsa "3 1 1 $RSA_SPKI"
expect dual-rsa-only rsa=authenticated:0:0 ecdsa=tlsa-mismatch:-1:-1 partial=1
check dual-rsa-only "result is the first handshake's" [ "$(field result)" = "$( [ "$(field key)" = rsa2048 ] && echo authenticated || echo tlsa-mismatch)" ]
probe 127.0.0.1 --tlsa "3 1 1 $RSA_SPKI" --tlsa "3 1 1 $EC_SPKI"
expect dual-both result=authenticated rsa=authenticated:0:0 ecdsa=authenticated:1:0 partial=0
probe 127.0.0.1 --tlsa "2 0 1 $INTER_CERT"
expect dual-ta result=authenticated rsa=authenticated:0:1 ecdsa=authenticated:0:1 partial=0
probe 127.0.0.1 --no-key-types --tlsa "3 1 1 $EC_SPKI"
check no-key-types "one session without probe_each_key_type" grep -q "connections=1" <<< "$SUMMARY"
start_server dual12 normal --max-tls 1.2 --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key" --cert "$C/leaf-rsa.chain.pem" --key "$C/leaf-rsa.key"
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect dual-tls12 version=TLSv1.2 ecdsa=authenticated:0:0 rsa=tlsa-mismatch:-1:-1 partial=1
start_server rsaonly normal --cert "$C/leaf-rsa.chain.pem" --key "$C/leaf-rsa.key"
probe 127.0.0.1 --tlsa "3 1 1 $RSA_SPKI"
expect rsa-only result=authenticated key=rsa2048 rsa=authenticated:0:0 ecdsa=absent partial=0

# --- SMTP-level failures
start_server nostarttls no-starttls
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect no-starttls result=no-starttls tlsrpt=starttls-not-supported step=ehlo starttls=0 tls=0
check no-starttls "QUIT sent" grep -q "cmd QUIT" "$LOG"
start_server refuse starttls-454
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect starttls-454 result=starttls-refused code=454 step=starttls tlsrpt=starttls-not-supported
start_server g554 greeting-554
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect greeting-554 result=smtp-failed code=554 step=greeting
check greeting-554 "no EHLO after a 554 greeting" bash -c "! grep -q 'cmd EHLO' '$LOG'"
start_server e554 ehlo-554
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect ehlo-554 result=smtp-failed code=554 step=ehlo
start_server garbage garbage
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect garbage result=smtp-failed step=greeting
start_server disc disconnect
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect disconnect result=smtp-failed step=greeting
start_server disc2 disconnect-after-ehlo
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect disconnect-after-ehlo result=smtp-failed step=ehlo
start_server pipe pipelined-garbage --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key"
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect pipelined-garbage result=authenticated

# --- TLS failures after STARTTLS
for mode in tls-alert tls-garbage tls-close; do
  start_server "$mode" "$mode"
  probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
  expect "$mode" result=tls-failed step=handshake tlsrpt=validation-failure tls=0
  check "$mode" "bounded by the handshake timeout" [ "$(echo "$ELAPSED < 3" | bc)" = 1 ]
done

# --- connect failures and timeouts
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
PORT=$closed
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect closed-port result=connect-failed step=connect tlsrpt=none
start_server silent silent
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI" --timeout-ms 800
expect silent result=timeout step=greeting
check silent "timeout after about the greeting timeout" [ "$(echo "$ELAPSED >= 0.7 && $ELAPSED < 3" | bc)" = 1 ]

# --- hostile servers: bounded time and memory
start_server huge huge-banner
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI"
expect huge-banner result=smtp-failed step=greeting
check huge-banner "fast" [ "$(echo "$ELAPSED < 2" | bc)" = 1 ]
start_server endless endless-multiline
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI" --timeout-ms 5000
expect endless-multiline result=smtp-failed step=greeting
check endless-multiline "fast" [ "$(echo "$ELAPSED < 2" | bc)" = 1 ]
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI" --timeout-ms 5000 --max-lines 100000 --max-total 200000
expect endless-total-cap result=smtp-failed
check endless-total-cap "stopped by the byte cap" grep -q "more than 200000 bytes" <<< "$OUT"
start_server drip slow-drip --drip-ms 50
probe 127.0.0.1 --tlsa "3 1 1 $EC_SPKI" --timeout-ms 60000 --greeting-timeout-ms 60000 --deadline-ms 1500
expect slow-drip result=timeout step=greeting
check slow-drip "stopped by the session deadline" [ "$(echo "$ELAPSED >= 1.4 && $ELAPSED < 4" | bc)" = 1 ]
check hostile-memory "peak RSS under 64 MB" [ "$(grep -o 'maxrss_kb=[0-9]*' <<< "$SUMMARY" | cut -d= -f2)" -lt 65536 ]

# --- skipping: special-purpose addresses and the blocklist
PORT=25
OUT=$("$PROBE" --port 25 --timeout-ms 500 127.0.0.1 2>/dev/null)
expect reserved result=skipped step=none
check reserved "reason names the block" grep -q 'loopback 127.0.0.0/8' <<< "$OUT"
OUT=$("$PROBE" --port 25 --timeout-ms 500 fe80::1 2>/dev/null)
expect reserved-v6 result=skipped
printf '# lab\n10.0.0.0/8\n127.0.0.0/8 # loopback\n2001:db8::/32\n' > "$WORK/block.txt"
OUT=$("$PROBE" --allow-reserved --blocklist "$WORK/block.txt" --port 25 127.0.0.1 2>/dev/null)
expect blocklist result=skipped
check blocklist "reason says blocklist" grep -q 'blocklist' <<< "$OUT"
printf '10.0.0.0/8\n10.0.0.1/8\n' > "$WORK/bad.txt"
"$PROBE" --allow-reserved --blocklist "$WORK/bad.txt" 127.0.0.1 > /dev/null 2> "$WORK/bad.err"
check blocklist-bad "bad line reported with file:line" grep -q "bad.txt:2: host bits" "$WORK/bad.err"

# --- IPv6
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
  LISTEN='[::1]:0' start_server v6 normal --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key"
  probe ::1 --tlsa "3 1 1 $EC_SPKI"
  expect ipv6 result=authenticated address=::1
else
  echo "note: no IPv6 loopback, IPv6 case not run"
fi

echo "test_probe: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
