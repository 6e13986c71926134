#!/usr/bin/python3
"""Differential test of the MTA-STS verdicts against Debian's
postfix-mta-sts-resolver (mta-sts-query, issue 18) on every case of the
MTA-STS lab world (tests/lab/mta-sts-cases.txt), in a private namespace.

The peer fetches and validates the record and the policy; the MX matching
it leaves to Postfix (the daemon answers "secure match=" with each pattern
minus its leading "*", and Postfix's ".domain" matches a subdomain of any
depth), and the MX certificates too. So its verdict per case is modelled as
a sender using it would act: NONE -> no policy (our none, record-invalid);
FETCH_ERROR -> no usable policy (policy-unavailable, policy-invalid); VALID
with mode none -> mode-none; VALID otherwise -> the MX hosts matched with
Postfix's rule: any host unmatched -> mx-mismatch, else valid (our valid or
cert-invalid: the certificate check is Postfix's and is compared by
test_sts_lab.py's pkix checks instead).

The expected verdicts are the cases' mta_sts.status (what danescan must
say; RFC 8461). Every case must agree except the peer's known departures,
each decided by the RFC section named:
  sts-wildcard-two.lab   RFC 8461 4.1: "*.example.com" matches exactly one
                         leftmost label; the peer (via Postfix match=.domain)
                         lets it match a.mx.DOMAIN, two labels deep.
  sts-bad-id.lab         RFC 8461 3.1: id is 1*32(ALPHA / DIGIT); the peer
                         accepts any id ("2026-12-07") and uses the policy.
The peer's resolver inside the namespace: glibc's getaddrinfo with
AI_ADDRCONFIG returns no IPv4 address where the only IPv4 address is
loopback, so the test gives the namespace a dummy interface with
10.254.54.1/32 where the kernel allows it (the Debian peer resolves with
c-ares and works without; the lab itself does not depend on either).
Needs root, the lab's packages and postfix-mta-sts-resolver (scripts/setup)."""

import ast
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

CASES = os.path.join(harness.SOURCE, "tests", "lab", "mta-sts-cases.txt")
DEPARTURES = {"sts-wildcard-two.lab": ("mx-mismatch", "valid", "RFC 8461 4.1 (one-label wildcard)"),
              "sts-bad-id.lab": ("record-invalid", "valid", "RFC 8461 3.1 (id syntax)")}
CLASS = {"none": "no-policy", "record-invalid": "no-policy", "policy-unavailable": "unusable",
         "policy-invalid": "unusable", "mode-none": "mode-none", "mx-mismatch": "mx-mismatch",
         "cert-invalid": "valid", "valid": "valid"}


def postfix_match(patterns, host):
    """Postfix's TLS match= as the peer's answer makes it: "*.x" becomes ".x"
    (any subdomain of x, at any depth), anything else is an exact name."""
    host = host.lower().rstrip(".")
    for p in patterns:
        p = p.lstrip("*").lower()
        if p.startswith(".") and host.endswith(p):
            return True
        if host == p:
            return True
    return False


def peer_verdict(output, hosts):
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if "STSFetchResult.NONE" in last:
        return "no-policy", last
    if "STSFetchResult.VALID" in last:
        policy = ast.literal_eval(last[last.index(", ") + 2:-1])[1]
        if policy.get("mode") == "none":
            return "mode-none", last
        if all(postfix_match(policy.get("mx", []), h) for h in hosts):
            return "valid", last
        return "mx-mismatch", last
    return "unusable", last


def main():
    if shutil.which("mta-sts-query") is None:
        check(False, "mta-sts-query installed (scripts/setup: postfix-mta-sts-resolver)")
        return
    state = os.path.join(os.environ.get("DANESCAN_STATE") or "/var/tmp", "sts-diff." + str(os.getuid()))
    lab = harness.Lab(ns=harness.private_ns("stsdiff"), state=state, cases=CASES)
    with lab:
        lab.up(strict=True)
        made = subprocess.run(lab.in_ns("ip", "link", "add", "stsdummy", "type", "dummy"),
                              stderr=subprocess.DEVNULL).returncode == 0
        if made:
            subprocess.run(lab.in_ns("ip", "addr", "add", "10.254.54.1/32", "dev", "stsdummy"))
            subprocess.run(lab.in_ns("ip", "link", "set", "stsdummy", "up"))
        else:
            # No dummy interfaces here (no kernel module): the Debian peer
            # resolves with c-ares (python3-aiodns), not getaddrinfo, so it
            # does not need one; a peer that does would fail every fetch,
            # which the checks below would show.
            print("note: no dummy interface could be made; the peer resolves without AI_ADDRCONFIG", flush=True)
        env = dict(os.environ, SSL_CERT_FILE=lab.path("tls", "ca.crt"))
        agree, departed = 0, []
        for line in open(lab.path("expect.jsonl")):
            e = json.loads(line)
            status = e.get("mta_sts")
            if status is None:
                continue
            p = subprocess.run(lab.in_ns("mta-sts-query", "-v", "fatal", e["domain"]), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            got, raw = peer_verdict(p.stdout, list(e["hosts"]))
            want = CLASS[status]
            if e["domain"] in DEPARTURES:
                ours, theirs, rule = DEPARTURES[e["domain"]]
                check(status == ours and got == theirs,
                      "%s: the peer departs (%s): ours %s, peer %s" % (e["domain"], rule, status, got), raw)
                departed.append(e["domain"])
            else:
                check(got == want, "%s: same verdict (%s: %s)" % (e["domain"], status, want), "peer: %s %s" % (got, raw))
                agree += got == want
        print("note: %d cases agree, %d departures of the peer: %s" % (agree, len(departed), ", ".join(departed)))


if __name__ == "__main__":
    harness.run_test(main)
