#!/usr/bin/python3
"""A second chance for transient probe failures (issue 15): one
`danescan scan --probe dane --allow-reserved --db ... --workers 0` in a lab
world of its own (generated cases, own namespace and state dir), against
danescan-labsmtp servers this test starts, each on its own address with the
DANE-EE key of the world unless said otherwise:

  flaky.retry.lab  the first connection is closed before the greeting
                   (--first-mode disconnect), later ones are served: the
                   probe is `authenticated` after 2 attempts, the first
                   `smtp-failed` @greeting; host and domain `dane-valid`.
  reset.retry.lab  the first connection answers EHLO with a TCP RST: 2
                   attempts, the first `smtp-failed` @ehlo; `dane-valid`.
  slow.retry.lab   the first connection never greets (the slow greeter of
                   the issue, --greeting-timeout-ms 1000): 2 attempts, the
                   first `timeout` @greeting; `dane-valid`.
  wrongkey.retry.lab  serves another key: `tlsa-mismatch` is an answer, not
                   retried: 1 attempt, 1 connection; `dane-failed`.
  dead.retry.lab   never greets: `timeout` after 2 attempts (2 connections),
                   first `timeout` @greeting; host and domain
                   `dane-unreachable`.
  gN.retry.lab     (3 domains) MX hosts mxgN all on one address whose first
                   connection is closed before the greeting: one probe is
                   retried; with --per-ip 1 --per-ip-gap-ms 300 and a retry
                   delay of 100 ms the server never sees two sessions at once
                   and at least 300 ms from a session's close to the next
                   connect (the retry waits for the gap, not only its delay);
                   the retried probe's pause_ms >= 300.
  dual.retry.lab   RSA and ECDSA certificates, TLSA for the ECDSA key only;
                   the server's second connection (the RSA-only key-type
                   session) is closed before the greeting (--first-skip 1):
                   in a scan with key types, that session is retried, the
                   host is flagged partial-algorithm-coverage and the server
                   saw 3 connections (a lost segment must not decide the flag).

Each probe's attempts and first result are checked in JSON Lines and in the
probes table (attempts, step, first_result, first_step, first_reason,
first_ms, retry_pause_ms), and the scan runs again with --no-probe-retry: the
transient first failures then stand (flaky: `smtp-failed`, host
`dane-unreachable`), every probe with 1 attempt. Last, `danescan check
flaky.retry.lab` against a fresh server exits 0 and explains the second
attempt.

Namespace: $DANESCAN_LAB_NS (default danescan) + "-retry-PID"; state in a
temp dir; the database is a private one of scripts/db ($DANESCAN_STATE).
Everything is removed at the end, also on failure. Time: ~15 s under ASan.
Needs root (network namespaces), the lab's packages, PostgreSQL."""

import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
from harness import (BUILT_LABSMTP, SOURCE, Lab, PrivateDB, Processes, TempDir, check, find_labsmtp,  # noqa: E402
                     private_ns, run_test)
from harness import start_labsmtp as harness_start_labsmtp  # noqa: E402
import labprobe  # noqa: E402

LABSMTP = find_labsmtp() or BUILT_LABSMTP
NS = private_ns(f"retry-{os.getpid()}")
GAP_MS, RETRY_DELAY_MS, STEP_TIMEOUT_MS = 300, 100, 1000
GAP_SLACK_MS = 2  # both time stamps are truncated milliseconds
CONNECT_SLACK_MS = 10  # a connect is logged when the server accepts it, a little after the client started
tmp_dir = TempDir("danescan-retry-", public=True)   # NSD and Unbound read the state dir as their own users
tmp = tmp_dir.path
CASES = os.path.join(tmp, "cases.txt")
lab = Lab(ns=NS, state=os.path.join(tmp, "state"), cases=CASES)
db = PrivateDB("test_retry")
procs = Processes()

