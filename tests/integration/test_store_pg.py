#!/usr/bin/python3
"""PostgreSQL store: migrations (and re-running them), the SQL enums equal
the C status table, a lab scan with --db and --output stores every domain
with the status of its JSON Lines record (hosts, TLSA, addresses too), a scan
id cannot be stored twice, the views answer, names with quotes and
backslashes round-trip, hostile bytes are stored sanitised, the reader role
reads and cannot write.

Uses scripts/db (a private database, dropped at the end) and a private lab
namespace (scripts/lab with DANESCAN_LAB_NS=danescan-store); starts what is
not running and stops what it started, also on failure."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, SOURCE, PrivateDB, TempDir, check, run, run_test, store_lab  # noqa: E402

tmp_dir = TempDir("danescan-store_pg-", public=True)
tmp = tmp_dir.path
lab = store_lab()
db = PrivateDB("test_store_pg")


def c_words(table):
    text = open(os.path.join(SOURCE, "scanner", "record", "status.c")).read()
    body = re.search(r"%s\[[A-Z_]+\] = \{(.*?)\};" % table, text, re.S).group(1)
    return re.findall(r'\] = "([^"]+)"', body)


def sql_enum(name):
    return db.sql(f"SELECT unnest(enum_range(NULL::{name}))::text")


def main():
    db.open()
    migrations = len([f for f in os.listdir(os.path.join(SOURCE, "schema", "migrations")) if f.endswith(".sql")])
    p = run(DANESCAN, "db", "migrate", "--db", db.url)
    check(p.returncode == 0 and f"{migrations} migrations applied" in p.stdout.decode(),
          f"db migrate creates the schema ({migrations} migrations)", p.stdout.decode() + p.stderr.decode())
    p = run(DANESCAN, "db", "migrate", "--db", db.url)
    check(p.returncode == 0 and "0 migrations applied" in p.stdout.decode(), "db migrate again is a no-op")
    check(db.sql("SELECT count(*) FROM schema_version") == [[str(migrations)]],
          f"schema_version lists {migrations} migrations")
    # The status index leaves out 'insecure' (most domains) and still serves
    # lookups of a rare status.
    check(db.sql("SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'domains_status_idx'::regclass")
          == [["(status <> 'insecure'::domain_status)"]], "domains_status_idx is partial: status <> 'insecure'")

    for c_table, sql_type in (("dnssec_state_words", "dnssec_state"), ("probe_result_words", "probe_result"),
                              ("host_status_words", "host_status"), ("domain_status_words", "domain_status"),
                              ("rollover_class_words", "rollover_class"),
                              ("mta_sts_status_words", "mta_sts_status"), ("mta_sts_mode_words", "mta_sts_mode"),
                              ("tlsrpt_record_status_words", "tlsrpt_record_status"),
                              ("probe_pkix_words", "probe_pkix")):
        words = c_words(c_table)
        got = [r[0] for r in sql_enum(sql_type)]
        check(len(words) >= 3 and got == words, f"SQL enum {sql_type} equals status.c", f"{got} != {words}")

    lab.ensure_up(strict=True)
    domains = lab.output("domains").split()
    inputs = os.path.join(tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write("\n".join(domains) + "\n")
        # names with quotes, backslashes, SQL: invalid-name records with the raw text
        f.write("o'brien.lab\nback\\slash.lab\nx');DROP\\TABLE\"domains\";--.lab\n")
    out = os.path.join(tmp, "out.jsonl")
    p = lab.danescan("scan", "--probe", "none", "--no-progress", "--db", db.url, "--output", out,
                     "--scan-id", "rt-1", inputs)
    check(p.returncode == 0, "lab scan with --db and --output exits 0", p.stderr.decode()[-2000:])
    records = [json.loads(line) for line in open(out)]
    check(len(records) == len(domains) + 3, f"JSON Lines has every domain ({len(records)})")
    rows = {r[0]: r for r in db.sql("SELECT domain, status::text, mx_dnssec, mx_count, seq FROM domains "
                                    "WHERE scan_id = 'rt-1'")}
    check(len(rows) == len(records), f"one domain row per record ({len(rows)})")
    mismatched = [(r["domain"], r["status"], rows.get(r["domain"])) for r in records
                  if rows.get(r["domain"], [None, None])[1] != r["status"]]
    check(not mismatched, "every domain's status in the DB equals the JSON Lines", str(mismatched[:5]))
    seq_ok = all(rows[r["domain"]][4] == str(r["input"]["seq"]) for r in records if r["domain"] in rows)
    check(seq_ok, "input ordinals equal")
    mx_ok = all((rows[r["domain"]][2] or None) == r.get("mx_dnssec") for r in records if r["domain"] in rows)
    check(mx_ok, "mx_dnssec equals")
    hosts = {}
    for dom, host, status, pref in db.sql("SELECT domain, host, host_status::text, preference FROM domain_hosts "
                                          "WHERE scan_id = 'rt-1'"):
        hosts.setdefault(dom, {})[host] = (status, int(pref))
    bad = [r["domain"] for r in records
           if {m["host"]: (m["status"], m["preference"]) for m in r.get("mx", [])} != hosts.get(r["domain"], {})]
    check(not bad, "every domain's MX hosts, preferences and host statuses equal", str(bad[:5]))
    want_tlsa = {(m["host"], t["usage"], t["selector"], t["matching_type"], t["data"].lower(), t["usable"])
                 for r in records for m in r.get("mx", []) for t in m["tlsa"]}
    got_tlsa = {(a, int(b), int(c), int(d), e, f == "t") for a, b, c, d, e, f in
                db.sql("SELECT host, usage, selector, matching_type, encode(data, 'hex'), usable FROM tlsa_records "
                       "WHERE scan_id = 'rt-1'")}
    check(want_tlsa == got_tlsa and want_tlsa, f"TLSA records equal ({len(got_tlsa)})")
    want_addr = {(m["host"], a["ip"], a["probe"]["result"]) for r in records for m in r.get("mx", [])
                 for a in m["addresses"]}
    got_addr = {(a, strip_prefix(b), c) for a, b, c in db.sql("SELECT host, address::text, result::text FROM probes "
                                                     "WHERE scan_id = 'rt-1'")}
    check(want_addr == got_addr and want_addr, f"addresses and probe results equal ({len(got_addr)})",
          str(want_addr ^ got_addr)[:500])
    dup = db.sql("SELECT count(*) - count(DISTINCT host) FROM mx_hosts WHERE scan_id = 'rt-1'")
    check(dup == [["0"]], "each MX host stored once per scan")
    # mx_hosts.provider (migration 010): the registrable domain by the Public
    # Suffix List, written by the scanner. The lab's TLDs are not in the list
    # (its default rule makes them public suffixes): mx.a.lab -> a.lab.
    rows = db.sql("SELECT host, provider FROM mx_hosts WHERE scan_id = 'rt-1'")
    bad = [(h, p) for h, p in rows
           if p != (".".join(h.split(".")[-2:]) if h.count(".") >= 1 else "")]
    check(rows and not bad, f"each MX host has its provider, its last two labels in the lab ({len(rows)})", bad[:5])

    # Injection: the raw names come back byte for byte, the tables are intact.
    hostile = [r["domain"] for r in records if r["status"] == "invalid-name" and r["domain"] not in domains]
    check(len(hostile) == 3 and any("'" in d for d in hostile) and any('"' in d for d in hostile)
          and all("\\" in d for d in hostile[1:]), "hostile names recorded", str(hostile))
    for raw in hostile:
        jl = [r for r in records if r["domain"] == raw]
        got = db.sql("SELECT status::text FROM domains WHERE scan_id = 'rt-1' AND domain = "
                     "'" + raw.replace("'", "''") + "'")
        check(len(jl) == 1 and got == [[jl[0]["status"]]], f"name {raw!r} round-trips", f"{jl} {got}")
    check(db.sql("SELECT count(*) FROM domains WHERE scan_id = 'rt-1'") == [[str(len(records))]],
          "domains table intact")

    scan_row = db.sql("SELECT domains, array_length(command_line, 1) > 3, inputs->0->>'sha256' IS NOT NULL, "
                      "ended_at IS NOT NULL FROM scans WHERE id = 'rt-1'")
    check(scan_row == [[str(len(records)), "t", "t", "t"]], "scans row: counts, command line, checksum, end",
          str(scan_row))

    # The same scan id twice is refused (resume is the way to continue).
    p = lab.danescan("scan", "--probe", "none", "--no-progress", "--db", db.url, "--scan-id", "rt-1", inputs)
    check(p.returncode != 0 and "already in the database" in p.stderr.decode(), "a stored scan id is refused",
          p.stderr.decode()[-500:])

    # Views answer and agree with the table.
    funnel = db.sql("SELECT domains, dane_unprobed FROM scan_funnel WHERE scan_id = 'rt-1'")
    n_unprobed = sum(1 for r in records if r["status"] == "dane-unprobed")
    check(funnel == [[str(len(records)), str(n_unprobed)]], "scan_funnel counts", str(funnel))
    latest = db.sql("SELECT count(*), count(*) FILTER (WHERE scan_id = 'rt-1') FROM domain_latest")
    check(latest == [[str(len(records)), str(len(records))]], "domain_latest has every domain")
    for view in ("adoption_by_tld", "tlsa_parameters", "failures_by_cause", "mx_providers",
                 "domain_status_changes", "scan_status_counts"):
        try:
            n = db.sql(f"SELECT count(*) FROM {view}")[0][0]
            check(view == "domain_status_changes" or int(n) > 0, f"view {view} answers ({n} rows)")
        except RuntimeError as e:
            check(False, f"view {view} answers", str(e))

    # Hostile bytes (quotes, backslash, tab, newline, invalid UTF-8) through
    # the writer: stored as valid, escaped text.
    p = run(DANESCAN, "db", "bench", "--db", db.url, "--domains", "500", "--keep")
    check(p.returncode == 0, "db bench (hostile text) writes", p.stderr.decode()[-1000:])
    got = db.sql("SELECT DISTINCT tlsa_ede_text FROM mx_hosts WHERE scan_id LIKE 'bench-%' AND tlsa_ede_text IS NOT NULL")
    want = 'it\'s "bogus" \\ \\x09\\x0a\\xff\\xfe end'
    check(got == [[want.replace("\t", "\\t")]] or got == [[want]], "hostile text stored sanitised", str(got))
    rows_bench = db.sql("SELECT count(*) FROM domains WHERE scan_id LIKE 'bench-%'")
    check(rows_bench == [["500"]], "bench rows all there")

    # Reader role: reads, cannot write anything.
    reader = (db.url + "&user=danescan_reader" if "user=" not in db.url
              else re.sub(r"user=[^&]*", "user=danescan_reader", db.url))
    check(db.sql("SELECT count(*) FROM domain_latest", url=reader) == [[str(len(records) + 500)]],
          "reader reads the views")
    for stmt in ("INSERT INTO scans (id, software, command_line) VALUES ('x', 'x', '{}')",
                 "UPDATE domains SET status = 'dane-valid'", "DELETE FROM domains", "TRUNCATE certificates",
                 "CREATE TABLE evil (x int)", "CREATE TEMP TABLE evil (x int)",
                 "SET default_transaction_read_only = off; DELETE FROM scans",
                 "SELECT danescan_drop_scan('rt-1')"):
        p = run("psql", reader, "-v", "ON_ERROR_STOP=1", "-qc", stmt)
        check(p.returncode != 0, f"reader cannot: {stmt}", p.stdout.decode())
    check(db.sql("SELECT count(*) FROM domains WHERE scan_id = 'rt-1'") == [[str(len(records))]],
          "nothing changed by the reader")

    # Dropping a scan drops its partitions.
    p = run(DANESCAN, "db", "drop", "rt-1", "--db", db.url)
    parts = db.sql("SELECT count(*) FROM pg_class WHERE relname LIKE '%rt_1%'")
    check(p.returncode == 0 and parts == [["0"]] and
          db.sql("SELECT count(*) FROM domains WHERE scan_id = 'rt-1'") == [["0"]], "db drop removes the scan whole")


def strip_prefix(text):
    return text.split("/")[0]


run_test(main, tmp_dir, lab, db)
