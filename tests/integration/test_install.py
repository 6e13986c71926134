#!/usr/bin/python3
"""The installed danescan (issue 20): `cmake --install` of the build under
test into a temporary prefix puts the binary, the man pages, the migrations,
the report SQL, periodic-scan and the systemd units where the man pages say;
the prefix is then moved elsewhere, and the installed binary must read its
migrations and reports from <prefix>/share/danescan (not the source tree it
was built from: `db status` names the folder), migrate a private database,
scan the lab into it, report it, and show the scan with `status --json`. Then the installed periodic-scan runs against the
lab as the service would: a second run started while the first holds the
lock must do nothing and exit 75; a run after it must find the first scan as
its previous one and write report and diff; the runs' scans must not
overlap in time. Cleans up database, files and (if it started it) the lab.
Ends with 'N passed, M failed'."""

import filecmp
import json
import glob
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
from harness import (BUILD, LAB_DOMAINS, LAB_SCAN_OPTIONS, SOURCE, Lab, PrivateDB, Processes,  # noqa: E402
                     TempDir, check, run, run_test)

# The first lab domains keep the periodic runs short.
PERIODIC_DOMAINS = 8


def install(prefix):
    r = run("cmake", "--install", BUILD, "--prefix", prefix, text=True)
    check(r.returncode == 0, f"cmake --install {BUILD} --prefix {prefix}", r.stderr[-1500:])
    return r.returncode == 0


def check_layout(prefix):
    migrations = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SOURCE, "schema/migrations/*.sql")))
    inst = os.path.join(prefix, "share/danescan/migrations")
    match, mismatch, errors = filecmp.cmpfiles(os.path.join(SOURCE, "schema/migrations"), inst, migrations,
                                               shallow=False)
    check(migrations and match == migrations, f"share/danescan/migrations holds the {len(migrations)} migrations",
          (mismatch, errors))
    reports = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SOURCE, "reports/*.sql")))
    inst = sorted(os.path.basename(p) for p in glob.glob(os.path.join(prefix, "share/danescan/reports/*.sql")))
    check(reports and inst == reports, f"share/danescan/reports holds the {len(reports)} report queries",
          set(reports) ^ set(inst))
    pages = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SOURCE, "docs/man/*.1")))
    inst = sorted(os.path.basename(p) for p in glob.glob(os.path.join(prefix, "share/man/man1/*.1")))
    check(len(pages) == 11 and inst == pages, f"share/man/man1 holds the {len(pages)} man pages", inst)
    for path in ["bin/danescan", "libexec/danescan/periodic-scan", "libexec/danescan/resolver"]:
        check(os.access(os.path.join(prefix, path), os.X_OK), f"{path} is installed and executable")
    for path in ["lib/systemd/system/danescan-periodic.service", "lib/systemd/system/danescan-periodic.timer",
                 "etc/danescan/periodic.conf", "share/doc/danescan/output.md",
                 "share/doc/danescan/OPERATIONS.md"]:
        check(os.path.isfile(os.path.join(prefix, path)), f"{path} is installed")
    r = run("man", "-w", "danescan-scan", env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")),
            text=True)
    check(r.returncode == 0 and r.stdout.startswith(prefix), "man finds danescan-scan(1) in the prefix",
          r.stdout + r.stderr)


def check_units(prefix, tmp):
    """The installed units pass systemd's own parser (systemd-analyze verify:
    keys, sections, ExecStart executable, the timer's unit). The units name the
    configured install prefix; the copy checked here names the test's prefix."""
    analyze = shutil.which("systemd-analyze")
    check(analyze is not None, "systemd-analyze is installed (scripts/setup installs systemd)")
    if analyze is None:
        return
    units = os.path.join(tmp, "units")
    os.makedirs(units, exist_ok=True)
    for name in ["danescan-periodic.service", "danescan-periodic.timer"]:
        with open(os.path.join(prefix, "lib/systemd/system", name)) as f:
            text = f.read()
        text = re.sub(r"/\S*/libexec/danescan/periodic-scan", os.path.join(prefix, "libexec/danescan/periodic-scan"),
                      text)
        text = re.sub(r"/\S*/etc/danescan/periodic\.conf", os.path.join(prefix, "etc/danescan/periodic.conf"), text)
        with open(os.path.join(units, name), "w") as f:
            f.write(text)
    r = run(analyze, "verify", "--man=no", os.path.join(units, "danescan-periodic.service"),
            os.path.join(units, "danescan-periodic.timer"), text=True)
    check(r.returncode == 0 and not r.stderr.strip(), "systemd-analyze verify: the installed units are valid",
          r.stdout[-800:] + r.stderr[-800:])


