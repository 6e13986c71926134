/* The `scans` row: one per scan, and this module is its only writer (and
 * the reader of what the other modules need of it). Every other module asks
 * here: the sink registers and finishes a single-process scan, the queue
 * records what it loaded and finishes a queued scan, the supervisor records
 * why a queued scan stopped.
 *
 * When a scan is complete (scans.complete), one rule with two callers:
 *   - complete = true only when every input name is stored and no error was
 *     recorded: a single-process scan reports that from its run
 *     (db_scan_finish_run); a queued scan when its queue is finished and
 *     scans.error is NULL (db_scan_finish_queued);
 *   - complete = false with the first error kept when a run stops early
 *     (db_scan_finish_run, db_scan_stop_queued);
 *   - NULL while a run is going on, or when a run died without saying.
 * ended_at and domains are written together with complete.
 *
 * Blocking libpq on a connection the caller owns; errors are DB_ERROR or
 * DB_RETRY (db.h) with "database: what: message" in why. */
#ifndef DANESCAN_DB_SCAN_ROW_H
#define DANESCAN_DB_SCAN_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "input/input.h"

/* A new scan: its row is inserted (a scan id already stored is refused with
 * a message naming 'danescan resume'); resume: its row is reopened (runs + 1,
 * ended/complete/error cleared). Then its partitions are created. */
struct db_scan_registration {
  const char *scan_id;
  bool resume;
  int argc; /* the scan's command line */
  char **argv;
  const char *parameters_json; /* scans.parameters, may be NULL */
};
int db_scan_register(PGconn *conn, const struct db_scan_registration *registration, char *why, size_t why_len);

/* The inputs JSON array ([{"name", "sha256"}...]) of the files an input
 * reader read (input may be NULL: checksums null). Returns a string the
 * caller frees, or NULL (out of memory). */
char *db_scan_inputs_json(struct input_reader *input, const char *const *paths, size_t count);

/* A single-process run ends: ended_at, inputs, input_names and
 * input_counts (counts may be NULL: unknown), domains (counted from the
 * domains table) and the outcome. outcome_known false leaves complete NULL
 * (unknown); error may be NULL. */
int db_scan_finish_run(PGconn *conn, const char *scan_id, const char *inputs_json, const struct input_counts *counts,
                       bool outcome_known, bool complete, const char *error, char *why, size_t why_len);

/* Computes the scan's report summaries (migration 009:
 * danescan_summarize_scan; a no-op when they are fresh). Called when a run
 * finishes complete; `danescan report`/`diff` compute missing or stale ones
 * themselves, so a failure here loses nothing but time: the finish paths
 * ignore it. Returns DB_OK or DB_ERROR/DB_RETRY with why. */
int db_scan_summarize(PGconn *conn, const char *scan_id, char *why, size_t why_len);

/* What the row says about the scan's work queue. */
struct db_scan_info {
  bool exists;         /* a scans row with this id */
  uint32_t chunk_size; /* 0: a single-process scan without a queue */
  uint64_t total;      /* names loaded so far */
  bool loaded;         /* every input name is loaded */
  bool complete;       /* scans.complete is true */
};
int db_scan_info(PGconn *conn, const char *scan_id, struct db_scan_info *out, char *why, size_t why_len);

/* Makes the scan a queued scan with chunks of chunk_size names (once: a scan
 * that has a chunk size keeps it). */
int db_scan_init_queue(PGconn *conn, const char *scan_id, uint32_t chunk_size, char *why, size_t why_len);

/* Inside the caller's loading transaction: names loaded so far. */
int db_scan_set_queue_total(PGconn *conn, const char *scan_id, uint64_t total, char *why, size_t why_len);

/* Every input name is loaded: queue_loaded, queue_total and input_names =
 * total, inputs, input_counts (the reader's). */
int db_scan_set_loaded(PGconn *conn, const char *scan_id, uint64_t total, const char *inputs_json,
                       const struct input_counts *counts, char *why, size_t why_len);

/* Loading failed part way: what was loaded is scanned (queue_loaded) and the
 * error is recorded, so the scan ends incomplete. */
int db_scan_fail_load(PGconn *conn, const char *scan_id, const char *error, char *why, size_t why_len);

/* The queue is finished: complete = (no error recorded), ended_at, domains.
 * Idempotent (a complete scan is left alone). */
int db_scan_finish_queued(PGconn *conn, const char *scan_id, char *why, size_t why_len);

/* A queued run stopped before its queue was finished: complete = false,
 * ended_at, domains, and error unless one is recorded already. */
int db_scan_stop_queued(PGconn *conn, const char *scan_id, const char *error, char *why, size_t why_len);

/* The recorded error, or when none a placeholder; copied into out. Returns
 * DB_OK (out "" when there is no such scan). */
int db_scan_error(PGconn *conn, const char *scan_id, const char *placeholder, char *out, size_t out_len, char *why,
                  size_t why_len);

/* The stored command line (element 0 is the subcommand) and working
 * directory. Returns DB_OK with *args (array of argc_out strings, each and
 * the array owned: db_scan_command_line_free) and *cwd (owned), 1 when there
 * is no such scan, or DB_ERROR/DB_RETRY with why. */
int db_scan_command_line(PGconn *conn, const char *scan_id, char ***args, int *argc_out, char **cwd, char *why,
                         size_t why_len);
void db_scan_command_line_free(char **args, int argc, char *cwd);

/* The inputs as stored: names with their digests (sha256 may hold NULLs)
 * and the reader's counts (counts_known false for scans stored before
 * migration 007). Owned: db_scan_inputs_clear. */
struct db_scan_inputs {
  size_t count;
  char **names;
  char **sha256;
  bool counts_known;
  struct input_counts counts;
};
int db_scan_inputs(PGconn *conn, const char *scan_id, struct db_scan_inputs *out, char *why, size_t why_len);
void db_scan_inputs_clear(struct db_scan_inputs *inputs);

/* The scan's stored domains per status word (record/status.h order) and
 * in all. */
int db_scan_domain_counts(PGconn *conn, const char *scan_id, uint64_t *by_status, uint64_t *total, char *why,
                          size_t why_len);

/* Prints every stored scan, one line each (id, started, ended, complete,
 * runs, domains committed), under a header line. */
int db_scan_list(PGconn *conn, FILE *out, char *why, size_t why_len);

/* Drops the scan whole: partitions, progress, queue, the row. */
int db_scan_drop(PGconn *conn, const char *scan_id, char *why, size_t why_len);

#endif