# domain -> (address, labsmtp args, key of the world?)
SERVERS = {
    "flaky": ("127.62.0.1", ["--mode", "normal", "--first-mode", "disconnect"], True),
    "reset": ("127.62.0.2", ["--mode", "normal", "--first-mode", "reset-after-ehlo"], True),
    "slow": ("127.62.0.3", ["--mode", "normal", "--first-mode", "silent"], True),
    "wrongkey": ("127.62.0.4", ["--mode", "normal"], False),
    "dead": ("127.62.0.5", ["--mode", "silent"], True),
}
SHARED_IP = "127.62.1.1"
DUAL_IP = "127.62.0.6"
SHARED = 3
# domain -> (final result, attempts, first result, first step, host status)
EXPECT = {
    "flaky": ("authenticated", 2, "smtp-failed", "greeting", "dane-valid"),
    "reset": ("authenticated", 2, "smtp-failed", "ehlo", "dane-valid"),
    "slow": ("authenticated", 2, "timeout", "greeting", "dane-valid"),
    "wrongkey": ("tlsa-mismatch", 1, None, None, "dane-failed"),
    "dead": ("timeout", 2, "timeout", "greeting", "dane-unreachable"),
}
# the same without retries: the first attempt is the result
EXPECT_NO_RETRY = {
    "flaky": ("smtp-failed", "dane-unreachable"),
    "reset": ("smtp-failed", "dane-unreachable"),
    "slow": ("timeout", "dane-unreachable"),
    "wrongkey": ("tlsa-mismatch", "dane-failed"),
    "dead": ("timeout", "dane-unreachable"),
}


def write_cases():
    out = ["[zone .]", "signing = nsec", "server = root", "", "[zone lab]", "signing = nsec", "server = tld",
           "", "[zone bogus.lab]", "break = wrong-ds", "records =", "    @    A     127.62.9.9",
           "", "[zone retry.lab]", "records ="]
    for name, (ip, _, _) in SERVERS.items():
        out += [f"    {name:<10}          MX    10 mx.{name}", f"    mx.{name:<10}       A     {ip}",
                f"    _25._tcp.mx.{name:<10} TLSA  3 1 1 {{spki-sha256:mx.retry.lab:ecdsa}}"]
    out += ["    dual                MX    10 mx.dual", f"    mx.dual             A     {DUAL_IP}",
            "    _25._tcp.mx.dual    TLSA  3 1 1 {spki-sha256:mx.retry.lab:ecdsa}",
            "    rsa-key-of-the-world TXT \"{spki-sha256:mx.retry.lab:rsa}\""]   # the lab makes the RSA key
    for i in range(SHARED):
        out += [f"    g{i}                  MX    10 mxg{i}", f"    mxg{i}                A     {SHARED_IP}",
                f"    _25._tcp.mxg{i}       TLSA  3 1 1 {{spki-sha256:mx.retry.lab:ecdsa}}"]
    with open(CASES, "w") as f:
        f.write("\n".join(out) + "\n")
    return [f"{name}.retry.lab" for name in SERVERS] + [f"g{i}.retry.lab" for i in range(SHARED)]


def start_labsmtp(name, ip, args, key, chain):
    """danescan-labsmtp in the namespace on ip:25; returns its log path."""
    return harness_start_labsmtp(lab, procs, tmp, name, [*args, "--cert", chain, "--key", key,
                                                         "--name", f"mx.{name}.retry.lab", "--listen", f"{ip}:25"], ip)


def read_sessions(path):
    """[(connect_ms, end_ms)] of a labsmtp log, in connect order. end_ms is a
    time the client's session had not ended before: when QUIT was received
    (the client ends after the 221), else the server's close, which precedes
    the client's end only when the server closed first (a drop or a RST; after
    a client's timeout the server closes later, so such sessions are timed
    from their connect instead). None while open."""
    open_at, quit_at, sessions = {}, {}, []
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return sessions
    for line in lines:
        peer, _, rest = line.partition(" ")
        m = re.match(r"connect mode=\S+ to=\S+ active=\d+ max_active=(\d+) t=(\d+)", rest)
        if m:
            open_at[peer] = int(m.group(2))
            continue
        m = re.match(r"cmd QUIT(?: tls)? t=(\d+)", rest)
        if m and peer in open_at:
            quit_at[peer] = int(m.group(1))
            continue
        m = re.match(r"close active=\d+ t=(\d+)", rest)
        if m and peer in open_at:
            sessions.append((open_at.pop(peer), quit_at.pop(peer, int(m.group(1)))))
    sessions += [(t, None) for t in open_at.values()]
    return sorted(sessions)


def probe_of(records, domain, host):
    per = labprobe.address_probes(records.get(domain) or {}).get(host) or {}
    return next(iter(per.values()), {}) if len(per) == 1 else {}


