/* The work queue's SQL (schema/migrations/005_work_queue.sql): loading the
 * input into a scan once, leasing chunks of input ordinals to workers,
 * heartbeats, per-host probe claims and scan-wide per-address session slots.
 * Every function is blocking libpq on a connection the caller owns: call them
 * from a thread of their own or before the event loop runs, never inside it.
 * Nothing here keeps state between calls; the database is the state. The
 * scans row is db/scan_row.h's. Errors return DB_ERROR or DB_RETRY (db/db.h)
 * with "database: what: server message" in why; the caller retries by
 * db/db_retry.h. */
#ifndef DANESCAN_QUEUE_DB_H
#define DANESCAN_QUEUE_DB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "input/input.h"
#include "record/probe_detail.h"
#include "record/result.h"
#include "store/pg_sink.h"

#define QUEUE_DEFAULT_CHUNK_DOMAINS 1000 /* names per leased chunk */
#define QUEUE_DEFAULT_LEASE_TTL_MS \
  60000                                    /* a lease not renewed for this long is taken over: longer
                                              * than a database outage a scan should ride out
                                              * without churn (a local dead worker is reaped at once) */
#define QUEUE_HEARTBEAT_MS 3000            /* leases renewed, counters stored, workers counted */
#define QUEUE_LOAD_TRANSACTION_NAMES 50000 /* names committed per loading transaction (rounded to chunks) */

/* Streams every name of input into scan_inputs and scan_chunks, one
 * transaction per QUEUE_LOAD_TRANSACTION_NAMES names (rounded up to whole
 * chunks), so workers can start on the first chunks while the rest loads and
 * a killed loader continues where it stopped: names whose ordinal is below
 * the scan's queue_total are read and skipped. At the end sets queue_loaded,
 * input_names and inputs (names and SHA-256 of input_paths). *stop (may be
 * NULL) set by a signal ends loading early (returns 1). Returns 0 when
 * everything is loaded, 1 when stopped, -1 with why (input error or
 * database error; what was committed stays). Input diagnostics go through
 * the reader's own callback. on_commit (may be NULL) is called with conn,
 * outside any transaction, after each committed transaction (the
 * supervisor writes its metrics file there while a long input loads). */
int queue_db_load(PGconn *conn, const char *scan_id, struct input_reader *input, const char *const *input_paths,
                  size_t input_count, volatile sig_atomic_t *stop, uint64_t *loaded_out,
                  void (*on_commit)(PGconn *conn, void *ctx), void *on_commit_ctx, char *why, size_t why_len);

/* Registers a worker process; returns 0 with its worker_no (scan_batches
 * numbers of the worker start at worker_no << 32). */
int queue_db_register_worker(PGconn *conn, const char *scan_id, const char *worker_id, const char *host, int pid,
                             uint64_t *worker_no, char *why, size_t why_len);

/* A worker's counters, stored at every heartbeat. */
#define QUEUE_COUNTERS_DETAIL_MAX_BYTES 4096
struct queue_worker_counters {
  uint64_t domains, chunks, probes, connections, dns_queries, dns_retries, dns_timeouts;
  /* Everything else the scan's metadata sums over workers (run/), as a
   * JSON object of objects of numbers (and "dns"."resolvers", an array of
   * objects with a "name"): scan_workers.counters. "" keeps the stored one. */
  char detail_json[QUEUE_COUNTERS_DETAIL_MAX_BYTES];
};

/* Renews the worker's chunk leases and address slots, stores counters and
 * returns in *alive the number of workers of the scan that are running
 * (heartbeat within ttl_ms, not exited; at least 1). */
int queue_db_heartbeat(PGconn *conn, const char *scan_id, const char *worker_id, uint32_t ttl_ms,
                       const struct queue_worker_counters *counters, unsigned *alive, char *why, size_t why_len);

/* One leased chunk: the names of [seq_lo, seq_hi) not yet stored (a chunk
 * taken over from a dead worker lacks the names it had committed). */
struct queue_chunk {
  uint64_t chunk_no, seq_lo, seq_hi;
  struct input_name *names; /* owned: queue_chunk_clear frees */
  size_t count;
};
void queue_chunk_clear(struct queue_chunk *chunk);

/* Leases the first chunk that is pending, expired, or held by a gone worker.
 * Returns 1 with out filled, 0 when no chunk can be leased now, -1 with why. */
int queue_db_lease_chunk(PGconn *conn, const char *scan_id, const char *worker_id, uint32_t ttl_ms,
                         struct queue_chunk *out, char *why, size_t why_len);

struct queue_progress {
  uint64_t total; /* names loaded */
  bool loaded;
  uint64_t chunks, chunks_done, chunks_leased;
  uint64_t domains_done; /* sum of done_count */
  uint64_t takeovers;    /* leases beyond one per chunk (taken over or released) */
};
int queue_db_progress(PGconn *conn, const char *scan_id, struct queue_progress *out, char *why, size_t why_len);

/* True when every name is loaded and every chunk is done. */
bool queue_progress_finished(const struct queue_progress *progress);

/* A worker ends (exit_status "done", "stopped", "failed: ...") or is found
 * dead ("killed"): its chunk leases go back to pending, its address slots are
 * freed, exited_at is set (so its unfinished host claims are taken over by
 * the next claimer, which counts the repeat in probe_runs). Safe to call
 * twice. */
int queue_db_worker_exit(PGconn *conn, const char *scan_id, const char *worker_id, const char *exit_status, char *why,
                         size_t why_len);

