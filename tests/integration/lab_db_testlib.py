"""Shared set-up of test_report_lab.py and test_diff_lab.py: a private
database (as report_testlib.TestDB, but empty: no fixture) plus a lab world
in its own network namespace and its own state directory (a temp dir), and
`danescan scan` runs inside that namespace that write into the database and
a JSON Lines file.

Everything is removed in close() (also on failure or SIGTERM/SIGINT): the
lab is taken down (`scripts/lab down` for our namespace only), the database
dropped, the cluster stopped if we started it, the temp dir deleted."""

import json
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_testlib import DANESCAN, SOURCE, TestDB, run  # noqa: E402

LAB = os.path.join(SOURCE, "scripts", "lab")
CASES = os.path.join(SOURCE, "tests", "lab", "cases.txt")
DOMAINS = os.path.join(SOURCE, "inputs", "lab-domains.txt")
SCAN_OPTIONS = ["--allow-reserved", "--greeting-timeout-ms", "3000", "--per-ip-gap-ms", "50",
                "--rate", "500", "--no-progress"]


def find_labsmtp():
    """danescan-labsmtp next to the danescan under test (DANESCAN_BUILD or the
    build dir of DANESCAN), else None (scripts/lab then finds its own)."""
    if os.environ.get("DANESCAN_LABSMTP"):
        return os.environ["DANESCAN_LABSMTP"]
    builds = [os.environ.get("DANESCAN_BUILD"), os.path.dirname(os.path.dirname(os.path.abspath(DANESCAN)))]
    for b in builds:
        if b:
            p = os.path.join(b, "tests", "labsmtp", "danescan-labsmtp")
            if os.access(p, os.X_OK):
                return p
    return None


class LabDB(TestDB):
    """An empty private database (schema only) and a lab in namespace `ns`."""

    def __init__(self, prefix, ns):
        # Lab fields first: TestDB.__init__ may call close() (LabDB.close) on
        # failure, and routes signals to it.
        self.ns = ns
        self.lab_up = False
        self.tmp = tempfile.mkdtemp(prefix=f"{ns}-")
        self.state = os.path.join(self.tmp, "state")
        os.makedirs(self.state)
        os.chmod(self.tmp, 0o755)
        self.env = dict(os.environ, DANESCAN_LAB_NS=ns, DANESCAN_STATE=self.state)
        self.env.pop("DANESCAN_LAB_CASES", None)
        labsmtp = find_labsmtp()
        if labsmtp:
            self.env["DANESCAN_LABSMTP"] = labsmtp
        super().__init__(prefix, fixture=None)

    def lab(self, *args, cases=None, timeout=300):
        env = dict(self.env)
        if cases:
            env["DANESCAN_LAB_CASES"] = cases
        return run(LAB, *args, env=env, timeout=timeout)

    def up(self, cases=None):
        """`scripts/lab up` (again: rebuilds every zone from `cases`, keeps
        the namespace and the keys). Returns True when the lab is up."""
        t0 = time.monotonic()
        self.lab_up = True  # take it down in close() even if up fails half-way
        r = self.lab("up", cases=cases)
        ok = self.check(r.returncode == 0, f"scripts/lab up ({os.path.basename(cases or CASES)}, "
                        f"{time.monotonic() - t0:.1f} s)", r.stderr[-800:] + r.stdout[-300:])
        return ok

    def scan(self, scan_id, inputs=DOMAINS):
        """One lab scan into the database and a JSON Lines file; returns
        (CompletedProcess, records)."""
        out = os.path.join(self.tmp, f"{scan_id}.jsonl")
        t0 = time.monotonic()
        r = self.lab("exec", DANESCAN, "scan", *SCAN_OPTIONS, "--db", self.url, "--scan-id", scan_id,
                     "--output", out, inputs, timeout=300)
        records = []
        if os.path.exists(out):
            with open(out) as f:
                records = [json.loads(line) for line in f if line.strip()]
        self.check(r.returncode == 0 and records, f"scan {scan_id}: exit 0, {len(records)} records "
                   f"({time.monotonic() - t0:.1f} s)", f"rc={r.returncode} {r.stderr[-800:]}")
        return r, records

    def close(self):
        if self.lab_up:
            self.lab_up = False
            r = self.lab("down", timeout=120)
            if r.returncode != 0:
                print(f"warning: scripts/lab down ({self.ns}): {r.stderr.strip()[-300:]}")
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        super().close()
