#!/usr/bin/python3
"""danescan against the lab world, DNS-only mode (--probe none): for every
case of tests/lab/cases.txt, the domain status, the DNSSEC state of the MX
lookup, each MX host's status and the DNS-decided host flags must equal the
case's expectation (`scripts/lab expect`). Also: the resolver self-check
refuses a non-validating resolver, the metadata file agrees with the
records, a second run over the same input gives the same verdicts, and bad
input lines become invalid-name records without stopping the scan.

Brings the lab up if it is not (and takes it down again, also on failure).
Ends with 'N passed, M failed'."""

import json
import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, Lab, TempDir, check, run, run_test  # noqa: E402

DNS_FLAGS = {"nxdomain", "target-is-tld", "target-is-localhost", "ancestor-nxdomain",
             "tlsa-at-original-name", "tlsa-insecure", "a-lookup-failed", "aaaa-lookup-failed"}

# The shared lab (DANESCAN_LAB_NS, DANESCAN_STATE); taken down at the end if
# this test brought it up.
lab = Lab()
tmp = TempDir("danescan-scanlab-")


def scan(inputs, *options):
    out = os.path.join(tmp.path, "out.jsonl")
    meta = os.path.join(tmp.path, "meta.json")
    for stale in (out, meta):
        if os.path.exists(stale):
            os.unlink(stale)
    p = run(*lab.in_ns(DANESCAN, "scan", "--probe", "none", "--no-progress",
                       "--output", out, "--metadata", meta, *options, *inputs))
    records = []
    if os.path.exists(out):
        with open(out) as f:
            records = [json.loads(line) for line in f]
    metadata = None
    if os.path.exists(meta):
        with open(meta) as f:
            metadata = json.load(f)
    return p, records, metadata


def compare_cases(records, expectations, label):
    by_domain = {r["domain"]: r for r in records}
    for exp in expectations:
        domain = exp["domain"]
        rec = by_domain.get(domain)
        if not check(rec is not None, f"{label}: {domain} has a record"):
            continue
        check(rec["status"] == exp["status"], f"{label}: {domain} status {exp['status']}",
              f"got {rec['status']}")
        lookup = rec.get("mx_lookup") or {}
        if exp.get("mx_dnssec") is not None and exp["status"] != "invalid-name":
            check(lookup.get("dnssec") == exp["mx_dnssec"],
                  f"{label}: {domain} MX lookup {exp['mx_dnssec']}", f"got {lookup.get('dnssec')}")
        hosts = {h["host"]: h for h in rec.get("mx", [])}
        got_hosts = {name: h["status"] for name, h in hosts.items()}
        check(got_hosts == exp["hosts"], f"{label}: {domain} hosts {exp['hosts']}", f"got {got_hosts}")
        for name in exp["hosts"]:
            want_flags = set(exp.get("flags", {}).get(name, []))
            got_flags = set(hosts.get(name, {}).get("flags", [])) & DNS_FLAGS
            check(got_flags == want_flags & DNS_FLAGS, f"{label}: {domain} host {name} flags {sorted(want_flags)}",
                  f"got {sorted(got_flags)}")
        # Hosts with usable secure TLSA are handed on with their records.
        for h in rec.get("mx", []):
            if h["status"] == "dane-unprobed":
                check(any(t["usable"] for t in h["tlsa"]) and h["addresses"],
                      f"{label}: {domain} host {h['host']} carries addresses and usable TLSA")


