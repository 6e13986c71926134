#!/usr/bin/python3
"""Politeness holds for the whole scan, not per worker: 4 worker processes
(`scan --db --workers 4`, chunks of 5 names and --concurrency 10, so every
worker gets some: a worker leases until concurrency + chunk names are
buffered, so with the default 2000 the first worker to register could lease
all 20 chunks before its siblings did),
counted server-side by danescan-labsmtp (its log has every connect with the
address it was made to, every close, and millisecond time stamps):

  sNN.pol.lab (40 domains) MX msNN.pol.lab, every host on 127.61.0.1: with
      --per-ip 1 that address never has two sessions at once, and from each
      session's close to the next connect there are at least --per-ip-gap-ms
      (50 ms), although the hosts are probed by different workers;
  rNN.pol.lab (60 domains) MX mrNN.pol.lab, each on its own address
      127.61.1.NN: over the whole scan, no 2 s window holds more connections
      than 2 s x --rate (20/s) + the token-bucket depth (10), the scan's
      rate shared by the live workers.

Every (host, address) pair is probed once (100 sessions with --no-key-types,
each host's SNI seen once), every domain is dane-valid, and at least two
workers probed. The lab world is generated into a temp dir (own namespace,
own state); the database is a private one of scripts/db. Everything is
removed at the end, also on failure."""

import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
from harness import (BUILT_LABSMTP, Lab, PrivateDB, Processes, TempDir, check, find_labsmtp,  # noqa: E402
                     private_ns, run_test)

LABSMTP = find_labsmtp() or BUILT_LABSMTP
NS = private_ns(f"wpol-{os.getpid()}")
SHARED_IP = "127.61.0.1"
SHARED, SPREAD = 40, 60
RATE, BURST, GAP_MS = 20, 10, 50
GAP_SLACK_MS = 2  # both time stamps are truncated milliseconds
tmp_dir = TempDir("danescan-wpol-", public=True)   # NSD and Unbound read the state dir as their own users
tmp = tmp_dir.path
CASES = os.path.join(tmp, "cases.txt")
lab = Lab(ns=NS, state=os.path.join(tmp, "state"), cases=CASES)
db = PrivateDB("test_wpol")
procs = Processes()


def spread_ip(i):
    return f"127.61.1.{i + 1}"


def write_cases():
    out = ["[zone .]", "signing = nsec", "server = root", "", "[zone lab]", "signing = nsec", "server = tld",
           "", "[zone bogus.lab]", "break = wrong-ds", "records =", "    @    A     127.61.9.9",
           "", "[zone pol.lab]", "records ="]
    for i in range(SHARED):
        out += [f"    s{i:02d}             MX    10 ms{i:02d}", f"    ms{i:02d}            A     {SHARED_IP}",
                f"    _25._tcp.ms{i:02d}   TLSA  3 1 1 {{spki-sha256:mx.pol.lab:ecdsa}}"]
    for i in range(SPREAD):
        out += [f"    r{i:02d}             MX    10 mr{i:02d}", f"    mr{i:02d}            A     {spread_ip(i)}",
                f"    _25._tcp.mr{i:02d}   TLSA  3 1 1 {{spki-sha256:mx.pol.lab:ecdsa}}"]
    with open(CASES, "w") as f:
        f.write("\n".join(out) + "\n")
    return [f"s{i:02d}.pol.lab" for i in range(SHARED)] + [f"r{i:02d}.pol.lab" for i in range(SPREAD)]


def read_log(path):
    """Sessions as (address, sni, connect_ms, close_ms) from a labsmtp log."""
    open_at, sessions = {}, {}
    for line in open(path, errors="replace").read().splitlines():
        peer, _, rest = line.partition(" ")
        m = re.match(r"connect mode=\S+ to=(\S+) active=\d+ max_active=\d+ t=(\d+)", rest)
        if m:
            address = m.group(1).rsplit(":", 1)[0].strip("[]")
            open_at[peer] = [address, None, int(m.group(2)), None]
            continue
        m = re.match(r"tls-ok \S+ \S+ sni=(\S+)", rest)
        if m and peer in open_at:
            open_at[peer][1] = m.group(1)
            continue
        m = re.match(r"close active=\d+ t=(\d+)", rest)
        if m and peer in open_at:
            session = open_at.pop(peer)
            session[3] = int(m.group(1))
            sessions.setdefault(session[0], []).append(tuple(session))
    return sessions


