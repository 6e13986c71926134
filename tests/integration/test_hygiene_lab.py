#!/usr/bin/python3
"""DNSSEC hygiene of the zones that matter (issue 19) against the lab world:
every case with a `hygiene` key (tests/lab/cases.txt; zones signed with
RSASHA256 2048, RSASHA1 with a SHA-1 DS, NSEC3 with 0 / 10 / 200 iterations,
signatures expiring in 3 days, and a domain whose MX host lives in another
zone) is scanned with `--probe none --dnssec-hygiene all`; each domain's
`dnssec_zones` must hold exactly the zones and flags of the case, with the
DNSKEY algorithms/sizes, DS digest types and denial it states. Then the cost:
under the default `--dnssec-hygiene dane`, every zone is looked up once
(3 lookups: DNSKEY, DS, NSEC3PARAM) however many domains share it, and the
DNS lookups beyond `--dnssec-hygiene none` are exactly those; `check` prints
each finding with its fix.

Brings the lab up if it is not (and takes it down again, also on failure).
Ends with 'N passed, M failed'."""

import json
import os
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, Lab, TempDir, check, run, run_test  # noqa: E402

lab = Lab()
tmp = TempDir("danescan-hygiene-")


def scan(domains_file, *options):
    out = os.path.join(tmp.path, "out.jsonl")
    meta = os.path.join(tmp.path, "meta.json")
    for stale in (out, meta):
        if os.path.exists(stale):
            os.unlink(stale)
    p = run(*lab.in_ns(DANESCAN, "scan", "--probe", "none", "--no-progress", "--output", out,
                       "--metadata", meta, *options, domains_file))
    records = {}
    if os.path.exists(out):
        with open(out) as f:
            for line in f:
                r = json.loads(line)
                records[r["domain"]] = r
    metadata = None
    if os.path.exists(meta):
        with open(meta) as f:
            metadata = json.load(f)
    return p, records, metadata


def compare(records, expectations):
    for exp in expectations:
        domain = exp["domain"]
        rec = records.get(domain)
        if not check(rec is not None, f"{domain} has a record"):
            continue
        zones = {z["zone"]: z for z in rec.get("dnssec_zones", [])}
        check(set(zones) == set(exp["hygiene"]), f"{domain}: zones {sorted(exp['hygiene'])}",
              f"got {sorted(zones)}")
        for name, want in exp["hygiene"].items():
            z = zones.get(name)
            if z is None:
                continue
            check(sorted(z["flags"]) == sorted(want["flags"]),
                  f"{domain}: zone {name} flags {'+'.join(want['flags']) or 'none'}", f"got {z['flags']}")
            check(z["dnskey_dnssec"] == "secure" and z["ds_dnssec"] == "secure",
                  f"{domain}: zone {name} DNSKEY and DS answers secure",
                  f"got {z['dnskey_dnssec']} / {z['ds_dnssec']}")
            if want["keys"] is not None:
                got = sorted(f"{k['algorithm']}/{k['bits']}" for k in z["keys"])
                check(got == sorted(want["keys"]), f"{domain}: zone {name} keys {want['keys']}", f"got {got}")
            if want["ds"] is not None:
                got = sorted(d["digest_type"] for d in z["ds"])
                check(got == sorted(want["ds"]), f"{domain}: zone {name} DS digests {want['ds']}", f"got {got}")
            if want["denial"] is not None:
                n3 = z["nsec3"]
                got = z["denial"] if n3 is None else f"nsec3/{n3['iterations']}/{n3['salt_length']}"
                check(got == want["denial"], f"{domain}: zone {name} denial {want['denial']}", f"got {got}")
            # The RFC words beside each number (docs/output.md).
            for k in z["keys"]:
                if k["algorithm"] == 5:
                    check(k["signing"] == "not-recommended" and k["validation"] == "must",
                          f"{domain}: zone {name} RSASHA1 is signing not-recommended, validation must", str(k))
            for d in z["ds"]:
                if d["digest_type"] == 1:
                    check(d["delegation"] == "must-not", f"{domain}: zone {name} SHA-1 DS is delegation must-not",
                          str(d))
            if z["nsec3"] is not None:
                want_verdict = {"nsec3/0/0": "recommended", "nsec3/10/4": "not-recommended",
                                "nsec3/200/4": "insecure-iterations"}.get(want["denial"])
                if want_verdict:
                    check(z["nsec3"]["verdict"] == want_verdict, f"{domain}: zone {name} RFC 9276 {want_verdict}",
                          str(z["nsec3"]))
            soon = "rrsig-expires-soon" in want["flags"]
            days = z["rrsig_days"]
            check(days is not None and (days <= 3 if soon else days > 14),
                  f"{domain}: zone {name} earliest RRSIG {'within 3' if soon else 'beyond 14'} days", f"got {days}")


