#!/usr/bin/python3
"""`danescan report` on two real lab scans (issue 6, Tests): the lab comes up
in its own namespace (danescan-rlab, state in a temp dir), two scans of
inputs/lab-domains.txt go into a private database (and JSON Lines files),
and the report of the second with the first as --previous must show, for
every reports/*.sql, exactly what psql returns (raw data-v and formatted
text), the CSVs and Markdown the same, each chart one bar/point per row with
the row's value, no number outside tables and charts; the headline figures,
the funnel and the status counts must equal counts computed here,
independently, from the JSON Lines records of the same scans; the page must
open in headless Chromium offline. Cleans up lab, database and files, also on
failure. Ends with 'N passed, M failed'."""

import collections
import glob
import os
import re
import sys

sys.dont_write_bytecode = True
from harness import (DANESCAN, LAB_CASES, LAB_DOMAINS, Lab, PrivateDB, TempDir, check,  # noqa: E402
                     lab_scan_into_db, lab_up_checked, private_ns, run, run_test)
from test_report import REPORTS, Page, check_offline, check_report_table  # noqa: E402

NS = private_ns("rlab")
MAX_CHANGES = 10000  # show every change: the page must equal the whole query


def host_has_tlsa(h):
    tl = (h.get("lookups") or {}).get("tlsa") or {}
    return tl.get("dnssec") == "secure" and len(h.get("tlsa") or []) > 0


def json_figures(records):
    """The headline figures (reports/headline.sql, schema domain_summary)
    counted from the JSON Lines records, by their RESULTS.md meaning."""
    f = collections.OrderedDict()
    mail = [r for r in records if r.get("mx")]
    f["domains scanned"] = sum(1 for r in records if r["status"] != "skipped")
    f["with mail"] = len(mail)
    f["DNSSEC-signed"] = sum(1 for r in records if r.get("mx_dnssec") == "secure")
    f["secure MX"] = sum(1 for r in records if r.get("mx_dnssec") == "secure"
                         and any(h.get("address_dnssec") == "secure" for h in r.get("mx") or []))
    f["with TLSA"] = sum(1 for r in records if any(host_has_tlsa(h) for h in r.get("mx") or []))
    f["DANE valid"] = sum(1 for r in records if r["status"] == "dane-valid")
    f["DANE valid with a secure MX"] = sum(1 for r in records if r["status"] == "dane-valid"
                                           and r.get("mx_dnssec") == "secure")
    f["DANE failed"] = sum(1 for r in records if r["status"] in ("dane-failed", "dane-unreachable", "tlsa-unusable"))
    f["not applicable"] = sum(1 for r in records if r["status"] in ("nxdomain", "null-mx", "no-mail", "insecure"))
    f["opted out"] = sum(1 for r in records if r["status"] == "skipped")
    return f


def json_funnel(records):
    def secure_mx(r):
        return (r.get("mx") and r.get("mx_dnssec") == "secure"
                and any(h.get("address_dnssec") == "secure" for h in r["mx"]))
    def tlsa(r):
        return secure_mx(r) and any(host_has_tlsa(h) for h in r["mx"])
    return [("scanned", sum(1 for r in records if r["status"] != "skipped")),
            ("with mail", sum(1 for r in records if r.get("mx"))),
            ("DNSSEC-signed MX", sum(1 for r in records if r.get("mx") and r.get("mx_dnssec") == "secure")),
            ("secure MX", sum(1 for r in records if secure_mx(r))),
            ("with TLSA", sum(1 for r in records if tlsa(r))),
            ("DANE valid", sum(1 for r in records if tlsa(r) and r["status"] == "dane-valid"))]


