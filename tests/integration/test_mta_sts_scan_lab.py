#!/usr/bin/python3
"""`danescan scan --mta-sts` end to end on the MTA-STS lab world
(tests/lab/mta-sts-cases.txt, in a private namespace and state root): every
domain's mta_sts.status and tlsrpt_record.status are the case's (every
status of shared/spec/MTA-STS.md is among them), the failure is set exactly
when the spec says, the policy fields of a valid policy are there, each MX
host's mta_sts_match and each probed address's pkix agree with the status;
the same scan stored with --db has a domain_mta_sts row per domain with
the JSON's statuses and domain_mx.mta_sts_match as in JSON; without
--mta-sts both objects are null.
Runs with --probe all (the MX hosts of these domains publish no TLSA) and
--insecure-resolver-ok: this world has no DNSSEC-bogus name for the
resolver self-check, and MTA-STS does not rest on DNSSEC.
Needs root (a namespace), nsd, unbound, postfix."""

import json
import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, SOURCE, Lab, PrivateDB, TempDir, check, private_ns, run, run_test  # noqa: E402

CASES = os.path.join(SOURCE, "tests", "lab", "mta-sts-cases.txt")
NO_FAILURE = {"none", "mode-none", "valid"}


def main():
    tmp = TempDir("danescan-mta_sts_scan_lab-").path
    state = "/var/tmp/danescan-mta-sts-scan-lab." + str(os.getuid())
    lab = Lab(ns=private_ns("stsscan"), state=state, cases=CASES)
    with lab:
        lab.up(strict=True)
        ca = lab.path("tls", "ca.crt")
        expect = [json.loads(line) for line in open(lab.path("expect.jsonl"))]
        cases = [e for e in expect if "mta_sts" in e]
        inputs = os.path.join(tmp, "domains.txt")
        with open(inputs, "w") as f:
            f.write("".join(e["domain"] + "\n" for e in cases))
        out = os.path.join(tmp, "out.jsonl")
        db = PrivateDB("danescan_test_mta_sts_lab")
        db.open()
        try:
            check_scan(lab, db, ca, inputs, out, cases, tmp)
        finally:
            db.close()


