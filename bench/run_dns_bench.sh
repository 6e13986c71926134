#!/bin/sh
# Runs dns_bench against a private Unbound on 127.0.0.1 that answers every
# name under bench.test from local data (no Internet needed), then stops it.
#   bench/run_dns_bench.sh BUILD_DIR [dns_bench options...]
# Unbound runs with one thread so that, on 2 cores, it and the scanner each
# get one. Cleans up its temp dir and the Unbound process on any exit.
set -eu
build=${1:?usage: run_dns_bench.sh BUILD_DIR [options]}
shift
port=${DNS_BENCH_PORT:-5399}
dir=$(mktemp -d /tmp/dns_bench.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
cat > "$dir/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$port
  port: $port
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  use-syslog: no
  logfile: "$dir/unbound.log"
  verbosity: 0
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  so-rcvbuf: 8m
  so-sndbuf: 8m
  do-not-query-localhost: yes
  ede: yes
  local-zone: "bench.test." redirect
  local-data: "bench.test. 3600 IN A 192.0.2.1"
remote-control:
  control-enable: no
CONF
unbound -c "$dir/unbound.conf" &
pid=$!
# wait until it answers
i=0
until dig +time=1 +tries=1 -p "$port" @127.0.0.1 ready.bench.test A >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 50 ] || { echo "unbound did not start" >&2; cat "$dir/unbound.log" >&2; exit 1; }
  sleep 0.1
done
"$build/bench/dns_bench" --resolver "127.0.0.1:$port" "$@"
