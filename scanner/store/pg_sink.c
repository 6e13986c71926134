/* PostgreSQL sink (see pg_sink.h): batches built on the scan thread, COPYed
 * and committed by a writer thread with its own connection. The batch
 * transaction is the unit of progress: rows + scan_batches row, together. */
#include "store/pg_sink.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "db/db_retry.h"
#include "db/pg_schema.h"
#include "db/scan_row.h"
#include "store/pg_rows.h"
#include "util/clock.h"
#include "util/log.h"

#define PG_SINK_MAX_SENT_HOSTS 500000 /* host names remembered per run (cleared between batches) */
#define PG_SINK_ERROR_BYTES 1024

struct pg_batch {
  uint64_t batch_no;
  struct pg_rows rows;
  uint64_t *seqs;
  size_t seq_count, seq_cap;
  struct pg_batch *next;
};

/* Host names sent this run, each with the batch that last carried its rows:
 * open addressing, strings owned. Only an optimisation (the merge is
 * idempotent), so clearing it is always safe. A host whose batch has not
 * committed yet is sent again with the next batch that names it: batches
 * commit out of order (two writers) and a worker can be killed between two
 * commits, so a domain must never commit in a batch without its hosts
 * unless their batch has committed (else, seen under kill -9 of workers: a
 * domain stored, its MX host row never). */
struct host_set {
  char **slots;
  uint64_t *batch; /* per slot: the batch_no that last carried the host */
  size_t cap, count;
};

struct seq_range {
  uint64_t lo, hi; /* [lo, hi) */
};

#define PG_SINK_DEFAULT_WRITERS 2 /* writer threads (connections); $DANESCAN_DB_WRITERS */
#define PG_SINK_MAX_WRITERS 4

struct pg_sink;

struct pg_writer {
  struct pg_sink *sink;
  PGconn *conn;
  pthread_t thread;
  bool started;
};

struct pg_sink {
  char *conninfo;
  char *scan_id;
  size_t batch_domains;
  size_t max_queued;
  uint32_t retry_timeout_ms;
  FILE *log;
  bool attach;                          /* registered and finished by others (pg_sink.h) */
  struct pg_sink_batch_hook batch_hook; /* NULL callbacks: none */
  struct input_reader *input;
  char **input_names;
  size_t input_count;

  /* scan thread */
  struct pg_batch *current;
  uint64_t next_batch_no;
  struct host_set sent_hosts;
  struct provider_list *providers; /* mx_hosts.provider (record/provider.h) */
  struct seq_range *committed;     /* resume: committed ordinals, sorted, merged */
  size_t committed_count;
  uint64_t committed_seqs;
  bool outcome_known, outcome_complete;
  char *outcome_error;

  /* shared with the writer, under lock */
  pthread_mutex_t lock;
  pthread_cond_t wake;
  struct pg_batch *queue_head, *queue_tail;
  size_t queued;
  uint64_t *pending_batches; /* batch_no of every batch queued or being committed */
  size_t pending_count, pending_cap;
  bool closing;
  bool failed;
  char error[PG_SINK_ERROR_BYTES];
  struct pg_sink_stats stats;

  /* writer threads: each takes the next queued batch and commits it on its
   * own connection, so batches may commit out of order (resume skips the
   * union of committed seqs, so order does not matter); the last writer to
   * stop finalises the scans row. */
  struct pg_writer writers[PG_SINK_MAX_WRITERS];
  size_t writer_count;
  size_t writers_active;            /* under lock */
  char *final_copy[PG_TABLE_COUNT]; /* "COPY tlsa_records (...)" for the staged host tables */
};

/* Every writer connection: UTF-8, durable commits, the staging tables. */
static const char writer_setup_sql[] =
    "SET client_encoding = 'UTF8'; SET synchronous_commit = on;"
    "SET client_min_messages = warning;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_mx_hosts (LIKE mx_hosts) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_tlsa_records (LIKE tlsa_records) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_addresses (LIKE addresses) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_probes (LIKE probes) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_probe_chain (LIKE probe_chain) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_certificates (LIKE certificates INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS stage_new_hosts (host text NOT NULL) ON COMMIT DELETE ROWS;";

