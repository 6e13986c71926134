#!/usr/bin/python3
"""DNS-operator attribution (issue 17, migration 017) on a lab scan whose
answers are known: the test writes a zone-file input delegating the lab's
.lab domains (inputs/lab-domains.txt) with NS records it chooses, and a list
input with the other names (no NS data). The NS records are not looked up;
only the scan's statuses come from the lab (JSON Lines records). Then:

1. domain_dns_operators holds, per domain of the zone input, exactly one row
   per operator with its NS targets: the registrable domain by the Public
   Suffix List (ns2.second-dns.co.uk -> second-dns.co.uk, not co.uk; a
   target named co.uk has none: ''), for text, relative and generic (RFC
   3597) NS records and for several operators per domain; none for the
   list's names;
2. reports/dns_operators_broken.sql equals the table computed here from the
   records and the chosen NS sets (DANE and broken domains per operator,
   the "(no NS data)" row for the list's DANE domains);
3. the same inputs scanned through the work queue (--workers 2, the names
   travel through scan_inputs) store the same operator rows.

Uses scripts/db (a private database, dropped at the end) and the lab of
DANESCAN_LAB_NS (brought up when it is not; left as found)."""

import collections
import json
import os
import re
import sys

sys.dont_write_bytecode = True
from harness import (LAB_DOMAINS, LAB_SCAN_OPTIONS, SOURCE, Lab, PrivateDB, TempDir, check,  # noqa: E402
                     run_test)

DANE = ("dane-valid", "dane-partial", "dane-failed", "dane-unreachable", "tlsa-unusable", "dane-unprobed")
BROKEN = ("dane-failed", "dane-unreachable", "tlsa-unusable")
REPORT = os.path.join(SOURCE, "reports", "dns_operators_broken.sql")

tmp_dir = TempDir("danescan-dnsops-", public=True)
tmp = tmp_dir.path
lab = Lab()
db = PrivateDB("test_dns_operators", schema=True)


def wire_hex(name):
    """An absolute name in RFC 3597 generic rdata: hex of its wire form."""
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return (out + b"\0").hex()


