#!/usr/bin/python3
"""`danescan export` on the fixture scans (report_fixture.sql, then
export_fixture.sql), run as the read-only role danescan_reader, in both
formats, read back with the standard library only: the files are exactly the
resources of datapackage.json, each file's columns are the table's columns in
order (CSV header, JSON keys) and its fields' names, its rows are the
database's rows of scan fx-2 and no other scan's (certificates: exactly those
fx-2's probes and chains name), bytes and hash are the file's, every column
has a description from the data dictionary, every enum column carries the
database enum's labels as constraints.enum, and known values round-trip
(status words, NULL against an empty string, bytea as hex, arrays as JSON,
timestamps in UTC, inet, booleans, a backslash). An unknown scan exits 1
without leaving a directory behind, a bad --format exits 2, a non-empty
directory needs --force. Ends with 'N passed, M failed'."""

import csv
import gzip
import hashlib
import io
import json
import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, REPORT_FIXTURE, SOURCE, PrivateDB, TempDir, check, run, run_test  # noqa: E402

EXPORT_FIXTURE = os.path.join(SOURCE, "tests", "integration", "export_fixture.sql")
SCAN = "fx-2"
TABLES = ["domains", "domain_mx", "domain_mta_sts", "domain_dns_operators", "domain_dnssec_zones", "mx_hosts", "tlsa_records", "addresses", "probes", "probe_chain", "certificates"]
PLACEHOLDER = "Not described in this danescan's data dictionary"


def table_columns(db, table):
    """[(name, enum labels or None)] of the table, in order, from the catalog."""
    rows = db.sql("SELECT a.attname, (SELECT string_agg(e.enumlabel, '|' ORDER BY e.enumsortorder)"
                  "  FROM pg_enum e WHERE e.enumtypid = a.atttypid)"
                  "  FROM pg_attribute a WHERE a.attrelid = 'public." + table + "'::regclass"
                  "   AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")
    return [(r[0], r[1].split("|") if r[1] else None) for r in rows]


def db_count(db, table):
    if table == "certificates":
        q = (f"SELECT count(*) FROM certificates WHERE sha256 IN (SELECT leaf_sha256 FROM probes WHERE "
             f"scan_id = '{SCAN}' UNION SELECT cert_sha256 FROM probe_chain WHERE scan_id = '{SCAN}')")
    else:
        q = f"SELECT count(*) FROM {table} WHERE scan_id = '{SCAN}'"
    return int(db.sql(q)[0][0])


def read_resource(directory, resource):
    """(header, rows as dicts with None for NULL, raw text) of one file. CSV
    NULL is an empty field, so the raw text tells it from "" (quoted)."""
    with gzip.open(os.path.join(directory, resource["path"]), "rt", encoding="utf-8", newline="") as f:
        raw = f.read()
    if resource["format"] == "csv":
        reader = csv.reader(io.StringIO(raw, newline=""))
        header = next(reader)
        rows = [dict(zip(header, (v if v != "" else None for v in r))) for r in reader]
        return header, rows, raw
    objects = [json.loads(line) for line in raw.split("\n") if line]
    header = list(objects[0].keys()) if objects else []
    check(all(list(o.keys()) == header for o in objects), f"{resource['path']}: every line has the same keys in order")
    return header, objects, raw


