/* The Prometheus text-format metrics file of a scan (--metrics-file), for
 * node_exporter's textfile collector. With workers: progress (names done
 * and total, chunks, rate), workers, and the workers' DNS, probe and error
 * counters as the database has them, NS lookups (--ns-lookup) included
 * (blocking libpq: called by the
 * supervisor between its polls, never in an event loop). In one process
 * (--workers 0, JSON Lines only): the process's own counters, domains per
 * status included. Written whole to PATH.tmp.PID and renamed over PATH, so
 * a reader never sees half a file. */
#ifndef DANESCAN_RUN_SCAN_METRICS_H
#define DANESCAN_RUN_SCAN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pipeline/ns_lookup.h"
#include "record/status.h"

#define SCAN_METRICS_INTERVAL_S 10.0 /* node_exporter scrapes every 15-60 s */

/* Writes the metrics of scan_id to path: elapsed_s since this run started,
 * workers_running on this machine. Returns 0, or -1 with why (a database
 * error, the file cannot be written or renamed; the old file then stays). */
int scan_metrics_write(PGconn *conn, const char *scan_id, const char *path, double elapsed_s, unsigned workers_running,
                       char *why, size_t why_len);

/* What a scan in one process knows of itself (run/scan_run.c fills it
 * from the pipeline's, the DNS client's, the probe engine's and the input
 * reader's counters). */
struct scan_metrics_local {
  uint64_t names;     /* input names read so far */
  bool input_done;    /* every input name read */
  uint64_t bad_lines; /* input lines that were no name */
  uint64_t domains_done;
  unsigned in_flight;
  uint64_t by_status[DOMAIN_STATUS_COUNT];
  double elapsed_s; /* since the scan started */
  uint64_t dns_queries, dns_retries, dns_timeouts, dns_failed;
  uint64_t probes, connections;     /* 0 without a probe engine */
  struct ns_lookup_stats ns_lookup; /* scan --ns-lookup (all 0 without it) */
};

/* Writes values as the metrics of scan_id to path (no database). Returns 0,
 * or -1 with why (the file cannot be written or renamed; the old file then
 * stays). */
int scan_metrics_write_local(const char *path, const char *scan_id, const struct scan_metrics_local *values, char *why,
                             size_t why_len);

#endif