def check_metrics(path, names):
    """The --metrics-file of a finished scan: Prometheus text format (HELP and
    TYPE before each family, name{labels} value lines), the final counts,
    and no temporary file left beside it."""
    values, bad = {}, []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        check(False, "--metrics-file written", e)
        return
    typed = set()
    for line in lines:
        m = re.match(r"^# TYPE (\w+) (gauge|counter)$", line)
        if m:
            typed.add(m.group(1))
            continue
        if line.startswith("# HELP "):
            continue
        m = re.match(r'^(\w+)\{((?:\w+="(?:[^"\\]|\\.)*",?)*)\} (\S+)$', line)
        if not m or m.group(1) not in typed:
            bad.append(line)
            continue
        float(m.group(3))
        values.setdefault(m.group(1), []).append((m.group(2), float(m.group(3))))
    check(not bad and lines, f"--metrics-file is Prometheus text format ({len(lines)} lines)", bad[:5])
    done = values.get("danescan_domains_done_total", [(None, -1)])[0][1]
    check(done == names and values.get("danescan_names", [(None, -1)])[0][1] == names,
          f"metrics: {names} domains done of {names}", values.get("danescan_domains_done_total"))
    check(values.get("danescan_dns_queries_total", [(None, 0)])[0][1] > 0 and "danescan_worker_counter" in values,
          "metrics: DNS queries and the workers' counters are there", sorted(values)[:30])
    left = [f for f in os.listdir(os.path.dirname(path)) if f != os.path.basename(path)]
    check(not left, "metrics: written by rename, no temporary file left", left)


