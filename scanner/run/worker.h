/* One worker process of a queued scan: `danescan scan ... --worker-process
 * --worker-id ID`, started by the supervisor (run/supervisor.h). It opens
 * the scan runtime, joins the work queue (queue/work_queue.h), and scans the
 * chunks it leases until the queue is finished, storing through the
 * PostgreSQL sink with the queue's batch hook (every batch is fenced against
 * lost leases) and, with --output, appending JSON Lines. Its counters go to
 * the database at every heartbeat, for the scan's summary and metadata. The
 * event loop never waits for the database. */
#ifndef DANESCAN_RUN_WORKER_H
#define DANESCAN_RUN_WORKER_H

#include "run/scan_options.h"

/* Runs one worker process (options->worker_process). Exit code 0 when the
 * queue is finished, 1 otherwise (stopped, failed, lost a lease), 2 when the
 * scan has no queue, 3 when a resolver does not validate. */
int scan_worker_main(const struct scan_options *options);

#endif
