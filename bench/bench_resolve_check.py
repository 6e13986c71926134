#!/usr/bin/env python3
"""Checks one benchmark pass of `danescan scan --probe none` (scripts/bench).

  bench_resolve_check.py EXPECT.jsonl RESULTS.jsonl METADATA.json TIME_V.txt WALL_S [CPU_JSON]

EXPECT.jsonl is `scripts/lab bulk-expect N` (domains that are not in it, e.g.
NXDOMAIN filler names, are only checked for not being recorded failed).
Prints one JSON object: rates, CPU per query, retries, failures, peak RSS,
MX host cache hit rate, and the domains that were wrongly recorded as failed
or whose status/mx_dnssec/host statuses differ from the expectation. Also
counts, for passes with probes or --mta-sts (scripts/bench BENCH_MTA_STS=1):
the distinct addresses probed and their SMTP sessions (probe.attempts; a
host shared by domains counted once), the probe results, and the domains
checked for MTA-STS with their statuses and lookups (the mta_sts and
tlsrpt_record lookups that have attempts, i.e. were sent). With probes the
status comparison differs by design (dane-unprobed becomes a probe verdict).
"""
import json
import sys

FAILED_HOST = ("address-failed", "tlsa-failed")


def time_v(path):
    """user, sys (s) and max RSS (kB) from GNU time -v output."""
    out = {}
    with open(path) as f:
        for line in f:
            key, _, val = line.strip().rpartition(": ")
            if key == "User time (seconds)":
                out["user_s"] = float(val)
            elif key == "System time (seconds)":
                out["sys_s"] = float(val)
            elif key == "Maximum resident set size (kbytes)":
                out["max_rss_kb"] = int(val)
    return out


def lookups(rec):
    yield rec.get("mx_lookup") or {}
    for h in rec.get("mx") or []:
        for lk in (h.get("lookups") or {}).values():
            if lk:
                yield lk


def sts_lookups(rec):
    """The MTA-STS and TLS-RPT lookups of a record that were made."""
    sts = rec.get("mta_sts") or {}
    for lk in (sts.get("lookups") or {}).values():
        if lk and lk.get("attempts") is not None:
            yield lk
    lk = (rec.get("tlsrpt_record") or {}).get("lookup")
    if lk and lk.get("attempts") is not None:
        yield lk


def main(argv):
    exp_path, res_path, meta_path, time_path, wall = argv[1:6]
    wall = float(wall)
    expect = {}
    with open(exp_path) as f:
        for line in f:
            e = json.loads(line)
            expect[e["domain"]] = e
    n = 0
    wrong_failed = []     # expected not failed, recorded failed somewhere
    mismatch = []         # any other difference from the expectation
    lookups_total = lookups_retried = lookups_slow = 0
    seen = set()
    probed = {}           # (host, ip) -> sessions of its probe(s)
    probe_results = {}
    sts_checked = sts_lookup_count = sts_attempts = 0
    sts_status = {}
    tlsrpt_status = {}
    with open(res_path) as f:
        for line in f:
            rec = json.loads(line)
            n += 1
            d = rec["domain"]
            seen.add(d)
            for lk in lookups(rec):
                if lk.get("attempts") is None:
                    continue
                lookups_total += 1
                if lk["attempts"] > 1 or lk.get("slow_retried"):
                    lookups_retried += 1
                if lk.get("slow_retried"):
                    lookups_slow += 1
            for h in rec.get("mx") or []:
                for a in h.get("addresses") or []:
                    p = a.get("probe") or {}
                    key = (h.get("host"), a.get("ip"))
                    if not p or key in probed:
                        continue
                    probed[key] = p.get("attempts") or 0
                    probe_results[p.get("result")] = probe_results.get(p.get("result"), 0) + 1
            if rec.get("mta_sts"):
                sts_checked += 1
                st = rec["mta_sts"].get("status")
                sts_status[st] = sts_status.get(st, 0) + 1
                st = (rec.get("tlsrpt_record") or {}).get("status")
                tlsrpt_status[st] = tlsrpt_status.get(st, 0) + 1
                for lk in sts_lookups(rec):
                    sts_lookup_count += 1
                    sts_attempts += lk["attempts"]
            failed = rec["status"] == "lookup-failed" or any(
                lk.get("dnssec") == "failed" for lk in lookups(rec)) or any(
                h.get("status") in FAILED_HOST for h in rec.get("mx") or [])
            e = expect.get(d)
            if e is None:
                if failed:
                    wrong_failed.append(d)
                continue
            if failed and e["status"] != "lookup-failed":
                wrong_failed.append(d)
            hosts = {h["host"]: h["status"] for h in rec.get("mx") or []}
            if (rec["status"], rec.get("mx_dnssec"), hosts) != (e["status"], e["mx_dnssec"], e["hosts"]):
                mismatch.append({"domain": d, "got": [rec["status"], rec.get("mx_dnssec"), hosts],
                                 "want": [e["status"], e["mx_dnssec"], e["hosts"]]})
    with open(meta_path) as f:
        meta = json.load(f)
    dns = meta["dns"]
    cache = meta["mx_host_cache"]
    tv = time_v(time_path)
    q = dns["queries_sent"]
    cpu_s = tv.get("user_s", 0) + tv.get("sys_s", 0)
    out = {
        "domains": n, "wall_s": round(wall, 2),
        "domains_per_s": round(n / wall) if wall else None,
        "queries_sent": q, "queries_per_s": round(q / wall) if wall else None,
        "scanner_cpu_s": round(cpu_s, 2),
        "cpu_us_per_query": round(cpu_s * 1e6 / q, 2) if q else None,
        "dns": dns,
        "lookups_in_output": lookups_total,
        "lookups_retried": lookups_retried,
        "lookups_retried_pct": round(100.0 * lookups_retried / lookups_total, 3) if lookups_total else 0,
        "lookups_slow_retried": lookups_slow,
        "peak_rss_mb": round(tv.get("max_rss_kb", 0) / 1024.0, 1),
        "mx_host_cache": cache,
        "mx_host_cache_hit_pct": round(100.0 * cache["hits"] / cache["requests"], 2) if cache["requests"] else None,
        "status_counts": {k: v for k, v in meta["status_counts"].items() if v},
        "missing_domains": sum(1 for d in expect if d not in seen) if len(seen) >= len(expect) // 2 else None,
        "probed_addresses": sum(1 for v in probed.values() if v > 0),
        "probe_sessions": sum(probed.values()),
        "probe_results": probe_results,
        "mta_sts_checked": sts_checked, "mta_sts_lookups": sts_lookup_count, "mta_sts_attempts": sts_attempts,
        "mta_sts_status": sts_status, "tlsrpt_status": tlsrpt_status,
        "wrongly_failed": len(wrong_failed), "wrongly_failed_sample": wrong_failed[:5],
        "mismatches": len(mismatch), "mismatch_sample": mismatch[:3],
    }
    if len(argv) > 6:
        with open(argv[6]) as f:
            out["servers_cpu"] = json.load(f)
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
