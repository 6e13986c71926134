#!/usr/bin/python3
"""Integration test of the lab world (scripts/lab): brings the lab up (or
uses it if it is already up, and then leaves it up), checks every case of
tests/lab/cases.txt with dig against the lab resolver, checks the servers,
addresses and isolation of the namespace, that the expectations and
inputs/lab-domains.txt are consistent, and that the checker itself notices
wrong expectations. Takes the lab down again if it brought it up, also on
failure or SIGINT/SIGTERM.

Needs root (network namespaces), nsd, unbound, ldnsutils, dig, openssl.
Ends with the line 'N passed, M failed'.
"""

import copy
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from harness import LAB_CASES, LAB_DOMAINS, Lab, check, run, run_test  # noqa: E402
import labworld  # noqa: E402
import labverify  # noqa: E402

CASES = os.environ.get("DANESCAN_LAB_CASES") or LAB_CASES
# The shared lab (DANESCAN_LAB_NS, DANESCAN_STATE): used and left up when it
# is up, else brought up, tested, taken down (the test checks that) and, on
# failure, taken down at the end.
lab = Lab()
NS = lab.ns


def lab_run(*args, check_rc=None):
    p = lab.run(*args)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    if check_rc is not None and p.returncode != check_rc:
        print(f"     scripts/lab {' '.join(args)} -> {p.returncode}\n{out}{err}", flush=True)
    return p.returncode, out, err


