#!/bin/bash
# Politeness of the probe engine (issue 3): overall connection rate, per-address
# concurrency and gap, back-off after 421 and refused connections, and the
# retry after a transient failure under the same rules (issue 15). Lab SMTP
# servers on 127.0.0.1 with kernel-picked ports; timings asserted as lower
# bounds (the policy) and loose upper bounds (no stall).
# shellcheck source=SCRIPTDIR/labsmtp_lib.sh
. "$(dirname "$0")/labsmtp_lib.sh"
"$SRC/tests/labsmtp/make-certs.sh" "$WORK/certs" || { echo "FAIL: make-certs"; exit 1; }
C=$WORK/certs
failures=0
checks=0

run() { # CASE args...: sets ELAPSED, OUT
  local t0 t1
  t0=$(date +%s.%N)
  OUT=$("$PROBE" --allow-reserved --port "$PORT" --no-key-types "$@" 127.0.0.1 2>"$WORK/err")
  t1=$(date +%s.%N)
  ELAPSED=$(echo "$t1 - $t0" | bc)
  if grep -q "Sanitizer\|runtime error" "$WORK/err"; then
    echo "FAIL: sanitizer report:"; cat "$WORK/err"; failures=$((failures + 1))
  fi
}

between() { # CASE low high
  checks=$((checks + 1))
  if [ "$(echo "$ELAPSED >= $2 && $ELAPSED < $3" | bc)" != 1 ]; then
    echo "FAIL [$1]: took ${ELAPSED}s, want [$2, $3)"
    failures=$((failures + 1))
  fi
}

count() { # CASE result n
  checks=$((checks + 1))
  local got
  got=$(grep -c "result=$2 " <<< "$OUT")
  if [ "$got" != "$3" ]; then
    echo "FAIL [$1]: $got reports with result=$2, want $3"
    failures=$((failures + 1))
  fi
}

EC_SPKI=$(cat "$C/leaf-ec.spki-sha256")
start_server normal normal --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key"
# 10 probes, rate 5/s with a burst of 1: the 10th starts >= 1.8 s after the first
run --tlsa "3 1 1 $EC_SPKI" --repeat 10 --rate 5 --burst 1 --per-ip 10 --gap-ms 0
count rate authenticated 10
between rate 1.7 5
# the same without a rate cap is fast
run --tlsa "3 1 1 $EC_SPKI" --repeat 10 --per-ip 10 --gap-ms 0
count no-rate authenticated 10
between no-rate 0 1
# gap of 300 ms between sessions to one address: 4 sessions >= 0.9 s
run --tlsa "3 1 1 $EC_SPKI" --repeat 4 --gap-ms 300
count gap authenticated 4
between gap 0.9 4

# per_ip concurrency against a silent server (each session times out after 0.5 s)
start_server silent silent
run --tlsa "3 1 1 $EC_SPKI" --repeat 3 --timeout-ms 500 --per-ip 1 --gap-ms 0
count per-ip-1 timeout 3
between per-ip-1 1.45 4
run --tlsa "3 1 1 $EC_SPKI" --repeat 3 --timeout-ms 500 --per-ip 3 --gap-ms 0
count per-ip-3 timeout 3
between per-ip-3 0.45 1.4
# max_concurrent caps sessions in flight across addresses as well
run --tlsa "3 1 1 $EC_SPKI" --repeat 3 --timeout-ms 500 --per-ip 3 --gap-ms 0 --max-concurrent 1
between max-concurrent 1.45 4

# 421 greeting: the gap backs off (1 s, then 2 s) although the base gap is 100 ms
start_server busy greeting-421
run --repeat 3 --gap-ms 100 --backoff-max-ms 10000
count backoff-421 smtp-failed 3
between backoff-421 2.9 6
# capped by per_ip_backoff_max_ms
run --repeat 3 --gap-ms 100 --backoff-max-ms 500
between backoff-cap 0.9 2.5
# an address that keeps answering 421: after 3 in a row (--give-up 3) the
# other 37 probes are skipped at once instead of waiting 60 s each
run --repeat 40 --gap-ms 100 --backoff-max-ms 60000 --give-up 3
count give-up-421 smtp-failed 3
count give-up-421-skipped skipped 37
between give-up-421 2.9 6
grep -q "refused 3 sessions in a row" <<< "$OUT" || { echo "FAIL [give-up-421]: no reason in the skipped reports"; failures=$((failures + 1)); }
checks=$((checks + 1))
# refused connections back off too
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
run --repeat 3 --gap-ms 100 --backoff-max-ms 10000
count backoff-refused connect-failed 3
between backoff-refused 2.9 6
# and give up the same way
run --repeat 10 --gap-ms 100 --backoff-max-ms 60000 --give-up 2
count give-up-refused connect-failed 2
count give-up-refused-skipped skipped 8
between give-up-refused 0.9 4

# a retry after a transient failure (--retry-delay-ms) is one more session
# under the same rules: the refused retry counts towards the give-up (2
# sessions: one probe with 2 attempts, the other 9 skipped) and waits out the
# backed-off gap (1 s), not only its 100 ms delay
run --repeat 10 --gap-ms 100 --backoff-max-ms 60000 --give-up 2 --retry-delay-ms 100
count give-up-retry connect-failed 1
count give-up-retry-skipped skipped 9
between give-up-retry 0.9 4
checks=$((checks + 1))
grep -q "result=connect-failed .*attempts=2 first=connect-failed@connect" <<< "$OUT" ||
  { echo "FAIL [give-up-retry]: the refused probe does not show 2 attempts"; failures=$((failures + 1)); }
# a server that drops its first connection: the retry waits for the gap
# (400 ms) although its delay is 100 ms, and then authenticates
start_server flaky normal --first-mode disconnect --cert "$C/leaf-ec.chain.pem" --key "$C/leaf-ec.key"
run --tlsa "3 1 1 $EC_SPKI" --retry-delay-ms 100 --gap-ms 400
count retry-gap authenticated 1
between retry-gap 0.4 3
checks=$((checks + 1))
if [ "$(field attempts)" != 2 ] || [ "$(field first)" != smtp-failed@greeting ] || [ "$(field pause_ms)" -lt 400 ]; then
  echo "FAIL [retry-gap]: attempts=$(field attempts) first=$(field first) pause_ms=$(field pause_ms)"
  failures=$((failures + 1))
fi

echo "test_probe_politeness: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
