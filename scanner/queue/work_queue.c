/* A worker's side of the work queue (see work_queue.h). The loop thread
 * files requests (names wanted, host claims, address slots, releases) under
 * the lock and signals the queue thread; the queue thread batches them into
 * SQL (queue_db.c), files the answers and writes one byte to a pipe; the
 * loop's pipe event hands the answers to their callbacks. Failures are
 * retried by db/db_retry.h's rule (a lost connection, a deadlock victim or
 * a serialization failure, for retry_timeout_ms); requests wait meanwhile,
 * so the scan pauses admission instead of losing anything. */
#include "queue/work_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_retry.h"
#include "util/clock.h"
#include "util/log.h"

struct claim_request {
  char name[256];
  void (*decided)(void *arg, const struct probe_borrowed_host *borrowed);
  void *arg;
  enum queue_claim outcome;
  struct queue_host_result *result; /* QUEUE_CLAIM_DONE: what was stored */
  double next_try_ms;
  struct claim_request *next;
};

struct address_request {
  char address[46];
  void (*granted)(void *arg, int slot);
  void *arg;
  int slot;
  double next_try_ms;
  struct address_request *next;
};

struct release_request {
  char address[46];
  int slot;
  struct release_request *next;
};

/* Chunks this process has leased: every name of such a chunk is committed,
 * in flight or buffered here, so leasing it again (its lease expired under
 * us, or it came back after a takeover) must hand out none of its names
 * again, or this worker would store a domain twice. Open addressing, keys
 * chunk_no + 1 (0 = empty); grows with the chunks leased (8 bytes each). */
struct chunk_set {
  uint64_t *slots;
  size_t cap, count;
};

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

/* Adds chunk_no; returns true if it was there already. On allocation
 * failure the chunk counts as seen (its names are dropped: the lease then
 * expires or the chunk is finished by our own commits, never duplicated). */