def in_ns(*cmd):
    p = run(*lab.in_ns(*cmd), stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace")


def test_static():
    world = labworld.parse_world(CASES)
    exp = [json.loads(line) for line in lab_run("expect", check_rc=0)[1].splitlines()]
    check(len(exp) == len(world.cases) and len(exp) > 40,
          f"expect prints one JSON line per case ({len(exp)})")
    check(all(set(e) >= {"domain", "status", "mx_dnssec", "hosts", "flags"} for e in exp),
          "every expect line has domain/status/mx_dnssec/hosts/flags")
    statuses = {e["status"] for e in exp}
    dns_decided = {"invalid-name", "lookup-failed", "dnssec-bogus", "nxdomain", "null-mx",
                   "no-mail", "insecure", "dane-failed", "tlsa-unusable", "no-dane",
                   "dane-unprobed"}
    check(dns_decided <= statuses, f"a case for every DNS-decided domain status "
          f"(missing: {sorted(dns_decided - statuses)})")
    host_statuses = {s for e in exp for s in e["hosts"].values()}
    want_hosts = {"dane-unprobed", "tlsa-unusable", "tlsa-failed", "no-tlsa", "insecure",
                  "address-failed", "no-address"}
    check(want_hosts <= host_statuses, f"a case for every DNS-decided host status "
          f"(missing: {sorted(want_hosts - host_statuses)})")
    check(len({e["domain"] for e in exp}) == len(exp), "case domains are unique")
    check(any(e["mx_dnssec"] == "insecure" and e["status"] == "dane-unprobed" for e in exp),
          "an insecure-MX domain gets its DANE hosts' status")
    check(any("ancestor-nxdomain" in f for e in exp for f in e["flags"].values()),
          "an ancestor-nxdomain case is declared")
    shared = {}
    for e in exp:
        for h in e["hosts"]:
            shared.setdefault(h, set()).add(e["domain"])
    check(any(len(d) >= 3 for d in shared.values()), "several domains share one MX host")
    _, domains, _ = lab_run("domains", check_rc=0)
    try:
        with open(LAB_DOMAINS) as f:
            on_disk = f.read()
    except OSError:
        on_disk = ""
    check(on_disk == domains, "inputs/lab-domains.txt is `scripts/lab domains` "
          "(regenerate: scripts/lab domains > inputs/lab-domains.txt)")
    # The parser must refuse mistakes instead of building a wrong world.
    for bad in ("[case x.lab]\nstatus = dane-ok\n", "[case x.lab]\nstatus = no-dane\nhosts = a=b\n",
                "[zone x.lab]\nsigning = nsec4\n", "records =\n  @ MX 10 a\n",
                "[zone .]\n[case x.lab]\nstatus = no-dane\nrecords =\n  @ MX\n"):
        tmp = "/tmp/danescan-lab-bad-cases.txt"
        with open(tmp, "w") as f:
            f.write(bad)
        try:
            labworld.parse_world(tmp)
            ok = False
        except labworld.CasesError:
            ok = True
        finally:
            os.unlink(tmp)
        check(ok, f"the cases parser rejects {bad.splitlines()[-1].strip()!r}")


def test_running_lab():
    world = labworld.parse_world(CASES)
    rc, out, _ = lab_run("status")
    check(rc == 0 and "answers with AD" in out, "scripts/lab status: all servers up, AD answers")
    # Isolation: no route out of the namespace, only lo.
    _, links = in_ns("ip", "-o", "link")
    check(len(links.strip().splitlines()) == 1 and "lo:" in links, "the namespace has only lo")
    _, r4 = in_ns("ip", "-4", "route", "show", "table", "all")
    _, r6 = in_ns("ip", "-6", "route", "show", "table", "all")
    routes = [l for l in (r4 + r6).splitlines() if l.strip()]
    check(routes and all(" dev lo" in l for l in routes) and not any(l.startswith("default") for l in routes),
          "every route of the namespace is on lo, no default route")
    _, addrs = in_ns("ip", "-o", "addr", "show", "dev", "lo")
    v4, v6 = labworld.lab_addresses(world)
    missing = [a for a in v4 + v6 if f" {a}/" not in addrs]
    check(not missing, f"every lab address is on lo (missing: {missing[:5]})")
    # Each NSD answers authoritatively for its zones; the lame one refuses.
    for role, zone in (("root", "."), ("tld", "lab."), ("tld", "org."), ("leaf", "dane-ee.lab."),
                       ("leaf", "provider.lab.")):
        for addr in labworld.SERVERS[role][1:]:
            _, out = in_ns("dig", "@" + addr, "+norec", "+time=2", "+tries=1", zone, "SOA")
            check("status: NOERROR" in out and " aa" in out.split("flags:", 1)[-1].split(";")[0],
                  f"nsd-{role} at {addr} is authoritative for {zone}")
    _, out = in_ns("dig", "@" + labworld.SERVERS["lame"][1], "+norec", "+time=2", "+tries=1",
                   "lookup-failed.lab.", "MX")
    check("status: REFUSED" in out, "the lame server refuses")
    # The resolver on IPv6 too, and the namespace's resolv.conf points at it.
    _, out = in_ns("dig", "@::1", "+dnssec", "+time=2", "mx1.provider.lab.", "TLSA")
    check("status: NOERROR" in out and " ad" in out.split("flags:", 1)[-1].split(";")[0],
          "Unbound answers with AD on [::1]:53")
    _, out = in_ns("dig", "+time=2", "dane-ee.lab.", "MX")
    check("status: NOERROR" in out and "127.0.0.1" in out,
          "plain dig in the namespace uses the lab resolver (resolv.conf)")
    # Every case, checked with dig.
    print("--- scripts/lab verify", flush=True)
    rc = labverify.main(world, NS, [])
    check(rc == 0, "every case of tests/lab/cases.txt verified with dig")
    # The checker must notice wrong expectations (it is not a rubber stamp).
    res = labverify.Resolver(NS)
    by_domain = {c.domain: c for c in world.cases}
    for domain, field, wrong in (("dane-ee.lab", "status", "no-dane"),
                                 ("bogus-ds.lab", "status", "lookup-failed"),
                                 ("lookup-failed.lab", "status", "dnssec-bogus"),
                                 ("cname-original.lab", "hosts", {"mx.cname-original.lab": "no-tlsa"}),
                                 ("unsigned-to-dane.test", "mx_dnssec", "secure"),
                                 ("trap.lab", "flags", {})):
        case = copy.deepcopy(by_domain[domain])
        obs = labverify.classify(res, case.domain)
        got = {"status": obs.status, "hosts": obs.hosts, "mx_dnssec": obs.mx_dnssec,
               "flags": obs.flags}[field]
        check(got != wrong, f"the checker tells {domain} {field} from a wrong {wrong!r}")


def test_bulk(n):
    """The benchmark zone: a sample of d<i>.bulk.lab classified with dig."""
    res = labverify.Resolver(NS)
    exp = [json.loads(l) for l in lab_run("bulk-expect", str(n), check_rc=0)[1].splitlines()]
    check(len(exp) == n and lab_run("bulk-domains", str(n))[1].split() == [e["domain"] for e in exp],
          f"bulk-expect and bulk-domains list the same {n} domains")
    wrong = []
    for e in exp[:20] + exp[-5:]:
        obs = labverify.classify(res, e["domain"])
        if (obs.status, obs.mx_dnssec, obs.hosts) != (e["status"], e["mx_dnssec"], e["hosts"]):
            wrong.append((e["domain"], obs.status, obs.hosts))
    check(not wrong, f"bulk.lab domains resolve as bulk-expect says (wrong: {wrong[:3]})")


def main():
    test_static()
    if lab.is_up():
        print(f"--- lab already up in {NS}: using it, leaving it up", flush=True)
    else:
        p = lab.up()
        print(p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace"), end="", flush=True)
        if not check(p.returncode == 0, "scripts/lab up"):
            raise RuntimeError("lab did not come up")
        p = lab.up("--bulk", "300")
        check(p.returncode == 0, "scripts/lab up --bulk 300 (idempotent: regenerates and restarts)")
        test_bulk(300)
    test_running_lab()
    if lab.started:
        pids = []
        for d in sorted(os.listdir(lab.path())):
            pf = lab.path(d, "nsd.pid" if d.startswith("nsd") else "unbound.pid")
            if os.path.exists(pf):
                with open(pf) as f:
                    pids.append(int(f.read().split()[0]))
        p = lab.close()
        check(p is not None and p.returncode == 0 and not os.path.exists(f"/run/netns/{NS}"),
              "scripts/lab down removes the namespace")
        alive = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        alive.append(pid)
            except OSError:
                pass
        check(len(pids) == 5 and not alive, f"scripts/lab down stops the 5 servers (alive: {alive})")
        rc, _, _ = lab_run("down")
        check(rc == 0, "scripts/lab down when nothing is up")
        rc, _, _ = lab_run("status", "--quiet")
        check(rc == 3, "scripts/lab status says down (3)")


if os.geteuid() != 0:
    print("test_lab_dns: needs root (network namespaces)")
    print("0 passed, 1 failed")
    sys.exit(1)
run_test(main, lab)
