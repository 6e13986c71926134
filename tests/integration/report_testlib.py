"""Shared set-up of test_report.py and test_diff.py: a private database in the
project's PostgreSQL cluster (scripts/db; started if it is not running and
stopped again if this test started it), the schema applied (`danescan db
migrate`, else the migration files through psql), the fixture
report_fixture.sql loaded (or none). Everything is removed in close(), also on
failure or a signal. Also check_offline: a rendered page opened in headless
Chromium without network."""

import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, summary  # noqa: E402

SOURCE = os.environ.get("DANESCAN_SOURCE") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DANESCAN = os.environ.get("DANESCAN") or os.path.join(SOURCE, "build", "scanner", "danescan")
DB_SCRIPT = os.path.join(SOURCE, "scripts", "db")
REPORTS = os.path.join(SOURCE, "reports")
FIXTURE = os.path.join(SOURCE, "tests", "integration", "report_fixture.sql")
NULL = "\x01NULL\x01"


def run(*cmd, **kw):
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


class TestDB:
    def __init__(self, prefix, fixture=FIXTURE):
        """A database named PREFIX_<pid> with the schema, and `fixture` (an SQL
        file, or None) loaded."""
        self.started_cluster = False
        self.name = None
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
        if fixture is not None:
            self.psql_file(fixture)

    def _signal(self, *args):
        self.close()
        sys.exit(1)

    def psql_admin(self, sql):
        r = run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.admin_url, "-c", sql)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {r.stderr}")

    def psql_file(self, path, **variables):
        """Runs one SQL file the way a researcher would; returns (header, rows)."""
        cmd = ["psql", "-X", "-q", "-A", "-F", "\x1f", "-P", "footer=off", "-P", f"null={NULL}",
               "-v", "ON_ERROR_STOP=1", self.url]
        for k, v in variables.items():
            cmd += ["-v", f"{k}={v}"]
        r = run(*cmd, "-f", path)
        if r.returncode != 0:
            raise RuntimeError(f"psql {path}: {r.stderr}")
        lines = [l for l in r.stdout.split("\n") if l != ""]
        if not lines:
            return [], []
        rows = [[None if c == NULL else c for c in l.split("\x1f")] for l in lines[1:]]
        return lines[0].split("\x1f"), rows

    def check(self, ok, what, detail=""):
        return check(ok, what, detail)

    def close(self):
        if self.name is not None:
            try:
                self.psql_admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            except RuntimeError as e:
                print(f"warning: {e}")
            self.name = None
        if self.started_cluster:
            self.started_cluster = False
            run(DB_SCRIPT, "stop")

    def finish(self):
        self.close()
        return summary(need_a_pass=True)


def check_offline(db, page_path, tmp):
    """Opens the page at `page_path` in headless Chromium inside a network
    namespace of its own (`unshare --net`) and checks: a screenshot is taken,
    the log shows no page errors, and the page requested nothing over the
    network. Console lines whose source is Chromium's own UI (`source:
    chrome://...`, e.g. the composebox "Slow network is detected" note, seen
    now and then offline) and Chromium's own background requests are not the
    page's."""
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
