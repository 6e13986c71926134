/* A scan shared by worker processes through the database's work queue
 * (queue/). The supervisor is what `danescan scan --db URL` (and `resume`,
 * and `danescan worker`) runs: it registers the scan and loads its input into
 * the queue once (not when joining), starts the worker processes, replaces
 * the ones that die, forwards SIGINT/SIGTERM to them, and prints one summary
 * for the whole scan from the database. A worker process is `danescan scan
 * ... --worker-process --worker-id ID`: it scans the chunks it leases until
 * the queue is finished. Blocking libpq is fine in the supervisor (it runs no
 * event loop); workers never block their loop on the database. */
#ifndef DANESCAN_RUN_SCAN_WORKERS_H
#define DANESCAN_RUN_SCAN_WORKERS_H

#include "run/scan_options.h"

/* Runs the supervisor for scan_id; argv is the `scan` command line
 * (argv[0] = "scan") that workers are started with. Returns the exit code:
 * 0 when the scan is complete, 1 when it stopped early (resume continues
 * it), 2 bad input or options. */
int scan_supervisor_main(const struct scan_options *options, const char *scan_id, int argc, char **argv);

/* Runs one worker process (options->worker_process). Exit code 0 when the
 * queue is finished, 1 otherwise (stopped, failed, lost a lease), 3 when a
 * resolver does not validate. */
int scan_worker_main(const struct scan_options *options, int argc, char **argv);

/* True when scan_id in the database at db_url is a queued scan (resume takes
 * the supervisor path then). -1 on a database error (reported). */
int scan_workers_is_queued(const char *db_url, const char *scan_id);

#endif
