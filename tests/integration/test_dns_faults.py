#!/usr/bin/python3
"""The scanner's DNS path under the Internet's faults, in a private lab
(case domains + bulk domains, --probe none). Every faulty scan must give the
verdicts of a clean scan of the same input (domain status, MX lookup state,
each MX host's status, address state and flags), nothing lost or doubled:

1. through tests/dnsfault/dnsfault.py between the scanner and Unbound:
   a. delay 50-300 ms, 1% loss, duplicated, reordered, forged replies (wrong
      ID, wrong source port, wrong source address) and TC=1 replies: every
      forgery counted as mismatched and none accepted, every TC=1 answer
      retried over TCP, one client timeout per lost packet;
   b. delay and 10% loss: retries follow the losses; wall time reported
      against the clean scan (the target is 2x; asserted at 3x);
   (DANESCAN_DNSFAULT_FULL=1: also 30% loss, reported, and a bigger input.)
2. Unbound killed mid-scan and restarted 2 s later; and two resolvers, one
   of which dies for good mid-scan: equal verdicts, and the summary's
   per-resolver lines say what happened (silence, down).
3. Slow (3 s) and dead authoritative servers behind Unbound
   (tests/dnsfault/cases.txt, server = slow | dead): those domains end as the
   cases say (dead: lookup-failed / address-failed), and the other domains'
   completion time stays within a generous factor of a scan without them.
   It runs in a second lab at the same time as 1 and 2 (mostly waiting).

Ends with 'N passed, M failed'. Reliability numbers: tests/dnsfault/README.md."""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
from harness import (DANESCAN, LAB_CASES, SOURCE, Lab, Processes, TempDir, check, private_ns, run,  # noqa: E402
                     run_test)

PROXY = os.path.join(SOURCE, "tests", "dnsfault", "dnsfault.py")
FAULT_CASES = os.path.join(SOURCE, "tests", "dnsfault", "cases.txt")
FULL = os.environ.get("DANESCAN_DNSFAULT_FULL") == "1"
BULK = int(os.environ.get("DANESCAN_DNSFAULT_BULK", "20000" if FULL else "2000"))
EXTRA = 300  # names under the dead zone, and as many under the slow zone (part 3)
# DANESCAN_DNSFAULT_NS, else private_ns(): dl-NAME-dnsfault under DANESCAN_LAB_NS=dl-NAME
NS = os.environ.get("DANESCAN_DNSFAULT_NS") or private_ns("dnsfault")
SEED = int(os.environ.get("DANESCAN_DNSFAULT_SEED", "1"))

tmp_dir = TempDir("danescan-dnsfault-", public=True)
tmp = tmp_dir.path
lab = Lab(ns=NS, state=os.path.join(tmp, "state"), cases=LAB_CASES)
UNBOUND_DIR = lab.path("unbound")
# Part 3 runs at the same time in a second lab (it spends most of its minute
# waiting for dead servers): its own namespace, state and cases file.
NS3 = NS + "3"
lab3 = Lab(ns=NS3, state=os.path.join(tmp, "state3"), cases=FAULT_CASES)
procs = Processes()
# Two `scripts/lab up` at once can fail (an NSD did not start): part 3's
# waits for part 1's.
first_lab_ready = threading.Event()
table = []   # reliability rows: fault, result, wall, retries


def start_proxy(name, listen, upstream, *options, in_lab=lab):
    """dnsfault.py inside the namespace; returns (process, counts path)."""
    counts = os.path.join(tmp, f"{name}.counts.json")
    ready = os.path.join(tmp, f"{name}.ready")
    p = procs.start(in_lab.in_ns(sys.executable, PROXY, "--listen", listen, "--upstream", upstream,
                                 "--counts", counts, "--ready", ready, "--seed", str(SEED), *options),
                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"{name}.log"), "w"))
    deadline = time.monotonic() + 10
    while not os.path.exists(ready) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not os.path.exists(ready):
        raise RuntimeError(f"proxy {name} did not start: {open(os.path.join(tmp, name + '.log')).read()}")
    return p, counts


