"""The harness of the Python integration tests (tests/integration/test_*.py),
the one place that knows where things are, how a command runs, how the lab
world and a private database are brought up and taken down again, and how a
test reports:

  paths      SOURCE, BUILD, DANESCAN (the binary under test), LAB_SCRIPT,
             DB_SCRIPT, LAB_CASES, LAB_DOMAINS, REPORT_FIXTURE, find_labsmtp()
  commands   run() (output captured), Processes (background processes,
             killed at the end)
  lab        Lab: scripts/lab for one namespace and state root; a context
             manager that takes the lab down only if it brought it up;
             private_ns() names a test's own namespace
  database   PrivateDB: a database of its own in the scripts/db cluster; a
             context manager that drops it (and stops a cluster it started)
  checks     check() prints 'ok   WHAT' or 'FAIL WHAT DETAIL' (capped at 3000
             characters) and counts; summary() prints 'N passed, M failed';
             run_test(main, *owned) runs a test under that protocol and
             closes what it owns

Environment: DANESCAN, DANESCAN_SOURCE, DANESCAN_BUILD (ctest sets them;
otherwise the source tree is found from this file and the binary in
build/), DANESCAN_LABSMTP (a danescan-labsmtp to use), DANESCAN_LAB_NS and
DANESCAN_STATE (the shared lab's namespace, and the state root of the lab
and of the database cluster; default <repo>/.state). A test with a lab
world of its own names its namespace with private_ns(), after
DANESCAN_LAB_NS when that is set, so that engineers sharing a machine
(each with their own DANESCAN_LAB_NS) never meet in one.

Tests import it first, after `sys.dont_write_bytecode = True` (no
__pycache__ in the source tree)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True

# ---------------------------------------------------------------------------
# Paths

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("DANESCAN_SOURCE") or os.path.dirname(os.path.dirname(HERE))
DANESCAN = os.environ.get("DANESCAN") or os.path.join(SOURCE, "build", "scanner", "danescan")
BUILD = os.environ.get("DANESCAN_BUILD") or os.path.dirname(os.path.dirname(os.path.abspath(DANESCAN)))
BUILT_LABSMTP = os.path.join(BUILD, "tests", "labsmtp", "danescan-labsmtp")
LAB_SCRIPT = os.path.join(SOURCE, "scripts", "lab")
DB_SCRIPT = os.path.join(SOURCE, "scripts", "db")
LAB_CASES = os.path.join(SOURCE, "tests", "lab", "cases.txt")
LAB_DOMAINS = os.path.join(SOURCE, "inputs", "lab-domains.txt")
REPORT_FIXTURE = os.path.join(SOURCE, "tests", "integration", "report_fixture.sql")
# The lab's own Python modules (labprobe, labworld, labverify).
sys.path.insert(0, os.path.join(SOURCE, "scripts", "lab.d"))


def find_labsmtp():
    """The danescan-labsmtp of the build under test: $DANESCAN_LABSMTP, else
    BUILT_LABSMTP when it is built; None otherwise (scripts/lab then looks
    for one in build/ or build-asan/)."""
    if os.environ.get("DANESCAN_LABSMTP"):
        return os.environ["DANESCAN_LABSMTP"]
    return BUILT_LABSMTP if os.access(BUILT_LABSMTP, os.X_OK) else None


# ---------------------------------------------------------------------------
# Commands

def run(*cmd, timeout=None, **kw):
    """Runs cmd to the end, stdout and stderr captured unless kw says
    otherwise (bytes; str with text=True); returns the CompletedProcess.
    Raises TimeoutExpired after `timeout` seconds (the process is killed)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(list(cmd), timeout=timeout, **kw)


