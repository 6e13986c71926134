#!/usr/bin/python3
"""A second machine joins a scan that is under way (the work queue of
PostgreSQL; part 3 of what test_workers_lab.py asserted before it ran beside
other tests): another host name (its own UTS namespace, its own environment)
runs `danescan worker` mid-scan; the scan gets faster (workers are made
latency-bound by a 20 ms DNS delay through tests/dnsfault/dnsfault.py) and
its result equals a 1-worker scan. The speed-up is a rate, so this test runs
alone (RUN_SERIAL); test_workers_lab.py holds the parts no load can break.

Uses scripts/db (a private database, dropped at the end) and the lab of
test_workers_lab.py (store_lab "danescan-workers", lock workers_lab in
tests/CMakeLists.txt); starts what is not running, stops what it started.
DANESCAN_WORKERS_BULK (default 1500) bulk domains."""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
from harness import (DANESCAN, SOURCE, PrivateDB, Processes, TempDir, check, compare_scans,  # noqa: E402
                     run_test, store_lab)
from workers_common import BULK, WorkerScans  # noqa: E402

DNSFAULT = os.path.join(SOURCE, "tests", "dnsfault", "dnsfault.py")
PROXY = "127.0.0.1:5399"
tmp_dir = TempDir("danescan-workers-join-", public=True)
tmp = tmp_dir.path
lab = store_lab("danescan-workers", "/tmp/danescan-workers-lab")
db = PrivateDB("test_workers_join")
procs = Processes()
workers = WorkerScans(lab, db, procs)
scan, one_value, exactly_once = workers.scan, workers.one_value, workers.exactly_once


def domains_stored(scan_id):
    return int(one_value(f"SELECT count(*) FROM domains WHERE scan_id = '{scan_id}'"))


def rate_over(scan_id, seconds):
    a = domains_stored(scan_id)
    time.sleep(seconds)
    return (domains_stored(scan_id) - a) / seconds


def main():
    db.open()
    lab.ensure_up(bulk=BULK, strict=True)
    bulk_only = os.path.join(tmp, "bulk.txt")
    with open(bulk_only, "w") as f:
        f.write(lab.output("bulk-domains", str(BULK)))

    scan("joinref", bulk_only, "--probe", "none", "--workers", "1")
    counts = os.path.join(tmp, "proxy.json")
    procs.start(lab.in_ns("python3", DNSFAULT, "--listen", PROXY, "--upstream", "127.0.0.1:53", "--delay", "20",
                          "--counts", counts), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    proc = scan("join", bulk_only, "--probe", "none", "--workers", "1", "--concurrency", "4", "--chunk-size", "25",
                "--resolver", PROXY, background=True)
    deadline = time.monotonic() + 60
    while domains_stored("join") < 50 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    alone = rate_over("join", 3.0)
    machine2 = lab.in_ns("unshare", "--uts", "sh", "-c",
                         'hostname danescan-machine2 && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"', "sh",
                         DANESCAN, "worker", "--db", db.url, "--scan", "join", "--workers", "1")
    second = procs.start(machine2, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.0)
    together = rate_over("join", 3.0)
    out, err = proc.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=120)
    print(f"     measure join: {alone:.0f} domains/s with one worker, {together:.0f} with the second machine",
          flush=True)
    check(proc.returncode == 0, "scan joined by a second machine exits 0", err.decode()[-1500:])
    check(second.returncode == 0, "danescan worker on the second machine exits 0", err2.decode()[-1500:])
    check(together >= 1.4 * alone, f"the second machine speeds the scan up ({alone:.0f} -> {together:.0f} domains/s)")
    row = db.sql("SELECT host, domains FROM scan_workers WHERE scan_id = 'join' AND host = 'danescan-machine2'")
    check(len(row) == 1 and int(row[0][1]) > 0, f"the second machine's worker stored domains ({row})")
    exactly_once("join", BULK, "joined scan")
    compare_scans(db, "joinref", "join", "joined scan", tables=["domains", "domain_mx", "mx_hosts"])
    complete = one_value("SELECT complete FROM scans WHERE id = 'join'")
    check(complete == "t", "joined scan is recorded complete")


run_test(main, tmp_dir, lab, db, procs)