def scan(domains, scan_id, extra, key_types=False):
    out = os.path.join(tmp, f"{scan_id}.jsonl")
    inputs = os.path.join(tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write("\n".join(domains) + "\n")
    t0 = time.monotonic()
    p = lab.danescan("scan", "--probe", "dane", "--allow-reserved", "--no-progress",
                     *([] if key_types else ["--no-key-types"]),
                     "--check-bogus-name", "bogus.lab", "--rate", "500", "--per-ip", "1",
                     "--per-ip-gap-ms", str(GAP_MS), "--connect-timeout-ms", str(STEP_TIMEOUT_MS),
                     "--greeting-timeout-ms", str(STEP_TIMEOUT_MS), "--ehlo-timeout-ms", str(STEP_TIMEOUT_MS),
                     "--starttls-timeout-ms", str(STEP_TIMEOUT_MS), "--handshake-timeout-ms", str(STEP_TIMEOUT_MS),
                     *extra, "--db", db.url, "--workers", "0", "--scan-id", scan_id, "--output", out, inputs)
    elapsed = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0, f"{scan_id}: scan exits 0 ({elapsed:.1f} s)", err[-2000:])
    check("Sanitizer" not in err and "runtime error" not in err, f"{scan_id}: no sanitizer report", err[-3000:])
    records = {}
    if os.path.exists(out):
        with open(out) as f:
            records = {r["domain"]: r for r in (json.loads(line) for line in f if line.strip())}
    check(len(records) == len(domains), f"{scan_id}: one record per domain ({len(records)}/{len(domains)})")
    return records, err


def stored_probes(scan_id):
    """{host: (result, attempts, step, first_result, first_step, first_reason, first_ms, retry_pause_ms)}."""
    rows = db.sql("SELECT host, result, attempts, step, coalesce(first_result::text, 'NULL'),"
                  " coalesce(first_step, 'NULL'), coalesce(first_reason, 'NULL'), coalesce(first_ms, -1),"
                  f" coalesce(retry_pause_ms, -1) FROM probes WHERE scan_id = '{scan_id}'")
    return {r[0]: (r[1], int(r[2]), r[3], r[4], r[5], r[6], int(r[7]), int(r[8])) for r in rows}


