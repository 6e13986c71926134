#!/usr/bin/python3
"""Opt-out by name (issue 20): a lab scan with --probe all and a blocklist
file that mixes a comment, a domain name (covering the MX hosts under it) and
an MX host name. Every probe of an MX host covered by a listed name must be
`skipped` with the reason "MX host name in the blocklist (opted out)" and
must not have connected (0 attempts, no connect time, no banner); the other domains
of the same scan are probed as without the blocklist. Brings the lab up if it
is not (and down again). Ends with 'N passed, M failed'."""

import json
import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, LAB_SCAN_OPTIONS, Lab, TempDir, check, run_test  # noqa: E402

DOMAINS = ["dane-ee.lab", "multi-mx.lab", "dane-ta.lab", "shared-a.lab"]
REASON = "MX host name in the blocklist (opted out)"


def scan(lab, tmp, name, extra):
    out = os.path.join(tmp, f"{name}.jsonl")
    r = lab.run("exec", DANESCAN, "scan", *LAB_SCAN_OPTIONS, "--probe", "all", "--output", out, *extra,
                os.path.join(tmp, "domains.txt"), text=True, timeout=300)
    check(r.returncode == 0, f"scan ({name}): exit 0", r.stderr[-800:])
    with open(out) as f:
        return {rec["domain"]: rec for rec in (json.loads(line) for line in f if line.strip())}


def probes(rec):
    return [(h["host"], a) for h in rec.get("mx") or [] for a in h.get("addresses") or [] if a.get("probe")]


def main():
    with TempDir("danescan-optout-", public=True) as tmp, Lab() as lab:
        p = lab.ensure_up()
        if not check(lab.is_up(), "lab up", p.stderr.decode(errors="replace")[-1500:] if p else ""):
            return
        with open(os.path.join(tmp, "domains.txt"), "w") as f:
            f.write("\n".join(DOMAINS) + "\n")
        plain = scan(lab, tmp, "plain", [])
        hosts = {d: sorted({h for h, _ in probes(plain[d])}) for d in DOMAINS if d in plain}
        if not check(all(hosts.get(d) for d in DOMAINS), "without a blocklist every domain has probed MX hosts",
                     hosts):
            return
        listed_host = hosts["multi-mx.lab"][0]
        blocklist = os.path.join(tmp, "blocklist.txt")
        with open(blocklist, "w") as f:
            f.write(f"# opt-outs\nDANE-EE.lab.   # a domain: its MX hosts\n{listed_host}\n")
        blocked = scan(lab, tmp, "blocklist", ["--blocklist", blocklist])
        for d in DOMAINS:
            for host, a in probes(blocked.get(d, {})):
                covered = host.endswith(".dane-ee.lab") or host == "dane-ee.lab" or host == listed_host
                probe = a["probe"]
                if covered:
                    check(probe.get("result") == "skipped" and probe.get("reason") == REASON
                          and probe.get("attempts") == 0 and not probe.get("banner")
                          and (probe.get("timings_ms") or {}).get("connect") is None,
                          f"{d}: {host} {a.get('ip')} skipped, opted out, never connected", probe)
                else:
                    check(probe.get("result") != "skipped", f"{d}: {host} {a.get('ip')} probed as before",
                          probe)


if __name__ == "__main__":
    run_test(main)
