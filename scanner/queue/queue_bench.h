/* `danescan db bench-queue`: how fast the work queue hands out work, with
 * the resolution replaced by nothing. Loads `domains` synthetic names into a
 * new scan's queue (timed: names/s loaded), then `workers` processes each
 * lease chunks (reading their names) and complete them the way a worker's
 * batch does (lease check and done count in one transaction), until the
 * queue is finished. Prints leases/s and domains/s; drops the scan unless
 * keep. Blocking libpq: a benchmark, not part of a scan. */
#ifndef DANESCAN_QUEUE_QUEUE_BENCH_H
#define DANESCAN_QUEUE_QUEUE_BENCH_H

#include <stdbool.h>

int queue_bench_main(const char *url, unsigned long long domains, unsigned workers, unsigned chunk_size, bool keep);

#endif