/* Hosts new to the scan are inserted with everything hanging off them; a
 * host already stored (earlier batch, earlier run) keeps its first rows.
 * Step 1 inserts the staged hosts and remembers which were new. When every
 * staged host was new (the usual case: the scan thread sends a host once per
 * run), the rows hanging off them are COPYed straight into their tables;
 * otherwise they are staged and step 2 keeps those of the new hosts.
 * Two writers may merge at once: both insert hosts, then certificates, each
 * in key order (ORDER BY), so one may wait for the other but never in a
 * cycle (no deadlock). */
static const char merge_hosts_sql[] =
    "WITH n AS (INSERT INTO mx_hosts SELECT DISTINCT ON (scan_id, host) * FROM stage_mx_hosts"
    "  ORDER BY scan_id, host ON CONFLICT (scan_id, host) DO NOTHING RETURNING host)"
    " INSERT INTO stage_new_hosts SELECT host FROM n";

static const char merge_host_rows_sql[] =
    "INSERT INTO tlsa_records SELECT s.* FROM stage_tlsa_records s JOIN stage_new_hosts n USING (host);"
    "INSERT INTO addresses SELECT s.* FROM stage_addresses s JOIN stage_new_hosts n USING (host);"
    "INSERT INTO probes SELECT s.* FROM stage_probes s JOIN stage_new_hosts n USING (host);"
    "INSERT INTO probe_chain SELECT s.* FROM stage_probe_chain s JOIN stage_new_hosts n USING (host)";

static const char merge_certs_sql[] = "INSERT INTO certificates SELECT DISTINCT ON (sha256) * FROM stage_certificates"
                                      " ORDER BY sha256 ON CONFLICT (sha256) DO NOTHING";

/* ---- host set ---- */

static uint64_t hash_name(const char *name) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    h ^= *p;
    h *= 1099511628211ull;
  }
  return h;
}

static void host_set_clear(struct host_set *set) {
  for (size_t i = 0; i < set->cap; i++) {
    free(set->slots[i]);
    set->slots[i] = NULL;
  }
  set->count = 0;
}

static void host_set_free(struct host_set *set) {
  host_set_clear(set);
  free(set->slots);
  free(set->batch);
  memset(set, 0, sizeof *set);
}

/* Records that batch_no carries name's rows. Returns 1 if name was not in
 * the set, 0 if it was (*previous: the batch that carried it until now), -1
 * when out of memory (the caller sends the host: sending it twice is
 * harmless). */
static int host_set_mark(struct host_set *set, const char *name, uint64_t batch_no, uint64_t *previous) {
  if (set->slots == NULL) {
    set->slots = calloc(1024, sizeof *set->slots);
    set->batch = calloc(1024, sizeof *set->batch);
    if (set->slots == NULL || set->batch == NULL) {
      free(set->slots);
      free(set->batch);
      set->slots = NULL;
      set->batch = NULL;
      return -1;
    }
    set->cap = 1024;
  }
  if ((set->count + 1) * 2 > set->cap) {
    size_t cap = set->cap * 2;
    char **slots = calloc(cap, sizeof *slots);
    uint64_t *batch = calloc(cap, sizeof *batch);
    if (slots == NULL || batch == NULL) {
      free(slots);
      free(batch);
      return -1;
    }
    for (size_t i = 0; i < set->cap; i++) {
      if (set->slots[i] == NULL) continue;
      size_t j = hash_name(set->slots[i]) & (cap - 1);
      while (slots[j] != NULL) j = (j + 1) & (cap - 1);
      slots[j] = set->slots[i];
      batch[j] = set->batch[i];
    }
    free(set->slots);
    free(set->batch);
    set->slots = slots;
    set->batch = batch;
    set->cap = cap;
  }
  size_t i = hash_name(name) & (set->cap - 1);
  while (set->slots[i] != NULL) {
    if (strcmp(set->slots[i], name) == 0) {
      *previous = set->batch[i];
      set->batch[i] = batch_no;
      return 0;
    }
    i = (i + 1) & (set->cap - 1);
  }
  set->slots[i] = strdup(name);
  if (set->slots[i] == NULL) return -1;
  set->batch[i] = batch_no;
  set->count++;
  return 1;
}

/* ---- batches ---- */

static struct pg_batch *batch_new(uint64_t batch_no) {
  struct pg_batch *batch = calloc(1, sizeof *batch);
  if (batch == NULL) return NULL;
  batch->batch_no = batch_no;
  pg_rows_init(&batch->rows);
  return batch;
}

static void batch_free(struct pg_batch *batch) {
  if (batch == NULL) return;
  pg_rows_free(&batch->rows);
  free(batch->seqs);
  free(batch);
}