def main():
    p = lab.ensure_up()
    if p is not None and not check(p.returncode == 0, "lab comes up", p.stderr.decode()[-2000:]):
        return
    expectations = [json.loads(line) for line in lab.run("expect").stdout.decode().splitlines()]
    expectations = [e for e in expectations if "hygiene" in e]
    check(len(expectations) >= 8, f"{len(expectations)} cases state their DNSSEC hygiene")
    domains_file = os.path.join(tmp.path, "domains.txt")
    with open(domains_file, "w") as f:
        f.write("".join(e["domain"] + "\n" for e in expectations))

    p, records, meta_all = scan(domains_file, "--dnssec-hygiene", "all")
    check(p.returncode in (0, 1), "scan --dnssec-hygiene all runs", p.stderr.decode()[-1000:])
    compare(records, expectations)
    rec = records.get("hyg-other.lab", {})
    roles = {z["zone"]: z["roles"] for z in rec.get("dnssec_zones", [])}
    check(roles == {"hyg-other.lab": ["mx"], "hyg-sha1.lab": ["tlsa"]},
          "hyg-other.lab: its MX zone and its host's TLSA zone, each with its role", f"got {roles}")

    # Default (dane): a domain whose TLSA host is not DANE (NSEC3 200 iterations:
    # the AAAA NODATA is insecure) gets no zone; the others the same zones.
    p, dane, meta_dane = scan(domains_file)
    check(p.returncode in (0, 1) and meta_dane is not None, "scan (default --dnssec-hygiene dane) runs",
          p.stderr.decode()[-1000:])
    check("dnssec_zones" not in dane.get("hyg-nsec3-high.lab", {"dnssec_zones": 1}),
          "hyg-nsec3-high.lab (no-dane) gets no zone under --dnssec-hygiene dane")
    for domain, r in dane.items():
        if domain == "hyg-nsec3-high.lab":
            continue
        check([z["zone"] for z in r.get("dnssec_zones", [])] ==
              [z["zone"] for z in records.get(domain, {}).get("dnssec_zones", [])],
              f"{domain}: the same zones under dane as under all")
    p, none, meta_none = scan(domains_file, "--dnssec-hygiene", "none")
    check(p.returncode in (0, 1) and meta_none is not None and
          not any("dnssec_zones" in r for r in none.values()), "--dnssec-hygiene none: no zones")

    # Cost: once per zone, 3 lookups each, and nothing else.
    if meta_dane is not None and meta_none is not None:
        zc = meta_dane["counters"]["zone_cache"] if "counters" in meta_dane else meta_dane.get("zone_cache", {})
        zones_used = {z["zone"] for r in dane.values() for z in r.get("dnssec_zones", [])}
        check(zc.get("resolved") == len(zones_used), f"each of the {len(zones_used)} zones looked up once",
              f"zone_cache {zc}")
        check(zc.get("lookups") == 3 * len(zones_used), "3 lookups per zone (DNSKEY, DS, NSEC3PARAM)",
              f"zone_cache {zc}")
        check(zc.get("hits", 0) >= 1 and zc.get("requests", 0) > zc.get("resolved", 0),
              "a zone shared by two domains (hyg-sha1.lab) is answered from the cache", f"zone_cache {zc}")
        dns_dane = (meta_dane.get("counters") or meta_dane)["dns"]["lookups"]
        dns_none = (meta_none.get("counters") or meta_none)["dns"]["lookups"]
        check(dns_dane - dns_none == zc.get("lookups"), "the only extra DNS lookups are the zone lookups",
              f"{dns_dane} - {dns_none} vs {zc.get('lookups')}")
        print(f"     cost: {len(dane)} domains, {zc.get('lookups')} extra lookups for {len(zones_used)} zones; "
              f"queries sent {(meta_dane.get('counters') or meta_dane)['dns']['queries_sent']} vs "
              f"{(meta_none.get('counters') or meta_none)['dns']['queries_sent']}", flush=True)

    # check: each finding with its fix.
    p = run(*lab.in_ns(DANESCAN, "check", "--probe", "none", "hyg-other.lab"))
    text = p.stdout.decode()
    check("DNSSEC hygiene (zones of the MX and TLSA records)" in text and
          "Re-sign with algorithm 13 (ECDSAP256SHA256) or 15 (ED25519)" in text and
          "Move to a SHA-256 DS (digest type 2)" in text, "check hyg-other.lab: re-sign with 13/15, SHA-256 DS",
          text[-3000:])
    p = run(*lab.in_ns(DANESCAN, "check", "--probe", "none", "--dnssec-hygiene", "all", "hyg-nsec3-salt.lab"))
    text = p.stdout.decode()
    check("Re-sign with NSEC3 iterations 0, no salt" in text, "check hyg-nsec3-salt.lab: NSEC3 iterations 0, no salt",
          text[-3000:])
    # 200 NSEC3 iterations: the zone is signed (A and TLSA validate), only
    # the AAAA denial is insecure; check must not tell the operator to sign it.
    p = run(*lab.in_ns(DANESCAN, "check", "--probe", "none", "--dnssec-hygiene", "all", "hyg-nsec3-high.lab"))
    text = p.stdout.decode()
    check("is in a signed zone, but its AAAA answer came back insecure" in text and
          "NSEC3 with more iterations than validators accept" in text and
          "is not signed: sign it" not in text,
          "check hyg-nsec3-high.lab: the AAAA denial is insecure (NSEC3 iterations), not an unsigned zone",
          text[-3000:])
    p = run(*lab.in_ns(DANESCAN, "check", "--probe", "none", "rrsig-soon.lab"))
    text = p.stdout.decode()
    check("re-sign the zone before the expiration" in text, "check rrsig-soon.lab: re-sign before the expiration",
          text[-3000:])


run_test(main, tmp, lab)
