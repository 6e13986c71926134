#!/usr/bin/python3
"""CTest fixtures (tests/CMakeLists.txt): what several tests would each start
and stop for themselves is started once before the first of them and
stopped after the last, so that they can share it (also when ctest runs
tests in parallel) and do not pay for it every time:

  fixture.py db start|stop    the scripts/db cluster (DANESCAN_STATE); each
                              test's PrivateDB finds it running, makes its
                              own database in it and leaves the cluster up
  fixture.py lab up|down      the shared lab (Lab(): DANESCAN_LAB_NS,
                              DANESCAN_STATE) with its mail servers; the
                              tests' Lab().ensure_up() finds it up and
                              leaves it up

start/up leave a marker file when they started the cluster or the lab;
stop/down act only when that marker is there, so a cluster or lab that was
running before ctest (an engineer's own) is used and left running. Exit
status 0 when done, 1 otherwise (ctest then does not run the tests that
need the fixture)."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
from harness import DB_SCRIPT, SOURCE, Lab, run  # noqa: E402


def db_marker():
    state = os.environ.get("DANESCAN_STATE") or os.path.join(SOURCE, ".state")
    return os.path.join(state, "pg", "ctest-fixture-started")


def lab_marker(lab):
    return os.path.join(lab.state, "lab-ctest-fixture-started")


def say(p, what):
    out = (p.stdout or b"").decode(errors="replace") + (p.stderr or b"").decode(errors="replace")
    print(out[-3000:], end="", flush=True)
    print(f"{'ok' if p.returncode == 0 else 'FAIL'} {what} (exit {p.returncode})", flush=True)
    return 0 if p.returncode == 0 else 1


def main(what, action):
    if what == "db" and action == "start":
        if run(DB_SCRIPT, "status").returncode == 0:
            print("ok the database cluster is running already: used and left running", flush=True)
            return 0
        p = run(DB_SCRIPT, "start")
        if p.returncode == 0:
            open(db_marker(), "w").close()
        return say(p, "scripts/db start")
    if what == "db" and action == "stop":
        if not os.path.exists(db_marker()):
            print("ok the database cluster was not started by this fixture: left alone", flush=True)
            return 0
        os.unlink(db_marker())
        return say(run(DB_SCRIPT, "stop"), "scripts/db stop")
    if what == "lab" and action == "up":
        lab = Lab()
        p = lab.ensure_up(mail=True)
        if p is None:
            print(f"ok the lab in {lab.ns} is up already: used and left up", flush=True)
            return 0
        if lab.started:
            os.makedirs(lab.state, exist_ok=True)
            open(lab_marker(lab), "w").close()
        return say(p, f"scripts/lab up ({lab.ns})")
    if what == "lab" and action == "down":
        lab = Lab()
        if not os.path.exists(lab_marker(lab)):
            print(f"ok the lab in {lab.ns} was not brought up by this fixture: left alone", flush=True)
            return 0
        os.unlink(lab_marker(lab))
        return say(lab.run("down", timeout=120), f"scripts/lab down ({lab.ns})")
    print(f"usage: {sys.argv[0]} db start|stop | lab up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:3] + ["", ""])[:2]))
