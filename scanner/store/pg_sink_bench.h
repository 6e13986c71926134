/* `danescan db bench`: rows per second through the PostgreSQL sink, fed
 * synthetic records (two MX hosts of two addresses per domain, hostile
 * EDE text on some) as fast as its backpressure admits them. Prints one
 * result line; drops the benchmark scan unless keep. */
#ifndef DANESCAN_STORE_PG_SINK_BENCH_H
#define DANESCAN_STORE_PG_SINK_BENCH_H

#include <stdbool.h>
#include <stddef.h>

/* Returns 0, or -1 after reporting the failure on stderr. */
int pg_sink_bench(const char *url, unsigned long long domains, size_t batch, bool keep);

#endif