def stop_proxy(p, counts):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
    with open(counts) as f:
        return json.load(f)


def scan(name, inputs, resolvers, background=False, extra=(), in_lab=lab, quiet=False):
    out = os.path.join(tmp, f"{name}.jsonl")
    meta = os.path.join(tmp, f"{name}.meta.json")
    cmd = in_lab.in_ns(DANESCAN, "scan", "--allow-reserved", "--probe", "none", "--no-progress",
                       "--output", out, "--metadata", meta, *extra)
    for r in resolvers:
        cmd += ["--resolver", r]
    cmd.append(inputs)
    started = time.monotonic()
    p = procs.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    scan_run = {"name": name, "proc": p, "out": out, "meta": meta, "started": started}
    return scan_run if background else finish(scan_run, quiet)


def finish(scan_run, quiet=False):
    """Waits for the scan; checks its exit code unless quiet (then the
    caller checks scan_run['rc'] from the main thread)."""
    p = scan_run["proc"]
    _, err = p.communicate(timeout=600)
    scan_run["wall"] = time.monotonic() - scan_run["started"]
    scan_run["rc"] = p.returncode
    scan_run["stderr"] = err.decode(errors="replace")
    scan_run["records"] = []
    if os.path.exists(scan_run["out"]):
        with open(scan_run["out"]) as f:
            scan_run["records"] = [json.loads(line) for line in f]
    scan_run["meta_json"] = {}
    if os.path.exists(scan_run["meta"]):
        with open(scan_run["meta"]) as f:
            scan_run["meta_json"] = json.load(f)
    scan_run["dns"] = scan_run["meta_json"].get("dns", {})
    if not quiet:
        check(p.returncode == 0, f"{scan_run['name']}: scan exits 0 ({scan_run['wall']:.1f} s)",
              scan_run["stderr"][-1500:])
    return scan_run


def verdicts(records):
    """domain -> what must not change under faults (not timings, attempts, EDEs)."""
    out = {}
    for r in records:
        hosts = tuple(sorted((h["host"], h["status"], h.get("address_dnssec"), tuple(sorted(h.get("flags") or [])))
                             for h in r.get("mx") or []))
        out.setdefault(r["domain"], []).append(
            (r["status"], (r.get("mx_lookup") or {}).get("dnssec"), hosts))
    return out


def compare(clean, other, label):
    want, got = verdicts(clean["records"]), verdicts(other["records"])
    doubled = [d for d, v in got.items() if len(v) > 1]
    missing = sorted(set(want) - set(got))
    differ = [(d, want[d][0], got[d][0]) for d in want if d in got and want[d][0] != got[d][0]]
    check(not missing and not doubled, f"{label}: every domain once ({len(got)} records)",
          f"missing {missing[:5]} doubled {doubled[:5]}")
    check(not differ, f"{label}: every verdict equals the clean scan's",
          f"{len(differ)} differ, e.g. {differ[:3]}")
    return len(differ)


def summary_lines(scan_run):
    return [line.strip() for line in scan_run["stderr"].splitlines() if line.strip().startswith("resolver ")]


def row(fault, clean, run_, extra=""):
    diff = compare_quiet(clean, run_)
    bulk = [done_times(r["records"], lambda d: d.endswith("bulk.lab")) for r in (run_, clean)]
    p99 = [b[int(len(b) * 0.99)] if b else 0.0 for b in bulk]
    table.append(f"{fault:<44} | {'equal' if diff == 0 else f'{diff} differ'} | "
                 f"{run_['wall']:.1f} s vs {clean['wall']:.1f} s ({run_['wall'] / clean['wall']:.2f}x), "
                 f"bulk p99 {p99[0]:.1f} s vs {p99[1]:.1f} s | "
                 f"{run_['dns'].get('retries')} retries (clean {clean['dns'].get('retries')}), "
                 f"{run_['dns'].get('timeouts')} timeouts {extra}")


