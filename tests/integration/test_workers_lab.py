#!/usr/bin/python3
"""One scan shared by worker processes through PostgreSQL (the work queue),
on the lab world with its mail servers (probes on) plus bulk domains:

1. the same input scanned by 1 worker and by 4 workers gives the same rows
   (domains, links, hosts, TLSA, addresses, probe results), JSON Lines with
   one record per name, each host probed once (no duplicate probe, the same
   number of probes as with one worker), and `danescan status` says so;
2. kill -9 of a random worker holding a lease, several rounds, while the
   scan runs: the supervisor replaces it, its chunks are taken over, and the
   scan ends with every input name exactly once, equal to the 1-worker scan;
   and a lease taken over under a live worker: its next batch is refused
   (no domain twice), it stops and is replaced;
3. (test_workers_join.py, which runs alone: it asserts a speed-up) a second
   machine joins with `danescan worker` mid-scan.
Nothing here asserts a time or a rate, so it runs beside other tests
(DANESCAN_PARALLEL_TESTS).

Uses scripts/db (a private database, dropped at the end) and a private lab
(namespace danescan-workers); starts what is not running, stops what it
started. DANESCAN_WORKERS_BULK (default 1500) bulk domains."""

import json
import os
import random
import signal
import sys
import time

sys.dont_write_bytecode = True
from harness import (DANESCAN, PrivateDB, Processes, TempDir, check, compare_scans, run,  # noqa: E402
                     run_test, store_lab)
from workers_common import BULK, WorkerScans  # noqa: E402

KILLS = 3
tmp_dir = TempDir("danescan-workers-", public=True)
tmp = tmp_dir.path
lab = store_lab("danescan-workers", "/tmp/danescan-workers-lab")
db = PrivateDB("test_workers")
procs = Processes()
workers = WorkerScans(lab, db, procs)
scan, one_value, exactly_once = workers.scan, workers.one_value, workers.exactly_once


def jsonl_check(path, names, label):
    seqs = []
    with open(path) as f:
        for line in f:
            seqs.append(json.loads(line)["input"]["seq"])
    check(sorted(seqs) == list(range(names)), f"{label}: JSON Lines hold one record per name ({len(seqs)})")


