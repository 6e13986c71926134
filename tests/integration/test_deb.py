#!/usr/bin/python3
"""The Debian package (issue 20), behind DANESCAN_DEB_TEST=1 because the
package build alone takes minutes (about 5 on 2 shared cores); without it
the test reports itself skipped (exit 77). It copies the source tree (the
files git knows, as they are in the work tree) to a temporary folder, runs
`dpkg-buildpackage -us -uc -b` there, requires lintian to report no error
and no warning, installs the package with dpkg, and then runs the installed
/usr/bin/danescan: `check` of a lab domain, `db migrate` of a private
database (reading /usr/share/danescan/migrations, as `db status` says),
`scan --db` of the lab, `report`; `systemd-analyze verify` of the installed
units. The package is removed again unless it was installed before.
Ends with 'N passed, M failed'."""

import glob
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
from harness import (LAB_DOMAINS, LAB_SCAN_OPTIONS, SOURCE, Lab, PrivateDB, TempDir, check, run,  # noqa: E402
                     run_test)

SKIP = 77


def copy_tree(dest):
    files = run("git", "-C", SOURCE, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                text=True).stdout.split("\0")
    for name in files:
        src = os.path.join(SOURCE, name)
        if name and os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))


def installed(package):
    r = run("dpkg-query", "-W", "-f=${Status}", package, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def main():
    was_installed = installed("danescan")
    try:
        with TempDir("danescan-deb-", public=True) as tmp, Lab() as lab, PrivateDB("danescan_test_deb") as db:
            src = os.path.join(tmp, "danescan")
            copy_tree(src)
            r = run("dpkg-buildpackage", "-us", "-uc", "-b", cwd=src, text=True, timeout=3600)
            debs = glob.glob(os.path.join(tmp, "danescan_*.deb"))
            if not check(r.returncode == 0 and len(debs) == 1, "dpkg-buildpackage -us -uc -b: exit 0, one .deb",
                         r.stdout[-1500:] + r.stderr[-1500:]):
                return
            changes = glob.glob(os.path.join(tmp, "danescan_*.changes"))
            r = run("lintian", *changes, text=True, timeout=600)
            tags = [l for l in r.stdout.splitlines() if l.startswith(("E:", "W:"))]
            check(not tags, "lintian: no error, no warning", "\n".join(tags[:20]) + r.stderr[-300:])
            r = run("dpkg", "-i", debs[0], text=True, timeout=300)
            if not check(r.returncode == 0 and installed("danescan"), "dpkg -i the package",
                         r.stdout[-1000:] + r.stderr[-1000:]):
                return
            danescan = "/usr/bin/danescan"
            r = run("man", "-w", "danescan-scan", text=True)
            check(r.stdout.strip() == "/usr/share/man/man1/danescan-scan.1.gz", "man danescan-scan finds the page",
                  r.stdout + r.stderr)
            r = run("systemd-analyze", "verify", "/lib/systemd/system/danescan-periodic.service",
                    "/lib/systemd/system/danescan-periodic.timer", text=True)
            check(r.returncode == 0 and "danescan" not in r.stdout + r.stderr,
                  "systemd-analyze verify: the installed units are clean", r.stdout + r.stderr)

            env = {k: v for k, v in os.environ.items() if k not in ("DANESCAN_SCHEMA_DIR", "DANESCAN_REPORTS")}
            r = run(danescan, "db", "migrate", "--db", db.url, env=env, text=True)
            check(r.returncode == 0, "installed danescan db migrate: exit 0", r.stdout[-500:] + r.stderr[-500:])
            r = run(danescan, "db", "status", "--db", db.url, env=env, text=True)
            check("migrations read from /usr/bin/../share/danescan/migrations\n" in r.stdout,
                  "the installed binary reads /usr/share/danescan/migrations", r.stdout[-500:])

            p = lab.ensure_up()
            if not check(lab.is_up(), "lab up", p.stderr.decode(errors="replace")[-1500:] if p else ""):
                return
            r = lab.run("exec", danescan, "check", "--allow-reserved", "dane-ee.lab", text=True, timeout=120)
            check(r.returncode == 0 and "dane-valid" in r.stdout, "installed danescan check dane-ee.lab: dane-valid",
                  r.stdout[-800:] + r.stderr[-800:])
            out = os.path.join(tmp, "deb.jsonl")
            r = lab.run("exec", danescan, "scan", *LAB_SCAN_OPTIONS, "--db", db.url, "--scan-id", "deb",
                        "--output", out, LAB_DOMAINS, text=True, timeout=300)
            rows = db.sql("SELECT count(*) FROM domains WHERE scan_id = 'deb'")
            with open(out) as f:
                records = sum(1 for line in f if line.strip())
            check(r.returncode == 0 and records > 0 and int(rows[0][0]) == records,
                  f"installed danescan scan --db of the lab: exit 0, {records} domains stored",
                  f"rc={r.returncode} {rows} {r.stderr[-800:]}")
            r = run(danescan, "report", "--db", db.url, "--scan", "deb", "--out", os.path.join(tmp, "report"),
                    env=env, text=True)
            check(r.returncode == 0 and os.path.isfile(os.path.join(tmp, "report/report.html")),
                  "installed danescan report: exit 0", r.stderr[-800:])
    finally:
        if not was_installed and installed("danescan"):
            run("dpkg", "--purge", "danescan")


if __name__ == "__main__":
    if os.environ.get("DANESCAN_DEB_TEST") != "1":
        print("skipped: set DANESCAN_DEB_TEST=1 to build and install the Debian package (minutes)")
        sys.exit(SKIP)
    run_test(main)
