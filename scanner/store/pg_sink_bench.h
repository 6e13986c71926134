/* `danescan db bench`: rows per second through the PostgreSQL sink, fed
 * synthetic records as fast as its backpressure admits them: by default two
 * MX hosts of two addresses per domain, hostile EDE text on some; with
 * realistic, the survey of store/bench_model.h (shared providers, TLSA on a
 * few percent, probes), which bench/bench_report.sh loads to time the
 * reports. Prints one result line; drops the benchmark scan unless keep. */
#ifndef DANESCAN_STORE_PG_SINK_BENCH_H
#define DANESCAN_STORE_PG_SINK_BENCH_H

#include <stdbool.h>
#include <stddef.h>

struct pg_sink_bench_options {
  unsigned long long domains;
  size_t batch;        /* domains per writer batch; 0 = the sink's default */
  bool keep;           /* keep the scan (else it is dropped at the end) */
  bool realistic;      /* store/bench_model.h records */
  unsigned variant;    /* realistic: 0 the first scan, v > 0 ~1 % of domains changed */
  const char *scan_id; /* NULL: bench-<time>-<pid> */
};

/* Returns 0, or -1 after reporting the failure on stderr. */
int pg_sink_bench(const char *url, const struct pg_sink_bench_options *options);

#endif