def main():
    db.open()
    lab.ensure_up(bulk=BULK, strict=True)
    inputs = os.path.join(tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write(lab.output("domains"))
        f.write(lab.output("bulk-domains", str(BULK)))
    names = sum(1 for _ in open(inputs))

    # 1. One worker against four.
    one_out, four_out = os.path.join(tmp, "one.jsonl"), os.path.join(tmp, "four.jsonl")
    scan("one", inputs, "--workers", "1", "--output", one_out)
    # At most 200 domains in flight per worker (4 chunks): with the default
    # 2,000 the first worker to start could lease all 32 chunks at once.
    scan("four", inputs, "--workers", "4", "--chunk-size", "50", "--concurrency", "200", "--output", four_out)
    compare_scans(db, "one", "four", "4 workers against 1")
    exactly_once("four", names, "4 workers")
    jsonl_check(four_out, names, "4 workers")
    workers = db.sql("SELECT count(*), count(*) FILTER (WHERE chunks > 0), sum(probes) FROM scan_workers"
                     " WHERE scan_id = 'four'")[0]
    check(workers[0] == "4" and int(workers[1]) >= 2, f"4 workers ran, {workers[1]} of them took chunks")
    one_probes = one_value("SELECT sum(probes) FROM scan_workers WHERE scan_id = 'one'")
    check(workers[2] == one_probes and int(one_probes) > 0,
          f"4 workers probed as many addresses as 1 worker ({workers[2]} / {one_probes}): no host probed twice")
    dup = one_value("SELECT coalesce(sum(probe_runs - 1), -1) FROM host_claims WHERE scan_id = 'four'")
    check(dup == "0", "4 workers: 0 duplicate probes (host claims)", dup)
    borrowed = one_value("SELECT count(*) FROM host_claims WHERE scan_id = 'four'")
    probed_hosts = one_value("SELECT count(DISTINCT host) FROM probes WHERE scan_id = 'four' AND result <> 'skipped'")
    check(borrowed == probed_hosts, f"4 workers: one claim per probed host ({borrowed} / {probed_hosts})")
    p = run(DANESCAN, "status", "--db", db.url, "--scan", "four")
    out = p.stdout.decode()
    check(p.returncode == 0 and "complete" in out.splitlines()[0] and f"done: {names} of {names} names" in out,
          "danescan status: complete, every name done", out + p.stderr.decode())

    # 2. kill -9 of workers holding leases, while the scan runs.
    rng = random.Random(int(os.environ.get("DANESCAN_WORKERS_SEED", str(os.getpid()))))
    t0 = time.monotonic()
    proc = scan("kill", inputs, "--workers", "4", "--chunk-size", "20", "--concurrency", "20", background=True)
    killed = 0
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.8, 1.6))
        # A loaded machine may have no lease held at that instant (workers
        # starting under ASan, a replacement not yet leasing): look again
        # for a while, so the test kills KILLS holders however slow it runs.
        holders = []
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            holders = db.sql("SELECT w.pid FROM scan_chunks c JOIN scan_workers w"
                             " ON w.scan_id = c.scan_id AND w.worker_id = c.lease_owner"
                             " WHERE c.scan_id = 'kill' AND c.state = 'leased' AND w.exited_at IS NULL")
            if holders:
                break
            time.sleep(0.2)
        if holders:
            pid = int(rng.choice(holders)[0])
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    out, err = proc.communicate(timeout=300)
    err = err.decode(errors="replace")
    print(f"     measure kill: the scan with {killed} workers killed took {time.monotonic() - t0:.1f} s", flush=True)
    check(killed >= 2, f"killed {killed} workers holding leases")
    check(proc.returncode == 0, "scan with killed workers exits 0", err[-2000:])
    check("Sanitizer" not in err and "runtime error" not in err, "scan with killed workers: no sanitizer report",
          err[-3000:])
    exactly_once("kill", names, "after kill -9")
    compare_scans(db, "one", "kill", "after kill -9 of workers")
    dead = one_value("SELECT count(*) FROM scan_workers WHERE scan_id = 'kill' AND exit_status LIKE 'killed%'")
    check(int(dead) == killed, f"the supervisor saw every killed worker ({dead}) and replaced it",
          err[-800:])
    taken = one_value("SELECT count(*) FROM scan_chunks WHERE scan_id = 'kill' AND leases > 1")
    check(int(taken) >= 1, f"{taken} chunks were taken over after their worker died")

    # 2b. A lease taken over under a live worker (as after a long stall) by
    # a worker that is alive: the loser's next batch must not commit (else a
    # domain could be stored twice); it stops and is replaced. The thief is a
    # row in scan_workers with a fresh heartbeat; once a loser has stopped it
    # "exits" and its chunks are taken over.
    proc = scan("fence", inputs, "--workers", "2", "--chunk-size", "20", "--concurrency", "10", background=True)
    stolen = []
    deadline = time.monotonic() + 60
    while not stolen and time.monotonic() < deadline and proc.poll() is None:
        if db.sql("SELECT count(*) FROM scan_chunks WHERE scan_id = 'fence' AND state = 'leased'"
                  " AND done_count > 0") != [["0"]]:
            db.sql("INSERT INTO scan_workers (scan_id, worker_id, host, pid) VALUES ('fence', 'thief', 'nowhere', 0)"
                   " ON CONFLICT DO NOTHING RETURNING 1")
            stolen = db.sql("UPDATE scan_chunks SET lease_owner = 'thief', lease_expires = now() + interval '1 hour'"
                            " WHERE scan_id = 'fence' AND state = 'leased' AND done_count > 0 RETURNING chunk_no")
        time.sleep(0.05)
    losers = []
    while stolen and not losers and time.monotonic() < deadline and proc.poll() is None:
        losers = db.sql("SELECT worker_id FROM scan_workers WHERE scan_id = 'fence' AND exit_status LIKE 'failed%'")
        time.sleep(0.1)
    db.sql("UPDATE scan_workers SET exited_at = now(), exit_status = 'thief gone' WHERE worker_id = 'thief'"
           " RETURNING 1")
    out, err = proc.communicate(timeout=300)
    err = err.decode(errors="replace")
    check(len(stolen) > 0, f"took over {len(stolen)} half-done chunks under their live workers")
    check(len(losers) > 0 and "lost the lease" in err,
          f"a worker refused to commit into a chunk it no longer holds, and stopped ({len(losers)})", err[-1500:])
    check(proc.returncode == 0, "the scan still completes (exit 0)", err[-1500:])
    exactly_once("fence", names, "after lease takeovers")
    compare_scans(db, "one", "fence", "after lease takeovers", tables=["domains", "domain_mx", "mx_hosts"])


run_test(main, tmp_dir, lab, db, procs)
