#!/usr/bin/python3
"""The MTA-STS policy fetch (scanner/sts/sts_fetch.c, issue 18) against a
real HTTPS server on loopback (tests/labsmtp/sts_https_server.py with the
lab WebPKI of tests/labsmtp/make-webpki-certs.sh), driven through
danescan-sts-fetch. One case per outcome and per reason of MTA-STS.md's
policy-unavailable and policy-invalid that the transport decides: a valid
policy (Content-Length, chunked, close-delimited, a body of exactly 64 KiB,
charset parameter), redirects (301/307 not followed), 404/500, wrong or
missing media type, over 64 KiB (by length, chunked, endless), a name the
certificate does not cover, an untrusted CA, a self-signed and an expired
certificate, TLS 1.1 only, a refused connection with fallback to the next
address, no address, a non-HTTP answer, a short body, the politeness rules
(special-purpose address and blocklist -> skipped; per-address cap from the
server's log), once per fetcher (concurrent and later callers of one domain,
one connection), and the hostile servers bounded in time and memory: drip
(response timeout), huge headers, endless body, slow TLS (handshake
timeout).
Needs: DANESCAN_BUILD, openssl, python3."""

import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

FETCH = os.path.join(harness.BUILD, "tests", "labsmtp", "danescan-sts-fetch")
SERVER = os.path.join(harness.SOURCE, "tests", "labsmtp", "sts_https_server.py")
MAKE_CERTS = os.path.join(harness.SOURCE, "tests", "labsmtp", "make-webpki-certs.sh")

BEHAVIOURS = ["ok", "chunked", "close", "redirect", "temp-redirect", "notfound", "server-error", "html",
              "notype", "oversize", "oversizechunked", "endless", "drip", "hugeheaders", "garbage", "short",
              "exact"]
# domain (mta-sts.DOMAIN is the policy host) -> behaviour; certificate sts-valid covers them all
CASES = {"valid.test": "ok", "chunked.test": "chunked", "close.test": "close", "redirect.test": "redirect",
         "temp-redirect.test": "temp-redirect", "notfound.test": "notfound", "server-error.test": "server-error",
         "html.test": "html", "notype.test": "notype", "oversize.test": "oversize",
         "oversizechunked.test": "oversizechunked", "endless.test": "endless", "drip.test": "drip",
         "hugeheaders.test": "hugeheaders", "garbage.test": "garbage", "short.test": "short",
         "exact.test": "exact", "charset.test": "ok", "a.test": "ok", "b.test": "ok", "c.test": "ok"}


def parse(line):
    fields = {}
    head, _, failure = line.partition(' failure="')
    for pair in head.split():
        key, _, value = pair.partition("=")
        fields[key] = value
    fields["failure"] = failure[:-1] if failure.endswith('"') else failure
    return fields


def fetch(args, timeout=60):
    """Runs danescan-sts-fetch; returns (results by domain in order, stderr, elapsed s)."""
    start = time.monotonic()
    proc = harness.run(FETCH, *args, timeout=timeout, text=True)
    elapsed = time.monotonic() - start
    results = [parse(line) for line in proc.stdout.splitlines() if line.startswith("domain=")]
    if "Sanitizer" in proc.stderr or "runtime error" in proc.stderr:
        check(False, "no sanitizer report", proc.stderr)
    return results, proc.stderr, elapsed


