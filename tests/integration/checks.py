"""The check protocol of the Python integration tests: check() prints
'ok   WHAT' or 'FAIL WHAT DETAIL' and counts; run_test(main, cleanup) runs
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
        print(f"FAIL {what} {detail}".rstrip(), flush=True)
    return ok


def summary():
    """Prints 'N passed, M failed'; returns the exit code (0 when none failed)."""
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


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
