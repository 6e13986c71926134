"""What test_workers_lab.py and test_workers_join.py share: the scan options
of the workers' lab, and the scan and row checks both make on a private
database (harness.PrivateDB) through the lab (harness.store_lab)."""

import os
import time

from harness import check

BULK = int(os.environ.get("DANESCAN_WORKERS_BULK", "1500"))
OPTIONS = ["--allow-reserved", "--greeting-timeout-ms", "10000", "--per-ip-gap-ms", "50", "--rate", "500",
           "--probe-retry-delay-ms", "500", "--no-progress"]


class WorkerScans:
    """Scans into `db` run inside `lab`; background scans join `procs`."""

    def __init__(self, lab, db, procs):
        self.lab, self.db, self.procs = lab, db, procs

    def scan(self, scan_id, inputs, *extra, background=False):
        args = ["scan", *OPTIONS, "--db", self.db.url, "--scan-id", scan_id, *extra, inputs]
        if background:
            return self.lab.danescan(*args, procs=self.procs)
        t0 = time.monotonic()
        p = self.lab.danescan(*args)
        err = p.stderr.decode(errors="replace")
        check(p.returncode == 0, f"scan {scan_id} ({' '.join(extra)}) exits 0 ({time.monotonic() - t0:.1f} s)",
              err[-2000:])
        check("Sanitizer" not in err and "runtime error" not in err, f"scan {scan_id}: no sanitizer report",
              err[-3000:])
        return p

    def one_value(self, sql):
        return self.db.sql(sql)[0][0]

    def exactly_once(self, scan_id, names, label):
        got = self.db.sql(f"SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM domains"
                          f" WHERE scan_id = '{scan_id}'")[0]
        check(got == [str(names), str(names), "0", str(names - 1)],
              f"{label}: every input name stored exactly once ({got[0]} rows, {got[1]} ordinals of {names})",
              str(got))