def start_server(procs, work, name, config, *extra):
    port_file = os.path.join(work, name + ".ports")
    log = os.path.join(work, name + ".log")
    procs.start([sys.executable, SERVER, "--config", config, "--certs", os.path.join(work, "webpki"),
                 "--port-file", port_file, "--log", log, *extra],
                stderr=open(os.path.join(work, name + ".err"), "w"))
    for _ in range(200):
        if os.path.exists(port_file):
            break
        time.sleep(0.05)
    with open(port_file) as stream:
        return int(stream.readline().split()[1]), log


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def main():
    with harness.TempDir("danescan-sts-fetch.") as work, harness.Processes() as procs:
        subprocess.run([MAKE_CERTS, os.path.join(work, "webpki")], check=True)
        ca = os.path.join(work, "webpki", "webpki-root.pem")
        config = os.path.join(work, "hosts.conf")
        with open(config, "w") as out:
            for domain, behaviour in CASES.items():
                out.write("mta-sts.%s sts-valid %s\n" % (domain, behaviour))
            out.write("mta-sts.expired.test sts-expired ok\n")
            out.write("mta-sts.untrusted.test sts-untrusted ok\n")
            out.write("mta-sts.selfsigned.test sts-self ok\n")
            out.write("mta-sts.wrongname.test sts-valid ok\n")  # SNI unknown: the default certificate
        port, log = start_server(procs, work, "main", config)
        base = ["--allow-reserved", "--port", str(port), "--ca-file", ca,
                "--response-timeout-ms", "3000", "--handshake-timeout-ms", "3000", "--connect-timeout-ms", "3000"]

        def one(domain, *extra, address="127.0.0.1"):
            results, err, elapsed = fetch(base + list(extra) + ["%s=%s" % (domain, address)])
            check(len(results) == 1, "%s: one result" % domain, err)
            return (results[0] if results else {"outcome": "none", "failure": err}), err, elapsed

        policy = b"version: STSv1\r\nmode: enforce\r\nmx: mx.valid.test\r\nmax_age: 86400\r\n"
        body_dir = os.path.join(work, "bodies")
        os.mkdir(body_dir)
        for domain in ("valid.test", "chunked.test", "close.test", "charset.test"):
            r, err, _ = one(domain, "--body-dir", body_dir)
            check(r["outcome"] == "ok" and r["http"] == "200", "%s: ok, 200" % domain, r)
            want = policy.replace(b"valid.test", domain.encode())
            with open(os.path.join(body_dir, domain), "rb") as stream:
                got = stream.read()
            check(got == want, "%s: the body is the policy, framing removed" % domain, got[:200])
        r, _, _ = one("exact.test")
        check(r["outcome"] == "ok" and r["body_len"] == "65536", "exact.test: a body of exactly 64 KiB is kept", r)
        with open(log) as stream:
            text = stream.read()
        check("sni=mta-sts.valid.test host=mta-sts.valid.test behaviour=ok line=GET /.well-known/mta-sts.txt HTTP/1.1"
              in text, "SNI and Host are mta-sts.DOMAIN, path /.well-known/mta-sts.txt")

        expect = [
            ("redirect.test", "unavailable", "redirect not followed"),
            ("temp-redirect.test", "unavailable", "HTTP 307: redirect not followed"),
            ("notfound.test", "unavailable", "HTTP 404 instead of 200"),
            ("server-error.test", "unavailable", "HTTP 500"),
            ("html.test", "invalid", 'media type "text/html", must be text/plain'),
            ("notype.test", "invalid", "no media type"),
            ("oversize.test", "invalid", "policy of 70000 bytes is over the 65536 byte limit"),
            ("oversizechunked.test", "invalid", "over the 65536 byte limit"),
            ("garbage.test", "unavailable", "not an HTTP response"),
            ("short.test", "unavailable", "closed before the response was complete"),
            ("wrongname.test", "unavailable", "hostname mismatch"),
            ("untrusted.test", "unavailable", "unable to get local issuer certificate"),
            ("selfsigned.test", "unavailable", "self-signed certificate"),
            ("expired.test", "unavailable", "certificate has expired"),
        ]
        for domain, outcome, words in expect:
            r, _, _ = one(domain)
            check(r["outcome"] == outcome and words in r["failure"] and r["body_sha256"] == "-",
                  "%s: %s (%s)" % (domain, outcome, words), r)
            check(r["failure"].startswith("mta-sts.%s 127.0.0.1: " % domain), "%s: failure names host and address"
                  % domain, r)

        # Without the lab CA the system store does not know it.
        results, _, _ = fetch(["--allow-reserved", "--port", str(port), "valid.test=127.0.0.1"])
        check(results and results[0]["outcome"] == "unavailable" and "certificate" in results[0]["failure"],
              "the system store does not trust the lab CA", results)
        results, err, _ = fetch(["--allow-reserved", "--port", str(port), "--ca-file",
                                 os.path.join(work, "missing.pem"), "valid.test=127.0.0.1"])
        check("missing.pem" in err and not results, "a missing --ca-file is named", err)

        # Transport: refused (then the next address answers), no address, not a host name.
        refused_port = free_port()
        r, _, _ = one("valid.test", "--port", str(refused_port))
        check(r["outcome"] == "unavailable" and "Connection refused" in r["failure"], "refused: unavailable", r)
        procs.start([sys.executable, SERVER, "--config", config, "--certs", os.path.join(work, "webpki"),
                     "--listen", "127.0.0.2:%d" % port, "--port-file", os.path.join(work, "second.ports")])
        for _ in range(200):
            if os.path.exists(os.path.join(work, "second.ports")):
                break
            time.sleep(0.05)
        r, _, _ = one("a.test", address="127.0.0.3,127.0.0.2")
        check(r["outcome"] == "ok", "the next address is tried after a refused one", r)
        r, _, _ = one("none.test", address="")
        check(r["outcome"] == "unavailable" and r["failure"] == "mta-sts.none.test has no address",
              "no address: unavailable", r)
        r, _, _ = one("bad/name.test")
        check(r["outcome"] == "unavailable" and "is not a host name" in r["failure"], "bad name: unavailable", r)

        # TLS 1.1 only: below the 1.2 minimum.
        old_port, _ = start_server(procs, work, "tls11", config, "--max-tls", "1.1")
        results, _, _ = fetch(base + ["--port", str(old_port), "valid.test=127.0.0.1"])
        check(results and results[0]["outcome"] == "unavailable" and "TLS handshake failed" in results[0]["failure"],
              "TLS 1.1 only: unavailable", results)

        # Politeness: special-purpose addresses and the blocklist are skipped.
        results, _, _ = fetch(["--port", str(port), "--ca-file", ca, "valid.test=127.0.0.1"])
        check(results and results[0]["outcome"] == "skipped" and "not contacted" in results[0]["failure"],
              "special-purpose address: skipped", results)
        block = os.path.join(work, "block.txt")
        with open(block, "w") as out:
            out.write("127.0.0.0/8\n")
        results, _, _ = fetch(base + ["--blocklist", block, "valid.test=127.0.0.1"])
        check(results and results[0]["outcome"] == "skipped" and "blocklist" in results[0]["failure"],
              "blocklisted address: skipped", results)

        # Once per fetcher: 3 concurrent callers and 2 later ones, one connection.
        before = open(log).read().count("host=mta-sts.b.test ")
        results, err, _ = fetch(base + ["b.test=127.0.0.1", "b.test=127.0.0.1", "B.test.=127.0.0.1", "--then",
                                        "b.test=127.0.0.1", "b.test=127.0.0.1"])
        after = open(log).read().count("host=mta-sts.b.test ")
        check(len(results) == 5 and all(r["outcome"] == "ok" for r in results), "five callers, five results", results)
        check(len({r["body_sha256"] for r in results}) == 1, "all five see the same body", results)
        check(after - before == 1, "one request for five callers of b.test", (before, after))
        check("pending=0 connections=1 " in err, "one connection, nothing pending", err)

        # Per-address cap and gap: with --per-ip 1 --gap-ms 300 the server
        # sees the connections one after another, 300 ms apart at least (the
        # gap runs from the end of one to the start of the next).
        lines_before = len(open(log).read().splitlines())
        results, err, _ = fetch(base + ["--per-ip", "1", "--gap-ms", "300", "valid.test=127.0.0.1",
                                        "chunked.test=127.0.0.1", "close.test=127.0.0.1", "c.test=127.0.0.1"])
        check(len(results) == 4 and all(r["outcome"] == "ok" for r in results), "four fetches to one address", results)
        stamps = [float(line.split()[0]) for line in open(log).read().splitlines()[lines_before:]
                  if line.split()[1] == "connect"]
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        check(len(stamps) == 4 and min(gaps) >= 0.29, "per-ip 1, gap 300 ms: connections apart (%s)" % gaps)

        # Hostile servers: bounded time and memory.
        for domain, words in (("drip.test", "timeout: HTTP response not complete after 3000 ms"),
                              ("hugeheaders.test", "response header over"),
                              ("endless.test", "over the 65536 byte limit")):
            r, err, elapsed = one(domain)
            rss = int(re.search(r"maxrss_kb=(\d+)", err).group(1)) if "maxrss_kb=" in err else 0
            check(r["outcome"] in ("unavailable", "invalid") and words in r["failure"], "%s: %s" % (domain, words), r)
            check(elapsed < 3000 / 1000 + 10, "%s: ends within the response timeout (%.1f s)" % (domain, elapsed))
            check(0 < rss < 200000, "%s: peak RSS %d KB" % (domain, rss))
            print("note: %s %.2f s, maxrss %d KB" % (domain, elapsed, rss))
        slow_port, _ = start_server(procs, work, "slowtls", config, "--slow-tls")
        results, err, elapsed = fetch(base + ["--port", str(slow_port), "valid.test=127.0.0.1"])
        check(results and results[0]["outcome"] == "unavailable"
              and "timeout: TLS handshake (3000 ms)" in results[0]["failure"], "slow TLS: handshake timeout", results)


if __name__ == "__main__":
    harness.run_test(main)
