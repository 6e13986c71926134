#!/usr/bin/python3
"""One metadata writer for both ways a scan runs (issue 14): the --metadata
document of `scan --db --workers 0` (one process) and of `scan --db
--workers 2` (a supervisor and two workers through the work queue) over the
same lab input (the lab's domains, bulk domains, a duplicate and an invalid
name; DNS only) must have the same keys, at every level, and the same counts: domains,
every status (zeros included), input counts, inputs with their digests. The
counts are also checked against the database (domains rows, scans.inputs and
scans.input_counts), and the worker scan's DNS and host-cache counters must
be the sums the workers stored, not zeros.

Uses scripts/db (a private database, dropped at the end) and a private lab
(namespace danescan-metadata); starts what is not running, stops what it
started."""

import json
import os
import sys

sys.dont_write_bytecode = True
from harness import PrivateDB, TempDir, check, run_test, store_lab  # noqa: E402

BULK = 150
# DNS only: the statuses then do not depend on how fast the lab's mail
# servers greet on a loaded machine (the metadata has no probe counters; the
# probe path of workers is test_workers_lab's).
OPTIONS = ["--allow-reserved", "--probe", "none", "--no-progress"]
tmp_dir = TempDir("danescan-metadata-", public=True)
tmp = tmp_dir.path
lab = store_lab("danescan-metadata", "/tmp/danescan-metadata-lab")
db = PrivateDB("test_metadata")


def keys(doc, prefix=""):
    """Every key path of a JSON document; list elements share one path."""
    out = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(prefix + k)
            out |= keys(v, prefix + k + ".")
    elif isinstance(doc, list):
        for v in doc:
            out |= keys(v, prefix + "[].")
    return out


def scan(scan_id, inputs, workers):
    path = os.path.join(tmp, f"{scan_id}.json")
    p = lab.danescan("scan", *OPTIONS, "--db", db.url, "--scan-id", scan_id, "--workers", str(workers),
                     "--metadata", path, inputs)
    err = p.stderr.decode(errors="replace")
    check(p.returncode == 0, f"scan {scan_id} (--workers {workers}) exits 0", err[-2000:])
    check("Sanitizer" not in err and "runtime error" not in err, f"scan {scan_id}: no sanitizer report",
          err[-3000:])
    with open(path) as f:
        return json.load(f)


def db_counts(scan_id):
    rows = db.sql(f"SELECT status, count(*) FROM domains WHERE scan_id = '{scan_id}' GROUP BY 1")
    return {status: int(n) for status, n in rows}


def main():
    db.open()
    lab.ensure_up(bulk=BULK, strict=True)
    inputs = os.path.join(tmp, "domains.txt")
    lab_domains = lab.output("domains").split()
    with open(inputs, "w") as f:
        f.write("\n".join(lab_domains) + "\n")
        f.write(lab.output("bulk-domains", str(BULK)))
        f.write(lab_domains[0] + "\n")          # a duplicate: counted, scanned once
        f.write("not..a.domain\n")              # an invalid name: counted and stored

    one = scan("meta-one", inputs, 0)
    two = scan("meta-two", inputs, 2)

    missing = keys(one) ^ keys(two)
    check(not missing, f"both documents have the same keys at every level ({len(keys(one))} key paths)",
          ", ".join(sorted(missing)))
    for field in ("domains", "status_counts", "input_counts", "inputs", "probe_mode", "complete", "error",
                  "resolvers"):
        check(one.get(field) == two.get(field), f"'{field}' is the same for 1 process and 2 workers",
              f"{one.get(field)} / {two.get(field)}")
    check(set(one["status_counts"]) == set(two["status_counts"]) and len(one["status_counts"]) >= 13,
          f"status_counts lists every status, zeros too ({len(one['status_counts'])})")
    check(one["input_counts"]["duplicates"] == 1 and one["input_counts"]["invalid"] >= 1,
          f"input counts see the duplicate and the invalid name ({one['input_counts']})")

    for scan_id, doc in (("meta-one", one), ("meta-two", two)):
        counts = db_counts(scan_id)
        nonzero = {k: v for k, v in doc["status_counts"].items() if v}
        check(nonzero == counts, f"{scan_id}: status_counts are the domains rows' ({sum(counts.values())})",
              f"{nonzero} / {counts}")
        check(doc["domains"] == sum(counts.values()), f"{scan_id}: domains is the number of rows")
        stored = json.loads(db.sql(f"SELECT input_counts FROM scans WHERE id = '{scan_id}'")[0][0] or "null")
        check(stored == doc["input_counts"], f"{scan_id}: scans.input_counts is the document's", f"{stored}")
        digests = json.loads(db.sql(f"SELECT inputs FROM scans WHERE id = '{scan_id}'")[0][0])
        check(digests == doc["inputs"] and doc["inputs"][0]["sha256"],
              f"{scan_id}: inputs and their digests are the stored ones", f"{digests}")

    check(len(one["workers"]) == 1 and one["workers"][0]["worker_id"] is None
          and one["workers"][0]["domains"] == one["domains"] and one["workers"][0]["exit_status"] == "done",
          "workers: the one process (no worker id) for --workers 0", json.dumps(one["workers"]))
    check(len(two["workers"]) == 2 and all(w["exit_status"] == "done" and w["worker_id"] for w in two["workers"])
          and sum(w["domains"] for w in two["workers"]) == two["domains"],
          "workers: two, done, whose domains add up, for the queued scan", json.dumps(two["workers"]))
    stored = db.sql("SELECT sum((counters->'dns'->>'lookups')::bigint),"
                    " sum((counters->'mx_host_cache'->>'requests')::bigint)"
                    " FROM scan_workers WHERE scan_id = 'meta-two'")[0]
    check(stored[0] is not None and int(stored[0]) == two["dns"]["lookups"] > 0
          and int(stored[1]) == two["mx_host_cache"]["requests"] > 0,
          f"the queued scan's DNS and host-cache counters are the workers' sums "
          f"({two['dns']['lookups']} lookups, {two['mx_host_cache']['requests']} host requests)", str(stored))
    check(two["dns"]["resolvers"] and two["dns"]["resolvers"][0]["queries_sent"] > 0
          and two["dns"]["resolvers"][0]["name"] == one["dns"]["resolvers"][0]["name"],
          "per-resolver counters are summed by resolver name", json.dumps(two["dns"]["resolvers"]))


run_test(main, tmp_dir, lab, db)
