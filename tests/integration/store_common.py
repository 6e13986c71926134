"""Shared helpers of the PostgreSQL store tests (test_store_*.py): a private
database in the scripts/db cluster, a private lab namespace, cleanup."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, run_test, summary  # noqa: E402

SOURCE = os.environ.get("DANESCAN_SOURCE") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DANESCAN = os.environ.get("DANESCAN") or os.path.join(SOURCE, "build", "scanner", "danescan")
DB = os.path.join(SOURCE, "scripts", "db")
LAB = os.path.join(SOURCE, "scripts", "lab")
# The store tests run their own lab (namespace and state) so they neither
# disturb nor depend on a lab someone else has up.
LAB_ENV = dict(os.environ, DANESCAN_LAB_NS=os.environ.get("DANESCAN_STORE_LAB_NS", "danescan-store"),
               DANESCAN_STATE=os.environ.get("DANESCAN_STORE_LAB_STATE", "/tmp/danescan-store-lab"))
DB_ENV = {k: v for k, v in os.environ.items() if k != "DANESCAN_STATE"}


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw)


class Harness:
    def __init__(self, name):
        self.name = name
        self.db_started = self.lab_started = False
        self.tmp = tempfile.mkdtemp(prefix=f"danescan-{name}-")
        self.dbname = f"test_{name}_{os.getpid()}"
        self.admin_url = None
        self.url = None
        self.procs = []

    def check(self, ok, what, detail=""):
        return check(ok, what, detail)

    def db_up(self):
        if run([DB, "status"], env=DB_ENV).returncode != 0:
            p = run([DB, "start"], env=DB_ENV)
            if p.returncode != 0:
                raise RuntimeError("scripts/db start failed: " + p.stderr.decode())
            self.db_started = True
        self.admin_url = run([DB, "url"], env=DB_ENV).stdout.decode().strip()
        self.psql_admin(f'DROP DATABASE IF EXISTS "{self.dbname}"')
        self.psql_admin(f'CREATE DATABASE "{self.dbname}"')
        self.url = self.admin_url.replace("/danescan?", f"/{self.dbname}?")

    def lab_up(self, bulk=0):
        status = run([LAB, "status"], env=LAB_ENV)
        if status.returncode == 0 and bulk:
            # up, but maybe without enough bulk domains: check the last one resolves
            last = run([LAB, "exec", "dig", "+short", f"d{bulk - 1}.bulk.lab", "MX"], env=LAB_ENV)
            if not last.stdout.strip():
                status = None
        if status is None or status.returncode != 0:
            args = [LAB, "up"] + (["--bulk", str(bulk)] if bulk else [])
            p = run(args, env=LAB_ENV)
            if p.returncode != 0:
                raise RuntimeError("scripts/lab up failed: " + p.stderr.decode()[-2000:])
            self.lab_started = True

    def psql_admin(self, sql):
        p = run(["psql", self.admin_url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        if p.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {p.stderr.decode()}")
        return p.stdout.decode()

    def sql(self, sql, url=None):
        """Rows of a query as lists of strings (tab-separated psql output)."""
        p = run(["psql", url or self.url, "-v", "ON_ERROR_STOP=1", "-AtqF", "\t", "-c", sql])
        if p.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {p.stderr.decode()}")
        return [line.split("\t") for line in p.stdout.decode().splitlines()]

    def danescan_lab(self, *args, background=False, env=None):
        cmd = [LAB, "exec", DANESCAN, *args]
        env = dict(LAB_ENV, **(env or {}))
        if background:
            # start_new_session: kill -9 reaches the scanner through the group
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            self.procs.append(proc)
            return proc
        return run(cmd, env=env)

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 9)
                except ProcessLookupError:
                    pass
                proc.wait()
        if self.admin_url:
            try:
                self.psql_admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            except RuntimeError as e:
                print(e, file=sys.stderr)
        if self.lab_started:
            run([LAB, "down"], env=LAB_ENV)
            self.lab_started = False
        if self.db_started:
            run([DB, "stop"], env=DB_ENV)
            self.db_started = False
        run(["rm", "-rf", self.tmp])

    def finish(self):
        return summary()

    def run(self, main, cleanup=None):
        """Runs main through checks.run_test: SIGTERM/SIGINT and exceptions
        end in the cleanup (cleanup, then this harness's), an exception is a
        failed check, and the summary decides the exit code."""
        def guarded():
            try:
                main()
            except Exception as e:
                self.check(False, "test ran to the end", repr(e))

        def clean():
            if cleanup is not None:
                cleanup()
            self.cleanup()

        run_test(guarded, clean)


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


def compare_scans(h, ref, other, label, tables=None):
    """Checks that scan `other` has exactly the rows of scan `ref` (as
    multisets, SCAN_TABLES columns) and no domain-host link twice."""
    for table in tables or SCAN_TABLES:
        cols = SCAN_TABLES[table]
        q = (f"SELECT (SELECT count(*) FROM {table} WHERE scan_id = '{other}'),"
             f" (SELECT count(*) FROM {table} WHERE scan_id = '{ref}'),"
             f" (SELECT count(*) FROM (SELECT {cols} FROM {table} WHERE scan_id = '{ref}' EXCEPT ALL"
             f"  SELECT {cols} FROM {table} WHERE scan_id = '{other}') missing),"
             f" (SELECT count(*) FROM (SELECT {cols} FROM {table} WHERE scan_id = '{other}' EXCEPT ALL"
             f"  SELECT {cols} FROM {table} WHERE scan_id = '{ref}') extra)")
        got, want, missing, extra = h.sql(q)[0]
        detail = f"want {want}, missing {missing}, extra {extra}"
        if missing != "0" or extra != "0":
            rows = h.sql(f"(SELECT 'missing', {cols} FROM {table} WHERE scan_id = '{ref}' EXCEPT ALL"
                         f" SELECT 'missing', {cols} FROM {table} WHERE scan_id = '{other}') UNION ALL"
                         f" (SELECT 'extra', {cols} FROM {table} WHERE scan_id = '{other}' EXCEPT ALL"
                         f" SELECT 'extra', {cols} FROM {table} WHERE scan_id = '{ref}') LIMIT 6")
            detail += ": " + "; ".join(" | ".join(r) for r in rows)
        h.check(got == want and missing == "0" and extra == "0" and int(want) > 0,
                f"{label}: {table} equals scan {ref} ({got} rows)", detail)
    dups = h.sql(f"SELECT count(*) - count(DISTINCT (seq, host)) FROM domain_mx WHERE scan_id = '{other}'")
    h.check(dups == [["0"]], f"{label}: no link twice")
