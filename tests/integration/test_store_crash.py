#!/usr/bin/python3
"""PostgreSQL store under crashes: a lab scan (case + bulk domains) killed
with SIGKILL at random points and resumed with `danescan resume` ends with
exactly the rows of an uninterrupted scan (row for row, nothing twice,
nothing missing). Each kill comes when the committed domains pass a
fraction drawn from 20-60 % of the names (polled in the database, so it
lands mid-scan whatever the load or the resolver cache's warmth) and is
checked to have come after at least one new batch and at most 80 % of the
names; the killed scan and its resumes commit batches of KILL_BATCH (10)
domains, as with the default batch of 5000 all the bulk names commit
together a second in (a kill then falls before or after the bulk, never
in it), with the default 60 s leases: each resume ends the killed run's
workers at once (exit_status "killed", even while they are zombies not yet
reaped by PID 1), so it takes their chunks over without waiting for the
leases to expire; a scan during which PostgreSQL restarts completes with
nothing missing; a scan during which PostgreSQL is stopped for 10 s
(DANESCAN_STORE_PAUSE_S) and started again waits, retries and completes
with nothing missing; one where it stays away past the retry timeout gives
up with a message (no hang) and `resume` completes it. Scans run the default way (--db: worker processes,
as many as cores); kill -9 hits the supervisor and its workers.

Uses scripts/db (a private database, dropped at the end) and a private lab
(DANESCAN_LAB_NS=danescan-store) with DANESCAN_STORE_BULK bulk domains
(default 4000; kills: DANESCAN_STORE_KILLS, default 2); starts what is not running and stops what it started."""

import os
import random
import signal
import sys
import time

sys.dont_write_bytecode = True
from harness import PrivateDB, Processes, TempDir, check, compare_scans, run_test, store_lab  # noqa: E402

BULK = int(os.environ.get("DANESCAN_STORE_BULK", "4000"))
KILLS = int(os.environ.get("DANESCAN_STORE_KILLS", "2"))
PAUSE_S = int(os.environ.get("DANESCAN_STORE_PAUSE_S", "10"))
# The kill rounds: batches of KILL_BATCH domains (DANESCAN_DB_BATCH_DOMAINS,
# a test knob of pg_sink) make the commits fine-grained and the scan a few
# times slower than the psql poll; kill k comes once the committed domains
# pass a fraction drawn from KILL_AT (sorted, so later kills aim later) and
# must have come with more than the previous kill's count (at least one
# batch of this run) and at most KILL_MAX of the names.
KILL_BATCH = "10"
KILL_AT = (0.2, 0.6)
KILL_MAX = 0.8
# Leases keep the default TTL (60 s): a resume ends the killed workers of this
# host at once ("killed", their chunks pending again), even when they are
# still zombies waiting for PID 1 to reap them, so it does not wait the TTL.
tmp_dir = TempDir("danescan-store_crash-", public=True)
tmp = tmp_dir.path
lab = store_lab()
db = PrivateDB("test_store_crash")
procs = Processes()


def compare(ref, other, label):
    compare_scans(db, ref, other, label)


def scan_args(scan_id, inputs, *extra):
    return ["scan", "--probe", "none", "--no-progress", "--quiet", "--concurrency", "20",
            "--db", db.url, "--scan-id", scan_id, *extra, inputs]


