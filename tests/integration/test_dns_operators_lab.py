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

Without --ns-lookup the scan asks no NS question at all. With --ns-lookup
(every scan below goes through dns_log_proxy.py, a forwarder to the lab's
Unbound that writes down every question):

4. the lab's list (inputs/lab-domains.txt) and a few names below a lab
   zone's apex scanned with --ns-lookup (--workers 0): NS questions for
   every valid name and no other (no parent walked up to), the metadata's
   ns_lookup counters agree, and domain_dns_operators holds, for exactly the
   names that are zone apexes in the lab and whose NS answer the resolver
   gives (the rest: SERVFAIL for broken chains of trust and lame servers,
   NODATA below an apex, NXDOMAIN), the operators of the NS records of
   that zone's file (STATE/lab/zones/NAME.zone); each JSON record says
   ns_source "lookup"; insecure answers count, names below an apex
   (NODATA) and bogus/failed lookups get no operator (the failed ones
   counted); reports/dns_operators_broken.sql equals the table
   computed from the records and those NS sets;
5. the zone input plus the list with --ns-lookup and 2 workers: NS
   questions for exactly the names without zone NS, the zone names keep
   their zone operators (ns_source "zone"), the list's names get the lab's.

Every scan writes --metrics-file: its danescan_ns_lookups_*_total counters
equal the metadata's ns_lookup counters (0 without --ns-lookup; the file of
one process and the supervisor's from the database). `danescan check
--ns-lookup` on a lab apex shows its DNS operators and NS targets in
"Lookups" as domain_dns_operators has them (--json: ns, ns_source,
ns_lookup), and on a name below an apex no NS records and no operator.

Uses scripts/db (a private database, dropped at the end) and the lab of
DANESCAN_LAB_NS (brought up when it is not; left as found)."""

import collections
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
from harness import (HERE, LAB_DOMAINS, LAB_SCAN_OPTIONS, SOURCE, Lab, PrivateDB, Processes, TempDir,  # noqa: E402
                     check, run_test)

DANE = ("dane-valid", "dane-partial", "dane-failed", "dane-unreachable", "tlsa-unusable", "dane-unprobed")
BROKEN = ("dane-failed", "dane-unreachable", "tlsa-unusable")
REPORT = os.path.join(SOURCE, "reports", "dns_operators_broken.sql")

PROXY = os.path.join(HERE, "dns_log_proxy.py")
NS_QTYPE = "2"

tmp_dir = TempDir("danescan-dnsops-", public=True)
tmp = tmp_dir.path
lab = Lab()
db = PrivateDB("test_dns_operators", schema=True)
procs = Processes()
resolver = []  # --resolver of the question-logging forwarder (main)
QUESTIONS = os.path.join(tmp, "questions.log")


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


def scan(scan_id, workers, extra=(), inputs=None):
    """A scan through the forwarder; returns (records, metadata, NS questions
    the forwarder saw during it: [qname without the trailing dot])."""
    out = os.path.join(tmp, f"{scan_id}.jsonl")
    meta = os.path.join(tmp, f"{scan_id}.meta.json")
    inputs = inputs or [os.path.join(tmp, "lab.zone"), os.path.join(tmp, "other.txt")]
    start = os.path.getsize(QUESTIONS)
    p = lab.danescan("scan", *LAB_SCAN_OPTIONS, *resolver, *extra, "--db", db.url, "--scan-id", scan_id,
                     "--workers", str(workers), "--output", out, "--metadata", meta,
                     "--metrics-file", metrics_path(scan_id), *inputs)
    err = p.stderr.decode(errors="replace")
    records = []
    if os.path.exists(out):
        with open(out) as f:
            records = [json.loads(line) for line in f if line.strip()]
    check(p.returncode == 0 and records, f"scan {scan_id} (--workers {workers}): exit 0, {len(records)} records",
          err[-2000:])
    check("Sanitizer" not in err and "runtime error" not in err, f"scan {scan_id}: no sanitizer report", err[-3000:])
    metadata = {}
    if os.path.exists(meta):
        with open(meta) as f:
            metadata = json.load(f)
    with open(QUESTIONS) as f:
        f.seek(start)
        asked = [line.split() for line in f if line.strip()]
    return records, metadata, [q[0].rstrip(".") for q in asked if len(q) == 2 and q[1] == NS_QTYPE]


def metrics_path(scan_id):
    return os.path.join(tmp, f"{scan_id}.prom")


def check_metrics(scan_id, metadata, what):
    """--metrics-file at the end of the scan: the NS-lookup counters
    (danescan_ns_lookups_*_total) equal the metadata's ns_lookup counters."""
    values = {}
    if os.path.exists(metrics_path(scan_id)):
        with open(metrics_path(scan_id)) as f:
            for line in f:
                m = re.match(r'(danescan_ns_lookups\w*)\{scan="([^"]*)"\} (\S+)$', line.strip())
                if m and m.group(2) == scan_id:
                    values[m.group(1)] = float(m.group(3))
    counters = metadata.get("ns_lookup") or {}
    want = {"danescan_ns_lookups_total": counters.get("lookups"),
            "danescan_ns_lookups_found_total": counters.get("found"),
            "danescan_ns_lookups_no_ns_total": counters.get("no_ns"),
            "danescan_ns_lookups_failed_total": counters.get("failed")}
    check(values == want and None not in want.values(),
          f"{what}: --metrics-file NS-lookup counters equal the metadata's ns_lookup ({counters})",
          f"{values} != {want}")


def danescan_check(*args):
    """`danescan check --ns-lookup ...` through the forwarder: (exit code,
    stdout, stderr)."""
    p = lab.danescan("check", "--allow-reserved", "--greeting-timeout-ms", "3000", *resolver, "--ns-lookup", *args)
    err = p.stderr.decode(errors="replace")
    check("Sanitizer" not in err and "runtime error" not in err, f"check {' '.join(args)}: no sanitizer report",
          err[-3000:])
    return p.returncode, p.stdout.decode(errors="replace"), err


def check_check(with_ns, ops, below_name):
    """check --ns-lookup: the explanation's "Lookups" names the NS lookup and
    each DNS operator with its targets as domain_dns_operators has them;
    --json has the scan's ns, ns_source and ns_lookup; a name below its
    zone's apex has no NS records and no operator."""
    code, out, err = danescan_check(with_ns)
    lookups = out.split("\nLookups:\n", 1)[1].split("\n\n", 1)[0] if "\nLookups:\n" in out else ""
    shown = {}
    for line in lookups.splitlines():
        m = re.match(r"    DNS operator (\S+): (.+)$", line)
        if m:
            shown[m.group(1)] = sorted(m.group(2).split())
    check(code in (0, 1) and f"  {with_ns} NS: " in lookups and shown == ops,
          f"check --ns-lookup {with_ns}: Lookups shows the NS lookup and the DNS operators {sorted(ops)} "
          "with their NS targets", f"exit {code}; {lookups!r}; {shown} != {ops}; {err[-1000:]}")
    code, out, err = danescan_check("--json", with_ns)
    try:
        record = json.loads(out)
    except ValueError:
        record = {}
    want_ns = sorted(h for hosts in ops.values() for h in hosts)
    check(code in (0, 1) and record.get("ns_source") == "lookup" and sorted(record.get("ns") or []) == want_ns
          and isinstance(record.get("ns_lookup"), dict),
          f"check --ns-lookup --json {with_ns}: ns, ns_source lookup and ns_lookup as a scan writes them",
          f"exit {code}; {out[-1500:]}; {err[-1000:]}")
    code, out, err = danescan_check(below_name)
    check(f"    no NS records at {below_name} (not a zone apex, or no such name): no DNS operator" in out
          and "DNS operator " not in out.replace("no DNS operator", ""),
          f"check --ns-lookup {below_name} (below an apex): no NS records, no DNS operator",
          f"exit {code}; {out[-1500:]}; {err[-1000:]}")
    plain = lab.danescan("check", "--allow-reserved", *resolver, with_ns).stdout.decode(errors="replace")
    check(f"{with_ns} NS:" not in plain and "DNS operator" not in plain,
          f"check {with_ns} without --ns-lookup: no NS lookup shown", plain[-1500:])


def start_proxy():
    """The scans' only resolver: a forwarder to the lab's Unbound that writes
    down every question (QUESTIONS)."""
    port_file = os.path.join(tmp, "proxy.port")
    procs.start(lab.in_ns("python3", PROXY, "--upstream", "127.0.0.1:53", "--log", QUESTIONS, "--port-file",
                          port_file), stdin=open(os.devnull), stdout=open(os.devnull, "w"),
                stderr=open(os.path.join(tmp, "proxy.err"), "w"))
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not check(os.path.exists(port_file), "the DNS forwarder listens"):
        return False
    resolver.extend(["--resolver", "127.0.0.1:" + open(port_file).read().strip()])
    return True


def operator_of(host):
    """The registrable domain of a lab name server: every lab name is under
    lab., org. or test. (public suffixes of one label), so its last two
    labels."""
    return ".".join(host.split(".")[-2:])


def lab_apex_ns(names):
    """{name: set of NS targets} for each name that is a zone apex in the
    lab: the NS records at the apex of STATE/lab/zones/NAME.zone."""
    out = {}
    for name in names:
        path = lab.path("zones", f"{name}.zone")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[3] == "NS" and parts[2] == "IN" and parts[0].lower() == name + ".":
                    out.setdefault(name, set()).add(parts[4].lower().rstrip("."))
    return out


def below_apex(limit):
    """Up to limit names that exist in a lab zone below its apex (an A
    record's owner, not itself a zone), one per zone: NS NODATA where the
    zone resolves."""
    zones = {f[:-len(".zone")] for f in os.listdir(lab.path("zones")) if f.endswith(".zone")}
    out = []
    for zone in sorted(zones):
        with open(lab.path("zones", f"{zone}.zone")) as f:
            for line in f:
                parts = line.split()
                owner = parts[0].lower().rstrip(".") if parts else ""
                if len(parts) >= 5 and parts[3] == "A" and owner.endswith("." + zone) and owner not in zones \
                        and owner not in out and re.fullmatch(r"[a-z0-9.-]+", owner):
                    out.append(owner)
                    break
        if len(out) == limit:
            break
    return out


def resolver_ns(names):
    """{name: (status, set of NS targets in the answer)} as the lab's
    Unbound answers the NS question of each name (dig in the namespace)."""
    args = [x for n in names for x in (n, "NS")]
    p = lab.run("exec", "dig", "+noall", "+comments", "+question", "+answer", "+tries=2", "+time=5", *args,
                timeout=600)
    out, status = {}, None
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.search(r"status: ([A-Z]+),", line)
        if m:
            status = m.group(1)
            continue
        m = re.match(r";(\S+)\.\s+IN\s+NS$", line)
        if m:
            current = m.group(1).lower()
            out[current] = (status, set())
            continue
        parts = line.split()
        if len(parts) >= 5 and parts[3] == "NS" and parts[0].lower().rstrip(".") in out:
            out[parts[0].lower().rstrip(".")][1].add(parts[4].lower().rstrip("."))
    return out


def lab_expectation(names):
    """{name: {operator: sorted NS targets}} for the names --ns-lookup must
    attribute: zone apexes in the lab whose NS answer the resolver gives
    (NOERROR with the zone file's NS set); and the answers, for the log."""
    apex = lab_apex_ns(names)
    answers = resolver_ns(names)
    expected = {}
    differ = [(n, sorted(answers[n][1]), sorted(t)) for n, t in apex.items()
              if answers.get(n, (None,))[0] == "NOERROR" and answers[n][1] != t]
    check(not differ, "each NOERROR NS answer of a zone apex is its zone file's NS set", str(differ[:5]))
    for name, targets in apex.items():
        status, answered = answers.get(name, (None, set()))
        if status != "NOERROR":
            continue
        ops = {}
        for t in targets:
            ops.setdefault(operator_of(t), []).append(t)
        expected[name] = {op: sorted(hosts) for op, hosts in ops.items()}
    return expected, answers


def stored(scan_id, sort_hosts=False):
    rows = db.sql("SELECT domain, operator, array_to_json(ns_hosts) FROM domain_dns_operators"
                  f" WHERE scan_id = '{scan_id}' ORDER BY domain, operator")
    out = collections.defaultdict(dict)
    for domain, operator, hosts in rows:
        out[domain][operator] = sorted(json.loads(hosts)) if sort_hosts else json.loads(hosts)
    return dict(out)


def diff_text(got, want):
    diff = [d for d in sorted(set(got) | set(want)) if got.get(d) != want.get(d)]
    return diff, "; ".join(f"{d}: stored {got.get(d)} want {want.get(d)}" for d in diff[:5])


def check_report(scan_id, records, expected, what):
    header, rows = db.psql_file(REPORT, scan_id=scan_id)
    rows = [[None if v == db.NULL else v for v in r] for r in rows]
    want_rows = expected_report(records, expected)
    check(rows == want_rows, f"{what}: dns_operators_broken equals the counts from the records ({len(rows)} rows: "
          f"{', '.join(f'{r[0]} {r[1]}/{r[3]}' for r in rows[:4])}, ...)", f"psql {rows}\nwant {want_rows}")
    return rows


def check_lookup_records(records, looked_up, expected, what):
    """JSON: ns and ns_source "lookup" for the attributed names, an
    ns_lookup object for every name looked up, none for the others."""
    bad = []
    for r in records:
        d = r["domain"]
        ns = r.get("ns")
        if d in looked_up:
            want_ns = sorted(h for hosts in expected.get(d, {}).values() for h in hosts)
            if not isinstance(r.get("ns_lookup"), dict) or sorted(ns or []) != want_ns or \
                    (r.get("ns_source") != "lookup" if want_ns else "ns_source" in r):
                bad.append((d, ns, r.get("ns_source"), r.get("ns_lookup")))
        elif "ns_lookup" in r or (ns and r.get("ns_source") != "zone"):
            bad.append((d, ns, r.get("ns_source"), r.get("ns_lookup")))
    check(not bad, f"{what}: JSON ns, ns_source and ns_lookup as documented ({len(looked_up)} looked up)",
          str(bad[:5]))


def check_counters(metadata, looked_up, expected, asked, what):
    counters = metadata.get("ns_lookup") or {}
    check(counters.get("lookups") == len(looked_up) == len(set(asked)) and counters.get("found") == len(expected)
          and counters.get("lookups") == counters.get("found", 0) + counters.get("no_ns", 0)
          + counters.get("failed", 0),
          f"{what}: metadata ns_lookup counters {counters} = one lookup per name without zone NS "
          f"({len(looked_up)}), {len(expected)} with NS", f"{len(set(asked))} names asked")


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
    if not start_proxy():
        return

    records, metadata, asked = scan("ops-one", 0)
    check(not asked, "without --ns-lookup no NS question is asked", asked[:10])
    check((metadata.get("ns_lookup") or {}).get("lookups") == 0, "without --ns-lookup the metadata counts 0 NS "
          "lookups", str(metadata.get("ns_lookup")))
    check_metrics("ops-one", metadata, "without --ns-lookup")
    check(all(r.get("ns_source") == "zone" for r in records if r["domain"] in expected)
          and not any("ns" in r or "ns_lookup" in r for r in records if r["domain"] not in expected),
          "JSON: the zone's names have ns_source zone, the list's names no ns")
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

    _, _, asked = scan("ops-queue", 2)
    check(stored("ops-queue") == got, "the queued scan (2 workers, through scan_inputs) stores the same operators")
    check(not asked, "2 workers without --ns-lookup: no NS question", asked[:10])

    # --ns-lookup on the lab's list: the expectation from the lab's zones.
    with open(LAB_DOMAINS) as f:
        names = [n for n in (line.split("#")[0].strip() for line in f) if n]
    candidates = below_apex(12)
    answered = resolver_ns(candidates)
    below = [n for n in candidates if answered.get(n, ("",))[0] == "NOERROR" and not answered[n][1]][:4]
    with open(os.path.join(tmp, "below.txt"), "w") as f:
        f.write("\n".join(below) + "\n")
    records, metadata, asked = scan("ops-lookup", 0, ["--ns-lookup"], [LAB_DOMAINS, os.path.join(tmp, "below.txt")])
    looked_up = {r["domain"] for r in records if r["status"] != "invalid-name"}
    lab_ops, answers = lab_expectation(sorted(looked_up))
    statuses = collections.Counter(a[0] for a in answers.values())
    check(len(lab_ops) >= 20 and statuses["SERVFAIL"] > 0 and statuses["NXDOMAIN"] > 0 and len(below) >= 2
          and all(answers.get(n, ("",))[0] == "NOERROR" and not answers[n][1] for n in below),
          f"the lab list and {len(below)} names below an apex ({', '.join(below)}): {len(lab_ops)} zone apexes "
          f"with an NS answer, {len(looked_up) - len(lab_ops)} without (resolver: {dict(statuses)})")
    # One lookup per name; a SERVFAIL's CD=1 repeat and retries are more
    # questions of the same lookup (the client's rules), never another name.
    repeated = sorted(q for q, c in collections.Counter(asked).items() if c > 1)
    check(set(asked) == looked_up, f"--ns-lookup: NS questions for every valid name of the list and no other "
          f"({len(looked_up)} names, {len(asked)} questions; asked again by the client's retry rules: "
          f"{len(repeated)} names)",
          f"extra {sorted(set(asked) - looked_up)[:5]} missing {sorted(looked_up - set(asked))[:5]}")
    check_counters(metadata, looked_up, lab_ops, asked, "--ns-lookup")
    check_metrics("ops-lookup", metadata, "--ns-lookup")
    got = stored("ops-lookup", sort_hosts=True)
    diff, text = diff_text(got, lab_ops)
    check(not diff, f"--ns-lookup: domain_dns_operators holds the operators of the lab zones' NS records "
          f"({sum(len(v) for v in got.values())} rows, {len(got)} domains; "
          f"{', '.join(sorted({op for v in got.values() for op in v}))})", text)
    check_lookup_records(records, looked_up, lab_ops, "--ns-lookup")
    by_name = {r["domain"]: r for r in records}
    nodata = [(n, by_name.get(n, {}).get("ns_lookup")) for n in below]
    check(all(lookup and lookup.get("rcode") == "NOERROR" and lookup.get("dnssec") in ("secure", "insecure")
              and "ns" not in by_name[n] for n, lookup in nodata),
          "--ns-lookup: a name below its zone's apex (NODATA) has no NS and no operator; the tree is not walked up",
          str(nodata))
    insecure = sorted(d for d in lab_ops if (by_name.get(d, {}).get("ns_lookup") or {}).get("dnssec") == "insecure")
    check(insecure, f"--ns-lookup: insecure NS answers are attributed too ({', '.join(insecure)})")
    failed = sorted(d for d in looked_up if (by_name[d].get("ns_lookup") or {}).get("dnssec") in ("bogus", "failed"))
    check(len(failed) == metadata.get("ns_lookup", {}).get("failed") and not any(d in lab_ops for d in failed),
          f"--ns-lookup: bogus and failed NS lookups give no operator and are counted ({', '.join(failed)})")
    # check --ns-lookup on a zone apex with several operators when there is
    # one (else any), and on a name below an apex.
    apex = max(sorted(lab_ops), key=lambda d: len(lab_ops[d]))
    check_check(apex, {op: sorted(h) for op, h in lab_ops[apex].items()}, below[0])
    rows = check_report("ops-lookup", records, lab_ops, "--ns-lookup")
    check(any(r[0] != "(no NS data)" and int(r[3]) > 0 for r in rows),
          "--ns-lookup: the report attributes DANE domains to DNS operators", str(rows[:3]))

    # Zone and list, 2 workers: only the names without zone NS are looked up.
    records, metadata, asked = scan("ops-mixed", 2, ["--ns-lookup"])
    listed = {r["domain"] for r in records if r["status"] != "invalid-name" and r["domain"] not in expected}
    check(set(asked) == listed, f"--ns-lookup, 2 workers: NS questions for exactly the {len(listed)} "
          f"names without zone NS ({len(asked)} questions)",
          f"extra {sorted(set(asked) - listed)[:5]} missing {sorted(listed - set(asked))[:5]}")
    want_listed = {d: ops for d, ops in lab_ops.items() if d in listed}
    check_counters(metadata, listed, want_listed, asked, "--ns-lookup, 2 workers")
    check_metrics("ops-mixed", metadata, "--ns-lookup, 2 workers")
    got = stored("ops-mixed", sort_hosts=True)
    want = {d: {op: sorted(h) for op, h in ops.items()} for d, ops in expected.items()}
    want.update(want_listed)
    diff, text = diff_text(got, want)
    check(not diff, f"--ns-lookup, 2 workers: zone operators for the zone's names, the lab's for the list's "
          f"({len(got)} domains)", text)
    check_lookup_records(records, listed, want_listed, "--ns-lookup, 2 workers")


run_test(main, tmp_dir, lab, db, procs)