def main():
    if not check(os.access(LABSMTP, os.X_OK), f"danescan-labsmtp built ({LABSMTP})"):
        return
    domains = write_cases()
    db.open()
    p = lab.up()
    if not check(p.returncode == 0, "lab up (generated politeness world)", p.stderr.decode()[-2000:]):
        return
    tls = lab.path("tls", "mx.pol.lab")
    log = os.path.join(tmp, "labsmtp.log")
    ports = os.path.join(tmp, "labsmtp.ports")
    cmd = lab.in_ns(LABSMTP, "--mode", "normal", "--log", log, "--port-file", ports,
                    "--cert", os.path.join(tls, "ecdsa.chain.pem"), "--key", os.path.join(tls, "ecdsa.key"),
                    "--listen", f"{SHARED_IP}:25")
    for i in range(SPREAD):
        cmd += ["--listen", f"{spread_ip(i)}:25"]
    procs.start(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(ports) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not check(os.path.exists(ports), f"labsmtp listens on {1 + SPREAD} addresses"):
        return
    inputs = os.path.join(tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write("\n".join(domains) + "\n")

    t0 = time.monotonic()
    p = lab.danescan("scan", "--allow-reserved", "--no-progress", "--no-key-types",
                     "--per-ip", "1", "--per-ip-gap-ms", str(GAP_MS), "--rate", str(RATE),
                     "--check-bogus-name", "bogus.lab", "--db", db.url, "--scan-id", "pol", "--workers", "4",
                     "--chunk-size", "5", "--concurrency", "10", inputs)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0, f"scan with 4 workers exits 0 ({time.monotonic() - t0:.1f} s)", err[-2000:])
    check("Sanitizer" not in err and "runtime error" not in err, "no sanitizer report", err[-3000:])
    statuses = dict(db.sql("SELECT domain, status FROM domains WHERE scan_id = 'pol'"))
    wrong = {d: s for d, s in statuses.items() if s != "dane-valid"}
    check(len(statuses) == len(domains) and not wrong, f"all {len(domains)} domains dane-valid",
          str(dict(list(wrong.items())[:5])))
    probing = db.sql("SELECT count(*) FROM scan_workers WHERE scan_id = 'pol' AND probes > 0")[0][0]
    check(int(probing) >= 2, f"{probing} workers probed")

    time.sleep(0.3)  # the last close reaches the log
    sessions = read_log(log)
    total = sum(len(v) for v in sessions.values())
    check(total == SHARED + SPREAD, f"{SHARED + SPREAD} sessions in all, one per (host, address)", str(total))
    snis = sorted(s[1] for v in sessions.values() for s in v)
    want = sorted([f"ms{i:02d}.pol.lab" for i in range(SHARED)] + [f"mr{i:02d}.pol.lab" for i in range(SPREAD)])
    check(snis == want, "each host's SNI seen exactly once (no host probed twice across workers)")

    shared = sorted(sessions.get(SHARED_IP, []), key=lambda s: s[2])
    overlaps = [(a, b) for a, b in zip(shared, shared[1:]) if b[2] < a[3]]
    check(len(shared) == SHARED and not overlaps,
          f"{SHARED_IP}: {len(shared)} sessions, never two at once across 4 workers (--per-ip 1)",
          str(overlaps[:3]))
    gaps = [b[2] - a[3] for a, b in zip(shared, shared[1:])]
    short = [g for g in gaps if g < GAP_MS - GAP_SLACK_MS]
    check(gaps and not short, f"{SHARED_IP}: >= {GAP_MS} ms from each close to the next connect "
          f"(min {min(gaps) if gaps else '-'} ms)", str(short[:10]))

    starts = sorted(s[2] for v in sessions.values() for s in v)
    worst = max(sum(1 for t in starts if t0 <= t < t0 + 2000) for t0 in starts) if starts else 0
    check(worst <= 2 * RATE + BURST, f"at most {2 * RATE + BURST} connections in any 2 s "
          f"(--rate {RATE} shared by the workers; busiest window {worst})")
    if len(starts) > 1:
        print(f"     measure rate: {len(starts)} connections in {(starts[-1] - starts[0]) / 1000:.1f} s "
              f"({1000 * (len(starts) - 1) / max(1, starts[-1] - starts[0]):.1f}/s, --rate {RATE})", flush=True)


run_test(main, tmp_dir, db, lab, procs)