def json_survey_share(records):
    """The survey's share (reports/README.md, "Published metrics") counted
    from the JSON Lines records: (numerator, denominator)."""
    def accepts(h):
        results = [(a.get("probe") or {}).get("result") for a in h.get("addresses") or []]
        refused = bool(results) and all(r in ("connect-failed", "timeout", "smtp-failed") for r in results)
        return h.get("status") not in ("dane-unreachable", "no-address") and not refused
    num = den = 0
    for r in records:
        hosts = r.get("mx") or []
        if r.get("mx_dnssec") != "secure" or not hosts or r.get("implicit_mx") or r["status"] == "null-mx":
            continue
        den += 1
        low = min(h["preference"] for h in hosts)
        primaries = [h for h in hosts if h["preference"] == low and accepts(h)]
        num += bool(primaries) and all(h.get("status") == "dane-valid" for h in primaries)
    return num, den


def json_partial_coverage(records):
    """Partial coverage: (domains with TLSA on some MX hosts and none on
    another, domains with TLSA on any)."""
    some = [r for r in records if any(host_has_tlsa(h) for h in r.get("mx") or [])]
    partial = [r for r in some if any(h.get("status") in ("no-tlsa", "insecure") for h in r["mx"])]
    return len(partial), len(some)


def main():
    with TempDir(f"{NS}-", public=True) as tmp, \
            Lab(ns=NS, state=os.path.join(tmp, "state"), cases=LAB_CASES) as lab, \
            PrivateDB("danescan_test_report_lab", schema=True) as db:
        if not lab_up_checked(lab):
            return
        # --mta-sts: the report's "DANE and MTA-STS side by side" on a lab
        # scan (the lab world publishes no policy: every domain is DANE-only
        # or neither there; test_mta_sts_report covers the other groups)
        _, rec1 = lab_scan_into_db(lab, db, tmp, "rlab-1", extra=("--mta-sts",))
        _, rec2 = lab_scan_into_db(lab, db, tmp, "rlab-2", extra=("--mta-sts",))
        if not (rec1 and rec2):
            return
        with open(LAB_DOMAINS) as f:
            n_inputs = sum(1 for line in f if line.strip() and not line.startswith("#"))
        check(len(rec1) == n_inputs and len(rec2) == n_inputs,
              f"each scan has one JSON record per input name ({n_inputs})", f"{len(rec1)} {len(rec2)}")

        out = os.path.join(tmp, "out")
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "rlab-2", "--previous", "rlab-1", "--out", out,
                "--max-changes", str(MAX_CHANGES), text=True)
        if not check(r.returncode == 0, "report exits 0", r.stderr):
            return
        page_html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
        markdown = open(os.path.join(out, "report.md"), encoding="utf-8").read()
        page = Page()
        page.feed(page_html)
        sql_files = sorted(os.path.basename(f)[:-4] for f in glob.glob(os.path.join(REPORTS, "*.sql"))
                           if not os.path.basename(f).startswith("diff_"))
        check(sorted(set(page.tables) | {n for n in sql_files if f'id="t-{n}" data-rows="0"' in page_html})
              == sql_files, "one table on the page per reports/*.sql", f"{sorted(page.tables)}")
        results = {}
        nonempty = 0
        for name in sql_files:
            header, rows = db.psql_file(os.path.join(REPORTS, name + ".sql"), scan_id="rlab-2",
                                        previous_id="rlab-1")
            results[name] = (header, rows)
            nonempty += bool(rows)
            check_report_table(page, markdown, out, name, header, rows, rows)
        # A lab scan fills most tables (a report of empty tables proves little).
        check(nonempty >= len(sql_files) - 3, f"{nonempty} of {len(sql_files)} report tables have rows")
        loose_digits = [t.strip() for t in page.loose_text if re.search(r"\d", t)]
        check(not loose_digits, "no number outside the tables and charts", loose_digits[:5])

        # Independent counts from the JSON Lines output of the same scans.
        header, rows = results["headline"]
        fi, di, pi = header.index("figure"), header.index("domains"), header.index("previous")
        want_cur, want_prev = json_figures(rec2), json_figures(rec1)
        check(len(rows) == len(want_cur), f"headline has {len(want_cur)} figures", rows)
        for (label, cur), prev, row in zip(want_cur.items(), want_prev.values(), rows):
            check(row[fi].startswith(label) and row[di] == str(cur) and row[pi] == str(prev),
                  f"headline '{label}': {cur} (previous {prev}) as counted from the JSON Lines",
                  f"SQL row {row}")
        check(want_cur["DANE valid"] > 0 and want_cur["DANE failed"] > 0 and want_cur["with TLSA"] > 0,
              "the lab scan has DANE-valid, DANE-failed and TLSA domains", dict(want_cur))
        header, rows = results["funnel"]
        got = [(row[header.index("stage")], row[header.index("domains")]) for row in rows]
        want = [(s, str(n)) for s, n in json_funnel(rec2)]
        check(got == want, "funnel equals the JSON Lines counts", f"\n  sql  {got}\n  json {want}")
        header, rows = results["domain_statuses"]
        si, ni = header.index("status"), header.index("domains")
        got = {row[si]: int(row[ni]) for row in rows if row[ni] not in (None, "0")}
        want = dict(collections.Counter(r["status"] for r in rec2))
        check(got == want, "domain statuses equal the JSON Lines status counts", f"\n  sql  {got}\n  json {want}")
        # Issue 17's sections: the metrics as counted from the JSON Lines.
        header, rows = results["published_metrics"]
        ni, di = header.index("numerator"), header.index("denominator")
        got = [(int(rows[0][ni]), int(rows[0][di])), (int(rows[3][ni]), int(rows[3][di]))] if len(rows) == 4 else rows
        want = [json_survey_share(rec2), json_partial_coverage(rec2)]
        check(got == want and want[0][0] > 0, "survey share and partial coverage equal the JSON Lines counts",
              f"\n  sql  {got}\n  json {want}")
        header, rows = results["input_change"]
        check(len(rows) == 1 and rows[0][0] == "same names in both scans"
              and rows[0][header.index("names_in_both")] == str(n_inputs),
              "input_change: the two lab scans have the same names", rows)
        header, rows = results["time_to_fix"]
        check(rows and rows[0][0] == "all providers", "time_to_fix starts with the all-providers row", rows[:2])
        # Issue 19's DNSSEC hygiene among DANE domains, counted from the JSON Lines.
        header, rows = results["dnssec_hygiene"]
        got = {row[header.index("finding")]: int(row[header.index("domains")]) for row in rows}
        dane_statuses = ("dane-valid", "dane-partial", "dane-failed", "dane-unreachable", "tlsa-unusable",
                         "dane-unprobed")
        zoned = [r for r in rec2 if r["status"] in dane_statuses and r.get("dnssec_zones")]
        want = {"DANE domains with zone data": len(zoned),
                "SHA-1 DS (digest type 1) in the parent":
                    sum(1 for r in zoned if any(d["digest_type"] == 1 for z in r["dnssec_zones"] for d in z["ds"])),
                "algorithm 5 RSASHA1":
                    sum(1 for r in zoned if any(k["algorithm"] == 5 for z in r["dnssec_zones"] for k in z["keys"])),
                "signatures expiring within the warn days (rrsig-expires-soon)":
                    sum(1 for r in zoned if any("rrsig-expires-soon" in z["flags"] for z in r["dnssec_zones"]))}
        check(all(got.get(k) == v for k, v in want.items()) and all(v > 0 for v in want.values()),
              "dnssec_hygiene: DANE domains, SHA-1 DS, RSASHA1 and expiring signatures equal the JSON Lines counts",
              f"\n  sql  {got}\n  json {want}")
        # The page shows the same figures (its cells equal psql, checked above).
        shown = {row[0][1]: row[1][0] for row in page.tables.get("headline", []) if row}
        check(shown and all(v == str(want_cur[k]) for k, v in zip(want_cur, shown.values())),
              "headline on the page equals the JSON Lines counts", shown)

        check(not re.search(r"https?:|//[a-z]|<script|<link|<img|<iframe|@import|url\(|src=|href=",
                            page_html, re.I), "the HTML names no URL, script, link or external resource")
        check_offline(os.path.join(out, "report.html"), tmp)


run_test(main, need_a_pass=True)