static bool chunk_set_seen(struct chunk_set *set, uint64_t chunk_no) {
  uint64_t key = chunk_no + 1;
  if ((set->count + 1) * 2 > set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return true;
    for (size_t i = 0; i < set->cap; i++) {
      if (set->slots[i] == 0) continue;
      size_t j = mix64(set->slots[i]) & (cap - 1);
      while (slots[j] != 0) j = (j + 1) & (cap - 1);
      slots[j] = set->slots[i];
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
  }
  size_t i = mix64(key) & (set->cap - 1);
  while (set->slots[i] != 0) {
    if (set->slots[i] == key) return true;
    i = (i + 1) & (set->cap - 1);
  }
  set->slots[i] = key;
  set->count++;
  return false;
}

struct chunk_node {
  struct queue_chunk chunk;
  size_t next_name;
  struct chunk_node *next;
};

struct work_queue {
  struct work_queue_config config;
  char *conninfo, *scan_id, *worker_id;
  struct event_base *base;
  struct event *pipe_event;
  struct event *counters_event;
  int pipe_read, pipe_write;
  PGconn *conn; /* the queue thread's (the opener's before it starts, the closer's after) */
  uint64_t worker_no;
  struct probe_coordinator coordinator;
  void (*wake)(void *arg);
  void *wake_arg;

  pthread_t thread;
  bool thread_started;
  pthread_mutex_t lock;
  pthread_cond_t signal;
  /* under lock */
  bool closing;
  bool end; /* every chunk of the scan is done */
  bool failed;
  char error[512];
  bool want_wake; /* next returned 2 */
  struct chunk_node *ready_head, *ready_tail;
  size_t buffered; /* names in ready chunks not yet handed out */
  double next_lease_ms;
  double next_heartbeat_ms;
  struct claim_request *claims, *claims_answered;
  struct address_request *acquires, *acquires_answered;
  struct release_request *releases;
  struct chunk_set leased_before; /* queue thread only */
  struct queue_worker_counters counters;
  unsigned live_workers;
  bool rate_changed;
  struct work_queue_stats stats;
};

static double now_ms(void) {
  return clock_now_ms();
}

/* ---- queue thread ---- */

static void notify_loop(struct work_queue *queue) {
  char byte = 1;
  ssize_t n = write(queue->pipe_write, &byte, 1); /* full pipe: a wakeup is pending anyway */
  (void)n;
}

static int connect_db(struct work_queue *queue, char *why, size_t why_len) {
  PQfinish(queue->conn);
  queue->conn = db_connect(
      queue->conninfo, "SET client_encoding = 'UTF8'; SET application_name = 'danescan worker queue'", why, why_len);
  return queue->conn != NULL ? DB_OK : DB_RETRY;
}

/* Claims and, for hosts probed elsewhere, fetches their stored results.
 * Answered requests move to *answered; the rest stay in *pending. */
static int run_claims(struct work_queue *queue, struct claim_request **pending, struct claim_request **answered,
                      char *why, size_t why_len) {
  size_t count = 0;
  for (struct claim_request *r = *pending; r != NULL; r = r->next) count++;
  if (count == 0) return 0;
  const char **names = malloc(count * sizeof *names);
  enum queue_claim *outcome = malloc(count * sizeof *outcome);
  if (names == NULL || outcome == NULL) {
    free(names);
    free(outcome);
    snprintf(why, why_len, "out of memory claiming hosts");
    return -1;
  }
  size_t i = 0;
  for (struct claim_request *r = *pending; r != NULL; r = r->next) names[i++] = r->name;
  int rc = queue_db_claim_hosts(queue->conn, queue->scan_id, queue->worker_id, queue->config.lease_ttl_ms, names, count,
                                outcome, why, why_len);
  free(names);
  if (rc != 0) {
    free(outcome);
    return rc;
  }
  struct claim_request *keep = NULL, **keep_tail = &keep;
  i = 0;
  struct claim_request *r = *pending;
  while (r != NULL) {
    struct claim_request *next = r->next;
    r->next = NULL;
    r->outcome = outcome[i++];
    bool answered_now = r->outcome == QUEUE_CLAIM_MINE;
    if (r->outcome == QUEUE_CLAIM_DONE) {
      if (r->result == NULL) r->result = malloc(sizeof *r->result);
      int got = DB_ERROR;
      if (r->result != NULL) got = queue_db_fetch_host(queue->conn, queue->scan_id, r->name, r->result, why, why_len);
      else snprintf(why, why_len, "out of memory fetching a host");
      if (got < 0) {
        /* put this and the rest back */
        *keep_tail = r;
        r->next = next;
        *pending = keep;
        free(outcome);
        return got;
      }
      answered_now = got == 1;
    }
    if (answered_now) {
      r->next = *answered;
      *answered = r;
    } else {
      r->next_try_ms = now_ms() + WORK_QUEUE_CLAIM_RETRY_MS;
      *keep_tail = r;
      keep_tail = &r->next;
    }
    r = next;
  }
  *pending = keep;
  free(outcome);
  return 0;
}

static int run_acquires(struct work_queue *queue, struct address_request **pending, struct address_request **answered,
                        uint64_t *waits, char *why, size_t why_len) {
  size_t count = 0;
  for (struct address_request *r = *pending; r != NULL; r = r->next) count++;
  if (count == 0) return 0;
  const char **addresses = malloc(count * sizeof *addresses);
  int *slots = malloc(count * sizeof *slots);
  if (addresses == NULL || slots == NULL) {
    free(addresses);
    free(slots);
    snprintf(why, why_len, "out of memory acquiring addresses");
    return -1;
  }
  size_t i = 0;
  for (struct address_request *r = *pending; r != NULL; r = r->next) addresses[i++] = r->address;
  int rc = queue_db_acquire_addresses(queue->conn, queue->scan_id, queue->worker_id, addresses, count,
                                      queue->config.per_ip, queue->config.per_ip_gap_ms, queue->config.lease_ttl_ms,
                                      slots, why, why_len);
  free(addresses);
  if (rc != 0) {
    free(slots);
    return rc;
  }
  struct address_request *keep = NULL, **keep_tail = &keep;
  i = 0;
  uint32_t retry_ms = queue->config.per_ip_gap_ms < WORK_QUEUE_ADDRESS_RETRY_MS ? WORK_QUEUE_ADDRESS_RETRY_MS
                                                                                : queue->config.per_ip_gap_ms / 2;
  struct address_request *r = *pending;
  while (r != NULL) {
    struct address_request *next = r->next;
    r->next = NULL;
    r->slot = slots[i++];
    if (r->slot >= 0) {
      r->next = *answered;
      *answered = r;
    } else {
      (*waits)++;
      r->next_try_ms = now_ms() + retry_ms;
      *keep_tail = r;
      keep_tail = &r->next;
    }
    r = next;
  }
  *pending = keep;
  free(slots);
  return 0;
}

static int run_releases(struct work_queue *queue, struct release_request *releases, char *why, size_t why_len) {
  size_t count = 0;
  for (struct release_request *r = releases; r != NULL; r = r->next) count++;
  if (count == 0) return 0;
  const char **addresses = malloc(count * sizeof *addresses);
  int *slots = malloc(count * sizeof *slots);
  int rc = -1;
  if (addresses != NULL && slots != NULL) {
    size_t i = 0;
    for (struct release_request *r = releases; r != NULL; r = r->next, i++) {
      addresses[i] = r->address;
      slots[i] = r->slot;
    }
    rc = queue_db_release_addresses(queue->conn, queue->scan_id, queue->worker_id, addresses, slots, count, why,
                                    why_len);
  } else {
    snprintf(why, why_len, "out of memory releasing addresses");
  }
  free(addresses);
  free(slots);
  return rc;
}

/* Appends the due requests of a list to *due, keeping the others. */
#define TAKE_DUE(type, list, due, now)   \
  do {                                   \
    struct type **link_ = &(list);       \
    while (*link_ != NULL) {             \
      struct type *item_ = *link_;       \
      if (item_->next_try_ms <= (now)) { \
        *link_ = item_->next;            \
        item_->next = (due);             \
        (due) = item_;                   \
      } else {                           \
        link_ = &item_->next;            \
      }                                  \
    }                                    \
  } while (0)

#define EARLIEST(type, list, earliest)                                    \
  for (struct type *item_ = (list); item_ != NULL; item_ = item_->next) { \
    if (item_->next_try_ms < (earliest)) (earliest) = item_->next_try_ms; \
  }

#define APPEND_ALL(type, from, to) \
  do {                             \
    while ((from) != NULL) {       \
      struct type *item_ = (from); \
      (from) = item_->next;        \
      item_->next = (to);          \
      (to) = item_;                \
    }                              \
  } while (0)

/* The queue failed (under lock): the scan stops admitting, but the domains
 * in flight must still end, so every waiting claim is answered "probe it
 * here" and every waiting address request granted without a scan-wide slot
 * (-1). The worker exits after those domains. */
static void answer_all_locally(struct work_queue *queue) {
  while (queue->claims != NULL) {
    struct claim_request *r = queue->claims;
    queue->claims = r->next;
    r->outcome = QUEUE_CLAIM_MINE;
    r->next = queue->claims_answered;
    queue->claims_answered = r;
  }
  while (queue->acquires != NULL) {
    struct address_request *r = queue->acquires;
    queue->acquires = r->next;
    r->slot = -1;
    r->next = queue->acquires_answered;
    queue->acquires_answered = r;
  }
}

static void timed_wait(struct work_queue *queue, double until_ms) {
  double wait_ms = until_ms - now_ms();
  if (wait_ms <= 0) return;
  if (wait_ms > 1000) wait_ms = 1000;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  long long ns = (long long)deadline.tv_nsec + (long long)(wait_ms * 1e6);
  deadline.tv_sec += (time_t)(ns / 1000000000LL);
  deadline.tv_nsec = (long)(ns % 1000000000LL);
  pthread_cond_timedwait(&queue->signal, &queue->lock, &deadline);
}

static void *queue_thread(void *arg) {
  struct work_queue *queue = arg;
  char why[512];
  struct db_retry retry;
  db_retry_init(&retry, queue->config.retry_timeout_ms);
  pthread_mutex_lock(&queue->lock);
  while (!queue->closing && !queue->failed) {
    double now = now_ms();
    bool lease = !queue->end && queue->buffered < queue->config.prefetch_names && now >= queue->next_lease_ms;
    bool beat = now >= queue->next_heartbeat_ms;
    struct claim_request *claims = NULL;
    struct address_request *acquires = NULL;
    struct release_request *releases = queue->releases;
    queue->releases = NULL;
    TAKE_DUE(claim_request, queue->claims, claims, now);
    TAKE_DUE(address_request, queue->acquires, acquires, now);
    if (!lease && !beat && claims == NULL && acquires == NULL && releases == NULL) {
      double until = queue->next_heartbeat_ms;
      if (!queue->end && queue->buffered < queue->config.prefetch_names && queue->next_lease_ms < until)
        until = queue->next_lease_ms;
      EARLIEST(claim_request, queue->claims, until);
      EARLIEST(address_request, queue->acquires, until);
      timed_wait(queue, until);
      continue;
    }
    struct queue_worker_counters counters = queue->counters;
    pthread_mutex_unlock(&queue->lock);

    /* Database work, in an order that frees others first: releases, then
     * claims and slots others may wait on, then names, then the heartbeat. */
    int rc = 0;
    struct claim_request *claims_answered = NULL;
    struct address_request *acquires_answered = NULL;
    struct queue_chunk chunk = {0};
    int leased = -1;
    bool finished = false, leased_again = false;
    unsigned alive = 0;
    uint64_t address_waits = 0;
    if (db_connection_lost(queue->conn)) rc = connect_db(queue, why, sizeof why);
    if (rc == 0 && releases != NULL) {
      rc = run_releases(queue, releases, why, sizeof why);
      if (rc == 0) {
        while (releases != NULL) {
          struct release_request *next = releases->next;
          free(releases);
          releases = next;
        }
      }
    }
    if (rc == 0) rc = run_claims(queue, &claims, &claims_answered, why, sizeof why);
    if (rc == 0) rc = run_acquires(queue, &acquires, &acquires_answered, &address_waits, why, sizeof why);
    if (rc == 0 && lease) {
      leased = queue_db_lease_chunk(queue->conn, queue->scan_id, queue->worker_id, queue->config.lease_ttl_ms, &chunk,
                                    why, sizeof why);
      if (leased < 0) rc = leased;
      if (leased == 1 && chunk_set_seen(&queue->leased_before, chunk.chunk_no)) {
        chunk.count = 0; /* ours already: its names are stored, in flight or buffered here */
        leased_again = true;
      }
      if (leased == 0) {
        int done = queue_db_finish_scan(queue->conn, queue->scan_id, why, sizeof why);
        if (done < 0) rc = done;
        finished = done == 1;
      }
    }
    if (rc == 0 && beat) {
      rc = queue_db_heartbeat(queue->conn, queue->scan_id, queue->worker_id, queue->config.lease_ttl_ms, &counters,
                              &alive, why, sizeof why);
    }
    if (rc != 0 && db_connection_lost(queue->conn)) rc = DB_RETRY;

    pthread_mutex_lock(&queue->lock);
    /* What was not answered goes back to wait. */
    APPEND_ALL(claim_request, claims, queue->claims);
    APPEND_ALL(address_request, acquires, queue->acquires);
    if (releases != NULL) {
      struct release_request *tail = releases;
      while (tail->next != NULL) tail = tail->next;
      tail->next = queue->releases;
      queue->releases = releases;
    }
    APPEND_ALL(claim_request, claims_answered, queue->claims_answered);
    APPEND_ALL(address_request, acquires_answered, queue->acquires_answered);
    queue->stats.address_waits += address_waits;
    bool notify = queue->claims_answered != NULL || queue->acquires_answered != NULL;
    if (leased == 1) {
      struct chunk_node *node = calloc(1, sizeof *node);
      if (node == NULL) {
        queue_chunk_clear(&chunk); /* the lease expires; another worker (or we) take it again */
      } else {
        node->chunk = chunk;
        if (queue->ready_tail != NULL) queue->ready_tail->next = node;
        else queue->ready_head = node;
        queue->ready_tail = node;
        queue->buffered += chunk.count;
        queue->stats.chunks_leased++;
        if (leased_again) queue->stats.chunks_leased_again++;
        queue->stats.names_leased += chunk.count;
        queue->counters.chunks = queue->stats.chunks_leased;
        notify = notify || queue->want_wake;
      }
    } else if (leased == 0) {
      if (finished) {
        queue->end = true;
        notify = true;
      } else {
        queue->next_lease_ms = now_ms() + WORK_QUEUE_POLL_MS;
      }
    }
    if (rc == 0 && beat) {
      queue->next_heartbeat_ms = now_ms() + queue->config.heartbeat_ms;
      if (alive != queue->live_workers) {
        queue->live_workers = alive;
        queue->stats.live_workers = alive;
        queue->rate_changed = true;
        notify = true;
      }
    }
    unsigned wait_ms = 0;
    if (rc == 0) {
      db_retry_reset(&retry);
    } else if (!db_retry_failed(&retry, rc, why, sizeof why, &wait_ms)) {
      /* Final: a rejected statement, or the database away too long. */
      queue->failed = true;
      snprintf(queue->error, sizeof queue->error, "%s", why);
      answer_all_locally(queue);
      notify = true;
    } else {
      queue->stats.db_retries++;
      if (queue->config.log != NULL) log_warning("work queue: %s; retrying in %u ms", why, wait_ms);
      timed_wait(queue, now_ms() + wait_ms);
    }
    if (notify) notify_loop(queue);
  }
  pthread_mutex_unlock(&queue->lock);
  return NULL;
}

/* ---- loop side ---- */

static void deliver_claim(struct claim_request *request) {
  if (request->outcome == QUEUE_CLAIM_MINE || request->result == NULL) {
    request->decided(request->arg, NULL);
    return;
  }
  const struct queue_host_result *stored = request->result;
  struct probe_borrowed_address addresses[QUEUE_HOST_MAX_ADDRESSES];
  for (size_t i = 0; i < stored->address_count; i++) {
    addresses[i].address = stored->addresses[i].address;
    addresses[i].result = stored->addresses[i].result;
    addresses[i].reason = stored->addresses[i].reason;
    addresses[i].attempts = stored->addresses[i].attempts;
    addresses[i].first_result = stored->addresses[i].first_result;
    addresses[i].first_step = stored->addresses[i].first_step;
  }
  struct probe_borrowed_host borrowed = {.status = stored->status,
                                         .flags = stored->flags,
                                         .rollover = stored->rollover,
                                         .addresses = addresses,
                                         .address_count = stored->address_count};
  request->decided(request->arg, &borrowed);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct work_queue *queue = arg;
  char drain[256];
  while (read(fd, drain, sizeof drain) > 0) {
  }
  pthread_mutex_lock(&queue->lock);
  struct claim_request *claims = queue->claims_answered;
  struct address_request *acquires = queue->acquires_answered;
  queue->claims_answered = NULL;
  queue->acquires_answered = NULL;
  bool wake = queue->want_wake && (queue->buffered > 0 || queue->end || queue->failed);
  if (wake) queue->want_wake = false;
  bool rate_changed = queue->rate_changed;
  queue->rate_changed = false;
  unsigned live = queue->live_workers;
  pthread_mutex_unlock(&queue->lock);

  if (live < queue->config.min_workers) live = queue->config.min_workers;
  if (rate_changed && queue->config.set_rate != NULL && live > 0) {
    queue->config.set_rate(queue->config.ctx, queue->config.total_rate / live);
  }
  while (claims != NULL) {
    struct claim_request *next = claims->next;
    if (claims->outcome == QUEUE_CLAIM_MINE) queue->stats.hosts_claimed++;
    else queue->stats.hosts_borrowed++;
    deliver_claim(claims);
    free(claims->result);
    free(claims);
    claims = next;
  }
  while (acquires != NULL) {
    struct address_request *next = acquires->next;
    acquires->granted(acquires->arg, acquires->slot);
    free(acquires);
    acquires = next;
  }
  if (wake && queue->wake != NULL) queue->wake(queue->wake_arg);
}

static void on_counters(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct work_queue *queue = arg;
  struct queue_worker_counters counters = {0};
  if (queue->config.counters != NULL) queue->config.counters(queue->config.ctx, &counters);
  pthread_mutex_lock(&queue->lock);
  counters.chunks = queue->stats.chunks_leased;
  queue->counters = counters;
  pthread_mutex_unlock(&queue->lock);
}

int work_queue_next(void *arg, struct input_name *out, char *why, size_t why_len) {
  struct work_queue *queue = arg;
  pthread_mutex_lock(&queue->lock);
  /* Empty chunks (every name stored before a takeover) are dropped. */
  while (queue->ready_head != NULL && queue->ready_head->next_name == queue->ready_head->chunk.count) {
    struct chunk_node *node = queue->ready_head;
    queue->ready_head = node->next;
    if (queue->ready_head == NULL) queue->ready_tail = NULL;
    queue_chunk_clear(&node->chunk);
    free(node);
  }
  int rc;
  if (queue->failed) {
    snprintf(why, why_len, "%s", queue->error);
    rc = -1;
  } else if (queue->ready_head != NULL) {
    struct chunk_node *node = queue->ready_head;
    *out = node->chunk.names[node->next_name++];
    queue->buffered--;
    if (node->next_name == node->chunk.count) {
      queue->ready_head = node->next;
      if (queue->ready_head == NULL) queue->ready_tail = NULL;
      queue_chunk_clear(&node->chunk);
      free(node);
    }
    rc = 1;
    /* Below the prefetch mark: the thread leases the next chunk now. */
    if (queue->buffered + 1 == queue->config.prefetch_names) pthread_cond_signal(&queue->signal);
  } else if (queue->end) {
    rc = 0;
  } else {
    queue->want_wake = true;
    pthread_cond_signal(&queue->signal);
    rc = 2;
  }
  pthread_mutex_unlock(&queue->lock);
  return rc;
}

void work_queue_set_wakeup(void *arg, void (*wake)(void *arg), void *wake_arg) {
  struct work_queue *queue = arg;
  queue->wake = wake;
  queue->wake_arg = wake_arg;
}

/* ---- the coordinator ---- */

static void coordinator_claim(void *ctx, struct mx_host *host,
                              void (*decided)(void *arg, const struct probe_borrowed_host *borrowed), void *arg) {
  struct work_queue *queue = ctx;
  struct claim_request *request = calloc(1, sizeof *request);
  if (request == NULL) {
    /* Cannot ask: probe here (a duplicate probe beats a lost verdict). The
     * stage's own submissions are asynchronous, so answering inline is safe. */
    decided(arg, NULL);
    return;
  }
  snprintf(request->name, sizeof request->name, "%s", host->name);
  request->decided = decided;
  request->arg = arg;
  pthread_mutex_lock(&queue->lock);
  request->next = queue->claims;
  queue->claims = request;
  bool failed = queue->failed;
  if (failed) answer_all_locally(queue);
  pthread_cond_signal(&queue->signal);
  pthread_mutex_unlock(&queue->lock);
  if (failed) notify_loop(queue);
}

static void coordinator_acquire(void *ctx, const char *address, void (*granted)(void *arg, int slot), void *arg) {
  struct work_queue *queue = ctx;
  struct address_request *request = calloc(1, sizeof *request);
  if (request == NULL) {
    granted(arg, -1);
    return;
  }
  snprintf(request->address, sizeof request->address, "%s", address);
  request->granted = granted;
  request->arg = arg;
  pthread_mutex_lock(&queue->lock);
  request->next = queue->acquires;
  queue->acquires = request;
  bool failed = queue->failed;
  if (failed) answer_all_locally(queue);
  pthread_cond_signal(&queue->signal);
  pthread_mutex_unlock(&queue->lock);
  if (failed) notify_loop(queue);
}

static void coordinator_release(void *ctx, const char *address, int slot) {
  struct work_queue *queue = ctx;
  if (slot < 0) return;
  struct release_request *request = calloc(1, sizeof *request);
  if (request == NULL) return; /* the slot expires with the lease TTL */
  snprintf(request->address, sizeof request->address, "%s", address);
  request->slot = slot;
  pthread_mutex_lock(&queue->lock);
  request->next = queue->releases;
  queue->releases = request;
  pthread_cond_signal(&queue->signal);
  pthread_mutex_unlock(&queue->lock);
}

static void coordinator_host_probed(void *ctx, const struct mx_host *host) {
  struct work_queue *queue = ctx;
  if (queue->config.store_host != NULL) queue->config.store_host(queue->config.ctx, host);
}

/* ---- opening and closing ---- */

struct work_queue *work_queue_open(struct event_base *base, const struct work_queue_config *config, char *why,
                                   size_t why_len) {
  struct work_queue *queue = calloc(1, sizeof *queue);
  if (queue == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  queue->config = *config;
  queue->pipe_read = queue->pipe_write = -1;
  pthread_mutex_init(&queue->lock, NULL);
  pthread_cond_init(&queue->signal, NULL);
  queue->conninfo = strdup(config->conninfo != NULL ? config->conninfo : "");
  queue->scan_id = strdup(config->scan_id);
  queue->worker_id = strdup(config->worker_id);
  queue->base = base;
  if (queue->config.lease_ttl_ms == 0) queue->config.lease_ttl_ms = QUEUE_DEFAULT_LEASE_TTL_MS;
  if (queue->config.heartbeat_ms == 0) queue->config.heartbeat_ms = QUEUE_HEARTBEAT_MS;
  if (queue->config.prefetch_names == 0) queue->config.prefetch_names = QUEUE_DEFAULT_CHUNK_DOMAINS;
  if (queue->config.per_ip == 0) queue->config.per_ip = 1;
  if (queue->config.retry_timeout_ms == 0) queue->config.retry_timeout_ms = db_retry_timeout_ms();
  queue->live_workers = 0;
  int fds[2];
  if (queue->conninfo == NULL || queue->scan_id == NULL || queue->worker_id == NULL || pipe(fds) != 0) {
    snprintf(why, why_len, "out of memory or file descriptors");
    char ignored[64];
    work_queue_close(queue, NULL, ignored, sizeof ignored);
    return NULL;
  }
  queue->pipe_read = fds[0];
  queue->pipe_write = fds[1];
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  queue->pipe_event = event_new(base, queue->pipe_read, EV_READ | EV_PERSIST, on_pipe, queue);
  queue->counters_event = event_new(base, -1, EV_PERSIST, on_counters, queue);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  if (queue->pipe_event == NULL || queue->counters_event == NULL || connect_db(queue, why, why_len) != 0 ||
      queue_db_register_worker(queue->conn, queue->scan_id, queue->worker_id, host, (int)getpid(), &queue->worker_no,
                               why, why_len) != 0) {
    char ignored[64];
    work_queue_close(queue, NULL, ignored, sizeof ignored);
    return NULL;
  }
  event_add(queue->pipe_event, NULL);
  struct timeval every = {queue->config.heartbeat_ms / 1000, (queue->config.heartbeat_ms % 1000) * 1000};
  event_add(queue->counters_event, &every);
  queue->coordinator.ctx = queue;
  queue->coordinator.claim_host = coordinator_claim;
  queue->coordinator.acquire_address = coordinator_acquire;
  queue->coordinator.release_address = coordinator_release;
  queue->coordinator.host_probed = coordinator_host_probed;
  if (pthread_create(&queue->thread, NULL, queue_thread, queue) != 0) {
    snprintf(why, why_len, "cannot start the work queue thread");
    char ignored[64];
    work_queue_close(queue, "failed", ignored, sizeof ignored);
    return NULL;
  }
  queue->thread_started = true;
  return queue;
}

uint64_t work_queue_worker_no(const struct work_queue *queue) {
  return queue->worker_no;
}

const struct probe_coordinator *work_queue_coordinator(struct work_queue *queue) {
  return &queue->coordinator;
}

void work_queue_get_stats(struct work_queue *queue, struct work_queue_stats *out) {
  pthread_mutex_lock(&queue->lock);
  *out = queue->stats;
  pthread_mutex_unlock(&queue->lock);
}

int work_queue_close(struct work_queue *queue, const char *exit_status, char *why, size_t why_len) {
  if (queue == NULL) return 0;
  if (queue->thread_started) {
    pthread_mutex_lock(&queue->lock);
    queue->closing = true;
    pthread_cond_signal(&queue->signal);
    pthread_mutex_unlock(&queue->lock);
    pthread_join(queue->thread, NULL);
  }
  int rc = 0;
  if (exit_status != NULL && queue->worker_no != 0) {
    /* The thread is gone: its connection is ours now. One reconnect try. */
    if (db_connection_lost(queue->conn) && connect_db(queue, why, why_len) != 0) rc = -1;
    /* The final counters, then the exit. */
    struct queue_worker_counters counters = {0};
    if (queue->config.counters != NULL) queue->config.counters(queue->config.ctx, &counters);
    counters.chunks = queue->stats.chunks_leased;
    unsigned alive;
    if (rc == 0 &&
        queue_db_heartbeat(queue->conn, queue->scan_id, queue->worker_id, queue->config.lease_ttl_ms, &counters, &alive,
                           why, why_len) != 0)
      rc = -1;
    if (rc == 0 && queue_db_worker_exit(queue->conn, queue->scan_id, queue->worker_id, exit_status, why, why_len) != 0)
      rc = -1;
    if (rc == 0 && queue_db_finish_scan(queue->conn, queue->scan_id, why, why_len) < 0) rc = -1;
  }
  if (queue->pipe_event != NULL) event_free(queue->pipe_event);
  if (queue->counters_event != NULL) event_free(queue->counters_event);
  if (queue->pipe_read >= 0) close(queue->pipe_read);
  if (queue->pipe_write >= 0) close(queue->pipe_write);
  if (queue->conn != NULL) PQfinish(queue->conn);
  while (queue->ready_head != NULL) {
    struct chunk_node *node = queue->ready_head;
    queue->ready_head = node->next;
    queue_chunk_clear(&node->chunk);
    free(node);
  }
  struct claim_request *lists[2] = {queue->claims, queue->claims_answered};
  for (int i = 0; i < 2; i++) {
    while (lists[i] != NULL) {
      struct claim_request *next = lists[i]->next;
      free(lists[i]->result);
      free(lists[i]);
      lists[i] = next;
    }
  }
  struct address_request *acquires[2] = {queue->acquires, queue->acquires_answered};
  for (int i = 0; i < 2; i++) {
    while (acquires[i] != NULL) {
      struct address_request *next = acquires[i]->next;
      free(acquires[i]);
      acquires[i] = next;
    }
  }
  while (queue->releases != NULL) {
    struct release_request *next = queue->releases->next;
    free(queue->releases);
    queue->releases = next;
  }
  free(queue->leased_before.slots);
  pthread_mutex_destroy(&queue->lock);
  pthread_cond_destroy(&queue->signal);
  free(queue->conninfo);
  free(queue->scan_id);
  free(queue->worker_id);
  free(queue);
  return rc;
}