def write_inputs():
    """The zone and list inputs; returns ({domain: {operator: [ns hosts]}},
    list names). Domain i of the .lab names gets: ns1.hosting.lab (text, or
    generic form when i % 4 == 1), plus ns2.second-dns.co.uk when i % 3 ==
    0, plus the relative ns.<label>-dns (completed with the origin: an
    operator of its own, <label>-dns.lab) when i % 5 == 2, plus a target
    named co.uk (no registrable domain) when i % 7 == 3."""
    with open(LAB_DOMAINS) as f:
        names = [line.split("#")[0].strip() for line in f]
    names = [n for n in names if n]
    zone_names = [n for n in names if re.fullmatch(r"[a-z0-9-]+\.lab", n)]
    other = [n for n in names if n not in zone_names]
    expected = {}
    lines = ["$ORIGIN lab.", "$TTL 3600", "@ IN SOA a.nic.lab. hostmaster.lab. 1 3600 600 86400 60",
             "@ IN NS a.nic.lab."]
    for i, name in enumerate(dict.fromkeys(zone_names)):
        label = name[:-len(".lab")]
        ops = collections.OrderedDict()
        if i % 4 == 1:
            lines.append(f"{label} IN TYPE2 \\# {len(wire_hex('ns1.hosting.lab')) // 2} {wire_hex('ns1.hosting.lab')}")
        else:
            lines.append(f"{label} 3600 IN NS ns1.hosting.lab.")
        ops.setdefault("hosting.lab", []).append("ns1.hosting.lab")
        if i % 5 == 2:
            lines.append(f"\tIN NS ns.{label}-dns")  # owner-less, relative
            ops.setdefault(f"{label}-dns.lab", []).append(f"ns.{label}-dns.lab")
        lines.append(f"ns1.{label} IN A 192.0.2.1")  # glue-like: below the delegation, skipped
        if i % 3 == 0:
            lines.append(f"{label} IN NS NS2.Second-DNS.co.uk.")
            ops.setdefault("second-dns.co.uk", []).append("ns2.second-dns.co.uk")
        if i % 7 == 3:
            lines.append(f"{label} IN NS co.uk.")
            ops.setdefault("", []).append("co.uk")
        lines.append(f"{label} IN NS ns1.hosting.lab.")  # the same target again: once
        expected[name] = ops
    with open(os.path.join(tmp, "lab.zone"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(tmp, "other.txt"), "w") as f:
        f.write("\n".join(other) + "\n")
    return expected, other


def scan(scan_id, workers):
    out = os.path.join(tmp, f"{scan_id}.jsonl")
    p = lab.danescan("scan", *LAB_SCAN_OPTIONS, "--db", db.url, "--scan-id", scan_id, "--workers", str(workers),
                     "--output", out, os.path.join(tmp, "lab.zone"), os.path.join(tmp, "other.txt"))
    err = p.stderr.decode(errors="replace")
    records = []
    if os.path.exists(out):
        with open(out) as f:
            records = [json.loads(line) for line in f if line.strip()]
    check(p.returncode == 0 and records, f"scan {scan_id} (--workers {workers}): exit 0, {len(records)} records",
          err[-2000:])
    check("Sanitizer" not in err and "runtime error" not in err, f"scan {scan_id}: no sanitizer report", err[-3000:])
    return records


def stored(scan_id):
    rows = db.sql("SELECT domain, operator, array_to_json(ns_hosts) FROM domain_dns_operators"
                  f" WHERE scan_id = '{scan_id}' ORDER BY domain, operator")
    out = collections.defaultdict(dict)
    for domain, operator, hosts in rows:
        out[domain][operator] = json.loads(hosts)
    return dict(out)


def expected_report(records, expected):
    """reports/dns_operators_broken.sql computed from the records."""
    status = {r["domain"]: r["status"] for r in records}
    per = collections.defaultdict(lambda: [0, 0, 0])  # broken, dane-failed, dane
    no_ns = [0, 0, 0]
    for domain, st in status.items():
        if st not in DANE:
            continue
        ops = expected.get(domain)
        for counts in ([per["(public suffix)" if op == "" else op] for op in ops] if ops else [no_ns]):
            counts[0] += st in BROKEN
            counts[1] += st == "dane-failed"
            counts[2] += 1

    def row(op, c):
        pct = None if c[2] == 0 else f"{round(100.0 * c[0] / c[2] + 1e-9, 1):.1f}"
        return [op, str(c[0]), str(c[1]), str(c[2]), pct]
    ranked = sorted(per.items(), key=lambda kv: (-kv[1][0], -kv[1][2], kv[0].encode()))[:20]
    return ([row("(no NS data)", no_ns)] if no_ns[2] else []) + [row(op, c) for op, c in ranked]


def main():
    db.open()
    lab.ensure_up(mail=True, strict=True)
    expected, other = write_inputs()
    check(len(expected) >= 20 and other, f"inputs: {len(expected)} delegations in the zone, {len(other)} listed")

    records = scan("ops-one", 0)
    got = stored("ops-one")
    want = {d: dict(ops) for d, ops in expected.items()}
    diff = [d for d in sorted(set(got) | set(want)) if got.get(d) != want.get(d)]
    check(not diff, f"domain_dns_operators: one row per operator of each zone domain, with its NS targets "
          f"({sum(len(v) for v in got.values())} rows, {len(got)} domains)",
          "; ".join(f"{d}: stored {got.get(d)} want {want.get(d)}" for d in diff[:5]))
    listed = db.sql("SELECT count(*) FROM domain_dns_operators o JOIN domains d USING (scan_id, seq)"
                    f" WHERE o.scan_id = 'ops-one' AND d.domain IN ({','.join(repr(n) for n in other)})")
    check(listed == [["0"]], "no operator rows for the list input's names (no NS data)", str(listed))
    check(any(len(ops) > 1 for ops in got.values()) and any("" in ops for ops in got.values()),
          "the fixture has domains with several operators and a target without a registrable domain")

    header, rows = db.psql_file(REPORT, scan_id="ops-one")
    want_rows = expected_report(records, expected)
    check(header == ["operator", "broken_domains", "dane_failed", "dane_domains", "pct_broken"],
          "dns_operators_broken: columns", str(header))
    rows = [[None if v == db.NULL else v for v in r] for r in rows]
    statuses = collections.Counter(r["status"] for r in records)
    check(statuses["dane-valid"] > 0 and sum(statuses[s] for s in BROKEN) > 0,
          f"the lab scan has valid and broken DANE domains ({dict(statuses)})")
    check(rows == want_rows, f"dns_operators_broken equals the counts from the records ({len(rows)} rows: "
          f"{', '.join(f'{r[0]} {r[1]}/{r[3]}' for r in rows[:4])}, ...)",
          f"psql {rows}\nwant {want_rows}")
    broken = sum(int(r[1]) for r in rows if r[0] != "(no NS data)")
    check(rows and rows[0][0] == "(no NS data)" and broken > 0,
          f"the report has the no-NS row first and broken domains attributed ({broken})", str(rows[:3]))

    scan("ops-queue", 2)
    check(stored("ops-queue") == got, "the queued scan (2 workers, through scan_inputs) stores the same operators")


run_test(main, tmp_dir, lab, db)
