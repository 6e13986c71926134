#!/usr/bin/python3
"""scripts/resolver (issue 20) in the lab: `resolver start --lab` writes the
scanning configuration (checked by unbound-checkconf) and starts a second
Unbound in the lab's namespace on its own port, trusting the lab's root
anchor; `danescan check` and `danescan scan --probe none` through it pass the
scanner's resolver check and agree with the lab's own resolver on every
domain status. The same set-up with Debian's real root anchor
(dns-root-data) must be refused by the scanner (exit 3: the resolver does
not validate the lab's root), which shows the anchor line is what makes
answers secure. Brings the lab up if it is not (and down again), stops the
Unbound it started. Ends with 'N passed, M failed'."""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
from harness import DANESCAN, LAB_DOMAINS, SOURCE, Lab, TempDir, check, run_test  # noqa: E402

RESOLVER = os.path.join(SOURCE, "scripts", "resolver")
REAL_ANCHOR = "/usr/share/dns/root.key"


def start(lab, tmp, name, port, anchor):
    conf = os.path.join(tmp, f"{name}.conf")
    rundir = os.path.join(tmp, name)
    r = lab.run("exec", RESOLVER, "start", "--lab", "--conf", conf, "--dir", rundir, "--threads", "1",
                "--memory", "256", "--port", str(port), "--anchor", anchor, "--hints",
                lab.path("unbound", "root.hints"), text=True, timeout=60)
    ok = check(r.returncode == 0, f"resolver start ({name}, port {port}): exit 0", r.stderr[-800:])
    for _ in range(50):  # unbound forks; the pid file appears when it serves
        if os.path.exists(os.path.join(rundir, "unbound.pid")):
            break
        time.sleep(0.1)
    return conf if ok else None


def records(path):
    with open(path) as f:
        return {r["domain"]: r for r in (json.loads(line) for line in f if line.strip())}


def main():
    with TempDir("danescan-resolver-", public=True) as tmp, Lab() as lab:
        p = lab.ensure_up()
        if not check(lab.is_up(), "lab up", p.stderr.decode(errors="replace")[-1500:] if p else ""):
            return
        started = []
        try:
            conf = start(lab, tmp, "scan", 5391, lab.path("unbound", "root.anchor"))
            if not conf:
                return
            started.append(conf)
            with open(conf) as f:
                text = f.read()
            for line in ["serve-expired: no", "prefetch: no", "qname-minimisation: yes", "num-threads: 1",
                         "harden-dnssec-stripped: yes", "outgoing-range: 8192", "infra-cache-numhosts: 1000000",
                         f'trust-anchor-file: "{lab.path("unbound", "root.anchor")}"']:
                check(f"  {line}\n" in text, f"the configuration says '{line}'")
            r = lab.run("exec", DANESCAN, "check", "--resolver", "127.0.0.1:5391", "--probe", "none",
                        "dane-ee.lab", "--json", text=True, timeout=120)
            rec = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
            check(r.returncode in (0, 1) and rec.get("domain") == "dane-ee.lab",
                  "danescan check through it: the resolver check passes", f"rc={r.returncode} {r.stderr[-500:]}")
            outs = {}
            for name, resolver in [("scan", "127.0.0.1:5391"), ("lab", "127.0.0.1")]:
                outs[name] = os.path.join(tmp, f"{name}.jsonl")
                r = lab.run("exec", DANESCAN, "scan", "--probe", "none", "--no-progress", "--resolver", resolver,
                            "--output", outs[name], LAB_DOMAINS, text=True, timeout=300)
                check(r.returncode == 0, f"danescan scan --probe none through {resolver}: exit 0",
                      r.stderr[-800:])
            a, b = records(outs["scan"]), records(outs["lab"])
            differ = sorted(d for d in b if a.get(d, {}).get("status") != b[d].get("status"))
            # The lab's own Unbound carries per-case simulations (resolver = ... in
            # cases.txt); the domains of such cases may differ and are listed.
            with open(lab.path("unbound", "unbound.conf")) as f:
                simulated = f.read().split("# simulations declared in the cases file", 1)[-1]
            unexplained = [d for d in differ if d.split(".")[0] not in simulated]
            check(a and not unexplained, f"every domain status agrees with the lab resolver's ({len(b)} domains; "
                  f"{len(differ) - len(unexplained)} differ by a resolver simulation of the lab)",
                  [(d, a.get(d, {}).get("status"), b[d].get("status")) for d in unexplained][:20])

            conf = start(lab, tmp, "real-anchor", 5392, REAL_ANCHOR)
            if conf:
                started.append(conf)
                r = lab.run("exec", DANESCAN, "check", "--resolver", "127.0.0.1:5392", "dane-ee.lab",
                            text=True, timeout=120)
                check(r.returncode == 3, "with the Internet's root anchor the lab does not validate: exit 3",
                      f"rc={r.returncode} {r.stdout[-300:]} {r.stderr[-500:]}")
        finally:
            for conf in started:
                lab.run("exec", RESOLVER, "stop", "--conf", conf)


if __name__ == "__main__":
    run_test(main)
