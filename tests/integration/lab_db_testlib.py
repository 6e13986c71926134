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
from report_testlib import DANESCAN, DB_SCRIPT, SOURCE, TestDB, run  # noqa: E402

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
        # TestDB.__init__ also loads the report fixture; these tests want the
        # database to hold only their own lab scans, so the set-up is redone
        # here with the same steps and TestDB's methods are reused.
        import signal
        self.started_cluster = False
        self.name = None
        self.passed = self.failed = 0
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
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        if run(DB_SCRIPT, "status").returncode != 0:
            r = run(DB_SCRIPT, "start")
            if r.returncode != 0:
                self.close()
                sys.exit(f"scripts/db start failed: {r.stderr}")
            self.started_cluster = True
        base = run(DB_SCRIPT, "url").stdout.strip()
        self.admin_url = base.replace("/danescan?", "/postgres?", 1)
        self.name = f"{prefix}_{os.getpid()}"
        self.url = base.replace("/danescan?", f"/{self.name}?", 1)
        self.psql_admin(f"DROP DATABASE IF EXISTS {self.name}")
        self.psql_admin(f"CREATE DATABASE {self.name}")
        r = run(DANESCAN, "db", "migrate", "--db", self.url)
        if r.returncode != 0:
            print(f"note: danescan db migrate unavailable ({r.stderr.strip()[:100]}); applying migrations with psql")
            migrations = os.path.join(SOURCE, "schema", "migrations")
            for f in sorted(os.listdir(migrations)):
                if f.endswith(".sql"):
                    self.psql_file(os.path.join(migrations, f))

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


def check_offline(db, page_path, tmp):
    """test_report.check_offline for a page at `page_path`, except that console
    lines whose source is Chromium's own UI (`source: chrome://...`, e.g. the
    composebox "Slow network is detected" note, seen now and then in an
    offline namespace) are not the page's errors."""
    import re
    import subprocess
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        db.check(False, "headless Chromium installed (apt-get install chromium)")
        return
    shot = os.path.join(tmp, "report.png")
    netlog = os.path.join(tmp, "net.json")
    cmd = ["unshare", "--net", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={os.path.join(tmp, 'profile')}", "--enable-logging=stderr", "--v=0",
           f"--log-net-log={netlog}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--window-size=1000,4000", f"--screenshot={shot}", "file://" + page_path]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        db.check(False, "headless Chromium finished within 120 s")
        return
    db.check(r.returncode == 0 and os.path.exists(shot) and os.path.getsize(shot) > 10000,
             "headless Chromium took a screenshot", r.stderr[-500:])
    page_errors = [l for l in r.stderr.splitlines()
                   if re.search(r"CONSOLE|Uncaught|Failed to load|net::ERR_|Refused to", l)
                   and not re.search(r"source: chrome://", l)]
    db.check(not page_errors, "no page errors in Chromium's log", page_errors[:3])
    urls = set(re.findall(r'"url":"([^"]*)"', open(netlog).read())) if os.path.exists(netlog) else set()
    own = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)/")
    page_requests = [u for u in urls if not u.startswith("file://") and not own.match(u)
                     and not u.startswith(("chrome:", "data:", "about:"))]
    db.check(os.path.exists(netlog) and not page_requests, "the page requested nothing over the network",
             page_requests[:3])