def check_retry_scan(records, logs, shared_log):
    stored = stored_probes("retry")
    for name, (result, attempts, first_result, first_step, host_status) in EXPECT.items():
        domain, host = f"{name}.retry.lab", f"mx.{name}.retry.lab"
        probe = probe_of(records, domain, host)
        first = probe.get("first_attempt")
        got = (probe.get("result"), probe.get("attempts"), (first or {}).get("result"), (first or {}).get("step"))
        check(got == (result, attempts, first_result, first_step),
              f"{domain}: {result} after {attempts} attempt(s)"
              + (f", the first {first_result} @{first_step}" if first_result else ", first_attempt null"),
              f"got {got} {probe.get('reason')} {first}")
        if first_result:
            check(first.get("reason") and first.get("elapsed_ms") is not None
                  and (first.get("pause_ms") or 0) >= RETRY_DELAY_MS,
                  f"{domain}: first_attempt has its reason, duration and a pause >= {RETRY_DELAY_MS} ms",
                  str(first))
        hosts = labprobe.host_objects(records.get(domain) or {})
        r = records.get(domain) or {}
        check(((hosts.get(host) or {}).get("status"), r.get("status")) == (host_status, host_status),
              f"{domain}: host and domain {host_status}",
              f"got {(hosts.get(host) or {}).get('status')}, {r.get('status')}")
        row = stored.get(host)
        want_row = (result, attempts, first_result or "NULL", first_step or "NULL")
        check(row is not None and (row[0], row[1], row[3], row[4]) == want_row,
              f"{domain}: probes row result, attempts, first_result, first_step = {want_row}", str(row))
        if row is not None and first_result:
            check(row[5] == first.get("reason") and row[6] >= 0 and row[7] >= RETRY_DELAY_MS,
                  f"{domain}: probes row first_reason, first_ms, retry_pause_ms as in JSON", str(row))
        sessions = read_sessions(logs[name])
        check(len(sessions) == attempts, f"{domain}: the server saw {attempts} connection(s)", str(sessions))
        if len(sessions) == 2 and first_result == "timeout":
            # the client closed at its greeting timeout: connect to connect
            gap = sessions[1][0] - sessions[0][0]
            want = STEP_TIMEOUT_MS + max(GAP_MS, RETRY_DELAY_MS) - CONNECT_SLACK_MS
            check(gap >= want, f"{domain}: the retry connected {gap} ms after the first "
                  f"(>= greeting timeout + --per-ip-gap-ms)")
        elif len(sessions) == 2 and sessions[0][1] is not None:
            gap = sessions[1][0] - sessions[0][1]
            check(gap >= max(GAP_MS, RETRY_DELAY_MS) - GAP_SLACK_MS,
                  f"{domain}: the retry came {gap} ms after the server dropped the first (>= --per-ip-gap-ms)")

    shared = {}
    for i in range(SHARED):
        domain, host = f"g{i}.retry.lab", f"mxg{i}.retry.lab"
        shared[host] = probe_of(records, domain, host)
        check((records.get(domain) or {}).get("status") == "dane-valid", f"{domain}: dane-valid",
              str((records.get(domain) or {}).get("status")))
    retried = {h: p for h, p in shared.items() if p.get("attempts") == 2}
    check(len(retried) == 1 and all(p.get("attempts") == 1 for h, p in shared.items() if h not in retried),
          f"shared address: one probe of {SHARED} retried, the others one attempt each",
          str({h: p.get("attempts") for h, p in shared.items()}))
    for host, p in retried.items():
        pause = (p.get("first_attempt") or {}).get("pause_ms") or 0
        check(pause >= GAP_MS, f"shared address: {host}'s retry waited for the gap ({pause} ms >= {GAP_MS})")
    sessions = read_sessions(shared_log)
    check(len(sessions) == SHARED + 1, f"shared address: {SHARED + 1} sessions (one retry)", str(sessions))
    overlaps = [(a, b) for a, b in zip(sessions, sessions[1:]) if a[1] is None or b[0] < a[1]]
    check(not overlaps, "shared address: never two sessions at once (--per-ip 1)", str(overlaps))
    gaps = [b[0] - a[1] for a, b in zip(sessions, sessions[1:]) if a[1] is not None]
    short = [g for g in gaps if g < GAP_MS - GAP_SLACK_MS]
    check(gaps and not short, f"shared address: >= {GAP_MS} ms from each session's end (QUIT received, or "
          f"the server's drop) to the next connect, the retry included (min {min(gaps) if gaps else '-'} ms)",
          str(short))


def check_no_retry_scan(records, logs):
    stored = stored_probes("noretry")
    for name, (result, host_status) in EXPECT_NO_RETRY.items():
        domain, host = f"{name}.retry.lab", f"mx.{name}.retry.lab"
        probe = probe_of(records, domain, host)
        hosts = labprobe.host_objects(records.get(domain) or {})
        got = (probe.get("result"), probe.get("attempts"), probe.get("first_attempt"),
               (hosts.get(host) or {}).get("status"))
        check(got == (result, 1, None, host_status),
              f"--no-probe-retry: {domain} {result} after 1 attempt, host {host_status}", str(got))
        row = stored.get(host)
        check(row is not None and (row[0], row[1], row[3]) == (result, 1, "NULL"),
              f"--no-probe-retry: {domain} probes row {result}, 1 attempt, first_result NULL", str(row))
        sessions = read_sessions(logs[name])
        check(len(sessions) == 1, f"--no-probe-retry: {domain}: the server saw 1 connection", str(sessions))


