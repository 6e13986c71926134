#!/usr/bin/python3
"""Opt-out by name (issue 20), on the lab, with --probe all and a blocklist
file that mixes a comment, a domain name and an MX host name:

1. a domain that is listed (dane-ee.lab) or whose parent is listed
   (sub.dane-ee.lab) is never looked up: its record has status `skipped`
   with reason "blocklist" and no lookup facts, and a DNS forwarder of the
   test's own (dns_log_proxy.py, the scan's only resolver) saw no question
   for the name or any name under it, while it saw the other domains';
   scanned alone, the two names cost 0 probes and 0 SMTP connections, and
   with -v --verbose each is one debug line of the log (none without);
2. every probe of an MX host covered by a listed name (the listed MX host of
   multi-mx.lab) is `skipped` with the reason "MX host name in the blocklist
   (opted out)" and did not connect (0 attempts, no connect time, no
   banner); the other domains are probed as without the blocklist;
   with --metrics-file (no workers), the final metrics file counts the
   domains per status (skipped 2), the DNS queries the forwarder saw and
   the summary's SMTP connections;
3. the same through the database with two workers (the work queue path):
   the stored rows say `skipped`/`blocklist` for exactly the two names and
   link no MX host to them, again no question for them reached the
   forwarder, and the reports count them apart (headline "opted out",
   funnel "scanned" without them, domain_statuses category "opted out").

Brings the lab up if it is not (and down again); uses a private database.
Ends with 'N passed, M failed'."""

import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
from harness import (DANESCAN, HERE, LAB_SCAN_OPTIONS, SOURCE, Lab, PrivateDB, Processes, TempDir,  # noqa: E402
                     check, run_test)

DOMAINS = ["dane-ee.lab", "multi-mx.lab", "dane-ta.lab", "shared-a.lab"]
OPTED_OUT = ["dane-ee.lab", "sub.dane-ee.lab"]  # listed, and under a listed name
UNCHANGED = ["dane-ta.lab", "shared-a.lab"]  # multi-mx.lab's listed host is not probed: dane-unprobed
PROBE_REASON = "MX host name in the blocklist (opted out)"
PROXY = os.path.join(HERE, "dns_log_proxy.py")
REPORTS = os.path.join(SOURCE, "reports")


def under(name, parent):
    name, parent = name.rstrip(".").lower(), parent.rstrip(".").lower()
    return name == parent or name.endswith("." + parent)


def scan(lab, tmp, name, inputs, extra):
    out = os.path.join(tmp, f"{name}.jsonl")
    r = lab.run("exec", DANESCAN, "scan", *LAB_SCAN_OPTIONS, "--probe", "all", "--output", out, *extra, inputs,
                text=True, timeout=300)
    check(r.returncode == 0, f"scan ({name}): exit 0", r.stderr[-800:])
    records = {}
    if os.path.exists(out):
        with open(out) as f:
            records = {rec["domain"]: rec for rec in (json.loads(line) for line in f if line.strip())}
    return records, r.stderr


def probes(rec):
    return [(h["host"], a) for h in rec.get("mx") or [] for a in h.get("addresses") or [] if a.get("probe")]


def questions(log, start):
    """The questions the forwarder logged after byte offset start: [qname]."""
    with open(log) as f:
        f.seek(start)
        return [line.split()[0] for line in f if line.strip()]


def check_no_question(log, start, what):
    names = questions(log, start)
    leaked = [q for q in names if any(under(q, d) for d in OPTED_OUT)]
    check(not leaked, f"{what}: no DNS question for an opted-out name or a name under it", leaked[:10])
    others = {d for d in DOMAINS[1:] if any(under(q, d) for q in names)}
    check(others == set(DOMAINS[1:]), f"{what}: the forwarder saw the other domains' questions "
          f"({len(names)} questions)", sorted(others))


def check_skipped_records(records, what):
    for d in OPTED_OUT:
        rec = records.get(d, {})
        check(rec.get("status") == "skipped" and rec.get("reason") == "blocklist"
              and "mx" not in rec and "mx_lookup" not in rec,
              f"{what}: {d} is skipped (blocklist), with no lookup facts", rec)


