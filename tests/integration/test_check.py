#!/usr/bin/python3
"""`danescan check DOMAIN` against the lab world: for every case of
`scripts/lab expect` (read at run time), the exit code is 0 exactly when the
expected status with probes (`probe.status`, else `status`) is dane-valid,
the first line names that status, and the explanation carries the key
sentences of the domain status, of each MX host's expected status and of
each expected per-address probe result; the rollover class and the
explanation of exactly the hazards a case lists in probe.hazards (issue 19;
--ca-file is the lab's public root). Also: --json prints one record with
the same status, usage errors exit 2, a non-validating resolver exits 3.

Brings the lab up if it is not (and takes it down again, also on failure).
Ends with 'N passed, M failed'."""

import concurrent.futures
import json
import os
import re
import sys

sys.dont_write_bytecode = True
from harness import DANESCAN, Lab, check, run, run_test  # noqa: E402

CHECK_OPTIONS = ["--allow-reserved", "--greeting-timeout-ms", "5000", "--connect-timeout-ms", "5000",
                 "--per-ip-gap-ms", "100", "--probe-retry-delay-ms", "500"]

# Rollover hazards (issue 19): the key sentence of each fix in report/explain.c.
HAZARD_SENTENCES = {
    "ee-selector-0": "(`3 0 x`, ee-selector-0): every certificate renewal breaks it",
    "ta-public-intermediate": "Prefer `3 1 1` of your own key over `2 x x` on a public intermediate",
    "single-key": "(single-key; two records of one key",
    "leaf-expires-soon": "expires soon (leaf-expires-soon)",
    "rrsig-expires-soon": "(rrsig-expires-soon): unless the zone is re-signed",
}

# Key sentences of report/explain.c, by status word ({d}: domain, {h}: host).
DOMAIN_SENTENCES = {
    "dane-valid": "DANE works for {d}: every MX host authenticated",
    "dane-failed": "DANE is published for {d} but fails",
    "dane-unreachable": "no DANE host could be reached from here",
    "dane-partial": "DANE works for only some MX hosts of {d}",
    "tlsa-unusable": "none is usable for SMTP",
    "no-dane": "no MX host publishes TLSA records",
    "insecure": "DANE does not apply",
    "dnssec-bogus": "The MX RRset of {d} is DNSSEC-bogus",
    "lookup-failed": "The MX lookup for {d} failed",
    "nxdomain": "{d} does not exist (NXDOMAIN)",
    "null-mx": "null MX (RFC 7505)",
    "no-mail": "no MX and no address records",
    "invalid-name": "is not a valid domain name",
}
HOST_SENTENCES = {
    "dane-valid": "every reachable address of {h} authenticated with DANE",
    "dane-failed": "DANE authentication of {h} failed",
    "dane-unreachable": "{h} publishes DANE, but no address could be reached",
    "tlsa-unusable": "none is usable for SMTP",
    "tlsa-failed": "TLSA lookup failing means DANE senders defer mail",
    "no-tlsa": "{h} is in a signed zone but publishes no TLSA records",
    "insecure": None,  # "not DNSSEC-signed" or "does not exist": checked below
    "address-failed": "the address lookups of {h} failed or were bogus",
    "no-address": "{h} has no A and no AAAA records",
}
PROBE_SENTENCES = {
    "tlsa-mismatch": "What to fix:",  # plus the exact 3 1 1 record: checked against openssl below
    "name-mismatch": "subjectAltName",
    "cert-expired": "renew the certificate",
    "no-starttls": "does not offer STARTTLS",
    "starttls-refused": "offers STARTTLS but refused it",
    "tls-failed": "The TLS handshake with",
    "smtp-failed": "gave no usable SMTP greeting",
    "connect-failed": "Cannot connect to",
    "timeout": "timed out",
}

# The shared lab (DANESCAN_LAB_NS, DANESCAN_STATE); taken down at the end if
# this test brought it up.
lab = Lab()


def danescan_check(*args):
    return run(*lab.in_ns(DANESCAN, "check", *args), timeout=300)


def served_spki_sha256(ip, host):
    """SHA-256 of the served key's SPKI, computed by openssl independently of
    danescan (s_client in the lab namespace, then x509/pkey/dgst)."""
    target = f"[{ip}]:25" if ":" in ip else f"{ip}:25"
    script = (f"openssl s_client -starttls smtp -connect '{target}' -servername '{host}' </dev/null 2>/dev/null"
              " | openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r")
    p = run(*lab.in_ns("sh", "-c", script), timeout=60)
    digest = p.stdout.decode().split(" ")[0].strip()
    return digest if re.fullmatch(r"[0-9a-f]{64}", digest) else None


def expected_with_probes(exp):
    probe = exp.get("probe")
    if probe:
        return probe["status"], probe.get("hosts") or exp["hosts"], probe.get("addresses") or {}
    return exp["status"], exp["hosts"], {}


