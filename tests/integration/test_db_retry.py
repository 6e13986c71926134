#!/usr/bin/python3
"""The one retry rule of the database layer (db/db.h, db/db_retry.h) against
a real PostgreSQL: failures are classified by SQLSTATE and connection state,
never by message text (so a non-English lc_messages changes nothing), real
deadlocks and serialization failures are retried, rejected statements are
not, a terminated connection is replaced, and a database failing past the
retry timeout is given up on. The checks are tests/dbcheck/db_retry_check.c;
this starts a private database for it (scripts/db) and drops it after."""

import os
import sys

sys.dont_write_bytecode = True
from harness import BUILD, PrivateDB, check, run, run_test  # noqa: E402

CHECK = os.path.join(BUILD, "tests", "dbcheck", "danescan-db-retry-check")


def main():
    if not check(os.access(CHECK, os.X_OK), f"danescan-db-retry-check built ({CHECK})"):
        return
    with PrivateDB("test_dbretry") as db:
        p = run(CHECK, db.url, timeout=120)
        out = p.stdout.decode(errors="replace")
        for line in out.splitlines():
            if line.startswith(("ok   ", "FAIL ")):
                check(line.startswith("ok"), line[5:])
        check(p.returncode == 0 and " 0 failed" in out, "every classification and retry check passed",
              out[-1500:] + p.stderr.decode(errors="replace")[-1500:])


run_test(main)
