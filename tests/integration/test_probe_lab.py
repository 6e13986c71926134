#!/usr/bin/python3
"""danescan with STARTTLS probes against the lab's mail servers:
`danescan scan --probe dane --allow-reserved` over every case of
tests/lab/cases.txt; for each case the domain status, every MX host status
and every probed address's `probe.result` must equal the case's probe
expectations (`scripts/lab expect` -> "probe": status, hosts, addresses),
the probe flags (partial-algorithm-coverage, expires-soon) must be exactly
those declared, the rollover hazards exactly those of probe.hazards (for the
hosts listed there), the declared rollover words must match, DNS-only facts
(mx_dnssec, DNS flags) must not change, and no host outside the
expectations may be authenticated. A second scan with --no-key-types must
give the same first-handshake verdicts.

Skips (exit 0, with a message) when the scanner has no --allow-reserved
(no probing yet). Brings the lab up if it is not up (and down again, also on
failure). Ends with 'N passed, M failed'."""

import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, Lab, TempDir, check, run_test  # noqa: E402
import labprobe  # noqa: E402

PROBE_FLAGS = {"partial-algorithm-coverage", "expires-soon"}
# Rollover hazards (issue 19): exactly those of probe.hazards, for the hosts
# a case lists there (the scan gets the lab's public root as --ca-file).
HAZARD_FLAGS = {"ee-selector-0", "ta-public-intermediate", "single-key", "leaf-expires-soon",
                "rrsig-expires-soon"}
DNS_FLAGS = {"nxdomain", "target-is-tld", "target-is-localhost", "ancestor-nxdomain",
             "tlsa-at-original-name", "tlsa-insecure", "a-lookup-failed", "aaaa-lookup-failed"}

# The shared lab (DANESCAN_LAB_NS, DANESCAN_STATE); taken down at the end if
# this test brought it up.
lab = Lab()
tmp = TempDir("danescan-probelab-")


def compare(records, exps, label, key_types=True):
    for e in exps:
        d = e["domain"]
        r = records.get(d)
        if not check(r is not None, f"{label}: {d} has a record"):
            continue
        pe = e["probe"]
        check(r["status"] == pe["status"], f"{label}: {d} status {pe['status']}", f"got {r['status']}")
        if e["status"] != "invalid-name" and e.get("mx_dnssec") is not None:
            check((r.get("mx_lookup") or {}).get("dnssec") == e["mx_dnssec"],
                  f"{label}: {d} MX lookup still {e['mx_dnssec']}")
        hosts = labprobe.host_objects(r)
        got_hosts = {h: o["status"] for h, o in hosts.items()}
        check(got_hosts == pe["hosts"], f"{label}: {d} hosts {pe['hosts']}", f"got {got_hosts}")
        probes = labprobe.address_probes(r)
        for h, per in pe["addresses"].items():
            got = {ip: (p or {}).get("result") for ip, p in probes.get(h, {}).items()}
            detail = {ip: (p or {}).get("reason") for ip, p in probes.get(h, {}).items()
                      if (p or {}).get("result") != per.get(ip)}
            check(got == per, f"{label}: {d} {h} addresses {per}", f"got {got} {detail}")
        # Hosts without probe expectations: never authenticated.
        for h, per in probes.items():
            if h not in pe["addresses"]:
                bad = [ip for ip, p in per.items() if (p or {}).get("result") == "authenticated"]
                check(not bad, f"{label}: {d} {h} (not a probed DANE host) has no authenticated address",
                      str(bad))
        for h, o in hosts.items():
            flags = set(o.get("flags") or [])
            want_dns = set(e.get("flags", {}).get(h, [])) & DNS_FLAGS
            check(flags & DNS_FLAGS == want_dns, f"{label}: {d} {h} DNS flags {sorted(want_dns)}",
                  f"got {sorted(flags & DNS_FLAGS)}")
            if key_types:
                want = set(pe.get("flags", {}).get(h, [])) & PROBE_FLAGS
                check(flags & PROBE_FLAGS == want, f"{label}: {d} {h} probe flags {sorted(want)}",
                      f"got {sorted(flags & PROBE_FLAGS)}")
            if key_types and h in pe.get("hazards", {}):
                want = set(pe["hazards"][h])
                check(flags & HAZARD_FLAGS == want, f"{label}: {d} {h} hazards {sorted(want)}",
                      f"got {sorted(flags & HAZARD_FLAGS)}")
        for h, word in pe.get("rollover", {}).items():
            check((hosts.get(h) or {}).get("rollover") == word, f"{label}: {d} {h} rollover {word}",
                  f"got {(hosts.get(h) or {}).get('rollover')}")


def main():
    if not os.access(DANESCAN, os.X_OK) or not labprobe.scanner_probes(DANESCAN):
        print(f"SKIP: {DANESCAN} does not probe yet (no --allow-reserved in `scan --help`)")
        return
    p = lab.ensure_up(mail=True)
    if not check(p is None or p.returncode == 0, "lab is up with its mail servers",
                 "" if p is None else p.stderr.decode(errors="replace")[-3000:]):
        return
    port = labprobe.hosts().get("smtp_port", 25)
    exps = labprobe.expectations()
    check(sum(1 for e in exps if e["probe"]["addresses"]) >= 40,
          "at least 40 cases with probed addresses")
    words = {res for e in exps for per in e["probe"]["addresses"].values() for res in per.values()}
    want_words = {"authenticated", "tlsa-mismatch", "name-mismatch", "cert-expired", "no-starttls",
                  "starttls-refused", "tls-failed", "smtp-failed", "connect-failed", "timeout",
                  "unauthenticated-tls"}
    check(want_words <= words, "the cases cover every probe outcome", str(sorted(want_words - words)))
    opts = labprobe.scan_options(DANESCAN, port)
    domains = [e["domain"] for e in exps]

    p, records = labprobe.scan(DANESCAN, domains, tmp.path,
                               opts + ["--metadata", os.path.join(tmp.path, "m.json")])
    check(p.returncode == 0, "scan --probe dane exits 0", p.stderr.decode(errors="replace")[-2000:])
    check(len(records) == len(exps), f"one record per case ({len(records)}/{len(exps)})")
    compare(records, exps, "probe dane")

    # Only the first (unrestricted) handshake decides the address result:
    # without the per-key-type sessions the verdicts are the same.
    p, records = labprobe.scan(DANESCAN, domains, tmp.path, opts + ["--no-key-types"])
    check(p.returncode == 0, "scan --probe dane --no-key-types exits 0",
          p.stderr.decode(errors="replace")[-2000:])
    compare(records, exps, "no-key-types", key_types=False)


run_test(main, tmp, lab)
