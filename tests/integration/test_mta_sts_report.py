#!/usr/bin/python3
"""MTA-STS in the database and the reports (migration 014), on the fixture
scans of mta_sts_fixture.sql: the view dane_mta_sts groups each domain as
DANE only / MTA-STS only / both / neither; `danescan report` has the "DANE
and MTA-STS side by side" tables with the counts the fixture implies
(failures of each, TLS-RPT per group, per MX provider); `danescan diff`
lists exactly the MTA-STS and TLS-RPT changes with direction and reason,
counts them before the DANE summary line, and --fail-on-regression counts
their regressions. Uses a private database (scripts/db). Ends with
'N passed, M failed'."""

import csv
import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, SOURCE, PrivateDB, TempDir, check, run, run_test  # noqa: E402

FIXTURE = os.path.join(SOURCE, "tests", "integration", "mta_sts_fixture.sql")


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def main():
    tmp = TempDir("danescan-mta_sts_report-").path
    with PrivateDB("danescan_test_mta_sts", schema=True, fixture=FIXTURE) as db:
        got = db.sql("SELECT domain, deployment, dane, mta_sts, tlsrpt FROM dane_mta_sts WHERE scan_id = 'ms-2' "
                     "ORDER BY domain")
        check(got == [["a.test", "dane-only", "t", "f", "t"], ["b.test", "mta-sts-only", "f", "t", "t"],
                      ["c.test", "mta-sts-only", "f", "t", "f"], ["d.test", "both", "t", "t", "f"],
                      ["e.test", "neither", "f", "f", "f"], ["f.test", "mta-sts-only", "f", "t", "f"]],
              "view dane_mta_sts: one deployment group per domain", f"{got}")
        got = db.sql("SELECT host, mta_sts_match, provider FROM mta_sts_hosts WHERE scan_id = 'ms-2' AND seq = 3 "
                     "ORDER BY preference")
        check(got == [["mx1.prov.test", "t", "prov.test"], ["mx.other.test", "f", "other.test"]],
              "view mta_sts_hosts: the links with their match and provider", f"{got}")

        out = os.path.join(tmp, "report")
        r = run(DANESCAN, "report", "--db", db.url, "--scan", "ms-2", "--previous", "ms-1", "--out", out, text=True)
        check(r.returncode == 0, "report exits 0", r.stderr[-2000:])
        rows = read_csv(os.path.join(out, "dane_mta_sts.csv"))
        check(rows == [["deployment", "domains", "pct_of_checked", "dane_failing", "mta_sts_failing", "with_tlsrpt",
                        "pct_with_tlsrpt"],
                       ["dane-only", "1", "16.7", "0", "0", "1", "100.0"],
                       ["mta-sts-only (enforce)", "1", "16.7", "0", "0", "1", "100.0"],
                       ["mta-sts-only (no valid policy)", "1", "16.7", "0", "1", "0", "0.0"],
                       ["mta-sts-only (testing)", "1", "16.7", "0", "1", "0", "0.0"],
                       ["both", "1", "16.7", "1", "0", "0", "0.0"],
                       ["neither", "1", "16.7", "0", "0", "0", "0.0"]],
              "dane_mta_sts.csv: the side-by-side groups, failures of each, TLS-RPT per group", f"{rows}")
        rows = read_csv(os.path.join(out, "mta_sts_statuses.csv"))
        check(rows[1:] == [["none", "2", "33.3", "1", "1"], ["policy-unavailable", "1", "16.7", "0", "0"],
                           ["mx-mismatch", "1", "16.7", "0", "0"], ["valid", "2", "33.3", "1", "1"]],
              "mta_sts_statuses.csv: domains per status in the spec's order", f"{rows}")
        rows = read_csv(os.path.join(out, "providers_mta_sts.csv"))
        check(len(rows) > 1 and rows[1] == ["prov.test", "3", "0", "3", "0", "0", "0"]
              and ["other.test", "1", "0", "1", "0", "0", "1"] in rows,
              "providers_mta_sts.csv: prov.test serves 3 MTA-STS-only domains; other.test's host is not listed by "
              "c.test's policy", f"{rows}")
        page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
        check("DANE and MTA-STS side by side" in page, "the HTML report has the section")

        r = run(DANESCAN, "diff", "--db", db.url, "ms-1", "ms-2", text=True)
        lines = [l.split("\t") for l in r.stdout.splitlines() if l and not l.startswith("#")]
        got = sorted(tuple(l[:5]) for l in lines)
        want = sorted([("mta-sts", "better", "b.test", "policy-unavailable", "valid"),
                       ("mta-sts", "worse", "c.test", "valid", "mx-mismatch"),
                       ("tlsrpt", "better", "a.test", "none", "valid"),
                       ("tlsrpt", "worse", "d.test", "valid", "invalid")])
        check(r.returncode == 0 and got == want, "diff lists exactly the MTA-STS and TLS-RPT changes", f"{got}")
        reasons = {(l[0], l[2]): l[5] for l in lines}
        check("mx.other.test" in reasons.get(("mta-sts", "c.test"), ""), "the mx-mismatch reason names the host")
        check("no rua field" in reasons.get(("tlsrpt", "d.test"), ""), "the TLS-RPT reason")
        summary = r.stdout.splitlines()
        check(len(summary) >= 2 and "mta-sts 1 worse, 1 better, 0 changed; tlsrpt 1 worse, 1 better, 0 changed"
              in summary[-2] and "domains 0 worse" in summary[-1], "the MTA-STS count line precedes the DANE one",
              f"{summary[-2:]}")
        r = run(DANESCAN, "diff", "--db", db.url, "--fail-on-regression", "ms-1", "ms-2", text=True)
        check(r.returncode == 1, "--fail-on-regression exits 1 on an MTA-STS regression", r.returncode)
        r = run(DANESCAN, "diff", "--db", db.url, "--fail-on-regression", "ms-2", "ms-2", text=True)
        check(r.returncode == 0, "a scan against itself: exit 0", r.returncode)


run_test(main)