def main():
    db.open()
    lab.ensure_up(bulk=BULK, strict=True)
    inputs = os.path.join(tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write(lab.output("domains"))
        f.write(lab.output("bulk-domains", str(BULK)))
    names = sum(1 for _ in open(inputs))

    t0 = time.monotonic()
    p = lab.danescan(*scan_args("ref", inputs))
    ref_s = time.monotonic() - t0
    check(p.returncode == 0, f"uninterrupted scan of {names} names exits 0 ({ref_s:.1f} s)",
          p.stderr.decode()[-1500:])
    check(db.sql("SELECT count(*) FROM domains WHERE scan_id = 'ref'") == [[str(names)]],
          "uninterrupted scan stored every name")

    # kill -9 at random points of the committed progress, resume each time,
    # the last resume finishes.
    seed = int(os.environ.get("DANESCAN_STORE_SEED", str(os.getpid())))
    rng = random.Random(seed)
    targets = sorted(rng.uniform(*KILL_AT) for _ in range(KILLS))
    kill_env = {"DANESCAN_DB_BATCH_DOMAINS": KILL_BATCH}

    def committed(scan_id):
        return int(db.sql(f"SELECT count(*) FROM domains WHERE scan_id = '{scan_id}'")[0][0])

    proc = lab.danescan(*scan_args("crash", inputs), procs=procs, env=kill_env)
    before = 0
    for kill in range(KILLS):
        # The kill comes once this run has registered (a kill before that is
        # not a run of the scan) and the committed domains have passed the
        # target and grown since the last kill.
        target = max(int(targets[kill] * names), before + 1)
        deadline = time.monotonic() + 120
        while (db.sql("SELECT coalesce(max(runs), 0) FROM scans WHERE id = 'crash'") != [[str(kill + 1)]]
               and proc.poll() is None and time.monotonic() < deadline):
            time.sleep(0.05)
        while proc.poll() is None and time.monotonic() < deadline and committed("crash") < target:
            time.sleep(0.01)
        alive = proc.poll() is None
        if alive:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        stored = committed("crash")
        print(f"     kill {kill + 1}: {stored} of {names} domains committed ({stored / names:.1%}; target"
              f" {targets[kill]:.1%}, seed {seed})", flush=True)
        check(alive and before < stored <= KILL_MAX * names,
              f"kill {kill + 1} came mid-scan: {before} < {stored} committed <= {KILL_MAX:.0%} of {names}")
        before = stored
        resumed_at = time.monotonic()
        proc = lab.danescan("resume", "crash", "--db", db.url, "--quiet", procs=procs, env=kill_env)
    out, err = proc.communicate(timeout=170)
    check(proc.returncode == 0, f"last resume exits 0 ({time.monotonic() - resumed_at:.1f} s)", err.decode()[-1500:])
    # Every worker of a killed run was ended by the next run's reaping, not
    # left to its lease's expiry: only "done" and "killed" remain.
    exits = dict(db.sql("SELECT coalesce(exit_status, 'none'), count(*) FROM scan_workers"
                        " WHERE scan_id = 'crash' GROUP BY 1"))
    check(set(exits) <= {"done", "killed"} and int(exits.get("killed", 0)) >= KILLS,
          f"the killed runs' workers were reaped at the next run, none left to the lease TTL ({exits})")
    runs = db.sql("SELECT runs FROM scans WHERE id = 'crash'")
    check(runs == [[str(KILLS + 1)]], f"scan ran {KILLS + 1} times", str(runs))
    compare("ref", "crash", "after kill -9 and resume")
    # A second resume of a finished scan scans nothing and changes nothing.
    batches = db.sql("SELECT count(*) FROM scan_batches WHERE scan_id = 'crash'")
    p = lab.danescan("resume", "crash", "--db", db.url)
    check(p.returncode == 0 and batches == db.sql("SELECT count(*) FROM scan_batches WHERE scan_id = 'crash'"),
          "resuming a finished scan stores nothing new", p.stderr.decode()[-500:])
    compare("ref", "crash", "after a needless resume")

    # Without workers (--workers 0): the resumed run skips every name already
    # stored (no seq is in two batches) and ends with the reference's rows. (The
    # resumed run replays the stored --quiet, so its "skipped" line is not shown.)
    # Batches of 100 domains, so the kill after the first commit leaves most names unstored.
    proc = lab.danescan(*scan_args("solo", inputs), "--workers", "0", procs=procs,
                        env={"DANESCAN_DB_BATCH_DOMAINS": "100"})
    deadline = time.monotonic() + 60
    while (db.sql("SELECT count(*) FROM scan_batches WHERE scan_id = 'solo'") == [["0"]]
           and proc.poll() is None and time.monotonic() < deadline):
        time.sleep(0.02)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = int(db.sql("SELECT count(*) FROM domains WHERE scan_id = 'solo'")[0][0])
    check(0 < stored < names // 2, f"the --workers 0 scan was killed part-way ({stored} of {names} stored)")
    p = lab.danescan("resume", "solo", "--db", db.url, "--no-progress")
    check(p.returncode == 0, "resume of the --workers 0 scan exits 0", p.stderr.decode()[-1500:])
    overlap = db.sql("SELECT count(*) FROM scan_batches a JOIN scan_batches b ON a.scan_id = b.scan_id"
                     " AND a.batch_no < b.batch_no AND a.seqs && b.seqs WHERE a.scan_id = 'solo'")
    check(overlap == [["0"]], "the resumed --workers 0 run scanned no stored name again", str(overlap))
    compare("ref", "solo", "after kill -9 and resume without workers")

    # PostgreSQL restarts in the middle of a scan: the writer retries.
    proc = lab.danescan(*scan_args("restart", inputs), procs=procs)
    time.sleep(max(0.3, ref_s * 0.3))
    p = db.script("restart")
    check(p.returncode == 0, "PostgreSQL restarted mid-scan", p.stderr.decode())
    out, err = proc.communicate(timeout=170)
    check(proc.returncode == 0, "scan across a PostgreSQL restart exits 0", err.decode()[-1500:])
    print("     " + "\n     ".join(l for l in err.decode().splitlines() if "retrying" in l)[:600], flush=True)
    compare("ref", "restart", "across a PostgreSQL restart")

    # PostgreSQL is away for PAUSE_S seconds in the middle of a scan: the
    # workers stop admitting (their sink and queue cannot commit or lease),
    # retry, and lose nothing.
    proc = lab.danescan(*scan_args("outage", inputs), procs=procs)
    time.sleep(max(0.3, ref_s * 0.3))
    p = db.script("stop")
    check(p.returncode == 0, f"PostgreSQL stopped mid-scan for {PAUSE_S} s", p.stderr.decode())
    t0 = time.monotonic()
    time.sleep(PAUSE_S)
    alive = proc.poll() is None
    p = db.script("start")
    check(p.returncode == 0 and alive, "the scan waited for the database (still running when it came back)",
          p.stderr.decode())
    out, err = proc.communicate(timeout=400)
    check(proc.returncode == 0, f"scan across a {PAUSE_S} s outage exits 0 ({time.monotonic() - t0:.1f} s after"
          " the stop)", err.decode()[-1500:])
    retries = [l for l in err.decode().splitlines() if "retrying" in l]
    check(len(retries) > 0, f"the workers said they were retrying ({len(retries)} lines)")
    compare("ref", "outage", f"across a {PAUSE_S} s PostgreSQL outage")

    # PostgreSQL away for longer than the scan may wait (DANESCAN_DB_RETRY_TIMEOUT_S=3):
    # the scan gives up with a clear message instead of hanging, what was
    # committed stays, and `resume` finishes it.
    proc = lab.danescan(*scan_args("giveup", inputs), procs=procs, env={"DANESCAN_DB_RETRY_TIMEOUT_S": "3"})
    time.sleep(max(0.3, ref_s * 0.3))
    db.script("stop")
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=120)
    except Exception:
        out, err = b"", b"(still running after 120 s)"
    gave_up_s = time.monotonic() - t0
    db.script("start")
    check(proc.returncode not in (0, None) and b"giving up" in err,
          f"with the database gone past the retry timeout the scan gives up ({gave_up_s:.1f} s), says so",
          err.decode(errors="replace")[-1500:])
    check(gave_up_s < 60, f"and does not hang ({gave_up_s:.1f} s < 60 s)")
    p = lab.danescan("resume", "giveup", "--db", db.url, "--quiet")
    check(p.returncode == 0, "resume after the give-up exits 0", p.stderr.decode()[-1500:])
    compare("ref", "giveup", "after a give-up and resume")


run_test(main, tmp_dir, lab, db, procs)
