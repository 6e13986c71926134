/* The Prometheus text-format metrics file of a scan with workers (--metrics-
 * file), for node_exporter's textfile collector: progress (names done and
 * total, chunks, rate), workers, and the workers' DNS, probe and error
 * counters as the database has them. Written whole to PATH.tmp.PID and
 * renamed over PATH, so a reader never sees half a file. Blocking libpq:
 * called by the supervisor between its polls, never in an event loop. */
#ifndef DANESCAN_RUN_SCAN_METRICS_H
#define DANESCAN_RUN_SCAN_METRICS_H

#include <stddef.h>

#include <libpq-fe.h>

#define SCAN_METRICS_INTERVAL_S 10.0 /* node_exporter scrapes every 15-60 s */

/* Writes the metrics of scan_id to path: elapsed_s since this run started,
 * workers_running on this machine. Returns 0, or -1 with why (a database
 * error, the file cannot be written or renamed; the old file then stays). */
int scan_metrics_write(PGconn *conn, const char *scan_id, const char *path, double elapsed_s, unsigned workers_running,
                       char *why, size_t why_len);

#endif
