#!/bin/bash
# The MTA-STS WebPKI (PKIX) check of MX certificates (issue 18): the probe
# engine validates the chain of the same TLS session that DANE verifies
# (no second connection) against its own store (--ca-file), for the MX host
# name: SAN dNSName only, one-label wildcards, dates. One danescan-labsmtp
# per certificate on loopback, driven through danescan-probe --pkix.
# Needs: DANESCAN_BUILD (build dir), openssl. Cleans up on any exit.
# shellcheck source=SCRIPTDIR/labsmtp_lib.sh
. "$(dirname "$0")/labsmtp_lib.sh"

"$SRC/tests/labsmtp/make-webpki-certs.sh" "$WORK/webpki" || { echo "FAIL: make-webpki-certs"; exit 1; }
W=$WORK/webpki
failures=0
checks=0

probe() { # ADDRESS [danescan-probe args...]: sets OUT and SUMMARY
  local address=$1
  shift
  OUT=$("$PROBE" --allow-reserved --port "$PORT" --timeout-ms 3000 --no-key-types "$@" "$address" 2>"$WORK/probe.err")
  SUMMARY=$(cat "$WORK/probe.err")
  if grep -q "Sanitizer\|runtime error" "$WORK/probe.err"; then
    echo "FAIL: sanitizer report:"; cat "$WORK/probe.err"; failures=$((failures + 1))
  fi
}
expect() { # CASE key=value...
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
  if ! "$@"; then echo "FAIL [$case]: $what"; echo "     report: $OUT"; failures=$((failures + 1)); fi
}
serve() { # NAME CERT [labsmtp args]
  local name=$1 cert=$2
  shift 2
  start_server "$name" normal --cert "$W/$cert.chain.pem" --key "$W/$cert.key" "$@"
}
CA=(--ca-file "$W/webpki-root.pem")

serve valid mx-valid
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect valid pkix=valid result=unauthenticated-tls tls=1
check valid "valid has an empty reason" grep -q 'pkix_reason="" ' <<< "$OUT"
probe 127.0.0.1 --host other.pkix.test --pkix "${CA[@]}"
expect wrong-name pkix=name-mismatch
probe 127.0.0.1 --host mx.pkix.test --pkix
expect system-store pkix=untrusted
probe 127.0.0.1 --host mx.pkix.test "${CA[@]}"
expect not-asked pkix=
# DANE and PKIX from one session: the DANE verdict and the WebPKI verdict
# side by side, one connection.
SPKI=$(openssl x509 -in "$W/mx-valid.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}" --tlsa "3 1 1 $SPKI"
expect dane+pkix result=authenticated pkix=valid
check dane+pkix "one connection for both verdicts" grep -q 'connections=1 ' <<< "$SUMMARY"
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}" --tlsa "3 1 1 $(printf '%064d' 0)"
expect dane-fails-pkix-valid result=tlsa-mismatch pkix=valid

serve wildcard mx-wildcard
probe 127.0.0.1 --host a.wild.pkix.test --pkix "${CA[@]}"
expect wildcard-one-label pkix=valid
probe 127.0.0.1 --host b.a.wild.pkix.test --pkix "${CA[@]}"
expect wildcard-two-labels pkix=name-mismatch
probe 127.0.0.1 --host wild.pkix.test --pkix "${CA[@]}"
expect wildcard-no-label pkix=name-mismatch

serve partial mx-partial
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect partial-wildcard pkix=name-mismatch

serve cn-only mx-cn-only
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect cn-only pkix=name-mismatch

serve expired mx-expired
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect expired pkix=expired
check expired "reason names the expiry" grep -q 'pkix_reason="certificate has expired' <<< "$OUT"

serve future mx-future
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect not-yet-valid pkix=expired

serve self mx-self
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect self-signed pkix=untrusted

serve untrusted mx-untrusted
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect untrusted-ca pkix=untrusted

start_server nostarttls no-starttls
probe 127.0.0.1 --host mx.pkix.test --pkix "${CA[@]}"
expect no-starttls result=no-starttls pkix=no-tls

OUT=$("$PROBE" --pkix "${CA[@]}" --port 25 192.0.2.1 2>/dev/null)
expect skipped result=skipped pkix=no-tls

"$PROBE" --allow-reserved --pkix --ca-file "$WORK/missing.pem" 127.0.0.1 > /dev/null 2> "$WORK/ca.err"
check bad-ca-file "a missing --ca-file is named" grep -q "missing.pem" "$WORK/ca.err"

echo "test_probe_pkix: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
