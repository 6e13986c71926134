#!/usr/bin/python3
"""PostgreSQL store under crashes: a lab scan (case + bulk domains) killed
with SIGKILL at random points and resumed with `danescan resume` ends with
exactly the rows of an uninterrupted scan (row for row, nothing twice,
nothing missing); a scan during which PostgreSQL restarts completes with
nothing missing; a scan during which PostgreSQL is stopped for 30 s
(DANESCAN_STORE_PAUSE_S) and started again waits, retries and completes
with nothing missing; one where it stays away past the retry timeout gives
up with a message (no hang) and `resume` completes it. Scans run the default way (--db: worker processes,
as many as cores); kill -9 hits the supervisor and its workers.

Uses scripts/db (a private database, dropped at the end) and a private lab
(DANESCAN_LAB_NS=danescan-store) with DANESCAN_STORE_BULK bulk domains
(default 8000); starts what is not running and stops what it started."""

import os
import random
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_common import DB, DB_ENV, LAB, LAB_ENV, Harness, compare_scans, run  # noqa: E402

BULK = int(os.environ.get("DANESCAN_STORE_BULK", "8000"))
KILLS = int(os.environ.get("DANESCAN_STORE_KILLS", "3"))
PAUSE_S = int(os.environ.get("DANESCAN_STORE_PAUSE_S", "30"))
h = Harness("store_crash")


def compare(ref, other, label):
    compare_scans(h, ref, other, label)


def scan_args(scan_id, inputs):
    return ["scan", "--probe", "none", "--no-progress", "--quiet", "--concurrency", "20",
            "--db", h.url, "--scan-id", scan_id, inputs]


def main():
    h.db_up()
    h.lab_up(bulk=BULK)
    inputs = os.path.join(h.tmp, "domains.txt")
    with open(inputs, "w") as f:
        f.write(run([LAB, "domains"], env=LAB_ENV).stdout.decode())
        f.write(run([LAB, "bulk-domains", str(BULK)], env=LAB_ENV).stdout.decode())
    os.chmod(h.tmp, 0o755)
    names = sum(1 for _ in open(inputs))

    t0 = time.monotonic()
    p = h.danescan_lab(*scan_args("ref", inputs))
    ref_s = time.monotonic() - t0
    h.check(p.returncode == 0, f"uninterrupted scan of {names} names exits 0 ({ref_s:.1f} s)",
            p.stderr.decode()[-1500:])
    h.check(h.sql("SELECT count(*) FROM domains WHERE scan_id = 'ref'") == [[str(names)]],
            "uninterrupted scan stored every name")

    # kill -9 at random points, resume each time, the last resume finishes.
    rng = random.Random(int(os.environ.get("DANESCAN_STORE_SEED", str(os.getpid()))))
    proc = h.danescan_lab(*scan_args("crash", inputs), background=True)
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.2, max(0.4, ref_s * 0.4)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        stored = h.sql("SELECT count(*) FROM domains WHERE scan_id = 'crash'")[0][0]
        print(f"     kill {kill + 1}: {stored} domains committed", flush=True)
        proc = h.danescan_lab("resume", "crash", "--db", h.url, "--quiet", background=True)
    out, err = proc.communicate(timeout=170)
    h.check(proc.returncode == 0, "last resume exits 0", err.decode()[-1500:])
    runs = h.sql("SELECT runs FROM scans WHERE id = 'crash'")
    h.check(runs == [[str(KILLS + 1)]], f"scan ran {KILLS + 1} times", str(runs))
    compare("ref", "crash", "after kill -9 and resume")
    # A second resume of a finished scan scans nothing and changes nothing.
    batches = h.sql("SELECT count(*) FROM scan_batches WHERE scan_id = 'crash'")
    p = h.danescan_lab("resume", "crash", "--db", h.url)
    h.check(p.returncode == 0 and batches == h.sql("SELECT count(*) FROM scan_batches WHERE scan_id = 'crash'"),
            "resuming a finished scan stores nothing new", p.stderr.decode()[-500:])
    compare("ref", "crash", "after a needless resume")

    # PostgreSQL restarts in the middle of a scan: the writer retries.
    proc = h.danescan_lab(*scan_args("restart", inputs), background=True)
    time.sleep(max(0.3, ref_s * 0.3))
    p = run([DB, "restart"], env=DB_ENV)
    h.check(p.returncode == 0, "PostgreSQL restarted mid-scan", p.stderr.decode())
    out, err = proc.communicate(timeout=170)
    h.check(proc.returncode == 0, "scan across a PostgreSQL restart exits 0", err.decode()[-1500:])
    print("     " + "\n     ".join(l for l in err.decode().splitlines() if "retrying" in l)[:600], flush=True)
    compare("ref", "restart", "across a PostgreSQL restart")

    # PostgreSQL is away for PAUSE_S seconds in the middle of a scan: the
    # workers stop admitting (their sink and queue cannot commit or lease),
    # retry, and lose nothing.
    proc = h.danescan_lab(*scan_args("outage", inputs), background=True)
    time.sleep(max(0.3, ref_s * 0.3))
    p = run([DB, "stop"], env=DB_ENV)
    h.check(p.returncode == 0, f"PostgreSQL stopped mid-scan for {PAUSE_S} s", p.stderr.decode())
    t0 = time.monotonic()
    time.sleep(PAUSE_S)
    alive = proc.poll() is None
    p = run([DB, "start"], env=DB_ENV)
    h.check(p.returncode == 0 and alive, "the scan waited for the database (still running when it came back)",
            p.stderr.decode())
    out, err = proc.communicate(timeout=400)
    h.check(proc.returncode == 0, f"scan across a {PAUSE_S} s outage exits 0 ({time.monotonic() - t0:.1f} s after"
            " the stop)", err.decode()[-1500:])
    retries = [l for l in err.decode().splitlines() if "retrying" in l]
    h.check(len(retries) > 0, f"the workers said they were retrying ({len(retries)} lines)")
    compare("ref", "outage", f"across a {PAUSE_S} s PostgreSQL outage")

    # PostgreSQL away for longer than the scan may wait (DANESCAN_DB_RETRY_TIMEOUT_S=3):
    # the scan gives up with a clear message instead of hanging, what was
    # committed stays, and `resume` finishes it.
    proc = h.danescan_lab(*scan_args("giveup", inputs), background=True, env={"DANESCAN_DB_RETRY_TIMEOUT_S": "3"})
    time.sleep(max(0.3, ref_s * 0.3))
    run([DB, "stop"], env=DB_ENV)
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=120)
    except Exception:
        out, err = b"", b"(still running after 120 s)"
    gave_up_s = time.monotonic() - t0
    run([DB, "start"], env=DB_ENV)
    h.check(proc.returncode not in (0, None) and b"giving up" in err,
            f"with the database gone past the retry timeout the scan gives up ({gave_up_s:.1f} s), says so",
            err.decode(errors="replace")[-1500:])
    h.check(gave_up_s < 60, f"and does not hang ({gave_up_s:.1f} s < 60 s)")
    p = h.danescan_lab("resume", "giveup", "--db", h.url, "--quiet")
    h.check(p.returncode == 0, "resume after the give-up exits 0", p.stderr.decode()[-1500:])
    compare("ref", "giveup", "after a give-up and resume")


h.run(main)