def check_package(db, directory, fmt):
    ext = fmt
    with open(os.path.join(directory, "datapackage.json")) as f:
        package = json.load(f)
    check(package.get("profile") == "tabular-data-package" and package.get("name") == "danescan-fx-2"
          and package.get("created", "").endswith("Z") and package.get("licenses"),
          f"{fmt}: datapackage.json has profile, name, created, licenses")
    sources = [s.get("title", "") for s in package.get("sources", [])]
    check(any("danescan 0.1.0" in s for s in sources) and any("b/a.txt" in s and "aa11" in s for s in sources),
          f"{fmt}: sources name the software and the input with its SHA-256", repr(sources))
    resources = package["resources"]
    check([r["name"] for r in resources] == TABLES, f"{fmt}: one resource per table, in order",
          repr([r["name"] for r in resources]))
    files = sorted(f for f in os.listdir(directory) if f != "datapackage.json")
    check(sorted(r["path"] for r in resources) == files and all(p.endswith("." + ext) for p in files),
          f"{fmt}: the resources are exactly the files written", repr(files))
    data = {}
    for r in resources:
        name = r["name"]
        fields = r["schema"]["fields"]
        columns = table_columns(db, name)
        header, rows, raw = read_resource(directory, r)
        path = os.path.join(directory, r["path"])
        body = open(path, "rb").read()
        check(r.get("compression") == "gz" and r.get("encoding") == "utf-8" and r.get("bytes") == len(body)
              and r.get("hash") == "sha256:" + hashlib.sha256(body).hexdigest()
              and r.get("profile") == "tabular-data-resource",
              f"{fmt}: {name}: compression, encoding, bytes and hash")
        if fmt == "csv.gz":
            check(r.get("format") == "csv" and r.get("dialect", {}).get("header") is True,
                  f"{fmt}: {name}: format csv with a dialect")
        names = [f["name"] for f in fields]
        check(names == [c for c, _ in columns], f"{fmt}: {name}: fields are the table's columns in order",
              f"{names} vs {columns}")
        if rows or fmt == "csv.gz":
            check(header == names, f"{fmt}: {name}: file columns equal the fields in order", f"{header} vs {names}")
        want = db_count(db, name)
        check(len(rows) == want and r.get("rows") == want and want > 0,
              f"{fmt}: {name}: {len(rows)} rows, as the database has for {SCAN}", f"want {want}, rows {r.get('rows')}")
        if "scan_id" in names:
            check(all(row["scan_id"] == SCAN for row in rows), f"{fmt}: {name}: no other scan's rows")
        undescribed = [f["name"] for f in fields if not f.get("description") or PLACEHOLDER in f["description"]]
        check(not undescribed, f"{fmt}: {name}: every column described", repr(undescribed))
        enums = {c: labels for c, labels in columns if labels}
        declared = {f["name"]: f.get("constraints", {}).get("enum") for f in fields
                    if "enum" in f.get("constraints", {})}
        check(declared == enums and all(f["type"] == "string" for f in fields if f["name"] in enums),
              f"{fmt}: {name}: enum columns carry the database enum's labels ({len(enums)})",
              f"{declared} vs {enums}")
        check(r["schema"].get("primaryKey") == {"domains": ["scan_id", "seq"], "domain_mta_sts": ["scan_id", "seq"],
                                                "domain_dns_operators": ["scan_id", "seq", "operator"],
                                                "domain_dnssec_zones": ["scan_id", "seq", "zone"],
                                                "mx_hosts": ["scan_id", "host"],
                                                "certificates": ["sha256"]}.get(name),
              f"{fmt}: {name}: primaryKey as in the database")
        if name == "domain_mta_sts":
            check(r["schema"].get("foreignKeys") == [{"fields": ["scan_id", "seq"], "reference": {
                "resource": "domains", "fields": ["scan_id", "seq"]}}] and "RFC 8461" in r.get("description", ""),
                  f"{fmt}: domain_mta_sts: described, refers to domains by (scan_id, seq)",
                  repr(r["schema"].get("foreignKeys")))
            by_name = {f["name"]: f for f in fields}
            check("MTA-STS.md" in by_name["status"]["description"]
                  and "_smtp._tls" in by_name["tlsrpt_dnssec"]["description"]
                  and by_name["mx_patterns"]["type"] == "array" and by_name["max_age"]["type"] == "integer",
                  f"{fmt}: domain_mta_sts: dictionary sentences and types of its columns",
                  repr({k: (v["type"], v["description"][:40]) for k, v in by_name.items()}))
        data[name] = (rows, raw, {f["name"]: f for f in fields})
    return package, data


