"""The check protocol of the Python integration tests: check() prints
'ok   WHAT' or 'FAIL WHAT DETAIL' (capped at 3000 characters) and counts;
summary() prints 'N passed, M failed'; run_test(main, cleanup) runs
main with SIGTERM/SIGINT and exceptions routed through cleanup (which must
be safe to call twice), prints 'N passed, M failed' and exits 1 when any
check failed."""

import signal
import sys

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
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and (passed > 0 or not need_a_pass) else 1


def run_test(main, cleanup):
    def on_signal(*_):
        cleanup()
        sys.exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        main()
    finally:
        cleanup()
    sys.exit(summary())