/* Workers of this scan registered from this host whose process no longer
 * runs (no such pid, or a zombie not yet reaped by PID 1) are ended as
 * "killed" (queue_db_worker_exit), so their chunks are taken over at once
 * instead of after the lease TTL. Returns the number. */
int queue_db_reap_local_workers(PGconn *conn, const char *scan_id, const char *host, char *why, size_t why_len);

/* Host claims, for names[0..count): outcome[i] = QUEUE_CLAIM_MINE (probe it
 * here), QUEUE_CLAIM_DONE (another worker probed it and its rows are
 * committed: fetch them with queue_db_fetch_host), QUEUE_CLAIM_BUSY (another
 * live worker is probing it: ask again later). A claim whose worker is gone
 * is taken over (MINE; probe_runs counts the repeat). */
enum queue_claim { QUEUE_CLAIM_BUSY = 0, QUEUE_CLAIM_MINE, QUEUE_CLAIM_DONE };
int queue_db_claim_hosts(PGconn *conn, const char *scan_id, const char *worker_id, uint32_t ttl_ms,
                         const char *const *names, size_t count, enum queue_claim *outcome, char *why, size_t why_len);

/* The stored outcome of a host probed by another worker: what a domain's
 * status needs (the host status and flags) and each address's probe result. */
#define QUEUE_HOST_MAX_ADDRESSES 256
#define QUEUE_REASON_MAX_BYTES 256
struct queue_host_result {
  enum host_status status;
  unsigned flags;               /* enum mx_host_flag bits */
  enum rollover_class rollover; /* as the probing worker judged it */
  size_t address_count;
  struct {
    char address[46];
    enum probe_result result;
    char reason[QUEUE_REASON_MAX_BYTES];
    unsigned attempts;              /* 0 when stored before migration 008 */
    enum probe_result first_result; /* when attempts == 2 */
    enum probe_step first_step;
  } addresses[QUEUE_HOST_MAX_ADDRESSES];
};
/* Returns 1 with out filled, 0 when the host has no stored row, -1 with why. */
int queue_db_fetch_host(PGconn *conn, const char *scan_id, const char *name, struct queue_host_result *out, char *why,
                        size_t why_len);

/* Scan-wide session slots of addresses (texts as host_address.text):
 * slot_out[i] = the slot taken, or -1 when every one of the `slots` slots is
 * held by a live worker or was released less than gap_ms ago. */
int queue_db_acquire_addresses(PGconn *conn, const char *scan_id, const char *worker_id, const char *const *addresses,
                               size_t count, unsigned slots, uint32_t gap_ms, uint32_t ttl_ms, int *slot_out, char *why,
                               size_t why_len);
int queue_db_release_addresses(PGconn *conn, const char *scan_id, const char *worker_id, const char *const *addresses,
                               const int *slots, size_t count, char *why, size_t why_len);

/* Inside the caller's transaction that commits a worker's results: locks
 * the leases of the chunks the results belong to (chunks: a bigint[]
 * literal, in ascending order, so two transactions lock in one order) and
 * checks that worker_id still holds every one, then adds counts (an
 * integer[] literal, one per chunk) to their done counts, marking full
 * chunks done. Returns 0, or -1 with why: a lost lease (the chunk was taken
 * over: the caller must roll back, or a domain would be stored twice) or a
 * database error. */
int queue_db_complete_chunks(PGconn *conn, const char *scan_id, const char *worker_id, const char *chunks,
                             const char *counts, size_t chunk_count, char *why, size_t why_len);

/* When the queue is finished, has the scans row record the scan complete
 * (db_scan_finish_queued); idempotent. Returns 1 if it is finished, 0 if
 * not, DB_ERROR/DB_RETRY with why. */
int queue_db_finish_scan(PGconn *conn, const char *scan_id, char *why, size_t why_len);

/* What the workers of a scan did, over all runs: for the summary. */
struct queue_summary {
  uint64_t workers, domains, dns_queries, dns_retries, dns_timeouts, probes, connections;
  uint64_t takeovers; /* leases beyond one per chunk */
  uint64_t chunks;
  uint64_t duplicate_probes; /* probe_runs beyond one per host claim */
  uint64_t hosts_claimed;
};
int queue_db_summary(PGconn *conn, const char *scan_id, struct queue_summary *out, char *why, size_t why_len);

/* The scan's workers as a JSON array of {worker_id, host, pid, domains,
 * exit_status}, in registration order ("[]" when none); *out is the
 * caller's to free. */
int queue_db_workers_json(PGconn *conn, const char *scan_id, char **out, char *why, size_t why_len);

/* The sums of every worker's detail counters (queue_worker_counters): each
 * (group, NULL, key, value) of a number in a group object, summed, and each
 * ("resolvers", name, key, value) of dns.resolvers by resolver name (summed;
 * last_down_ms the largest, down_now "true"/"false" for any). */
int queue_db_counter_sums(PGconn *conn, const char *scan_id,
                          void (*each)(void *ctx, const char *group, const char *name, const char *key,
                                       const char *value),
                          void *ctx, char *why, size_t why_len);

/* The PostgreSQL sink's batch hook (store/pg_sink.h) for a worker of a
 * queued scan: before the rows, queue_db_complete_chunks for the batch's
 * chunks (a lost lease fails the batch, so no domain is stored twice); after
 * the hosts, their claims are marked done. fence is borrowed and must
 * outlive the sink (its strings too); the hook only reads it, so the
 * writers may share it. */
struct queue_batch_fence {
  const char *scan_id;
  const char *worker_id;
  uint32_t chunk_size; /* a domain's chunk is seq / chunk_size */
};
void queue_db_batch_hook(const struct queue_batch_fence *fence, struct pg_sink_batch_hook *out);


#endif