def check_values(data, fmt):
    csv_format = fmt == "csv.gz"

    def row(table, **match):
        rows = [r for r in data[table][0] if all(r.get(k) == v for k, v in match.items())]
        return rows[0] if len(rows) == 1 else None

    def num(n):
        return str(n) if csv_format else n

    def arr(value):
        """An array field as Python: JSON text in CSV, native in JSON Lines."""
        return json.loads(value) if csv_format and value is not None else value

    def boolean(b):
        return ("true" if b else "false") if csv_format else b

    a = row("domains", domain="a.lab")
    check(a is not None and a["status"] == "dane-valid" and a["seq"] == num(1) and a["mx_count"] == num(1)
          and a["started_at"] == "2024-03-01T00:00:01.500000Z" and a["implicit_mx"] == boolean(False)
          and a["island"] is None, f"{fmt}: domains a.lab: status, integers, UTC timestamp, boolean, NULL", repr(a))
    g = row("domains", domain="g.lab")
    check(g is not None and g["status"] == "lookup-failed" and g["mx_dnssec"] is None
          and g["mx_failure"] == "timeout after 3 attempts" and g["invalid_reason"] == 'comma, "quote"',
          f"{fmt}: domains g.lab: NULL status word, quoted text", repr(g))
    if csv_format:
        line = [ln for ln in data["domains"][1].split("\n") if ",g.lab," in ln]
        check(len(line) == 1 and ',"",' in line[0] and ',,' in line[0],
              f"{fmt}: an empty string is written \"\" and a NULL as an empty field", repr(line))
        check(g is not None and g["mx_rcode"] is None, f"{fmt}: (csv.reader reads both as empty)")
    else:
        check(g is not None and g["mx_rcode"] == "", f"{fmt}: an empty string stays \"\" beside null", repr(g))
    check(row("domains", domain="b.org")["status"] == "dane-failed", f"{fmt}: domains b.org: dane-failed")
    sts = sorted((r["seq"], r["domain"], r["status"]) for r in data["domain_mta_sts"][0])
    check(sts == sorted([(num(1), "a.lab", "valid"), (num(4), "d.lab", "mx-mismatch"), (num(8), "h.net", "none"),
                         (num(9), "i.lab", "record-invalid")]),
          f"{fmt}: domain_mta_sts: {SCAN}'s rows only, with their statuses", repr(sts))
    check([r["seq"] for r in data["domain_mta_sts"][0]] == [num(1), num(4), num(8), num(9)],
          f"{fmt}: domain_mta_sts: rows in seq order")
    m = row("domain_mta_sts", domain="a.lab")
    check(m is not None and m["mode"] == "enforce" and m["max_age"] == num(86400) and m["id"] == "1"
          and arr(m["mx_patterns"]) == ["mx.a.lab", "*.a.lab"] and m["http_status"] == num(200)
          and m["failure"] is None and m["record_dnssec"] == "secure" and m["record_rcode"] == "NOERROR"
          and m["policy_host_dnssec"] == "insecure" and m["tlsrpt_status"] == "valid"
          and arr(m["tlsrpt_rua"]) == ["mailto:tls@a.lab"] and m["tlsrpt_dnssec"] == "secure",
          f"{fmt}: domain_mta_sts a.lab: policy, patterns and rua as arrays, lookup states", repr(m))
    m = row("domain_mta_sts", domain="i.lab")
    check(m is not None and m["failure"] == 'record 1: no id field, "id=" missing (RFC 8461 3.1)'
          and m["mode"] is None and m["mx_patterns"] is None and m["http_status"] is None
          and m["policy_host_dnssec"] is None and m["tlsrpt_status"] == "invalid"
          and m["tlsrpt_failure"] == "no valid rua URI: ftp://x.i.lab" and m["tlsrpt_rua"] is None,
          f"{fmt}: domain_mta_sts i.lab: record-invalid with a quoted failure, NULL policy, TLS-RPT invalid", repr(m))
    m = row("domain_mta_sts", domain="h.net")
    check(m is not None and m["record_rcode"] == "NXDOMAIN" and m["id"] is None
          and arr(m["tlsrpt_rua"]) == ["https://r.h.net/tlsrpt"],
          f"{fmt}: domain_mta_sts h.net: no record, TLS-RPT valid", repr(m))
    h = row("mx_hosts", host="mx.a.lab")
    check(h is not None and arr(h["tlsa_params"]) == ["3 1 1", "3 1 1"] and arr(h["flags"]) == []
          and h["rollover"] == "current+next", f"{fmt}: mx_hosts mx.a.lab: arrays as JSON, rollover", repr(h))
    t = row("tlsa_records", host="mx.a.lab", position=num(1))
    check(t is not None and t["data"] == "bb" * 16 and t["usable"] == boolean(True),
          f"{fmt}: tlsa_records: bytea as hex, boolean", repr(t))
    ad = row("addresses", host="mx2.dane-host.net")
    check(ad is not None and ad["address"] == "2001:db8::9" and ad["family"] == num(6),
          f"{fmt}: addresses: inet as text", repr(ad))
    p = row("probes", host="mx.a.lab")
    check(p is not None and p["result"] == "authenticated" and p["banner"] == "3232302068690d0aff"
          and p["banner_text"] == '220 hi, "there"\\x0d\\x0a\\xff'
          and arr(p["ehlo_keywords"]) == ["PIPELINING", "SIZE 1000", None] and p["first_result"] == "timeout"
          and p["attempts"] == num(2) and p["leaf_sha256"] == "11" * 32 and p["kx_group"] is None,
          f"{fmt}: probes mx.a.lab: banner bytes, backslashes, array with NULL, first attempt", repr(p))
    chain = sorted((r["depth"], r["cert_sha256"]) for r in data["probe_chain"][0])
    check(chain == [(num(0), "11" * 32), (num(1), "33" * 32)], f"{fmt}: probe_chain of {SCAN} only", repr(chain))
    certs = sorted(r["sha256"][:2] for r in data["certificates"][0])
    check(certs == ["11", "22", "33"], f"{fmt}: certificates named by {SCAN}'s probes and chains only", repr(certs))
    ca = row("certificates", sha256="33" * 32)
    check(ca is not None and arr(ca["san"]) == ["ca.example", "www.ca.example"]
          and ca["not_after"] == "2026-01-01T12:30:00.000000Z" and ca["der"] == "3082" and ca["key_bits"] == num(4096),
          f"{fmt}: certificates: SAN array, not_after in UTC, DER as hex", repr(ca))