def main():
    p = lab.ensure_up()
    if p is not None and not check(p.returncode == 0, "lab comes up", p.stderr.decode()[-2000:]):
        return
    expectations = [json.loads(line) for line in lab.run("expect").stdout.decode().splitlines()]
    check(len(expectations) > 40, f"lab has {len(expectations)} cases")
    domains_file = os.path.join(tmp.path, "domains.txt")
    with open(domains_file, "w") as f:
        for exp in expectations:
            f.write(exp["domain"] + "\n")

    p, records, metadata = scan([domains_file])
    check(p.returncode == 0, "scan exits 0", p.stderr.decode()[-3000:])
    check(len(records) == len(expectations), f"one record per domain ({len(records)})")
    check("validates DNSSEC" in p.stderr.decode(), "resolver self-check passed and said so")
    compare_cases(records, expectations, "first pass")
    if check(metadata is not None, "metadata written"):
        counts = {}
        for r in records:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        check(all(metadata["status_counts"].get(s, 0) == n for s, n in counts.items())
              and sum(metadata["status_counts"].values()) == len(records),
              "metadata status counts equal the records'")
        check(metadata["complete"] is True and metadata["inputs"][0]["sha256"] is not None,
              "metadata: complete, input checksum")
    # Every record is one whole JSON object and seq values are distinct.
    seqs = [r["input"]["seq"] for r in records]
    check(sorted(seqs) == list(range(len(records))), "input.seq covers 0..n-1 once each")

    # Warm pass: answers from the resolver's cache give the same verdicts,
    # with host and zone caches of one entry (util/name_cache.h): hosts and
    # zones that no domain in flight holds are evicted and looked up again.
    p, records2, metadata2 = scan([domains_file], "--concurrency", "3", "--host-cache", "1")
    check(p.returncode == 0, "second (warm, low concurrency, --host-cache 1) scan exits 0",
          p.stderr.decode()[-3000:])
    compare_cases(records2, expectations, "warm pass")
    if check(metadata2 is not None, "warm pass: metadata written"):
        hosts, zones = metadata2["mx_host_cache"], metadata2["zone_cache"]
        check(hosts["evicted"] > 0 and zones["evicted"] > 0 and hosts["resolved"] > hosts["evicted"],
              f"warm pass: the one-entry caches evicted ({hosts['evicted']} hosts of {hosts['resolved']}"
              f" resolved, {zones['evicted']} zones of {zones['resolved']})", json.dumps([hosts, zones]))

    # Bad input: the scan goes on, bad names are recorded invalid-name.
    bad_file = os.path.join(tmp.path, "bad.txt")
    with open(bad_file, "wb") as f:
        f.write(b"# comment\n\n   \nDANE-EE.LAB.\n" + b"a" * 64 + b".lab\n" +
                (b"abc." * 70) + b"lab\n" + "b\u00fccher.lab\n".encode() + b"\x01\xff\xfe garbage\n" +
                b"null-mx.lab\n")
    p, records, metadata = scan([bad_file])
    check(p.returncode == 0, "scan of bad input exits 0", p.stderr.decode()[-2000:])
    statuses = sorted((r["status"]) for r in records)
    valid = {r["domain"]: r["status"] for r in records if r["status"] != "invalid-name"}
    check(valid == {"dane-ee.lab": "dane-unprobed", "null-mx.lab": "null-mx"},
          "upper case and trailing dot normalised; good names scanned", str(valid))
    check(statuses.count("invalid-name") >= 3, "over-long label, over-long name, non-ASCII are invalid-name",
          str(statuses))
    check(all(r.get("reason") for r in records if r["status"] == "invalid-name"),
          "every invalid-name record has a reason")
    err = p.stderr.decode()
    check("bad.txt:5" in err and "bad.txt:7" in err, "bad lines reported with file and line", err[-1500:])

    # A file with NUL bytes is refused as binary with a clear message.
    nul_file = os.path.join(tmp.path, "nul.txt")
    with open(nul_file, "wb") as f:
        f.write(b"dane-ee.lab\n\x00\x00\x00binary\n")
    p, records, _ = scan([nul_file])
    check(p.returncode == 2 and "nul.txt" in p.stderr.decode() and not records,
          "binary input refused naming the file", p.stderr.decode()[-500:])

    # A resolver that does not validate is refused (exit 3, clear message):
    # the lab's NSD leaf server answers without AD and without recursion.
    p, records, _ = scan([domains_file], "--resolver", "127.53.0.3")
    check(p.returncode == 3 and "does not validate" in p.stderr.decode() and not records,
          "non-validating resolver refused", p.stderr.decode()[-1000:])


run_test(main, tmp, lab)
