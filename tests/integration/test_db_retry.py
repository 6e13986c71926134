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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_common import SOURCE, Harness, run  # noqa: E402

BUILD = os.environ.get("DANESCAN_BUILD") or os.path.join(SOURCE, "build")
CHECK = os.path.join(BUILD, "tests", "dbcheck", "danescan-db-retry-check")
h = Harness("dbretry")


def main():
    if not h.check(os.access(CHECK, os.X_OK), f"danescan-db-retry-check built ({CHECK})"):
        return
    h.db_up()
    p = run([CHECK, h.url], timeout=120)
    out = p.stdout.decode(errors="replace")
    for line in out.splitlines():
        if line.startswith(("ok   ", "FAIL ")):
            h.check(line.startswith("ok"), line[5:])
    h.check(p.returncode == 0 and " 0 failed" in out, "every classification and retry check passed",
            out[-1500:] + p.stderr.decode(errors="replace")[-1500:])


h.run(main)
