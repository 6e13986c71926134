/* `danescan status`'s report of a queued scan, from the database alone:
 * done/total, the commit rate over the last STATUS_RATE_WINDOW_S seconds,
 * an ETA, and every worker with its heartbeat age and exit status. Blocking
 * libpq; reads only. */
#ifndef DANESCAN_QUEUE_QUEUE_STATUS_H
#define DANESCAN_QUEUE_QUEUE_STATUS_H

#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#define STATUS_RATE_WINDOW_S 60 /* the rate is measured over the batches committed this long ago */

enum queue_status_format {
  QUEUE_STATUS_TEXT, /* lines for a person */
  QUEUE_STATUS_JSON  /* one JSON object on one line, for monitoring */
};

/* Prints the report of scan_id to out. Returns 0, or -1 with why (no such
 * scan, a scan without workers, a database error, out of memory). */
int queue_status_print(PGconn *conn, const char *scan_id, enum queue_status_format format, FILE *out, char *why,
                       size_t why_len);

#endif