def check_metrics(path, records, err, questions_seen):
    """--metrics-file of a scan in one process (JSON Lines only): its final
    file against the records, the summary and the forwarder's count."""
    if not check(os.path.exists(path), "--metrics-file without workers: the file is written"):
        return
    check(not [f for f in os.listdir(os.path.dirname(path)) if ".prom.tmp." in f], "no temporary file is left")
    values = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        key, value = line.rsplit(" ", 1)
        name, labels = key.split("{", 1)
        status = re.search(r'status="([^"]+)"', labels)
        values[(name, status.group(1) if status else None)] = float(value)
    by_status = {s: int(v) for (n, s), v in values.items() if n == "danescan_domains_total" and v > 0}
    want = {}
    for r in records.values():
        want[r["status"]] = want.get(r["status"], 0) + 1
    check(by_status == want and want.get("skipped") == 2, "metrics: domains per status as in the JSON Lines "
          "(skipped 2)", f"{by_status} != {want}")
    check(values.get(("danescan_domains_done_total", None)) == len(records)
          and values.get(("danescan_names", None)) == len(records)
          and values.get(("danescan_input_loaded", None)) == 1, "metrics: names, domains done, input loaded", values)
    check(values.get(("danescan_dns_queries_total", None)) == questions_seen > 0,
          f"metrics: DNS queries equal the questions the forwarder saw ({questions_seen})", values)
    m = re.search(r"(\d+) SMTP connections", err)
    check(m is not None and values.get(("danescan_smtp_connections_total", None)) == int(m.group(1)) > 0,
          "metrics: SMTP connections as in the summary", values)


