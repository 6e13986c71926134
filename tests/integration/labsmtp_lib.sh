# shellcheck shell=bash disable=SC2034  # SRC and PROBE are for the tests that source it
# The common part of the shell tests that drive the probe engine
# (danescan-probe) against danescan-labsmtp servers on loopback:
# test_probe.sh, test_probe_hostile.sh, test_probe_politeness.sh. Sourced
# first thing:   . "$(dirname "$0")/labsmtp_lib.sh"
#
# Sets BUILD (DANESCAN_BUILD, required), SRC (DANESCAN_SOURCE, else the tree
# this file is in), LAB (danescan-labsmtp), PROBE (danescan-probe), WORK (a
# temporary directory) and PIDS (background processes: start_server adds
# its servers, a test adds its own); on exit every process in PIDS is killed
# and WORK removed, also on INT and TERM (exit 1). Defines start_server and
# field. Each test keeps its own checks and its own summary line.
set -u
BUILD=${DANESCAN_BUILD:?set DANESCAN_BUILD to the build directory}
SRC=${DANESCAN_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB=$BUILD/tests/labsmtp/danescan-labsmtp
PROBE=$BUILD/tests/labsmtp/danescan-probe
WORK=$(mktemp -d "/tmp/danescan-$(basename "$0" .sh).XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_server NAME MODE [labsmtp args...]: danescan-labsmtp in MODE on
# $LISTEN (default 127.0.0.1:0, the kernel picks the port), its log in
# $WORK/NAME.log and its stderr in $WORK/NAME.server-err; sets PORT and LOG.
# A server that has not written its port file after 10 s ends the test
# (exit 1, with the server's stderr).
start_server() {
  local name=$1 mode=$2
  shift 2
  LOG=$WORK/$name.log
  "$LAB" --mode "$mode" --listen "${LISTEN:-127.0.0.1:0}" --port-file "$WORK/$name.ports" --log "$LOG" "$@" \
    2> "$WORK/$name.server-err" &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$WORK/$name.ports" ] && break; sleep 0.05; done
  PORT=$(awk '{print $2; exit}' "$WORK/$name.ports")
  [ -n "$PORT" ] || { echo "FAIL server $name did not start"; cat "$WORK/$name.server-err"; exit 1; }
}

# field KEY: the value of KEY=... in the first report line of $OUT.
field() { echo "$OUT" | head -1 | tr ' ' '\n' | grep "^$1=" | head -1 | cut -d= -f2-; }