class Processes:
    """The background processes of a test. Each starts in a session of its
    own, so that the kill reaches what it started (`ip netns exec`,
    `scripts/lab exec`, a scanner's workers); close() kills the group of
    every one still running (SIGKILL) and waits for it. A context manager;
    close() may be called twice."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        """subprocess.Popen(cmd, **kw) in a new session; returns the Popen."""
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.procs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


class TempDir:
    """A temporary directory (prefix as for tempfile.mkdtemp), readable by
    all with public=True (NSD, Unbound and PostgreSQL read lab state and
    inputs as their own users); removed by close(), which may be called
    twice. A context manager whose value is the path."""

    def __init__(self, prefix, public=False):
        self.path = tempfile.mkdtemp(prefix=prefix)
        if public:
            os.chmod(self.path, 0o755)

    def close(self):
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def __enter__(self):
        return self.path

    def __exit__(self, *_):
        self.close()


# ---------------------------------------------------------------------------
# The lab world

class Lab:
    """scripts/lab for one namespace and one state root. ns and state default
    to DANESCAN_LAB_NS and DANESCAN_STATE (the shared lab); a test that needs
    a world of its own passes its own (and a cases file). The lab's mail
    servers use find_labsmtp()'s danescan-labsmtp when there is one.

    The lab is this object's to take down once it ran `up` (also when up
    failed half-way), unless ensure_up() found it up already: close() (and
    leaving the with-block) then runs `scripts/lab down`; otherwise close()
    leaves the lab alone. close() may be called twice."""

    def __init__(self, ns=None, state=None, cases=None):
        self.env = dict(os.environ)
        if ns:
            self.env["DANESCAN_LAB_NS"] = ns
        if state:
            self.env["DANESCAN_STATE"] = state
        if cases:
            self.env["DANESCAN_LAB_CASES"] = cases
        labsmtp = find_labsmtp()
        if labsmtp:
            self.env["DANESCAN_LABSMTP"] = labsmtp
        self.ns = self.env.get("DANESCAN_LAB_NS") or "danescan-lab"
        self.state = self.env.get("DANESCAN_STATE") or os.path.join(SOURCE, ".state")
        self.started = False

    def path(self, *parts):
        """A path in the lab's state directory (STATE/lab/...)."""
        return os.path.join(self.state, "lab", *parts)

    def run(self, *args, timeout=None, **kw):
        """`scripts/lab ARGS` to the end (see run())."""
        return run(LAB_SCRIPT, *args, env=self.env, timeout=timeout, **kw)

    def output(self, *args):
        """The standard output of `scripts/lab ARGS` as text; RuntimeError
        when it fails."""
        p = self.run(*args)
        if p.returncode != 0:
            raise RuntimeError(f"scripts/lab {' '.join(args)}: {p.stderr.decode(errors='replace')[-2000:]}")
        return p.stdout.decode()

    def in_ns(self, *cmd):
        """cmd run inside the namespace (`ip netns exec NS CMD`)."""
        return ["ip", "netns", "exec", self.ns, *cmd]

    def is_up(self):
        return self.run("status", "--quiet").returncode == 0

    def up(self, *args, cases=None, strict=False):
        """`scripts/lab up ARGS` (again on a lab that is up: rebuilds the world,
        keeps the namespace and the keys); with cases, from that cases file
        from now on. Returns the CompletedProcess; with strict, RuntimeError
        when up failed."""
        if cases:
            self.env["DANESCAN_LAB_CASES"] = cases
        self.started = True  # ours to take down, also if up fails half-way
        p = self.run("up", *args)
        if strict and p.returncode != 0:
            raise RuntimeError("scripts/lab up failed: " + p.stderr.decode(errors="replace")[-2000:])
        return p

    def ensure_up(self, bulk=0, mail=False, strict=False):
        """Brings the lab up unless it is up already, with (bulk) the first
        `bulk` bulk domains resolving and (mail) its mail servers planned.
        A lab that was up stays someone else's (close() leaves it up). Returns
        None when nothing had to be done, else the CompletedProcess of
        `scripts/lab up` (strict: see up())."""
        was_up = self.is_up()
        ready = was_up
        if ready and bulk:
            last = self.run("exec", "dig", "+short", f"d{bulk - 1}.bulk.lab", "MX")
            ready = bool(last.stdout.strip())
        if ready and mail:
            ready = os.path.exists(self.path("smtp.json"))
        if ready:
            return None
        started = self.started
        try:
            return self.up(*(["--bulk", str(bulk)] if bulk else []), strict=strict)
        finally:
            if was_up:
                self.started = started

    def danescan(self, *args, env=None, procs=None):
        """`danescan ARGS` inside the namespace (scripts/lab exec), env: more
        variables. With procs (a Processes), started in the background with
        stdout and stderr piped and returned (Popen); else run to the end
        (CompletedProcess)."""
        cmd = [LAB_SCRIPT, "exec", DANESCAN, *args]
        env = dict(self.env, **(env or {}))
        if procs is not None:
            return procs.start(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return run(*cmd, env=env)

    def close(self):
        """`scripts/lab down` if the lab is ours; returns its CompletedProcess
        (None when the lab was not ours or down did not end in 120 s)."""
        if not self.started:
            return None
        self.started = False
        try:
            p = self.run("down", timeout=120)
        except subprocess.TimeoutExpired:
            print(f"warning: scripts/lab down ({self.ns}) did not end within 120 s", flush=True)
            return None
        if p.returncode != 0:
            print(f"warning: scripts/lab down ({self.ns}): {p.stderr.decode(errors='replace').strip()[-300:]}",
                  flush=True)
        return p

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def private_ns(name):
    """The namespace of a test's own lab world: DANESCAN_LAB_NS-NAME when
    DANESCAN_LAB_NS is set, else danescan-NAME."""
    return f"{os.environ.get('DANESCAN_LAB_NS') or 'danescan'}-{name}"


def store_lab(ns="danescan-store", state="/tmp/danescan-store-lab"):
    """The lab of the PostgreSQL store tests: a namespace and state root of
    their own (DANESCAN_STORE_LAB_NS and DANESCAN_STORE_LAB_STATE, else ns
    and state; with DANESCAN_LAB_NS set, ns becomes private_ns() of its
    last part, e.g. dl-NAME-store, and with DANESCAN_STATE set the state is
    a directory of that name in it, so that engineers sharing a machine
    never meet in one), so that they neither disturb nor depend on a lab
    someone else has up. The state is kept between runs (the bulk domains
    take long to sign), and a lab found up is used and left up."""
    short = ns[len("danescan-"):] if ns.startswith("danescan-") else ns
    if os.environ.get("DANESCAN_LAB_NS"):
        ns = private_ns(short)
    if os.environ.get("DANESCAN_STATE"):
        state = os.path.join(os.environ["DANESCAN_STATE"], f"{short}-lab")
    return Lab(ns=os.environ.get("DANESCAN_STORE_LAB_NS", ns),
               state=os.environ.get("DANESCAN_STORE_LAB_STATE", state))


# ---------------------------------------------------------------------------
# A private database

class PrivateDB:
    """A database of its own, NAME_<pid>, in the project's PostgreSQL cluster
    (scripts/db, under DANESCAN_STATE or <repo>/.state; started if it is not
    running). schema=True applies the migrations (`danescan db migrate`,
    else the migration files through psql); fixture: an SQL file loaded
    after them. Opened by the with-statement (or open()); close() drops the
    database and stops the cluster if this object started it, and may be
    called twice. Failures to open raise RuntimeError."""

    def __init__(self, name, schema=False, fixture=None):
        self.name = f"{name}_{os.getpid()}"
        self.schema = schema
        self.fixture = fixture
        self.started_cluster = False
        self.admin_url = None
        self.url = None

    def script(self, *args):
        """`scripts/db ARGS` (start, stop, restart, status, url)."""
        return run(DB_SCRIPT, *args)

    def open(self):
        if self.script("status").returncode != 0:
            p = self.script("start")
            if p.returncode != 0:
                raise RuntimeError("scripts/db start failed: " + p.stderr.decode(errors="replace"))
            self.started_cluster = True
        base = self.script("url").stdout.decode().strip()
        self.admin_url = base.replace("/danescan?", "/postgres?", 1)
        self.url = base.replace("/danescan?", f"/{self.name}?", 1)
        self.admin(f'DROP DATABASE IF EXISTS "{self.name}"')
        self.admin(f'CREATE DATABASE "{self.name}"')
        if self.schema:
            self.migrate()
        if self.fixture is not None:
            self.psql_file(self.fixture)
        return self

    def migrate(self):
        r = run(DANESCAN, "db", "migrate", "--db", self.url, text=True)
        if r.returncode != 0:
            print(f"note: danescan db migrate unavailable ({r.stderr.strip()[:100]}); applying migrations with psql")
            migrations = os.path.join(SOURCE, "schema", "migrations")
            for f in sorted(os.listdir(migrations)):
                if f.endswith(".sql"):
                    self.psql_file(os.path.join(migrations, f))

    def admin(self, sql):
        """One statement on the cluster's postgres database."""
        p = run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.admin_url, "-c", sql, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {p.stderr}")

    def sql(self, sql, url=None):
        """Rows of a query on this database (or `url`) as lists of strings."""
        p = run("psql", "-X", url or self.url, "-v", "ON_ERROR_STOP=1", "-AtqF", "\t", "-c", sql, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {p.stderr}")
        return [line.split("\t") for line in p.stdout.splitlines()]

    NULL = "\x01NULL\x01"

    def psql_file(self, path, **variables):
        """Runs one SQL file the way a researcher would (psql -f, `variables`
        as -v NAME=VALUE); returns (header, rows), NULL as None."""
        cmd = ["psql", "-X", "-q", "-A", "-F", "\x1f", "-P", "footer=off", "-P", f"null={self.NULL}",
               "-v", "ON_ERROR_STOP=1", self.url]
        for k, v in variables.items():
            cmd += ["-v", f"{k}={v}"]
        r = run(*cmd, "-f", path, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql {path}: {r.stderr}")
        lines = [line for line in r.stdout.split("\n") if line != ""]
        if not lines:
            return [], []
        rows = [[None if c == self.NULL else c for c in line.split("\x1f")] for line in lines[1:]]
        return lines[0].split("\x1f"), rows

    def close(self):
        if self.admin_url is not None:
            try:
                self.admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except RuntimeError as e:
                print(f"warning: {e}", flush=True)
            self.admin_url = None
        if self.started_cluster:
            self.started_cluster = False
            self.script("stop")

    def __enter__(self):
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *_):
        self.close()


# ---------------------------------------------------------------------------
# Checks

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL {what} {detail}".rstrip()[:3000], flush=True)
    return ok


def summary(need_a_pass=False):
    """Prints 'N passed, M failed'; returns the exit code: 0 when none failed
    (and, with need_a_pass, at least one passed)."""
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and (passed > 0 or not need_a_pass) else 1


def run_test(main, *owned, need_a_pass=False):
    """Runs main() and exits with summary()'s code. An exception in main is a
    failed check ('test ran to the end', after its traceback). SIGTERM and
    SIGINT raise SystemExit(1) inside main, so that its with-blocks undo what
    they did, and end the test with exit code 1 and no summary. Then, in
    every case and with the signals ignored, each of `owned` (what the test
    keeps outside with-blocks: a Lab, PrivateDB, Processes, TempDir) is
    closed, the last first."""
    def on_signal(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        main()
    except Exception as e:  # a crash of the test is a failure, not a pass
        traceback.print_exc(file=sys.stdout)
        check(False, "test ran to the end", repr(e))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for thing in reversed(owned):
            thing.close()
    sys.exit(summary(need_a_pass))


# ---------------------------------------------------------------------------
# A danescan-labsmtp of a test's own (test_probe_hostile_lab, test_probe_retry_lab)

def start_labsmtp(lab, procs, workdir, name, args, what):
    """`danescan-labsmtp ARGS --log --port-file` in the lab's namespace,
    started with procs, its files named after name in workdir; waits up to
    10 s for it to listen (a check saying `labsmtp NAME listens on WHAT`).
    Returns the path of its log."""
    log = os.path.join(workdir, name + ".log")
    ports = os.path.join(workdir, name + ".ports")
    cmd = lab.in_ns(find_labsmtp() or BUILT_LABSMTP, *args, "--log", log, "--port-file", ports)
    err = open(os.path.join(workdir, name + ".err"), "w")
    procs.start(cmd, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(ports) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(os.path.exists(ports), f"labsmtp {name} listens on {what}")
    return log


# ---------------------------------------------------------------------------
# Scans in a private database (test_report_lab, test_diff_lab,
# test_store_crash, test_workers_lab)

# (a retry of a transient failure after 500 ms, not 5 s: the lab's silent
# and closed servers fail both attempts)
LAB_SCAN_OPTIONS = ["--allow-reserved", "--greeting-timeout-ms", "3000", "--per-ip-gap-ms", "50",
                    "--rate", "500", "--probe-retry-delay-ms", "500", "--no-progress"]


def lab_up_checked(lab, cases=None):
    """`scripts/lab up` (from `cases`) as a check naming the cases file and
    the time taken; returns True when the lab is up."""
    t0 = time.monotonic()
    r = lab.up(cases=cases)
    return check(r.returncode == 0, f"scripts/lab up ({os.path.basename(cases or LAB_CASES)}, "
                 f"{time.monotonic() - t0:.1f} s)",
                 r.stderr.decode(errors="replace")[-800:] + r.stdout.decode(errors="replace")[-300:])


def lab_scan_into_db(lab, db, tmp, scan_id, inputs=LAB_DOMAINS, extra=()):
    """One lab scan (LAB_SCAN_OPTIONS, then extra) into the database and a
    JSON Lines file in tmp, its exit code and record count a check; returns
    (CompletedProcess, records)."""
    out = os.path.join(tmp, f"{scan_id}.jsonl")
    t0 = time.monotonic()
    r = lab.run("exec", DANESCAN, "scan", *LAB_SCAN_OPTIONS, *extra, "--db", db.url, "--scan-id", scan_id,
                "--output", out, inputs, timeout=300, text=True)
    records = []
    if os.path.exists(out):
        with open(out) as f:
            records = [json.loads(line) for line in f if line.strip()]
    check(r.returncode == 0 and records, f"scan {scan_id}: exit 0, {len(records)} records "
          f"({time.monotonic() - t0:.1f} s)", f"rc={r.returncode} {r.stderr[-800:]}")
    return r, records


# Columns compared between two scans of the same lab input. Left out because
# they differ between any two runs of the same lab scan (not because of the
# store or the workers): timings, attempt counts, EDE codes (Unbound answers a
# cached bogus name with EDE 6 instead of the first answer's specific code)
# and the order of TLSA records in the RRset.
SCAN_TABLES = {
    "domains": "seq, domain, tld, status, invalid_reason, mx_dnssec, mx_lookup_dnssec, mx_rcode, "
               "mx_failure, implicit_mx, null_mx_mixed, mx_truncated, mx_count, island, input_file, input_line",
    "domain_mx": "seq, domain, preference, host",
    "mx_hosts": "host, status, address_dnssec, cname_target, tlsa_base, flags, rollover, "
                "(SELECT array_agg(x ORDER BY x) FROM unnest(tlsa_params) x), "
                "address_count, tlsa_count, tlsa_usable_count, a_dnssec, aaaa_dnssec, tlsa_dnssec",
    "tlsa_records": "host, usage, selector, matching_type, data, usable, unusable_reason",
    "addresses": "host, address, family",
    # a probe reason may carry a measured time ("no greeting within 3001 ms")
    "probes": "host, address, probe_no, result, regexp_replace(reason, '[0-9]+ ms', 'N ms')",
}


def compare_scans(db, ref, other, label, tables=None, columns=None):
    """Checks that scan `other` has exactly the rows of scan `ref` (as
    multisets, SCAN_TABLES columns, or columns[table] where given) and no
    domain-host link twice."""
    for table in tables or SCAN_TABLES:
        cols = (columns or {}).get(table, SCAN_TABLES[table])
        q = (f"SELECT (SELECT count(*) FROM {table} WHERE scan_id = '{other}'),"
             f" (SELECT count(*) FROM {table} WHERE scan_id = '{ref}'),"
             f" (SELECT count(*) FROM (SELECT {cols} FROM {table} WHERE scan_id = '{ref}' EXCEPT ALL"
             f"  SELECT {cols} FROM {table} WHERE scan_id = '{other}') missing),"
             f" (SELECT count(*) FROM (SELECT {cols} FROM {table} WHERE scan_id = '{other}' EXCEPT ALL"
             f"  SELECT {cols} FROM {table} WHERE scan_id = '{ref}') extra)")
        got, want, missing, extra = db.sql(q)[0]
        detail = f"want {want}, missing {missing}, extra {extra}"
        if missing != "0" or extra != "0":
            rows = db.sql(f"(SELECT 'missing', {cols} FROM {table} WHERE scan_id = '{ref}' EXCEPT ALL"
                          f" SELECT 'missing', {cols} FROM {table} WHERE scan_id = '{other}') UNION ALL"
                          f" (SELECT 'extra', {cols} FROM {table} WHERE scan_id = '{other}' EXCEPT ALL"
                          f" SELECT 'extra', {cols} FROM {table} WHERE scan_id = '{ref}') LIMIT 6")
            detail += ": " + "; ".join(" | ".join(r) for r in rows)
        check(got == want and missing == "0" and extra == "0" and int(want) > 0,
              f"{label}: {table} equals scan {ref} ({got} rows)", detail)
    dups = db.sql(f"SELECT count(*) - count(DISTINCT (seq, host)) FROM domain_mx WHERE scan_id = '{other}'")
    check(dups == [["0"]], f"{label}: no link twice")
