/* One worker process's side of the scan-wide work queue (queue_db.h): it
 * feeds the scan driver names from chunks leased in PostgreSQL, renews the
 * leases by heartbeat, and coordinates probes with the other workers (one
 * probe per MX host per scan, scan-wide per-address session slots, the
 * scan's connection rate shared among the live workers).
 *
 * Threading: all database work runs on one thread of the queue's own with
 * its own connection; the event loop never waits for the database. Results
 * come back through a pipe watched by the loop, so every callback below runs
 * on the loop's thread. The queue does not scan, store results or decide
 * statuses. */
#ifndef DANESCAN_QUEUE_WORK_QUEUE_H
#define DANESCAN_QUEUE_WORK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "input/input.h"
#include "pipeline/probe_stage.h"
#include "record/result.h"
#include "queue/queue_db.h"

#define WORK_QUEUE_POLL_MS 1000         /* no chunk to lease now: ask again after this */
#define WORK_QUEUE_CLAIM_RETRY_MS 300   /* host being probed elsewhere: ask again after this */
#define WORK_QUEUE_ADDRESS_RETRY_MS 100 /* address slot busy: ask again after this (or the gap) */

struct work_queue_config {
  const char *conninfo;
  const char *scan_id;
  const char *worker_id;     /* unique per process: host:pid:random */
  uint32_t lease_ttl_ms;     /* QUEUE_DEFAULT_LEASE_TTL_MS */
  uint32_t heartbeat_ms;     /* QUEUE_HEARTBEAT_MS */
  size_t prefetch_names;     /* lease more while fewer names than this are buffered */
  unsigned per_ip;           /* scan-wide sessions per address */
  uint32_t per_ip_gap_ms;    /* between sessions to one address, scan-wide */
  double total_rate;         /* the scan's --rate, shared by the live workers */
  unsigned min_workers;      /* the share is total_rate / max(live workers, this): the
                                workers started together with this one, so a worker that
                                heartbeats before its siblings registered does not take
                                the whole rate */
  uint32_t retry_timeout_ms; /* database failing this long: the queue fails (0: db_retry_timeout_ms) */
  FILE *log;                 /* non-NULL: retries logged (util/log.h); NULL = silent */
  /* Loop thread, every heartbeat: the worker's counters, stored in
   * scan_workers. NULL: zeros. */
  void (*counters)(void *ctx, struct queue_worker_counters *out);
  /* Loop thread, when the number of live workers changes: this worker's
   * share of the scan's connection rate (see min_workers). NULL: ignored. */
  void (*set_rate)(void *ctx, double rate_per_second);
  /* Loop thread: a host this worker probed is final; store it (the PostgreSQL
   * sink's pg_sink_add_host) so its claim is marked done with its rows. */
  void (*store_host)(void *ctx, const struct mx_host *host);
  void *ctx;
};

struct work_queue;

/* Connects, registers the worker (blocking: call before the loop runs) and
 * starts the queue thread. Returns NULL with why. */
struct work_queue *work_queue_open(struct event_base *base, const struct work_queue_config *config, char *why,
                                   size_t why_len);

/* worker_no of scan_workers: this worker's scan_batches numbers start at
 * worker_no << 32. */
uint64_t work_queue_worker_no(const struct work_queue *queue);

/* The scan driver's name source (pipeline/scan.h): 1 with a name, 0 when
 * the whole scan is finished (every chunk done), 2 when no name is buffered
 * yet (wake is called once one is, or at the end), -1 when the queue failed
 * (why). */
int work_queue_next(void *queue, struct input_name *out, char *why, size_t why_len);
void work_queue_set_wakeup(void *queue, void (*wake)(void *arg), void *arg);

/* The probe stage's coordinator, valid while the queue lives. */
const struct probe_coordinator *work_queue_coordinator(struct work_queue *queue);

struct work_queue_stats {
  uint64_t chunks_leased;
  uint64_t chunks_leased_again; /* leased again by this worker: none of its names handed out twice */
  uint64_t names_leased;
  uint64_t hosts_claimed, hosts_borrowed, host_claim_waits;
  uint64_t address_waits; /* slot requests answered "busy" */
  uint64_t db_retries;
  unsigned live_workers;
};
void work_queue_get_stats(struct work_queue *queue, struct work_queue_stats *out);

/* Stops the thread, stores the final counters (the counters callback is
 * called here, on the caller's thread: its context must still be valid),
 * ends the worker in the database (exit_status: "done",
 * "stopped", "failed: ..."; its unfinished leases go back to pending) and,
 * when the queue is finished, records the scan complete. Frees. Returns 0,
 * or -1 with why (the database could not be told). NULL is a no-op. */
int work_queue_close(struct work_queue *queue, const char *exit_status, char *why, size_t why_len);

#endif