def main():
    with TempDir("danescan-optout-", public=True) as tmp, Lab() as lab, Processes() as procs:
        p = lab.ensure_up()
        if not check(lab.is_up(), "lab up", p.stderr.decode(errors="replace")[-1500:] if p else ""):
            return
        inputs = os.path.join(tmp, "domains.txt")
        with open(inputs, "w") as f:
            f.write("\n".join(DOMAINS + OPTED_OUT[1:]) + "\n")
        plain, _ = scan(lab, tmp, "plain", inputs, [])
        hosts = {d: sorted({h for h, _ in probes(plain[d])}) for d in DOMAINS if d in plain}
        if not check(all(hosts.get(d) for d in DOMAINS), "without a blocklist every domain has probed MX hosts",
                     hosts):
            return
        # The premise of "no question under dane-ee.lab": no other domain of
        # the input names an MX host under it.
        if not check(not any(under(h, "dane-ee.lab") for d in DOMAINS[1:] for h in hosts[d]),
                     "no other input domain has an MX host under dane-ee.lab", hosts):
            return
        listed_host = hosts["multi-mx.lab"][0]
        blocklist = os.path.join(tmp, "blocklist.txt")
        with open(blocklist, "w") as f:
            f.write(f"# opt-outs\nDANE-EE.lab.   # a domain: itself, names under it, its MX hosts\n{listed_host}\n")

        # The scan's only resolver: a forwarder to the lab's Unbound that
        # writes down every question.
        log, port_file = os.path.join(tmp, "questions.log"), os.path.join(tmp, "proxy.port")
        procs.start(lab.in_ns("python3", PROXY, "--upstream", "127.0.0.1:53", "--log", log, "--port-file",
                              port_file), stdin=open(os.devnull), stdout=open(os.devnull, "w"),
                    stderr=open(os.path.join(tmp, "proxy.err"), "w"))
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not check(os.path.exists(port_file), "the DNS forwarder listens"):
            return
        resolver = ["--resolver", "127.0.0.1:" + open(port_file).read().strip()]

        start = os.path.getsize(log)
        metrics_file = os.path.join(tmp, "scan.prom")
        blocked, err = scan(lab, tmp, "blocklist", inputs, ["--blocklist", blocklist, *resolver,
                                                             "--metrics-file", metrics_file])
        check_skipped_records(blocked, "JSON Lines")
        check_no_question(log, start, "JSON Lines scan")
        check_metrics(metrics_file, blocked, err, len(questions(log, start)))
        check(re.search(r"^\s+skipped\s+2$", err, re.M) is not None, "the scan's summary counts 2 skipped domains",
              err[-800:])
        check("danescan: debug:" not in err, "without --verbose no debug line is logged", err[-800:])
        for d in UNCHANGED:
            check(blocked.get(d, {}).get("status") == plain[d]["status"],
                  f"{d}: {plain[d]['status']} as without the blocklist", blocked.get(d, {}).get("status"))
        for d in DOMAINS[1:]:
            for host, a in probes(blocked.get(d, {})):
                probe = a["probe"]
                if host == listed_host:
                    check(probe.get("result") == "skipped" and probe.get("reason") == PROBE_REASON
                          and probe.get("attempts") == 0 and not probe.get("banner")
                          and (probe.get("timings_ms") or {}).get("connect") is None,
                          f"{d}: {host} {a.get('ip')} skipped, opted out, never connected", probe)
                else:
                    check(probe.get("result") != "skipped", f"{d}: {host} {a.get('ip')} probed as before", probe)

        # The opted-out names alone: no probe, no SMTP connection (without
        # the blocklist dane-ee.lab's MX hosts are probed, see above).
        alone = os.path.join(tmp, "alone.txt")
        with open(alone, "w") as f:
            f.write("\n".join(OPTED_OUT) + "\n")
        start = os.path.getsize(log)
        records, err = scan(lab, tmp, "alone", alone, ["--blocklist", blocklist, *resolver, "-v", "--verbose"])
        check_skipped_records(records, "opted-out names alone")
        check("probes: 0 addresses, 0 SMTP connections" in err, "opted-out names alone: 0 probes, 0 SMTP connections",
              err[-800:])
        leaked = [q for q in questions(log, start) if any(under(q, d) for d in OPTED_OUT)]
        check(not leaked, "opted-out names alone: no DNS question for them", leaked)
        for d in OPTED_OUT:
            line = f"danescan: debug: {d}: skipped, not looked up: the blocklist names dane-ee.lab"
            check(re.search("^" + re.escape(line) + "$", err, re.M) is not None, f"-v -v logs the opt-out of {d}",
                  err[-800:])

        # Two workers fed by the database's work queue.
        with PrivateDB("test_optout", schema=True) as db:
            start = os.path.getsize(log)
            stored, _ = scan(lab, tmp, "workers", inputs, ["--blocklist", blocklist, *resolver, "--db", db.url,
                                                            "--scan-id", "optout", "--workers", "2"])
            check_skipped_records(stored, "workers' JSON Lines")
            check_no_question(log, start, "scan with 2 workers")
            rows = db.sql("SELECT domain, status, coalesce(skip_reason, '-'), tld, mx_count, "
                          "(SELECT count(*) FROM domain_mx m WHERE m.scan_id = d.scan_id AND m.seq = d.seq) "
                          "FROM domains d WHERE scan_id = 'optout' ORDER BY domain")
            got = {r[0]: r[1:] for r in rows}
            want = {d: ["skipped", "blocklist", "lab", "0", "0"] for d in OPTED_OUT}
            check({d: got.get(d) for d in OPTED_OUT} == want, "stored: the opted-out names are skipped (blocklist), "
                  "with no MX host", got)
            check(len(got) == len(DOMAINS) + 1 and all(got[d][0] == blocked[d]["status"] and got[d][1] == "-"
                                                       for d in DOMAINS[1:]),
                  "stored: the other domains have their status and no skip reason", got)
            _, rows = db.psql_file(os.path.join(REPORTS, "headline.sql"), scan_id="optout", previous_id="")
            figures = {r[0]: r[1] for r in rows}
            check(figures.get("domains scanned") == str(len(DOMAINS) - 1)
                  and any(k.startswith("opted out") and v == "2" for k, v in figures.items()),
                  "headline: the opted-out names are not scanned, and counted as opted out", figures)
            _, rows = db.psql_file(os.path.join(REPORTS, "funnel.sql"), scan_id="optout")
            check(rows and rows[0][:2] == ["scanned", str(len(DOMAINS) - 1)], "funnel: scanned leaves them out",
                  rows[:1])
            header, rows = db.psql_file(os.path.join(REPORTS, "domain_statuses.sql"), scan_id="optout",
                                        previous_id="")
            statuses = {r[0]: (r[1], r[2]) for r in rows}
            check(statuses.get("skipped") == ("opted out", "2"), "domain_statuses: skipped 2, category opted out",
                  statuses)


if __name__ == "__main__":
    run_test(main)