def main():
    if not check(os.access(LABSMTP, os.X_OK), f"danescan-labsmtp built ({LABSMTP})"):
        return
    domains = write_cases()
    db.open()
    t0 = time.monotonic()
    p = lab.up()
    if not check(p.returncode == 0, f"lab up (generated retry world, {time.monotonic() - t0:.1f} s)",
                 (p.stdout + p.stderr).decode(errors="replace")[-2000:]):
        return
    tls = lab.path("tls", "mx.retry.lab")
    key, chain = os.path.join(tls, "ecdsa.key"), os.path.join(tls, "ecdsa.chain.pem")
    certs = os.path.join(tmp, "certs")
    subprocess.run([os.path.join(SOURCE, "tests", "labsmtp", "make-certs.sh"), certs], check=True)
    other = (os.path.join(certs, "other.key"), os.path.join(certs, "other.pem"))

    def start_all(tag, overrides=None):
        logs = {}
        for name, (ip, args, world_key) in SERVERS.items():
            logs[name] = start_labsmtp(f"{tag}-{name}", ip, (overrides or {}).get(name, args),
                                       *((key, chain) if world_key else other))
        shared = start_labsmtp(f"{tag}-shared", SHARED_IP, ["--mode", "normal", "--first-mode", "disconnect"],
                               key, chain)
        return logs, shared

    logs, shared_log = start_all("retry")
    records, err = scan(domains, "retry", ["--probe-retry-delay-ms", str(RETRY_DELAY_MS)])
    check(re.search(r"\((\d+) retries after a transient failure\)", err) is not None
          and int(re.search(r"\((\d+) retries", err).group(1)) == 5,
          "summary counts 5 retries (flaky, reset, slow, dead, one on the shared address)",
          err[-600:])
    check_retry_scan(records, logs, shared_log)

    procs.close()   # fresh servers: each first connection fails again
    logs, _ = start_all("noretry")
    records, _ = scan(domains, "noretry", ["--no-probe-retry"])
    check_no_retry_scan(records, logs)

    procs.close()   # a dual-key server whose key-type session fails once
    rsa = (os.path.join(tls, "rsa.key"), os.path.join(tls, "rsa.chain.pem"))
    dual_log = harness_start_labsmtp(lab, procs, tmp, "dual", [
        "--mode", "normal", "--first-mode", "disconnect", "--first-skip", "1", "--cert", chain, "--key", key,
        "--cert", rsa[1], "--key", rsa[0], "--name", "mx.dual.retry.lab", "--listen", f"{DUAL_IP}:25"], DUAL_IP)
    records, err = scan(["dual.retry.lab"], "keytypes", ["--probe-retry-delay-ms", str(RETRY_DELAY_MS)],
                        key_types=True)
    host = labprobe.host_objects(records.get("dual.retry.lab") or {}).get("mx.dual.retry.lab") or {}
    probe = probe_of(records, "dual.retry.lab", "mx.dual.retry.lab")
    check(probe.get("result") == "authenticated" and probe.get("attempts") == 1,
          "dual.retry.lab: the unrestricted session authenticated at its first attempt",
          str((probe.get("result"), probe.get("attempts"))))
    check("partial-algorithm-coverage" in (host.get("flags") or []) and host.get("status") == "dane-valid",
          "dual.retry.lab: the RSA session's transient failure was retried; host dane-valid and flagged "
          "partial-algorithm-coverage", str((host.get("status"), host.get("flags"))))
    check(len(read_sessions(dual_log)) == 3, "dual.retry.lab: the server saw 3 connections (ECDSA, dropped RSA, "
          "RSA again)", str(read_sessions(dual_log)))
    m = re.search(r"\((\d+) retries after a transient failure\)", err)
    check(m is not None and int(m.group(1)) == 1, "dual.retry.lab: summary counts 1 retry", err[-600:])

    procs.close()   # and once more for `danescan check`, which explains the retry
    ip, args, _ = SERVERS["flaky"]
    start_labsmtp("check-flaky", ip, args, key, chain)
    p = lab.danescan("check", "--allow-reserved", "--no-key-types", "--check-bogus-name", "bogus.lab",
                     "--greeting-timeout-ms", str(STEP_TIMEOUT_MS), "--probe-retry-delay-ms", str(RETRY_DELAY_MS),
                     "flaky.retry.lab")
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    check(p.returncode == 0 and "second attempt; the first ended in smtp-failed at the greeting step" in out,
          "danescan check flaky.retry.lab: exit 0 (dane-valid), explains the second attempt", out[-1500:] + err[-500:])
    check("Sanitizer" not in err and "runtime error" not in err, "danescan check: no sanitizer report", err[-3000:])

    for f in sorted(os.listdir(tmp)):
        if f.endswith(".err"):
            text = open(os.path.join(tmp, f), errors="replace").read()
            check("Sanitizer" not in text and "runtime error" not in text, f"labsmtp {f[:-4]}: no sanitizer report",
                  text[-2000:])


run_test(main, tmp_dir, db, lab, procs)
