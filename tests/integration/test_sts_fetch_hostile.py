#!/usr/bin/python3
"""Hostile MTA-STS policy hosts at once (issue 18): 50 policy fetches in
parallel against one HTTPS server (tests/labsmtp/sts_https_server.py) whose
hosts drip a byte every 200 ms, send header lines without end, or a body
without end, plus well-behaved ones. Every fetch must end with its verdict
(drip: unavailable at the response timeout; huge headers: unavailable at
the 16 KiB header cap; endless body: invalid at the 64 KiB cap; ok: the
policy) within the response timeout, and the peak memory of the 50 must
stay within a bound of that of one well-behaved fetch (each fetch keeps at
most its header and body caps, plus the TLS buffers).
Needs: DANESCAN_BUILD, openssl, python3."""

import os
import re
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
KINDS = {"drip": 10, "hugeheaders": 15, "endless": 15, "ok": 10}
WANT = {"drip": ("unavailable", "timeout: HTTP response not complete"),
        "hugeheaders": ("unavailable", "response header over"),
        "endless": ("invalid", "over the 65536 byte limit"), "ok": ("ok", "")}
TIMEOUT_MS = 2000


def run_fetch(port, ca, domains):
    start = time.monotonic()
    p = harness.run(FETCH, "--allow-reserved", "--per-ip", "100", "--port", str(port), "--ca-file", ca,
                    "--response-timeout-ms", str(TIMEOUT_MS), *["%s=127.0.0.1" % d for d in domains],
                    timeout=120, text=True)
    elapsed = time.monotonic() - start
    rss = int(re.search(r"maxrss_kb=(\d+)", p.stderr).group(1)) if "maxrss_kb=" in p.stderr else 0
    check("Sanitizer" not in p.stderr and "runtime error" not in p.stderr, "no sanitizer report", p.stderr[-2000:])
    results = {}
    for line in p.stdout.splitlines():
        head, _, failure = line.partition(' failure="')
        fields = dict(x.partition("=")[::2] for x in head.split())
        results[fields["domain"]] = (fields["outcome"], failure.rstrip('"'))
    return results, elapsed, rss


def main():
    with harness.TempDir("danescan-sts-hostile.") as work, harness.Processes() as procs:
        domains = {"%s%d.test" % (kind, i): kind for kind, n in KINDS.items() for i in range(n)}
        leaves = os.path.join(work, "leaves.txt")
        with open(leaves, "w") as out:
            out.write("hostile inter valid " + " ".join("mta-sts." + d for d in domains) + "\n")
        subprocess.run([MAKE_CERTS, os.path.join(work, "webpki")], check=True,
                       env=dict(os.environ, DANESCAN_WEBPKI_LEAVES=leaves))
        config = os.path.join(work, "hosts.conf")
        with open(config, "w") as out:
            for domain, kind in domains.items():
                out.write("mta-sts.%s hostile %s\n" % (domain, kind))
        port_file = os.path.join(work, "ports")
        procs.start([sys.executable, SERVER, "--config", config, "--certs", os.path.join(work, "webpki"),
                     "--port-file", port_file])
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        port = int(open(port_file).read().split()[1])
        ca = os.path.join(work, "webpki", "webpki-root.pem")

        base, _, base_rss = run_fetch(port, ca, ["ok0.test"])
        check(base.get("ok0.test", ("",))[0] == "ok", "one well-behaved fetch", base)
        results, elapsed, rss = run_fetch(port, ca, list(domains))
        check(len(results) == len(domains), "%d fetches, %d results" % (len(domains), len(results)))
        for domain, kind in domains.items():
            outcome, failure = results.get(domain, ("none", ""))
            want_outcome, words = WANT[kind]
            check(outcome == want_outcome and words in failure, "%s: %s (%s)" % (domain, want_outcome, words),
                  (outcome, failure))
        check(elapsed < TIMEOUT_MS / 1000 + 15, "all %d end within the response timeout (%.1f s)"
              % (len(domains), elapsed))
        per_fetch = (rss - base_rss) / len(domains)
        # Release builds grow by nothing measurable; ASan keeps freed blocks in
        # its quarantine (about 0.8 MB a fetch here). Unbounded reading would
        # be hundreds of MB: the endless servers send 16 KiB blocks for 2 s.
        check(per_fetch < 2048, "peak memory per hostile fetch %.0f KB (bound 2 MB; one fetch: %d KB, %d: %d KB)"
              % (per_fetch, base_rss, len(domains), rss))
        print("note: %d fetches in %.2f s, peak RSS %d KB (one fetch %d KB)" % (len(domains), elapsed, rss, base_rss))


if __name__ == "__main__":
    harness.run_test(main)