def check_scan(lab, db, ca, inputs, out, cases, tmp):
    p = run(*lab.in_ns(DANESCAN, "scan", "--insecure-resolver-ok", "--mta-sts", "--ca-file", ca, "--probe", "all",
                       "--db", db.url, "--workers", "0", "--scan-id", "sts-1", "--allow-reserved",
                       "--no-key-types", "--no-progress", "--output", out, inputs), timeout=600)
    check(p.returncode == 0, "scan --mta-sts exits 0", p.stderr.decode(errors="replace")[-2000:])
    records = {r["domain"]: r for r in map(json.loads, open(out))} if os.path.exists(out) else {}
    seen = set()
    for e in cases:
        r = records.get(e["domain"])
        sts = (r or {}).get("mta_sts") or {}
        rpt = (r or {}).get("tlsrpt_record") or {}
        got = sts.get("status")
        seen.add(got)
        check(got == e["mta_sts"], "%s: mta_sts.status %s" % (e["domain"], e["mta_sts"]),
              "%s failure=%s" % (got, sts.get("failure")))
        if "tlsrpt_record" in e:
            check(rpt.get("status") == e["tlsrpt_record"],
                  "%s: tlsrpt_record.status %s" % (e["domain"], e["tlsrpt_record"]),
                  "%s %s" % (rpt.get("status"), rpt.get("failure")))
        if got is None:
            continue
        check((sts.get("failure") is None) == (got in NO_FAILURE), "%s: failure set iff the status needs one"
              % e["domain"], sts.get("failure"))
        if got in ("valid", "mx-mismatch", "cert-invalid", "mode-none"):
            check(sts.get("mode") is not None and isinstance(sts.get("max_age"), int)
                  and isinstance(sts.get("mx_patterns"), list), "%s: the policy's fields" % e["domain"], sts)
        hosts = r.get("mx", [])
        matches = [h.get("mta_sts_match") for h in hosts]
        if got == "valid" or got == "cert-invalid":
            check(all(m is True for m in matches), "%s: every MX host matches" % e["domain"], matches)
        if got == "mx-mismatch":
            check(False in matches, "%s: an MX host does not match" % e["domain"], matches)
        pkix = [a["probe"].get("pkix") for h in hosts for a in h.get("addresses", [])]
        if got == "valid":
            check(pkix and all(x == "valid" for x in pkix), "%s: every address pkix valid" % e["domain"], pkix)
        if got == "cert-invalid":
            check(any(x not in (None, "valid") for x in pkix), "%s: an address pkix failed" % e["domain"], pkix)
    rows = {r[0]: tuple(r[1:]) for r in db.sql("SELECT domain, status::text, tlsrpt_status::text, "
                                        "coalesce(array_to_string(mx_patterns, ','), '') FROM domain_mta_sts "
                                        "WHERE scan_id = 'sts-1'")}
    json_rows = {d: (r["mta_sts"]["status"], r["tlsrpt_record"]["status"],
                     ",".join(r["mta_sts"]["mx_patterns"] or [])) for d, r in records.items() if r.get("mta_sts")}
    check(rows and rows == json_rows, "domain_mta_sts: a row per checked domain, as in JSON Lines (%d)" % len(rows),
          str(set(rows.items()) ^ set(json_rows.items()))[:1500])
    links = {tuple(r[:2]): r[2] for r in db.sql("SELECT domain, host, coalesce(mta_sts_match::text, 'null') "
                                               "FROM domain_mx WHERE scan_id = 'sts-1'")}
    json_links = {(d, h["host"]): {True: "true", False: "false", None: "null"}[h.get("mta_sts_match")]
                  for d, r in records.items() for h in r.get("mx", [])}
    check(links and links == json_links, "domain_mx.mta_sts_match as in JSON Lines", str(links)[:800])
    # probes.pkix (migration 014): the per-address WebPKI verdict, as in JSON Lines
    pk = {tuple(r[:2]): r[2] for r in db.sql("SELECT host, address, coalesce(pkix::text, 'null') FROM probes "
                                             "WHERE scan_id = 'sts-1'")}
    json_pk = {}
    for r in records.values():
        for h in r.get("mx", []):
            for a in h.get("addresses", []):
                if a.get("probe") is not None:
                    json_pk[(h["host"], a["ip"])] = a["probe"].get("pkix") or "null"
    extra = {k: v for k, v in pk.items() if k not in json_pk}
    pk = {k: v for k, v in pk.items() if k in json_pk}
    check(all(v == "null" for v in extra.values()), "probes.pkix: rows without a JSON probe are NULL", str(extra)[:800])
    check(pk and pk == json_pk and "valid" in pk.values() and any(v not in ("valid", "null") for v in pk.values()),
          "probes.pkix as in JSON Lines (valid and failed verdicts stored)",
          str(set(pk.items()) ^ set(json_pk.items()))[:1500])
    db.close()
    want = {"none", "record-invalid", "policy-unavailable", "policy-invalid", "mode-none", "mx-mismatch",
            "cert-invalid", "valid"}
    check(want <= seen, "every spec status is produced", sorted(want - seen))

    # The default probe mode with --mta-sts is all (MTA-STS needs every MX
    # certificate): the same verdicts as the explicit --probe all scan. With
    # --probe none no certificate is seen: what was valid or cert-invalid is
    # cert-unchecked (never valid), everything decided before the
    # certificates is unchanged.
    first = {d: ((r.get("mta_sts") or {}).get("status")) for d, r in records.items()}
    for mode, label in ((None, "default"), ("none", "none")):
        out3 = os.path.join(tmp, "probe-%s.jsonl" % label)
        args = ["scan", "--insecure-resolver-ok", "--mta-sts", "--ca-file", ca, "--allow-reserved",
                "--no-key-types", "--no-progress", "--output", out3, inputs]
        if mode is not None:
            args[1:1] = ["--probe", mode]
        p = run(*lab.in_ns(DANESCAN, *args), timeout=600)
        got = {r["domain"]: (r.get("mta_sts") or {}).get("status") for r in map(json.loads, open(out3))} \
            if p.returncode == 0 and os.path.exists(out3) else {}
        if mode is None:
            check(got and got == first, "--mta-sts without --probe: the verdicts of --probe all",
                  str({d: (first.get(d), got.get(d)) for d in set(first) | set(got) if first.get(d) != got.get(d)})[:1500])
        else:
            want3 = {d: ("cert-unchecked" if s in ("valid", "cert-invalid") else s) for d, s in first.items()}
            check(got and got == want3 and "cert-unchecked" in got.values(),
                  "--mta-sts --probe none: no certificate seen, so cert-unchecked where certificates decide, never valid",
                  str({d: (want3.get(d), got.get(d)) for d in set(want3) | set(got) if want3.get(d) != got.get(d)})[:1500])

    out2 = os.path.join(tmp, "plain.jsonl")
    p = run(*lab.in_ns(DANESCAN, "scan", "--insecure-resolver-ok", "--probe", "none", "--no-progress", "--output",
                       out2, inputs),
            timeout=600)
    plain = [json.loads(line) for line in open(out2)] if os.path.exists(out2) else []
    check(p.returncode == 0 and plain and all(r.get("mta_sts") is None and r.get("tlsrpt_record") is None
                                             for r in plain), "without --mta-sts: mta_sts and tlsrpt_record null")


run_test(main)
