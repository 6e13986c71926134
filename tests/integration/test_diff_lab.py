#!/usr/bin/python3
"""`danescan diff` on two real lab scans (issue 6, Tests). The lab comes up in
its own namespace (danescan-dlab, state in a temp dir) from tests/lab/cases.txt
and is scanned into a private database; then the test edits a copy of the
cases file so that one case breaks (dane-ee.lab: both TLSA records get a
wrong SHA-256 digest -> tlsa-mismatch, dane-failed) and another is fixed
(mismatch.lab: its TLSA names its own key instead of dane-ee.lab's ->
dane-valid), runs `scripts/lab up` again with DANESCAN_LAB_CASES=<copy> and
scans a second time. `danescan diff --fail-on-regression ID1 ID2` must list
exactly those two domains and their MX hosts (worse / better) with the
address result in the reason, count them in the summary and exit 1; the JSON
Lines of the second scan must agree. Cleans up lab, database and files, also
on failure. Ends with 'N passed, M failed'."""

import os
import re
import sys

sys.dont_write_bytecode = True
from harness import (DANESCAN, LAB_CASES, Lab, PrivateDB, TempDir, check, lab_scan_into_db,  # noqa: E402
                     lab_up_checked, private_ns, run, run_test)

NS = private_ns("dlab")
WRONG_DIGEST = "5a" * 32  # a well-formed SHA-256 of no key in the lab


def edit_case(text, domain, old, new):
    """Replaces `old` by `new` inside the [case DOMAIN] section only; returns
    (text, replacements made)."""
    m = re.search(r"^\[case " + re.escape(domain) + r"\]\n(.*?)(?=^\[)", text, re.S | re.M)
    if not m:
        return text, 0
    body = m.group(1)
    n = body.count(old)
    return text[:m.start(1)] + body.replace(old, new) + text[m.end(1):], n


def diff(db, *args):
    r = run(DANESCAN, "diff", "--db", db.url, *args, text=True)
    lines = [l.split("\t") for l in r.stdout.splitlines() if l and not l.startswith("#")]
    return r, lines


def by_domain(records):
    return {r["domain"]: r for r in records}


def address_results(record):
    return sorted((a.get("probe") or {}).get("result") for h in record.get("mx") or []
                  for a in h.get("addresses") or [])


def main():
    with TempDir(f"{NS}-", public=True) as tmp, \
            Lab(ns=NS, state=os.path.join(tmp, "state"), cases=LAB_CASES) as lab, \
            PrivateDB("danescan_test_diff_lab", schema=True) as db:
        with open(LAB_CASES) as f:
            text = f.read()
        text, n1 = edit_case(text, "dane-ee.lab", "{spki-sha256:mx1.dane-ee.lab:rsa}", WRONG_DIGEST)
        text, n2 = edit_case(text, "dane-ee.lab", "{spki-sha256:mx1.dane-ee.lab:ecdsa}", WRONG_DIGEST)
        text, n3 = edit_case(text, "mismatch.lab", "{spki-sha256:mx1.dane-ee.lab:ecdsa}",
                             "{spki-sha256:mx1.mismatch.lab:ecdsa}")
        if not check((n1, n2, n3) == (1, 1, 1), "the cases file has the records this test edits",
                     (n1, n2, n3)):
            return
        edited = os.path.join(tmp, "cases-edited.txt")
        with open(edited, "w") as f:
            f.write(text)

        if not lab_up_checked(lab):
            return
        _, rec1 = lab_scan_into_db(lab, db, tmp, "dlab-1")
        if not lab_up_checked(lab, cases=edited):
            return
        _, rec2 = lab_scan_into_db(lab, db, tmp, "dlab-2")
        if not (rec1 and rec2):
            return
        d1, d2 = by_domain(rec1), by_domain(rec2)
        check(d1["dane-ee.lab"]["status"] == "dane-valid" and d1["mismatch.lab"]["status"] == "dane-failed",
              "first scan: dane-ee.lab dane-valid, mismatch.lab dane-failed",
              (d1["dane-ee.lab"]["status"], d1["mismatch.lab"]["status"]))
        check(d2["dane-ee.lab"]["status"] == "dane-failed"
              and set(address_results(d2["dane-ee.lab"])) == {"tlsa-mismatch"},
              "second scan (JSON): dane-ee.lab dane-failed, every address tlsa-mismatch",
              (d2["dane-ee.lab"]["status"], address_results(d2["dane-ee.lab"])))
        check(d2["mismatch.lab"]["status"] == "dane-valid"
              and set(address_results(d2["mismatch.lab"])) == {"authenticated"},
              "second scan (JSON): mismatch.lab dane-valid, every address authenticated",
              (d2["mismatch.lab"]["status"], address_results(d2["mismatch.lab"])))
        json_changed = sorted(d for d in d1 if d in d2 and d1[d]["status"] != d2[d]["status"])
        check(json_changed == ["dane-ee.lab", "mismatch.lab"],
              "JSON Lines: only the two edited domains changed status", json_changed)

        r, lines = diff(db, "--fail-on-regression", "dlab-1", "dlab-2")
        check(r.returncode == 1, "diff --fail-on-regression exits 1 (dane-ee.lab got worse)",
              f"rc={r.returncode} {r.stderr[-300:]}")
        got = sorted(tuple(l[:5]) for l in lines)
        want = sorted([("domain", "worse", "dane-ee.lab", "dane-valid", "dane-failed"),
                       ("domain", "better", "mismatch.lab", "dane-failed", "dane-valid"),
                       ("host", "worse", "mx1.dane-ee.lab", "dane-valid", "dane-failed"),
                       ("host", "better", "mx1.mismatch.lab", "dane-failed", "dane-valid")])
        check(got == want, "diff lists exactly the broken and the fixed domain and their hosts",
              f"\n  got  {got}\n  want {want}")
        reasons = {(l[0], l[2]): l[5] if len(l) > 5 else "" for l in lines}
        check("mx1.dane-ee.lab" in reasons.get(("domain", "dane-ee.lab"), "")
              and "tlsa-mismatch" in reasons.get(("domain", "dane-ee.lab"), ""),
              "the regression's reason names the host and tlsa-mismatch", reasons.get(("domain", "dane-ee.lab")))
        check("tlsa-mismatch" in reasons.get(("host", "mx1.dane-ee.lab"), ""),
              "the host's reason names tlsa-mismatch", reasons.get(("host", "mx1.dane-ee.lab")))
        check("domains 1 worse, 1 better, 0 changed; hosts 1 worse, 1 better, 0 changed" in r.stdout,
              "summary line counts", r.stdout.splitlines()[-1:])

        r, lines = diff(db, "dlab-1", "dlab-2")
        check(r.returncode == 0 and len(lines) == 4, "without --fail-on-regression: exit 0, same 4 lines",
              f"rc={r.returncode} {len(lines)}")
        r, lines = diff(db, "--fail-on-regression", "dlab-2", "dlab-1")
        got = sorted((l[0], l[1], l[2]) for l in lines)
        check(got == sorted([("domain", "better", "dane-ee.lab"), ("domain", "worse", "mismatch.lab"),
                             ("host", "better", "mx1.dane-ee.lab"), ("host", "worse", "mx1.mismatch.lab")])
              and r.returncode == 1, "reversed diff swaps worse and better, exit 1", f"{got} rc={r.returncode}")
        r, lines = diff(db, "--fail-on-regression", "dlab-1", "dlab-1")
        check(r.returncode == 0 and lines == [], "a lab scan against itself: no change, exit 0",
              f"rc={r.returncode} {lines[:3]}")


run_test(main, need_a_pass=True)