static bool batch_add_seq(struct pg_batch *batch, uint64_t seq) {
  if (batch->seq_count == batch->seq_cap) {
    size_t cap = batch->seq_cap ? batch->seq_cap * 2 : 1024;
    uint64_t *seqs = realloc(batch->seqs, cap * sizeof *seqs);
    if (seqs == NULL) return false;
    batch->seqs = seqs;
    batch->seq_cap = cap;
  }
  batch->seqs[batch->seq_count++] = seq;
  return true;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The batch's ordinals as an int8multirange literal "{[a,b),[c,d)}". */
static char *batch_seq_ranges(struct pg_batch *batch) {
  if (batch->seq_count > 0) qsort(batch->seqs, batch->seq_count, sizeof *batch->seqs, compare_u64);
  struct pg_buf text;
  pg_buf_init(&text);
  pg_buf_raw(&text, "{", 1);
  size_t i = 0;
  bool first = true;
  while (i < batch->seq_count) {
    uint64_t lo = batch->seqs[i], hi = lo + 1;
    i++;
    while (i < batch->seq_count && batch->seqs[i] <= hi) {
      if (batch->seqs[i] == hi) hi++;
      i++;
    }
    char range[64];
    int n = snprintf(range, sizeof range, "%s[%llu,%llu)", first ? "" : ",", (unsigned long long)lo,
                     (unsigned long long)hi);
    pg_buf_raw(&text, range, (size_t)n);
    first = false;
  }
  pg_buf_raw(&text, "}", 2); /* with the NUL */
  if (pg_buf_failed(&text)) {
    pg_buf_free(&text);
    return NULL;
  }
  return text.data;
}

/* ---- writer thread: one batch in one transaction ---- */

/* The COPY of a staged host table aimed at its real table ("COPY
 * stage_probes (...)" -> "COPY probes (...)"). */
static const char *final_copy_statement(struct pg_sink *sink, enum pg_table table) {
  return sink->final_copy[table];
}

static bool build_final_copy(struct pg_sink *sink) {
  static const char prefix[] = "COPY stage_";
  for (int t = PG_TABLE_STAGE_TLSA; t <= PG_TABLE_STAGE_CHAIN; t++) {
    const char *statement = pg_rows_copy_statement((enum pg_table)t);
    if (strncmp(statement, prefix, sizeof prefix - 1) != 0) return false;
    size_t len = strlen("COPY ") + strlen(statement + sizeof prefix - 1) + 1;
    sink->final_copy[t] = malloc(len);
    if (sink->final_copy[t] == NULL) return false;
    snprintf(sink->final_copy[t], len, "COPY %s", statement + sizeof prefix - 1);
  }
  return true;
}

/* Returns 1 if the batch is already committed (its outcome was unknown
 * after a lost connection), 0 if not, or DB_ERROR/DB_RETRY. */
static int batch_committed(PGconn *conn, const char *scan_id, uint64_t batch_no, char *why, size_t why_len) {
  char number[32];
  snprintf(number, sizeof number, "%llu", (unsigned long long)batch_no);
  const char *params[2] = {scan_id, number};
  PGresult *res;
  int rc = db_query(conn, "SELECT 1 FROM scan_batches WHERE scan_id = $1 AND batch_no = $2", 2, params, PGRES_TUPLES_OK,
                    "checking a batch", &res, why, why_len);
  if (rc != DB_OK) return rc;
  rc = PQntuples(res) > 0;
  PQclear(res);
  return rc;
}

static int copy_table(PGconn *conn, const char *statement, const struct pg_buf *buf, char *why, size_t why_len) {
  return db_copy(conn, statement, buf->data, buf->len, why, why_len);
}

/* One batch in one transaction: the rows, the merged hosts, the batch hook
 * (queue/: lease fence, done counts, host claims) and the scan_batches row.
 * Returns DB_OK, or DB_ERROR/DB_RETRY with why (rolled back). */
static int commit_batch(PGconn *conn, struct pg_sink *sink, struct pg_batch *batch, const char *ranges, char *why,
                        size_t why_len) {
  int rc = db_exec(conn, "BEGIN", "BEGIN", why, why_len);
  if (rc != DB_OK) return rc;
  int done = batch_committed(conn, sink->scan_id, batch->batch_no, why, why_len);
  if (done != 0) {
    db_rollback(conn);
    return done > 0 ? DB_OK : done;
  }
  if (sink->batch_hook.before_rows != NULL &&
      (rc = sink->batch_hook.before_rows(sink->batch_hook.ctx, conn, batch->seqs, batch->seq_count, why, why_len)) !=
          DB_OK)
    goto fail;
  const struct pg_rows *rows = &batch->rows;
  for (int t = PG_TABLE_DOMAINS; t <= PG_TABLE_DOMAIN_ZONES; t++) {
    if (rows->rows[t] > 0 &&
        (rc = copy_table(conn, pg_rows_copy_statement((enum pg_table)t), &rows->table[t], why, why_len)) != DB_OK)
      goto fail;
  }
  if (rows->rows[PG_TABLE_STAGE_HOSTS] > 0) {
    rc = copy_table(conn, pg_rows_copy_statement(PG_TABLE_STAGE_HOSTS), &rows->table[PG_TABLE_STAGE_HOSTS], why,
                    why_len);
    if (rc != DB_OK) goto fail;
    uint64_t new_hosts = 0;
    rc = db_command(conn, merge_hosts_sql, 0, NULL, "merging hosts", &new_hosts, why, why_len);
    if (rc != DB_OK) goto fail;
    bool all_new = new_hosts == rows->rows[PG_TABLE_STAGE_HOSTS];
    bool staged = false;
    for (int t = PG_TABLE_STAGE_TLSA; t <= PG_TABLE_STAGE_CHAIN; t++) {
      if (rows->rows[t] == 0) continue;
      const char *statement = all_new ? final_copy_statement(sink, (enum pg_table)t)
                                      : pg_rows_copy_statement((enum pg_table)t);
      if ((rc = copy_table(conn, statement, &rows->table[t], why, why_len)) != DB_OK) goto fail;
      staged = staged || !all_new;
    }
    if (staged && (rc = db_exec(conn, merge_host_rows_sql, "merging host rows", why, why_len)) != DB_OK) goto fail;
    if (sink->batch_hook.after_hosts != NULL &&
        (rc = sink->batch_hook.after_hosts(sink->batch_hook.ctx, conn, why, why_len)) != DB_OK)
      goto fail;
  }
  if (rows->rows[PG_TABLE_STAGE_CERTS] > 0) {
    rc = copy_table(conn, pg_rows_copy_statement(PG_TABLE_STAGE_CERTS), &rows->table[PG_TABLE_STAGE_CERTS], why,
                    why_len);
    if (rc == DB_OK) rc = db_exec(conn, merge_certs_sql, "upserting certificates", why, why_len);
    if (rc != DB_OK) goto fail;
  }
  char number[32], domain_rows[32];
  snprintf(number, sizeof number, "%llu", (unsigned long long)batch->batch_no);
  snprintf(domain_rows, sizeof domain_rows, "%llu", (unsigned long long)batch->rows.rows[PG_TABLE_DOMAINS]);
  const char *params[4] = {sink->scan_id, number, ranges, domain_rows};
  rc = db_command(conn,
                  "INSERT INTO scan_batches (scan_id, batch_no, seqs, domain_rows) "
                  "VALUES ($1, $2, $3::int8multirange, $4)",
                  4, params, "recording progress", NULL, why, why_len);
  if (rc != DB_OK) goto fail;
  return db_exec(conn, "COMMIT", "COMMIT", why, why_len);
fail:
  db_rollback(conn);
  return rc;
}

/* The writers' retries (db_retry.h): counted, and logged when asked. */
static void writer_on_retry(void *ctx, const char *why, unsigned wait_ms) {
  struct pg_sink *sink = ctx;
  pthread_mutex_lock(&sink->lock);
  sink->stats.retries++;
  pthread_mutex_unlock(&sink->lock);
  if (sink->log != NULL) log_warning("%s; retrying in %u ms", why, wait_ms);
}

static int with_retry(struct pg_writer *w, db_step_fn step, void *arg, char *why, size_t why_len) {
  struct pg_sink *sink = w->sink;
  struct db_retry_policy policy = {
      .conninfo = sink->conninfo,
      .setup_sql = writer_setup_sql,
      .timeout_ms = sink->retry_timeout_ms,
      .on_retry = writer_on_retry,
      .ctx = sink,
  };
  return db_retry_run(&policy, &w->conn, step, arg, why, why_len);
}

struct commit_arg {
  struct pg_sink *sink;
  struct pg_batch *batch;
  const char *ranges;
};

static int commit_step(PGconn *conn, void *arg, char *why, size_t why_len) {
  struct commit_arg *commit = arg;
  return commit_batch(conn, commit->sink, commit->batch, commit->ranges, why, why_len);
}

/* The end of a single-process run: the scans row (db/scan_row.h). */
static int finalize_step(PGconn *conn, void *arg, char *why, size_t why_len) {
  struct pg_sink *sink = arg;
  struct input_counts counts;
  if (sink->input != NULL) input_reader_get_counts(sink->input, &counts);
  char *inputs = db_scan_inputs_json(sink->input, (const char *const *)sink->input_names, sink->input_count);
  int rc = db_scan_finish_run(conn, sink->scan_id, inputs, sink->input != NULL ? &counts : NULL, sink->outcome_known,
                              sink->outcome_complete, sink->outcome_error, why, why_len);
  free(inputs);
  return rc;
}


static void writer_fail(struct pg_sink *sink, const char *why) {
  pthread_mutex_lock(&sink->lock);
  if (!sink->failed) {
    sink->failed = true;
    snprintf(sink->error, sizeof sink->error, "%s", why);
  }
  pthread_cond_broadcast(&sink->wake);
  pthread_mutex_unlock(&sink->lock);
}

/* Under lock. false only when out of memory (the batch is then treated as
 * committed by host_rows_needed's callers: its hosts may be missing from
 * later batches, as before this list existed). */
static bool pending_add(struct pg_sink *sink, uint64_t batch_no) {
  if (sink->pending_count == sink->pending_cap) {
    size_t cap = sink->pending_cap ? sink->pending_cap * 2 : 16;
    uint64_t *grown = realloc(sink->pending_batches, cap * sizeof *grown);
    if (grown == NULL) return false;
    sink->pending_batches = grown;
    sink->pending_cap = cap;
  }
  sink->pending_batches[sink->pending_count++] = batch_no;
  return true;
}

/* Under lock. */
static void pending_remove(struct pg_sink *sink, uint64_t batch_no) {
  for (size_t i = 0; i < sink->pending_count; i++) {
    if (sink->pending_batches[i] != batch_no) continue;
    sink->pending_batches[i] = sink->pending_batches[--sink->pending_count];
    return;
  }
}

static void *writer_main(void *arg) {
  struct pg_writer *w = arg;
  struct pg_sink *sink = w->sink;
  char why[PG_SINK_ERROR_BYTES];
  for (;;) {
    pthread_mutex_lock(&sink->lock);
    while (sink->queue_head == NULL && !sink->closing && !sink->failed) pthread_cond_wait(&sink->wake, &sink->lock);
    struct pg_batch *batch = sink->failed ? NULL : sink->queue_head;
    if (batch != NULL) { /* taken; still counted in queued until committed */
      sink->queue_head = batch->next;
      if (sink->queue_head == NULL) sink->queue_tail = NULL;
      batch->next = NULL;
    }
    pthread_mutex_unlock(&sink->lock);
    if (batch == NULL) break;

    double started = clock_now_s();
    char *ranges = batch_seq_ranges(batch);
    int rc = -1;
    if (ranges == NULL) {
      snprintf(why, sizeof why, "out of memory preparing a batch");
    } else {
      struct commit_arg commit = {sink, batch, ranges};
      rc = with_retry(w, commit_step, &commit, why, sizeof why);
    }
    free(ranges);
    pthread_mutex_lock(&sink->lock);
    sink->queued--;
    if (rc == 0) {
      pending_remove(sink, batch->batch_no);
      sink->stats.batches_committed++;
      sink->stats.rows_committed += pg_rows_total(&batch->rows);
      sink->stats.domains_committed += batch->rows.rows[PG_TABLE_DOMAINS];
    }
    sink->stats.writer_busy_s += clock_now_s() - started;
    pthread_cond_broadcast(&sink->wake);
    pthread_mutex_unlock(&sink->lock);
    batch_free(batch);
    if (rc != 0) {
      writer_fail(sink, why);
      break;
    }
  }
  /* The last writer out finalises: every batch taken has been committed
   * (or the sink failed) by then. */
  pthread_mutex_lock(&sink->lock);
  bool last = --sink->writers_active == 0;
  bool failed = sink->failed;
  pthread_mutex_unlock(&sink->lock);
  if (last && !failed && !sink->attach && with_retry(w, finalize_step, sink, why, sizeof why) != 0)
    writer_fail(sink, why);
  if (w->conn != NULL) PQfinish(w->conn);
  w->conn = NULL;
  return NULL;
}

/* ---- scan thread ---- */

static bool batch_pending(struct pg_sink *sink, uint64_t batch_no) {
  pthread_mutex_lock(&sink->lock);
  bool pending = false;
  for (size_t i = 0; i < sink->pending_count && !pending; i++) pending = sink->pending_batches[i] == batch_no;
  pthread_mutex_unlock(&sink->lock);
  return pending;
}

/* Whether host's rows go into batch (the current one): yes the first time
 * this run, and again while the batch that last carried them has not
 * committed (struct host_set); no when batch already holds them. */
static bool host_rows_needed(struct pg_sink *sink, const char *name, const struct pg_batch *batch) {
  uint64_t previous = 0;
  int marked = host_set_mark(&sink->sent_hosts, name, batch->batch_no, &previous);
  if (marked != 0) return true;
  if (previous == batch->batch_no) return false;
  return batch_pending(sink, previous);
}

static void enqueue_current(struct pg_sink *sink) {
  struct pg_batch *batch = sink->current;
  if (batch == NULL || (batch->seq_count == 0 && pg_rows_total(&batch->rows) == 0)) return;
  sink->current = NULL;
  pthread_mutex_lock(&sink->lock);
  if (sink->queue_tail != NULL) sink->queue_tail->next = batch;
  else sink->queue_head = batch;
  sink->queue_tail = batch;
  sink->queued++;
  pending_add(sink, batch->batch_no);
  pthread_cond_broadcast(&sink->wake);
  pthread_mutex_unlock(&sink->lock);
  /* A host may be sent again in a later batch when the set is cleared: the
   * merge keeps the first copy. Clearing only here keeps a host at most once
   * per batch. */
  if (sink->sent_hosts.count > PG_SINK_MAX_SENT_HOSTS) host_set_clear(&sink->sent_hosts);
}

static bool writer_failed(struct pg_sink *sink, char *why, size_t why_len) {
  pthread_mutex_lock(&sink->lock);
  bool failed = sink->failed;
  if (failed) snprintf(why, why_len, "%s", sink->error);
  pthread_mutex_unlock(&sink->lock);
  return failed;
}

static struct pg_batch *current_batch(struct pg_sink *sink) {
  if (sink->current == NULL) {
    sink->current = batch_new(sink->next_batch_no);
    if (sink->current == NULL) return NULL;
    sink->next_batch_no++;
  }
  return sink->current;
}

int pg_sink_add_host(void *ctx, const struct mx_host *host) {
  struct pg_sink *sink = ctx;
  struct pg_batch *batch = current_batch(sink);
  if (batch == NULL) return -1;
  if (host_rows_needed(sink, host->name, batch)) pg_rows_add_host(&batch->rows, host, sink->scan_id, sink->providers);
  if (pg_rows_failed(&batch->rows)) return -1;
  /* Now, not with the next full batch: other workers wait on this host's
   * claim, and this worker may be waiting on theirs (with the batch left
   * open until 5,000 domains, four workers each holding a claimed host in
   * an open batch waited on each other for good). */
  enqueue_current(sink);
  return 0;
}

static int pg_write(void *arg, const struct domain_result *result, char *why, size_t why_len) {
  struct pg_sink *sink = arg;
  if (writer_failed(sink, why, why_len)) return -1;
  struct pg_batch *batch = current_batch(sink);
  if (batch == NULL) {
    snprintf(why, why_len, "database: out of memory");
    return -1;
  }
  pg_rows_add_domain(&batch->rows, result, sink->scan_id);
  pg_rows_add_dns_operators(&batch->rows, result, sink->scan_id, sink->providers);
  for (size_t i = 0; i < result->link_count; i++) {
    const struct mx_host *host = result->links[i].host;
    if (host_rows_needed(sink, host->name, batch)) pg_rows_add_host(&batch->rows, host, sink->scan_id, sink->providers);
  }
  if (!batch_add_seq(batch, result->seq) || pg_rows_failed(&batch->rows)) {
    snprintf(why, why_len, "database: out of memory buffering %s", result->name);
    return -1;
  }
  if (batch->seq_count >= sink->batch_domains) enqueue_current(sink);
  return 0;
}

static bool pg_can_accept(void *arg) {
  struct pg_sink *sink = arg;
  pthread_mutex_lock(&sink->lock);
  /* A failed sink accepts, so the next write reports the failure. */
  bool accept = sink->failed || sink->queued < sink->max_queued;
  pthread_mutex_unlock(&sink->lock);
  return accept;
}

/* Hands the current batch to the writer (does not wait for the commit:
 * the event loop must not block). Failures are reported by write/close. */
static int pg_flush(void *arg, char *why, size_t why_len) {
  (void)why;
  (void)why_len;
  struct pg_sink *sink = arg;
  enqueue_current(sink);
  return 0;
}

static void sink_free(struct pg_sink *sink) {
  if (sink == NULL) return;
  batch_free(sink->current);
  struct pg_batch *batch = sink->queue_head;
  while (batch != NULL) {
    struct pg_batch *next = batch->next;
    batch_free(batch);
    batch = next;
  }
  host_set_free(&sink->sent_hosts);
  provider_list_free(sink->providers);
  for (size_t i = 0; i < sink->input_count; i++) free(sink->input_names[i]);
  free(sink->input_names);
  free(sink->committed);
  free(sink->pending_batches);
  free(sink->outcome_error);
  free(sink->conninfo);
  free(sink->scan_id);
  for (int t = 0; t < PG_TABLE_COUNT; t++) free(sink->final_copy[t]);
  for (size_t i = 0; i < PG_SINK_MAX_WRITERS; i++) {
    if (sink->writers[i].conn != NULL) PQfinish(sink->writers[i].conn);
  }
  pthread_mutex_destroy(&sink->lock);
  pthread_cond_destroy(&sink->wake);
  free(sink);
}

static int pg_close(void *arg, char *why, size_t why_len) {
  struct pg_sink *sink = arg;
  enqueue_current(sink);
  pthread_mutex_lock(&sink->lock);
  sink->closing = true;
  pthread_cond_broadcast(&sink->wake);
  pthread_mutex_unlock(&sink->lock);
  for (size_t i = 0; i < PG_SINK_MAX_WRITERS; i++) {
    if (sink->writers[i].started) pthread_join(sink->writers[i].thread, NULL);
  }
  int rc = writer_failed(sink, why, why_len) ? -1 : 0;
  sink_free(sink);
  return rc;
}

bool pg_sink_skip_seq(void *ctx, uint64_t seq) {
  struct pg_sink *sink = ctx;
  size_t lo = 0, hi = sink->committed_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (seq < sink->committed[mid].lo) hi = mid;
    else if (seq >= sink->committed[mid].hi) lo = mid + 1;
    else return true;
  }
  return false;
}