def compare_quiet(clean, other):
    want, got = verdicts(clean["records"]), verdicts(other["records"])
    return sum(1 for d in want if got.get(d, [None])[0] != want[d][0])


def wait_lines(path, n, proc, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path):
            with open(path, "rb") as f:
                if f.read().count(b"\n") >= n:
                    return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------------------

def part1_and_2():
    try:
        lab.up("--bulk", str(BULK), strict=True)
    finally:
        first_lab_ready.set()
    inputs = os.path.join(tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write(lab.output("domains"))
        f.write(lab.output("bulk-domains", str(BULK)))
    names = sum(1 for _ in open(inputs))
    unbound = "127.0.0.1:53"

    # The clean scan finds Unbound's cache cold, the others warm: it is the
    # slower one (lame cases' first answers take longer).
    clean = scan("clean", inputs, [unbound])
    check(len(clean["records"]) == names, f"clean scan: {names} records", str(len(clean["records"])))

    # 1a. everything but heavy loss, at once
    p, counts = start_proxy("mixed", "127.0.0.1:5301", unbound, "--delay", "50-300",
                            "--drop-query", "0.005", "--drop-reply", "0.005", "--dup", "0.05",
                            "--reorder", "0.05", "--spoof", "0.05", "--spoof-address", "127.0.0.2",
                            "--tc", "0.05")
    mixed = scan("mixed", inputs, ["127.0.0.1:5301"])
    c = stop_proxy(p, counts)
    compare(clean, mixed, "1% loss + dup + reorder + spoof + TC")
    dns = mixed["dns"]
    spoofs = c["spoofed_id"] + c["spoofed_port"] + c["spoofed_address"]
    check(spoofs > 0 and c["spoofed_address"] > 0, f"proxy forged {spoofs} replies", json.dumps(c))
    check(dns.get("mismatched", 0) >= spoofs + c["duplicated"] * 0,
          f"every forged reply counted mismatched ({dns.get('mismatched')} >= {spoofs})", json.dumps(dns))
    # A TC=1 reply is retried over TCP unless its lookup was answered
    # meanwhile by a reply to another of its attempts (a late reply keeps
    # counting): that needs an attempt that timed out first.
    check(c["truncated"] > 0 and 0 < dns.get("over_tcp", 0) <= c["truncated"]
          and c["truncated"] - dns.get("over_tcp", 0) <= dns.get("timeouts", 0),
          f"every TC=1 reply of a pending lookup retried over TCP ({dns.get('over_tcp')} of {c['truncated']}, "
          f"{dns.get('timeouts')} timeouts)", json.dumps(c))
    check(c["tcp_queries"] >= dns.get("over_tcp", 0), "the TCP retries reached the proxy", json.dumps(c))
    drops = c["dropped_queries"] + c["dropped_replies"] + c["tcp_dropped"]
    # A reply delayed past its attempt's timeout times out too (counted
    # late_replies when it comes), so late replies widen the upper bound.
    check(drops <= dns.get("timeouts", -1) <= drops + dns.get("late_replies", 0) + clean["dns"]["timeouts"]
          + max(10, drops // 10),
          f"one timeout per lost packet or late reply ({dns.get('timeouts')} timeouts, {drops} lost,"
          f" {dns.get('late_replies', 0)} late)", json.dumps(dns))
    check(dns.get("retries", 0) <= clean["dns"]["retries"] + dns.get("timeouts", 0) + dns.get("over_tcp", 0)
          + max(20, names // 100),
          f"retries follow losses and TC ({dns.get('retries')} retries)", json.dumps(dns))
    check(mixed["wall"] <= 2 * clean["wall"] + 5, f"1% loss etc.: {mixed['wall']:.1f} s <= 2 x {clean['wall']:.1f} s + 5")
    row(f"delay 50-300 ms, 1% loss, 5% dup/reorder/spoof x3/TC", clean, mixed,
        f"({drops} lost, {spoofs} forged, {c['truncated']} TC)")

    # 1b. loss
    for loss in ([0.10, 0.30] if FULL else [0.10]):
        half = f"{loss / 2:.3f}"
        p, counts = start_proxy(f"loss{int(loss * 100)}", "127.0.0.1:5301", unbound, "--delay", "50-300",
                                "--drop-query", half, "--drop-reply", half)
        lossy = scan(f"loss{int(loss * 100)}", inputs, ["127.0.0.1:5301"])
        c = stop_proxy(p, counts)
        label = f"{int(loss * 100)}% loss"
        drops = c["dropped_queries"] + c["dropped_replies"] + c["tcp_dropped"]
        dns = lossy["dns"]
        if loss <= 0.10:
            compare(clean, lossy, label)
            check(drops <= dns.get("timeouts", -1) <= drops + dns.get("late_replies", 0) + clean["dns"]["timeouts"]
                  + max(10, drops // 10),
                  f"{label}: one timeout per lost packet or late reply ({dns.get('timeouts')} timeouts, {drops}"
                  f" lost, {dns.get('late_replies', 0)} late)",
                  json.dumps(dns))
            check(dns.get("retries", 0) <= clean["dns"]["retries"] + dns.get("timeouts", 0) + max(20, names // 100),
                  f"{label}: retries follow the losses ({dns.get('retries')} retries, {drops} lost)")
            check(lossy["wall"] <= 3 * clean["wall"],
                  f"{label}: {lossy['wall']:.1f} s, {lossy['wall'] / clean['wall']:.2f}x the clean scan (target 2x)")
        else:
            diff = compare_quiet(clean, lossy)
            print(f"     {label}: {diff} verdicts differ, {lossy['wall']:.1f} s, {dns.get('retries')} retries, "
                  f"{dns.get('timeouts')} timeouts, {drops} lost", flush=True)
        row(f"delay 50-300 ms, {label} (half queries, half replies)", clean, lossy, f"({drops} lost)")

    # 2a. Unbound killed mid-scan, restarted 2 s later (through a delaying
    # proxy, so that the scan is still busy when it dies).
    p, counts = start_proxy("restart", "127.0.0.1:5301", unbound, "--delay", "50-300")
    bg = scan("restart", inputs, ["127.0.0.1:5301"], background=True)
    check(wait_lines(bg["out"], max(200, names // 10), bg["proc"]), "restart: scan under way")
    pid = int(open(os.path.join(UNBOUND_DIR, "unbound.pid")).read())
    os.kill(pid, signal.SIGTERM)
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.02)
    time.sleep(2.0)
    r = run(*lab.in_ns("unbound", "-c", os.path.join(UNBOUND_DIR, "unbound.conf")))
    check(r.returncode == 0, "Unbound restarted with its config", r.stderr.decode())
    restarted = finish(bg)
    stop_proxy(p, counts)
    compare(clean, restarted, "Unbound killed and restarted")
    lines = summary_lines(restarted)
    print("     " + "\n     ".join(lines), flush=True)
    check(len(lines) == 1 and "silent" in lines[0] and restarted["dns"].get("timeouts", 0) > 0,
          "restart: the summary says the resolver went silent", str(lines))
    row("Unbound killed mid-scan, restarted after 2 s", clean, restarted)

    # 2b. two resolvers (two proxies before the same Unbound), one dies for good.
    pa, ca = start_proxy("first", "127.0.0.1:5301", unbound, "--delay", "50-300")
    pb, cb = start_proxy("second", "127.0.0.1:5302", unbound, "--delay", "50-300")
    bg = scan("failover", inputs, ["127.0.0.1:5301", "127.0.0.1:5302"], background=True)
    check(wait_lines(bg["out"], max(200, names // 10), bg["proc"]), "failover: scan under way")
    stop_proxy(pb, cb)
    failover = finish(bg)
    stop_proxy(pa, ca)
    compare(clean, failover, "one of two resolvers dead")
    lines = summary_lines(failover)
    print("     " + "\n     ".join(lines), flush=True)
    check(len(lines) == 2 and "never down" in lines[0] and "down 1 times, down now" in lines[1],
          "failover: the summary says which resolver went down", str(lines))
    per = failover["dns"].get("resolvers") or [{}, {}]
    # The live resolver is never down; its timeouts are the few replies
    # slower than its retry timeout (1.5 x its 99th percentile; late
    # replies still count), more while the dead one's load moves over to it
    # (2-36 of ~2,300 queries in three runs).
    check(len(per) == 2 and per[1].get("down_now") and per[0].get("down_events") == 0
          and per[0].get("timeouts", 0) <= per[0].get("queries_sent", 0) // 20,
          "failover: metadata dns.resolvers agrees", json.dumps(per))
    row("2 resolvers, one dies for good mid-scan", clean, failover)


def done_times(records, pick):
    def t(s):
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    t0 = min(t(r["started"]) for r in records)
    return sorted(t(r["started"]) - t0 + r["elapsed_ms"] / 1000 for r in records if pick(r["domain"]))


def part3_scans(out):
    """The scans of part 3 (in a thread); the checks are part3_checks()."""
    first_lab_ready.wait()
    lab3.up("--bulk", str(BULK), strict=True)
    p_slow4, c_slow4 = start_proxy("slow4", "127.53.0.5:53", "127.53.0.3:53", "--delay", "3000", in_lab=lab3)
    p_slow6, c_slow6 = start_proxy("slow6", "[fd53::5]:53", "[fd53::3]:53", "--delay", "3000", in_lab=lab3)
    p_dead4, c_dead4 = start_proxy("dead4", "127.53.0.6:53", "127.53.0.3:53", "--drop-query", "1", in_lab=lab3)
    p_dead6, c_dead6 = start_proxy("dead6", "[fd53::6]:53", "[fd53::3]:53", "--drop-query", "1", in_lab=lab3)
    expect = {e["domain"]: e for e in map(json.loads, lab3.output("expect").splitlines())}
    bulk = lab3.output("bulk-domains", str(BULK))
    control = os.path.join(tmp, "control.txt")
    with open(control, "w") as f:
        f.write("dane-ee.lab\ndnssec-failed.org\n" + bulk)
    faulty = os.path.join(tmp, "faulty.txt")
    # More dead and slow names than the client's first window (500), so that
    # for a while every query in flight is one that will not be answered.
    with open(faulty, "w") as f:
        for i in range(EXTRA):
            f.write(f"x{i}.dead-hosts.org\ny{i}.slow-hosts.lab\n")
        f.write("".join(d + "\n" for d in expect))
        f.write(bulk)

    unbound = "127.0.0.1:53"
    out["warm"] = scan("authority-warm-up", control, [unbound], in_lab=lab3, quiet=True)
    out["clean"] = scan("authority-clean", control, [unbound], in_lab=lab3, quiet=True)
    out["slow"] = scan("authority-faults", faulty, [unbound], in_lab=lab3, quiet=True)
    for p, c in ((p_slow4, c_slow4), (p_slow6, c_slow6), (p_dead4, c_dead4), (p_dead6, c_dead6)):
        out.setdefault("counts", []).append(stop_proxy(p, c))
    out["expect"] = expect


def part3_checks(out):
    if not check("slow" in out, "authority: the scans ran", out.get("error", "")):
        return
    extra = EXTRA
    expect, clean, slow = out["expect"], out["clean"], out["slow"]
    for s in (out["warm"], clean, slow):
        check(s["rc"] == 0, f"{s['name']}: scan exits 0 ({s['wall']:.1f} s)", s["stderr"][-1500:])
    by_domain = {r["domain"]: r for r in slow["records"]}
    edes = set()
    for domain, e in expect.items():
        r = by_domain.get(domain)
        if not check(r is not None, f"authority: {domain} has a record"):
            continue
        got_hosts = {h["host"]: h["status"] for h in r.get("mx") or []}
        check(r["status"] == e["status"] and got_hosts == e["hosts"],
              f"authority: {domain} {e['status']} {e['hosts'] or ''}", f"got {r['status']} {got_hosts}")
        lookups = [r.get("mx_lookup") or {}] + [l for h in r.get("mx") or [] for l in (h.get("lookups") or {}).values() if l]
        for lk in lookups:
            if lk.get("dnssec") == "failed":
                edes.add((lk.get("failure"), (lk.get("ede") or {}).get("code")))
    dead = [r for r in slow["records"] if r["domain"].endswith(".dead-hosts.org")]
    slowy = [r for r in slow["records"] if r["domain"].endswith(".slow-hosts.lab")]
    check(len(dead) == extra and all(r["status"] == "lookup-failed" for r in dead),
          f"authority: {extra} names under the dead zone lookup-failed",
          str(sorted({r['status'] for r in dead})))
    check(len(slowy) == extra and all(r["status"] == "nxdomain" for r in slowy),
          f"authority: {extra} names under the slow zone nxdomain (answered late)",
          str(sorted({r['status'] for r in slowy})))
    for r in dead:
        lk = r.get("mx_lookup") or {}
        edes.add((lk.get("failure"), (lk.get("ede") or {}).get("code")))
    print(f"     failed lookups (failure, EDE code): {sorted(edes, key=str)}", flush=True)
    check(edes and all(f in ("timeout", "servfail") and code in (None, 22, 23) for f, code in edes),
          "authority: dead zones fail by timeout or SERVFAIL (EDE none or 22/23)", str(edes))
    bulk_clean = done_times(clean["records"], lambda d: d.endswith("bulk.lab"))
    bulk_slow = done_times(slow["records"], lambda d: d.endswith("bulk.lab"))
    check(len(bulk_clean) == len(bulk_slow) == BULK, "authority: every bulk domain scanned both times")
    compare({"records": [r for r in clean["records"] if r["domain"].endswith("bulk.lab")]},
            {"records": [r for r in slow["records"] if r["domain"].endswith("bulk.lab")]},
            "authority: bulk domains")
    c_done, s_done = bulk_clean[-1], bulk_slow[-1]
    print(f"     bulk domains done after {s_done:.2f} s with {2 * extra + 4} slow/dead names first, "
          f"{c_done:.2f} s without", flush=True)
    # One first-attempt timeout (2 s) for the names queued behind the first
    # window of dead ones, then they share the window: about 2 s on a quiet
    # machine. The bound leaves room for a loaded CI machine (16 s seen with
    # both cores busy elsewhere) and still catches the stall this guards
    # against (327 s before the window fix).
    check(s_done <= 3 * c_done + 20.0,
          f"authority: no stall of the other domains ({s_done:.1f} s <= 3 x {c_done:.1f} s + 20 s)")
    table.append(f"{'slow (3 s) + dead authorities, ' + str(2 * extra + 4) + ' names':<44} | as the cases say | "
                 f"bulk done {s_done:.1f} s vs {c_done:.1f} s | {slow['dns'].get('retries')} retries, "
                 f"{slow['dns'].get('timeouts')} timeouts; whole scan {slow['wall']:.1f} s")


def main():
    out = {}

    def part3_thread():
        try:
            part3_scans(out)
        except Exception as e:  # reported by part3_checks
            out["error"] = repr(e)

    t = threading.Thread(target=part3_thread, daemon=True)
    t.start()
    try:
        part1_and_2()
    finally:
        t.join()
    part3_checks(out)
    print("     reliability (fault | verdicts vs clean | wall | retries):")
    for line in table:
        print("     " + line, flush=True)


run_test(main, tmp_dir, lab, lab3, procs)