def periodic(lab, prefix, db, out, inputs, procs=None):
    cmd = ["exec", os.path.join(prefix, "libexec/danescan/periodic-scan"), "--db", db.url, "--out", out, inputs,
           "--", *LAB_SCAN_OPTIONS, "--workers", "0"]
    env = {k: v for k, v in lab.env.items() if k != "DANESCAN"}  # periodic-scan must find bin/danescan itself
    if procs is not None:
        return procs.start([os.path.join(SOURCE, "scripts/lab"), *cmd], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    return run(os.path.join(SOURCE, "scripts/lab"), *cmd, env=env, timeout=300, text=True)


def main():
    with TempDir("danescan-install-", public=True) as tmp, Lab() as lab, \
            PrivateDB("danescan_test_install") as db, Processes() as procs:
        built = os.path.join(tmp, "built")
        if not install(built):
            return
        # Moved after install: the binary finds its files relative to itself.
        prefix = os.path.join(tmp, "moved")
        shutil.move(built, prefix)
        check_layout(prefix)
        check_units(prefix, tmp)
        danescan = os.path.join(prefix, "bin/danescan")
        env = {k: v for k, v in os.environ.items() if k not in ("DANESCAN_SCHEMA_DIR", "DANESCAN_REPORTS")}

        r = run(danescan, "db", "migrate", "--db", db.url, env=env, text=True)
        check(r.returncode == 0 and "schema at version" in r.stdout, "installed danescan db migrate: exit 0",
              r.stdout[-500:] + r.stderr[-500:])
        r = run(danescan, "db", "status", "--db", db.url, env=env, text=True)
        want = os.path.join(prefix, "bin/../share/danescan/migrations")
        check(r.returncode == 0 and f"migrations read from {want}\n" in r.stdout,
              "installed danescan reads the installed migrations (db status)", r.stdout[-500:] + r.stderr[-500:])
        r = run(danescan, "db", "status", "--db", db.url, env=dict(env, DANESCAN_SCHEMA_DIR=os.path.join(
            SOURCE, "schema/migrations")), text=True)
        check(f"migrations read from {SOURCE}/schema/migrations\n" in r.stdout,
              "DANESCAN_SCHEMA_DIR still overrides", r.stdout[-300:])
        r = run(os.path.join(BUILD, "scanner/danescan"), "db", "status", "--db", db.url, env=env, text=True)
        check(f"migrations read from {SOURCE}/scanner/util/../../schema/migrations\n" in r.stdout,
              "the build's danescan reads the source tree's migrations", r.stdout[-300:])

        p = lab.ensure_up()
        if not check(lab.is_up(), "lab up", p.stderr.decode(errors="replace")[-1500:] if p else ""):
            return
        r = lab.run("exec", danescan, "check", "--allow-reserved", "dane-ee.lab", text=True, timeout=120)
        check(r.returncode == 0 and "dane-valid" in r.stdout, "installed danescan check dane-ee.lab: exit 0, "
              "dane-valid", r.stdout[-800:] + r.stderr[-800:])
        metrics = os.path.join(tmp, "metrics", "danescan.prom")
        os.makedirs(os.path.dirname(metrics))
        r = lab.run("exec", danescan, "scan", *LAB_SCAN_OPTIONS, "--db", db.url, "--scan-id", "installed",
                    "--metrics-file", metrics, "--output", os.path.join(tmp, "installed.jsonl"), LAB_DOMAINS,
                    text=True, timeout=300)
        rows = db.sql("SELECT count(*) FROM domains WHERE scan_id = 'installed'")
        with open(os.path.join(tmp, "installed.jsonl")) as f:
            names = sum(1 for line in f if line.strip())
        check(r.returncode == 0 and names > 0 and int(rows[0][0]) == names,
              f"installed danescan scan --db: exit 0, {names} domains stored", f"rc={r.returncode} {rows} "
              f"{r.stderr[-800:]}")
        check_metrics(metrics, names)
        r = run(danescan, "status", "--json", "--db", db.url, "--scan", "installed", env=env, text=True)
        try:
            status = json.loads(r.stdout)
        except ValueError:
            status = {}
        check(r.returncode == 0 and status.get("state") == "complete" and status.get("names_done") == names
              and status.get("names_total") == names and status.get("workers")
              and all(w.get("worker_id") and w.get("state") for w in status["workers"]),
              f"installed danescan status --json: complete, {names} of {names} names, workers listed",
              r.stdout[-800:] + r.stderr[-300:])
        r = run(danescan, "report", "--db", db.url, "--scan", "installed", "--out", os.path.join(tmp, "report"),
                env=env, text=True)
        check(r.returncode == 0 and os.path.isfile(os.path.join(tmp, "report/report.html")),
              "installed danescan report (installed report SQL): exit 0, report.html", r.stderr[-800:])

        # The periodic scan, as danescan-periodic.service runs it.
        inputs = os.path.join(tmp, "periodic-domains.txt")
        with open(LAB_DOMAINS) as f:
            names = [l.strip() for l in f if l.strip() and not l.startswith("#")][:PERIODIC_DOMAINS]
        with open(inputs, "w") as f:
            f.write("\n".join(names) + "\n")
        out = os.path.join(tmp, "periodic")
        lock = os.path.join(out, ".periodic-scan.lock")
        first = periodic(lab, prefix, db, out, inputs, procs)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if os.path.exists(lock) and open(lock).read().startswith("pid "):
                break
            time.sleep(0.05)
        second = periodic(lab, prefix, db, out, inputs)
        first_running = first.poll() is None
        check(second.returncode == 75 and "another run holds" in second.stderr,
              "a run started while another holds the lock: exit 75, says so", f"rc={second.returncode} "
              f"{second.stderr[-500:]}")
        check(first_running, "the first run was still running then (else this proves nothing)")
        try:
            _, err1 = first.communicate(timeout=300)
        except Exception:
            err1 = ""
        check(first.returncode == 0, "first periodic run: exit 0", f"rc={first.returncode} {err1[-800:]}")
        third = periodic(lab, prefix, db, out, inputs)
        check(third.returncode == 0, "a later periodic run: exit 0", f"rc={third.returncode} {third.stderr[-800:]}")
        scans = db.sql("SELECT id, ended_at < lead(started_at) OVER (ORDER BY started_at) FROM scans "
                       "WHERE id LIKE 'periodic-%' ORDER BY started_at")
        check(len(scans) == 2, "two periodic scans stored (the locked-out run scanned nothing)", scans)
        if len(scans) == 2:
            check(scans[0][1] == "t", "the second scan started after the first ended",
                  scans)
            latest = os.path.realpath(os.path.join(out, "latest"))
            check(os.path.basename(latest) == scans[1][0] and os.path.isfile(os.path.join(latest, "report.html"))
                  and os.path.isfile(os.path.join(latest, "diff.tsv")),
                  "latest -> the second run, with report.html and diff.tsv (against the first)", latest)
            check(f"compared with {scans[0][0]}" in third.stderr, "the second run compared with the first",
                  third.stderr[-500:])


if __name__ == "__main__":
    run_test(main)