uint64_t pg_sink_committed_count(void *ctx) {
  return ((struct pg_sink *)ctx)->committed_seqs;
}

void pg_sink_set_outcome(void *ctx, bool complete, const char *error) {
  struct pg_sink *sink = ctx;
  sink->outcome_known = true;
  sink->outcome_complete = complete;
  free(sink->outcome_error);
  sink->outcome_error = error != NULL && error[0] != '\0' ? strdup(error) : NULL;
}

void pg_sink_get_stats(void *ctx, struct pg_sink_stats *out) {
  struct pg_sink *sink = ctx;
  pthread_mutex_lock(&sink->lock);
  *out = sink->stats;
  pthread_mutex_unlock(&sink->lock);
}

/* ---- opening ---- */


static int load_progress(struct pg_sink *sink, PGconn *conn, char *why, size_t why_len) {
  const char *params[1] = {sink->scan_id};
  PGresult *res;
  if (db_query(conn, "SELECT coalesce(max(batch_no), 0) + 1 FROM scan_batches WHERE scan_id = $1", 1, params,
               PGRES_TUPLES_OK, "reading progress", &res, why, why_len) != DB_OK)
    return -1;
  sink->next_batch_no = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  if (db_query(conn,
               "SELECT lower(r), upper(r) FROM scan_batches b, unnest(b.seqs) AS r"
               " WHERE b.scan_id = $1 ORDER BY 1",
               1, params, PGRES_TUPLES_OK, "reading progress", &res, why, why_len) != DB_OK)
    return -1;
  int n = PQntuples(res);
  sink->committed = calloc(n > 0 ? (size_t)n : 1, sizeof *sink->committed);
  if (sink->committed == NULL) {
    PQclear(res);
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  for (int i = 0; i < n; i++) {
    sink->committed[i].lo = strtoull(PQgetvalue(res, i, 0), NULL, 10);
    sink->committed[i].hi = strtoull(PQgetvalue(res, i, 1), NULL, 10);
    sink->committed_seqs += sink->committed[i].hi - sink->committed[i].lo;
  }
  sink->committed_count = (size_t)n;
  PQclear(res);
  return 0;
}

static size_t writer_count(void) {
  const char *env = getenv("DANESCAN_DB_WRITERS");
  if (env != NULL && env[0] >= '1' && env[0] <= '0' + PG_SINK_MAX_WRITERS && env[1] == '\0')
    return (size_t)(env[0] - '0');
  return PG_SINK_DEFAULT_WRITERS;
}

/* $DANESCAN_DB_BATCH_DOMAINS (1 to 1000000) overrides the default batch size:
 * tests use small batches to stop a scan between two commits. */
static size_t default_batch_domains(void) {
  const char *env = getenv("DANESCAN_DB_BATCH_DOMAINS");
  if (env != NULL) {
    char *end = NULL;
    unsigned long n = strtoul(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 1000000) return (size_t)n;
  }
  return PG_SINK_DEFAULT_BATCH_DOMAINS;
}

int pg_sink_open(struct result_sink *out, const struct pg_sink_config *config, char *why, size_t why_len) {
  struct pg_sink *sink = calloc(1, sizeof *sink);
  if (sink == NULL) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  pthread_mutex_init(&sink->lock, NULL);
  pthread_cond_init(&sink->wake, NULL);
  sink->conninfo = strdup(config->conninfo != NULL ? config->conninfo : "");
  sink->scan_id = strdup(config->scan_id);
  sink->batch_domains = config->batch_domains ? config->batch_domains : default_batch_domains();
  sink->max_queued = config->max_queued_batches ? config->max_queued_batches : PG_SINK_DEFAULT_MAX_QUEUED_BATCHES;
  sink->retry_timeout_ms = config->retry_timeout_ms != 0 ? config->retry_timeout_ms : db_retry_timeout_ms();
  sink->writer_count = writer_count();
  sink->log = config->log;
  sink->attach = config->attach;
  if (config->batch_hook != NULL) sink->batch_hook = *config->batch_hook;
  sink->input = config->input;
  sink->input_names = calloc(config->input_count + 1, sizeof *sink->input_names);
  sink->providers = provider_list_new();
  if (sink->conninfo == NULL || sink->scan_id == NULL || sink->input_names == NULL || sink->providers == NULL ||
      !build_final_copy(sink)) {
    snprintf(why, why_len, "out of memory");
    sink_free(sink);
    return -1;
  }
  for (size_t i = 0; i < config->input_count; i++) {
    sink->input_names[i] = strdup(config->input_names[i]);
    if (sink->input_names[i] != NULL) sink->input_count++;
  }

  PGconn *conn = pg_schema_connect(sink->conninfo, config->log, why, why_len);
  int rc = -1;
  if (conn == NULL) goto out;
  if (sink->attach) {
    /* Registered, partitioned and loaded by the scan's starter. */
    sink->next_batch_no = config->first_batch_no;
  } else {
    struct db_scan_registration registration = {.scan_id = sink->scan_id,
                                                .resume = config->resume,
                                                .argc = config->argc,
                                                .argv = config->argv,
                                                .parameters_json = config->parameters_json};
    if (db_scan_register(conn, &registration, why, why_len) != DB_OK) goto out;
    if (load_progress(sink, conn, why, why_len) != 0) goto out;
  }
  pthread_mutex_lock(&sink->lock);
  for (size_t i = 0; i < sink->writer_count; i++) {
    struct pg_writer *w = &sink->writers[i];
    w->sink = sink;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) break;
    w->started = true;
    sink->writers_active++;
  }
  bool none = sink->writers_active == 0;
  pthread_mutex_unlock(&sink->lock);
  if (none) {
    snprintf(why, why_len, "cannot start the database writer thread");
    goto out;
  }
  rc = 0;
out:
  PQfinish(conn);
  if (rc != 0) {
    sink_free(sink);
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->name = "postgresql";
  out->state = sink;
  out->write = pg_write;
  out->can_accept = pg_can_accept;
  out->flush = pg_flush;
  out->close = pg_close;
  out->finish = pg_sink_set_outcome;
  return 0;
}
