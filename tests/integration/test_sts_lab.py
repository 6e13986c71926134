#!/usr/bin/python3
"""The transport half of MTA-STS on the lab world of tests/lab/mta-sts-cases.txt
(issue 18), in a private namespace and state root: for every case, the
policy fetch (danescan-sts-fetch, the lab CA as --ca-file, the address of
mta-sts.DOMAIN as the lab resolver gives it) and the WebPKI check of the MX
certificate (danescan-probe --pkix on the MX address) give what the case's
mta_sts.status needs:

  none, record-invalid          no fetch needed (not asserted here)
  policy-unavailable            fetch unavailable (no address, wrong name,
                                self-signed, expired, 301/307, 404)
  policy-invalid                fetch invalid (text/html, over 64 KiB,
                                endless) or ok with a body the policy parser
                                rejects (bad version, no mx, max_age)
  mode-none, mx-mismatch, valid,
  cert-invalid                  fetch ok; the MX pkix valid, except
                                cert-invalid: expired / untrusted /
                                name-mismatch
The statuses themselves (parser, matching, rules) are the core half's test.
Needs root (a namespace), nsd, unbound, postfix, curl."""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

FETCH = os.path.join(harness.BUILD, "tests", "labsmtp", "danescan-sts-fetch")
PROBE = os.path.join(harness.BUILD, "tests", "labsmtp", "danescan-probe")
CASES = os.path.join(harness.SOURCE, "tests", "lab", "mta-sts-cases.txt")
PARSER_REJECTS = {"sts-bad-version.lab", "sts-missing-mx.lab", "sts-bad-max-age.lab"}
PKIX_WANT = {"sts-mx-expired.lab": "expired", "sts-mx-self-signed.lab": "untrusted",
             "sts-mx-wrong-name.lab": "name-mismatch"}


def parse(line):
    head, _, failure = line.partition(' failure="')
    fields = dict(p.partition("=")[::2] for p in head.split())
    fields["failure"] = failure.rstrip('"')
    return fields


def main():
    state = "/var/tmp/danescan-sts-lab." + str(os.getuid())
    lab = harness.Lab(ns=harness.private_ns("sts"), state=state, cases=CASES)
    with lab:
        lab.up(strict=True)
        verify = lab.run("verify")
        check(verify.returncode == 0, "scripts/lab verify: every case and policy host right",
              verify.stdout.decode()[-2000:])
        ca = lab.path("tls", "ca.crt")
        expect = [json.loads(line) for line in open(lab.path("expect.jsonl"))]

        def dig(name):
            out = subprocess.run(lab.in_ns("dig", "+short", name, "A"), stdout=subprocess.PIPE, text=True).stdout
            return [a for a in out.split() if a[0].isdigit()]

        for e in expect:
            domain, status = e["domain"], e.get("mta_sts")
            if status in (None, "none", "record-invalid"):
                continue
            addresses = dig("mta-sts." + domain)
            arg = "%s=%s" % (domain, ",".join(addresses))
            p = subprocess.run(lab.in_ns(FETCH, "--allow-reserved", "--ca-file", ca, "--response-timeout-ms", "5000",
                                         arg), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            lines = [parse(line) for line in p.stdout.splitlines() if line.startswith("domain=")]
            r = lines[0] if lines else {"outcome": "none", "failure": p.stderr[-500:]}
            if status == "policy-unavailable":
                want = "unavailable"
            elif status == "policy-invalid" and domain not in PARSER_REJECTS:
                want = "invalid"
            else:
                want = "ok"
            check(r["outcome"] == want, "%s (%s): fetch %s" % (domain, status, want), r)
            if status in ("valid", "cert-invalid", "mx-mismatch", "mode-none"):
                host = list(e["hosts"])[0]
                for address in dig(host):
                    q = subprocess.run(lab.in_ns(PROBE, "--allow-reserved", "--no-key-types", "--timeout-ms", "5000",
                                                 "--port", "25", "--host", host, "--pkix", "--ca-file", ca, address),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    got = [f.split("=", 1)[1] for f in q.stdout.split() if f.startswith("pkix=")]
                    want_pkix = PKIX_WANT.get(domain, "valid")
                    check(got == [want_pkix], "%s: MX %s %s pkix %s" % (domain, host, address, want_pkix),
                          q.stdout[-800:] + q.stderr[-300:])


if __name__ == "__main__":
    harness.run_test(main)
