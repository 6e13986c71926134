/* What `danescan scan` runs once its options are parsed: one of three ways,
 * chosen here. With --db (unless --workers 0, or a resumed scan started
 * without the queue) the supervisor of a queued scan (run/supervisor.h); as
 * --worker-process one worker of it (run/worker.h); otherwise the scan in
 * this process: resolver check, sinks, the pipeline, the summary and the
 * metadata document (run/scan_metadata.h). */
#ifndef DANESCAN_RUN_SCAN_RUN_H
#define DANESCAN_RUN_SCAN_RUN_H

#include "run/scan_options.h"

/* Runs the scan of options; argv is the `scan` command line (argv[0] =
 * "scan"), stored with the scan and given to workers. Returns the exit
 * code: 0 complete, 1 stopped early or failed, 2 bad input or options, 3 a
 * resolver does not validate. Does not free options. */
int run_scan(struct scan_options *options, int argc, char **argv);

#endif