def check_case(exp, p):
    domain = exp["domain"]
    status, hosts, addresses = expected_with_probes(exp)
    out = p.stdout.decode(errors="replace")
    shown = out[-2500:]
    check(p.returncode == (0 if status == "dane-valid" else 1),
          f"{domain}: exit code {0 if status == 'dane-valid' else 1} (expected {status})",
          f"got {p.returncode}; stderr {p.stderr.decode()[-500:]}\n{shown}")
    first = out.split("\n", 1)[0]
    check(first == f"{domain}: {status}", f"{domain}: first line names {status}", f"got {first!r}")
    sentence = DOMAIN_SENTENCES.get(status)
    if sentence is not None:
        check(sentence.format(d=domain) in out, f"{domain}: says '{sentence.format(d=domain)}'", "\n" + shown)
    for host, host_status in hosts.items():
        check(re.search(rf"^MX \d+ {re.escape(host)}: {re.escape(host_status)}$", out, re.M) is not None,
              f"{domain}: host {host} shown as {host_status}", "\n" + shown)
        sentence = HOST_SENTENCES.get(host_status)
        if host_status == "insecure":
            # Unsigned zone, NXDOMAIN, or a signed zone whose denial did not
            # validate (hyg-nsec3-high.lab: A secure, AAAA NODATA insecure).
            check(f"the address records of {host} are not DNSSEC-signed" in out or f"{host} does not exist" in out or
                  f"{host} is in a signed zone, but its" in out,
                  f"{domain}: host {host}: says DANE does not apply to it", "\n" + shown)
        elif sentence is not None:
            check(sentence.format(h=host) in out, f"{domain}: host {host}: says '{sentence.format(h=host)}'",
                  "\n" + shown)
    probe = exp.get("probe") or {}
    for host, word in (probe.get("rollover") or {}).items():
        check(re.search(rf"usable for SMTP, rollover {re.escape(word)}$", out, re.M) is not None,
              f"{domain}: {host}: rollover {word}", "\n" + shown)
    for host, hazards in (probe.get("hazards") or {}).items():
        for flag, sentence in HAZARD_SENTENCES.items():
            check((sentence in out) == (flag in hazards),
                  f"{domain}: {host}: {'explains' if flag in hazards else 'does not mention'} {flag}", "\n" + shown)
    for host, by_ip in addresses.items():
        for ip, result in by_ip.items():
            check(re.search(rf"^    {re.escape(ip)}: {re.escape(result)}( \(|$)", out, re.M) is not None,
                  f"{domain}: {host} {ip} shown as {result}", "\n" + shown)
            sentence = PROBE_SENTENCES.get(result)
            if sentence is not None:
                check(sentence in out and "What to fix:" in out, f"{domain}: {ip} {result}: says '{sentence}'",
                      "\n" + shown)
            if result == "tlsa-mismatch":
                spki = served_spki_sha256(ip, host)
                check(spki is not None and f"IN TLSA 3 1 1 {spki}` (this key;" in out,
                      f"{domain}: {ip}: advises the exact 3 1 1 record of the served key",
                      f"openssl says the served SPKI SHA-256 is {spki}\n{shown}")
            if result == "authenticated":
                check(re.search(rf"^    {re.escape(ip)}: authenticated\n(        .*\n)*?        matched TLSA \[\d+\]",
                                out, re.M) is not None,
                      f"{domain}: {ip}: names the matched TLSA record", "\n" + shown)


def main():
    p = lab.ensure_up()
    if p is not None and not check(p.returncode == 0, "lab comes up", p.stderr.decode()[-2000:]):
        return
    p = lab.run("expect")
    if not check(p.returncode == 0, "scripts/lab expect", p.stderr.decode()[-1000:]):
        return
    expectations = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
    check(len(expectations) > 20, f"lab has {len(expectations)} cases")

    options = list(CHECK_OPTIONS)
    public_root = lab.path("tls", "pub-root.crt")
    if os.path.exists(public_root):
        options += ["--ca-file", public_root]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = {exp["domain"]: pool.submit(danescan_check, *options, exp["domain"])
                   for exp in expectations}
        for exp in expectations:
            check_case(exp, futures[exp["domain"]].result())

    # --json: one JSON record, same verdict as the text.
    exp = expectations[0]
    status = expected_with_probes(exp)[0]
    p = danescan_check(*CHECK_OPTIONS, "--json", exp["domain"])
    lines = p.stdout.decode().splitlines()
    record = json.loads(lines[0]) if len(lines) == 1 else {}
    check(len(lines) == 1 and record.get("domain") == exp["domain"] and record.get("status") == status
          and isinstance(record.get("mx"), list),
          f"--json {exp['domain']}: one record with status {status}", p.stdout.decode()[-1000:])
    check(p.returncode == (0 if status == "dane-valid" else 1), "--json: same exit code rule")

    # Usage errors: no domain, two domains, an option of scan only.
    for args in ([], ["a.lab", "b.lab"], ["--db", "x", "a.lab"], ["--no-such-option", "a.lab"]):
        p = danescan_check(*args)
        check(p.returncode == 2 and b"usage: danescan check" in p.stderr, f"usage error {args} exits 2",
              f"got {p.returncode}")
    p = danescan_check("--help")
    check(p.returncode == 0 and b"usage: danescan check" in p.stdout, "--help exits 0")

    # A resolver that does not validate (the lab's NSD leaf server) is refused.
    p = danescan_check("--resolver", "127.53.0.3", exp["domain"])
    check(p.returncode == 3 and b"does not validate" in p.stderr and not p.stdout,
          "non-validating resolver refused with exit 3", p.stderr.decode()[-500:])


run_test(main, lab)
