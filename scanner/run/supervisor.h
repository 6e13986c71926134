/* A scan shared by worker processes through the database's work queue
 * (queue/). The supervisor is what `danescan scan --db URL` (and `resume`,
 * and `danescan worker`) runs: it registers the scan and loads its input into
 * the queue once (not when joining), starts the worker processes, replaces
 * the ones that die, forwards SIGINT/SIGTERM to them, and prints one summary
 * for the whole scan from the database (and its --metadata document, through
 * run/scan_metadata.h like a single-process scan's). The worker processes
 * are run/worker.h. Blocking libpq is fine in the supervisor (it runs no
 * event loop). The scans row is written through db/scan_row.h. */
#ifndef DANESCAN_RUN_SUPERVISOR_H
#define DANESCAN_RUN_SUPERVISOR_H

#include "run/scan_options.h"

/* Runs the supervisor for scan_id; argv is the `scan` command line
 * (argv[0] = "scan") that workers are started with. Returns the exit code:
 * 0 when the scan is complete, 1 when it stopped early (resume continues
 * it), 2 bad input or options. */
int scan_supervisor_main(const struct scan_options *options, const char *scan_id, int argc, char **argv);

/* True when scan_id in the database at db_url is a queued scan (resume takes
 * the supervisor path then). -1 on a database error (reported). */
int scan_workers_is_queued(const char *db_url, const char *scan_id);

#endif