def main():
    with PrivateDB("danescan_test_export", schema=True, fixture=REPORT_FIXTURE) as db, TempDir("export-") as tmp:
        db.psql_file(EXPORT_FIXTURE)
        reader = db.url.replace("user=postgres", "user=danescan_reader")
        check(reader != db.url, "connecting as danescan_reader")
        for fmt in ("csv.gz", "jsonl.gz"):
            out = os.path.join(tmp, fmt)
            r = run(DANESCAN, "export", "--db", reader, "--scan", SCAN, "--format", fmt, "--out", out, text=True)
            check(r.returncode == 0 and r.stderr == "", f"{fmt}: export exits 0 without warnings",
                  f"rc={r.returncode} {r.stderr[-800:]}")
            if r.returncode != 0:
                continue
            check(not [f for f in os.listdir(out) if f.startswith(".")], f"{fmt}: no temporary file left")
            package, data = check_package(db, out, fmt)
            check_values(data, fmt)
            if fmt == "csv.gz":
                # the chosen license, and --force over a finished export
                r = run(DANESCAN, "export", "--db", reader, "--scan", SCAN, "--format", fmt, "--out", out, text=True)
                check(r.returncode == 1 and "not empty" in r.stderr, "a non-empty --out without --force exits 1",
                      f"rc={r.returncode} {r.stderr}")
                r = run(DANESCAN, "export", "--db", reader, "--scan", SCAN, "--format", fmt, "--out", out,
                        "--force", "--license", "CC-BY-4.0", text=True)
                with open(os.path.join(out, "datapackage.json")) as f:
                    licenses = json.load(f).get("licenses")
                check(r.returncode == 0 and licenses == [{"name": "CC-BY-4.0"}],
                      "--force rewrites it; --license names the license", f"rc={r.returncode} {licenses}")

        missing = os.path.join(tmp, "unknown")
        r = run(DANESCAN, "export", "--db", reader, "--scan", "no-such-scan", "--format", "csv.gz", "--out", missing,
                text=True)
        check(r.returncode == 1 and "no scan 'no-such-scan'" in r.stderr and not os.path.exists(missing),
              "an unknown scan exits 1 with a message and writes nothing", f"rc={r.returncode} {r.stderr}")
        r = run(DANESCAN, "export", "--db", reader, "--scan", SCAN, "--format", "xlsx", "--out", missing, text=True)
        check(r.returncode == 2 and "--format" in r.stderr and not os.path.exists(missing),
              "a bad --format exits 2", f"rc={r.returncode} {r.stderr}")
        r = run(DANESCAN, "export", "--db", reader, "--format", "csv.gz", "--out", missing, text=True)
        check(r.returncode == 2 and "usage" in r.stderr, "a missing --scan exits 2", f"rc={r.returncode}")
        r = run(DANESCAN, "export", "--help", text=True)
        check(r.returncode == 0 and "datapackage.json" in r.stdout, "--help exits 0", f"rc={r.returncode}")


if __name__ == "__main__":
    run_test(main, need_a_pass=True)
