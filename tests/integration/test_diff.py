#!/usr/bin/python3
"""`danescan diff` on the fixture scans (report_fixture.sql) where between
fx-1 and fx-2 one case breaks (b.org: TLSA no longer matches), one is fixed
(c.net) and one changes within a rank (j.org: insecure -> no-mail): the diff
must list exactly those domains and hosts, with direction and reason;
--fail-on-regression exits 1 only when something got worse; unknown scans
are an error. Ends with 'N passed, M failed'."""

import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, REPORT_FIXTURE, PrivateDB, check, run, run_test  # noqa: E402


def diff(db, *args):
    r = run(DANESCAN, "diff", "--db", db.url, *args, text=True)
    lines = [l.split("\t") for l in r.stdout.splitlines() if l and not l.startswith("#")]
    return r, lines


def main():
    with PrivateDB("danescan_test_diff", schema=True, fixture=REPORT_FIXTURE) as db:
        r, lines = diff(db, "fx-1", "fx-2")
        check(r.returncode == 0, "diff exits 0 without --fail-on-regression", r.stderr)
        got = sorted(tuple(l[:5]) for l in lines)
        want = sorted([("domain", "worse", "b.org", "dane-valid", "dane-failed"),
                       ("domain", "better", "c.net", "dane-failed", "dane-valid"),
                       ("domain", "changed", "j.org", "insecure", "no-mail"),
                       ("host", "worse", "mx.b.org", "dane-valid", "dane-failed"),
                       ("host", "better", "mx.c.net", "dane-failed", "dane-valid")])
        check(got == want, "diff fx-1 fx-2 lists exactly the changed domains and hosts", f"{got}")
        reasons = {(l[0], l[2]): l[5] for l in lines}
        check("mx.b.org: dane-valid -> dane-failed" in reasons.get(("domain", "b.org"), "")
              and "192.0.2.2 tlsa-mismatch" in reasons.get(("domain", "b.org"), ""),
              "the regression's reason names the host and the address result", reasons.get(("domain", "b.org")))
        check("tlsa-mismatch" in reasons.get(("host", "mx.b.org"), ""), "the host's reason names the result")
        check("mx2.provider.test" in reasons.get(("domain", "j.org"), ""), "the changed domain's reason")
        check("domains 1 worse, 1 better, 1 changed; hosts 1 worse, 1 better, 0 changed" in r.stdout,
              "summary line counts", r.stdout.splitlines()[-1:])

        r, _ = diff(db, "--fail-on-regression", "fx-1", "fx-2")
        check(r.returncode == 1, "--fail-on-regression exits 1 on a regression", r.returncode)

        r, lines = diff(db, "--fail-on-regression", "fx-2", "fx-1")
        got = sorted((l[0], l[1], l[2]) for l in lines)
        check(got == sorted([("domain", "better", "b.org"), ("domain", "worse", "c.net"),
                             ("domain", "changed", "j.org"), ("host", "better", "mx.b.org"),
                             ("host", "worse", "mx.c.net")]), "reversed diff swaps worse and better", f"{got}")
        check(r.returncode == 1, "reversed diff also has a regression (c.net)")

        r, lines = diff(db, "--fail-on-regression", "fx-2", "fx-2")
        check(r.returncode == 0 and lines == [], "a scan against itself: no change, exit 0", f"{r.returncode} {lines}")

        r, lines = diff(db, "--fail-on-regression", "fx-0", "fx-1")
        got = sorted((l[0], l[1], l[2]) for l in lines)
        check(("domain", "better", "a.lab") in got and ("host", "better", "mx.a.lab") in got
              and r.returncode == 0, "no-dane -> dane-valid is better, no regression", f"{got} {r.returncode}")

        r, _ = diff(db, "fx-1", "no-such-scan")
        check(r.returncode == 3 and "no-such-scan" in r.stderr, "unknown scan: exit 3 with its name", r.stderr)
        r, _ = diff(db, "fx-1")
        check(r.returncode == 2, "usage error: exit 2")


run_test(main, need_a_pass=True)
