/* The PostgreSQL sink: writes every finished domain into the danescan schema
 * (schema/README.md) while the scan runs.
 *
 * Threading: write/can_accept/flush/close run on the scan's thread and never
 * wait for the database (except close, which waits for the writers to finish).
 * write formats the record into COPY rows of the current batch; a full batch
 * (or flush) is queued for the writer threads (two by default,
 * $DANESCAN_DB_WRITERS 1-4; each has its own connection and takes the next
 * queued batch, so batches may commit out of order: resume skips the union of
 * the committed ordinals, never a high-water mark). Each batch is committed
 * in ONE transaction: the rows, the host/TLSA/address/
 * probe rows (merged so each host is stored once per scan), certificate
 * upserts, and the batch's set of input ordinals (scan_batches). So a scan
 * killed at any point has exactly the rows of its committed batches, and
 * `resume` skips exactly their ordinals.
 *
 * Backpressure: can_accept is false while max_queued_batches batches wait
 * for, or are being committed by, the writers; the scan then stops admitting
 * domains (results are never dropped). The batch being filled can grow past batch_domains by the
 * domains already in flight.
 *
 * Lost connection: the writer reconnects with exponential backoff (100 ms to
 * 5 s) and resends the uncommitted batch; a batch whose commit outcome is
 * unknown is checked in scan_batches first, so it is never stored twice.
 * Retries follow db/db_retry.h: a lost connection, a deadlock victim or a
 * serialization failure is retried for retry_timeout_ms, anything else fails
 * the sink at once; the next write (or close) returns -1 with the reason and
 * the scan stops. Unless attached, the last writer to finish has the scans
 * row record the end time, counts and outcome (db/scan_row.h). */
#ifndef DANESCAN_STORE_PG_SINK_H
#define DANESCAN_STORE_PG_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "input/input.h"
#include "record/sink.h"

#define PG_SINK_DEFAULT_BATCH_DOMAINS 5000
#define PG_SINK_DEFAULT_MAX_QUEUED_BATCHES 6
#define PG_SINK_DEFAULT_RETRY_TIMEOUT_MS (300u * 1000) /* 5 minutes; DANESCAN_DB_RETRY_TIMEOUT_S */

/* Work another layer does inside each batch's transaction, on the writer's
 * connection: queue/ fences the batch against lost chunk leases, counts its
 * domains done and marks its hosts' claims done, so a batch is stored with
 * its queue bookkeeping or not at all. Called on the writer threads (several
 * at once: the callbacks must be thread-safe). Each returns DB_OK, or
 * DB_ERROR/DB_RETRY with why (db/db.h): the batch is rolled back, and
 * retried on DB_RETRY. */
struct pg_sink_batch_hook {
  void *ctx;
  /* Before any row: the batch's input ordinals, ascending (count may be 0). */
  int (*before_rows)(void *ctx, PGconn *conn, const uint64_t *seqs, size_t count, char *why, size_t why_len);
  /* After the batch's hosts are merged, while the temporary table
   * stage_mx_hosts holds them (only for batches with hosts). */
  int (*after_hosts)(void *ctx, PGconn *conn, char *why, size_t why_len);
};

struct pg_sink_config {
  const char *conninfo; /* libpq URL or key=value string; "" = PG* environment */
  const char *scan_id;  /* scans.id */
  bool resume;          /* continue an existing scan (it must exist) */
  int argc;             /* the scan's command line, stored in scans */
  char **argv;
  const char *parameters_json; /* scans.parameters (JSON text), may be NULL */
  struct input_reader *input;  /* borrowed: input names/checksums at close; may be NULL */
  const char *const *input_names;
  size_t input_count;
  size_t batch_domains;      /* 0 = default */
  size_t max_queued_batches; /* 0 = default */
  uint32_t retry_timeout_ms; /* 0 = default (or $DANESCAN_DB_RETRY_TIMEOUT_S) */
  FILE *log;                 /* non-NULL: retries logged (util/log.h), migrations applied written here; NULL = silent */
  /* Attached (a worker of a queued scan, run/): the scan is registered,
   * its input loaded and its scans row finished by others (db/scan_row.h);
   * this sink only writes batches, numbered from first_batch_no. */
  bool attach;
  uint64_t first_batch_no;
  /* Work done in each batch's transaction (may be NULL; copied). */
  const struct pg_sink_batch_hook *batch_hook;
};

/* Connects, applies pending schema migrations (pg_schema.h), registers the
 * scan (or, with resume, reopens it and loads its committed input ordinals),
 * creates the scan's partitions and starts the writer thread. Blocking: call
 * before the event loop. Returns 0 and fills sink, or -1 with why (nothing
 * to free). A new scan whose id is already stored is refused. */
int pg_sink_open(struct result_sink *sink, const struct pg_sink_config *config, char *why, size_t why_len);

/* The scan_config skip hook: true when seq was committed by an earlier run
 * of this scan. ctx is sink->state. */
bool pg_sink_skip_seq(void *ctx, uint64_t seq);

/* Number of input ordinals already committed (resume), for messages. */
uint64_t pg_sink_committed_count(void *ctx);

/* Attached: stores a host now, before any domain naming it is written
 * (a host this worker probed, so other workers waiting on its claim can reuse
 * it). Like hosts sent with domains, a host's rows go once per run, and
 * again with each later batch that names it while the batch that carried
 * them has not committed (a domain never commits without its hosts' rows,
 * whatever order the writers commit in, or when the worker dies between two
 * commits; the merge keeps one copy). Returns 0 or
 * -1 (out of memory; the host goes with its domains then). ctx is
 * sink->state. */
int pg_sink_add_host(void *ctx, const struct mx_host *host);

/* Tells the sink how the run ended, recorded in scans.complete/error at
 * close (not calling it leaves complete NULL: unknown). */
void pg_sink_set_outcome(void *ctx, bool complete, const char *error);

/* Writer statistics (thread-safe), for the benchmark. */
struct pg_sink_stats {
  uint64_t batches_committed;
  uint64_t rows_committed; /* rows COPYed, all tables */
  uint64_t domains_committed;
  uint64_t retries;
  double writer_busy_s; /* time spent committing */
};
void pg_sink_get_stats(void *ctx, struct pg_sink_stats *out);

#endif
