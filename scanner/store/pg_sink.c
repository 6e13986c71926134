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

#include "queue/queue_db.h"
#include "store/pg_rows.h"
#include "db/pg_schema.h"
#include "util/json.h"

#define PG_SINK_COPY_CHUNK_BYTES (1024 * 1024)
#define PG_SINK_BACKOFF_MIN_MS 100
#define PG_SINK_BACKOFF_MAX_MS 5000
#define PG_SINK_MAX_SENT_HOSTS 500000 /* host names remembered per run (cleared between batches) */
#define PG_SINK_ERROR_BYTES 1024

struct pg_batch {
  uint64_t batch_no;
  struct pg_rows rows;
  uint64_t *seqs;
  size_t seq_count, seq_cap;
  struct pg_batch *next;
};

/* Host names sent this run: open addressing, strings owned. Only an
 * optimisation (the merge is idempotent), so clearing it is always safe. */
struct host_set {
  char **slots;
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
  char *worker_id;              /* worker mode when non-NULL (pg_sink.h) */
  uint32_t chunk_size;
  struct input_reader *input;
  char **input_names;
  size_t input_count;

  /* scan thread */
  struct pg_batch *current;
  uint64_t next_batch_no;
  struct host_set sent_hosts;
  struct seq_range *committed;  /* resume: committed ordinals, sorted, merged */
  size_t committed_count;
  uint64_t committed_seqs;
  bool outcome_known, outcome_complete;
  char *outcome_error;

  /* shared with the writer, under lock */
  pthread_mutex_t lock;
  pthread_cond_t wake;
  struct pg_batch *queue_head, *queue_tail;
  size_t queued;
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
  size_t writers_active; /* under lock */
  char *final_copy[PG_TABLE_COUNT]; /* "COPY tlsa_records (...)" for the staged host tables */
};

static const char stage_setup_sql[] =
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

/* The hosts of this batch are stored: whoever waits on their claims may
 * reuse them. Locked in host order, as the claimers lock them. */
static const char claims_done_sql[] =
    "UPDATE host_claims c SET done = true FROM (SELECT h.host FROM host_claims h"
    "   JOIN stage_mx_hosts s ON s.host = h.host WHERE h.scan_id = $1 AND NOT h.done"
    "   ORDER BY h.host FOR UPDATE OF h) d"
    " WHERE c.scan_id = $1 AND c.host = d.host";

static const char merge_certs_sql[] =
    "INSERT INTO certificates SELECT DISTINCT ON (sha256) * FROM stage_certificates"
    " ORDER BY sha256 ON CONFLICT (sha256) DO NOTHING";

/* ---- small helpers ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void trim_newline(char *text) {
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = '\0';
}

static void conn_error(PGconn *conn, const char *what, char *why, size_t why_len) {
  snprintf(why, why_len, "database: %s: %s", what, conn ? PQerrorMessage(conn) : "no connection");
  trim_newline(why);
}

static bool exec_command(PGconn *conn, const char *sql, char *why, size_t why_len, const char *what) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(res);
  bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  if (!ok) conn_error(conn, what, why, why_len);
  PQclear(res);
  return ok;
}

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
  memset(set, 0, sizeof *set);
}

/* Returns true if name was not in the set (and adds it). On allocation
 * failure also returns true: sending a host twice is harmless. */
static bool host_set_add(struct host_set *set, const char *name) {
  if (set->slots == NULL) {
    set->cap = 1024;
    set->slots = calloc(set->cap, sizeof *set->slots);
    if (set->slots == NULL) {
      set->cap = 0;
      return true;
    }
  }
  if ((set->count + 1) * 2 > set->cap) {
    size_t cap = set->cap * 2;
    char **slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return true;
    for (size_t i = 0; i < set->cap; i++) {
      if (set->slots[i] == NULL) continue;
      size_t j = hash_name(set->slots[i]) & (cap - 1);
      while (slots[j] != NULL) j = (j + 1) & (cap - 1);
      slots[j] = set->slots[i];
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
  }
  size_t i = hash_name(name) & (set->cap - 1);
  while (set->slots[i] != NULL) {
    if (strcmp(set->slots[i], name) == 0) return false;
    i = (i + 1) & (set->cap - 1);
  }
  set->slots[i] = strdup(name);
  if (set->slots[i] != NULL) set->count++;
  return true;
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
  qsort(batch->seqs, batch->seq_count, sizeof *batch->seqs, compare_u64);
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

static bool connection_lost(PGconn *conn) { return conn == NULL || PQstatus(conn) != CONNECTION_OK; }

static int copy_rows(PGconn *conn, const char *statement, const struct pg_buf *buf, char *why, size_t why_len) {
  PGresult *res = PQexec(conn, statement);
  if (PQresultStatus(res) != PGRES_COPY_IN) {
    PQclear(res);
    conn_error(conn, "starting COPY", why, why_len);
    return -1;
  }
  PQclear(res);
  size_t offset = 0;
  while (offset < buf->len) {
    size_t chunk = buf->len - offset;
    if (chunk > PG_SINK_COPY_CHUNK_BYTES) chunk = PG_SINK_COPY_CHUNK_BYTES;
    if (PQputCopyData(conn, buf->data + offset, (int)chunk) != 1) {
      conn_error(conn, "sending COPY data", why, why_len);
      return -1;
    }
    offset += chunk;
  }
  if (PQputCopyEnd(conn, NULL) != 1) {
    conn_error(conn, "ending COPY", why, why_len);
    return -1;
  }
  int rc = 0;
  while ((res = PQgetResult(conn)) != NULL) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
      conn_error(conn, statement, why, why_len);
      rc = -1;
    }
    PQclear(res);
  }
  return rc;
}

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
 * after a lost connection), 0 if not, -1 on error. */
static int batch_committed(struct pg_writer *w, uint64_t batch_no, char *why, size_t why_len) {
  struct pg_sink *sink = w->sink;
  char number[32];
  snprintf(number, sizeof number, "%llu", (unsigned long long)batch_no);
  const char *params[2] = {sink->scan_id, number};
  PGresult *res = PQexecParams(w->conn, "SELECT 1 FROM scan_batches WHERE scan_id = $1 AND batch_no = $2",
                               2, NULL, params, NULL, NULL, 0);
  int rc = -1;
  if (PQresultStatus(res) == PGRES_TUPLES_OK) rc = PQntuples(res) > 0;
  else conn_error(w->conn, "checking a batch", why, why_len);
  PQclear(res);
  return rc;
}

/* Worker mode: "{c1,c2}" and "{n1,n2}", the batch's chunks and how many of
 * its domains each holds (seqs are sorted by batch_seq_ranges). */
static int chunk_arrays(const struct pg_sink *sink, const struct pg_batch *batch, char **chunks_out,
                        char **counts_out, size_t *chunk_count) {
  struct pg_buf chunks, counts;
  pg_buf_init(&chunks);
  pg_buf_init(&counts);
  pg_buf_raw(&chunks, "{", 1);
  pg_buf_raw(&counts, "{", 1);
  *chunk_count = 0;
  size_t i = 0;
  while (i < batch->seq_count) {
    uint64_t chunk = batch->seqs[i] / sink->chunk_size;
    size_t n = 0;
    while (i < batch->seq_count && batch->seqs[i] / sink->chunk_size == chunk) {
      n++;
      i++;
    }
    char text[48];
    int len = snprintf(text, sizeof text, "%s%llu", *chunk_count ? "," : "", (unsigned long long)chunk);
    pg_buf_raw(&chunks, text, (size_t)len);
    len = snprintf(text, sizeof text, "%s%zu", *chunk_count ? "," : "", n);
    pg_buf_raw(&counts, text, (size_t)len);
    (*chunk_count)++;
  }
  pg_buf_raw(&chunks, "}", 2);
  pg_buf_raw(&counts, "}", 2);
  if (pg_buf_failed(&chunks) || pg_buf_failed(&counts)) {
    pg_buf_free(&chunks);
    pg_buf_free(&counts);
    return -1;
  }
  *chunks_out = chunks.data;
  *counts_out = counts.data;
  return 0;
}

/* Worker mode, inside the batch's transaction: checks and locks the leases
 * (returns -1 with why when one is lost), then counts the domains done. */
static int fence_and_count(struct pg_writer *w, struct pg_batch *batch, char *why, size_t why_len) {
  struct pg_sink *sink = w->sink;
  if (batch->seq_count == 0) return 0;
  char *chunks = NULL, *counts = NULL;
  size_t chunk_count = 0;
  if (chunk_arrays(sink, batch, &chunks, &counts, &chunk_count) != 0) {
    snprintf(why, why_len, "out of memory preparing a batch");
    return -1;
  }
  int rc = queue_db_complete_chunks(w->conn, sink->scan_id, sink->worker_id, chunks, counts, chunk_count, why,
                                    why_len);
  free(chunks);
  free(counts);
  return rc;
}

static int commit_batch(struct pg_writer *w, struct pg_batch *batch, const char *ranges, char *why,
                        size_t why_len) {
  struct pg_sink *sink = w->sink;
  PGconn *conn = w->conn;
  if (!exec_command(conn, "BEGIN", why, why_len, "BEGIN")) return -1;
  int done = batch_committed(w, batch->batch_no, why, why_len);
  if (done != 0) {
    PQclear(PQexec(conn, "ROLLBACK"));
    return done > 0 ? 0 : -1;
  }
  if (sink->worker_id != NULL && fence_and_count(w, batch, why, why_len) != 0) goto fail;
  const struct pg_rows *rows = &batch->rows;
  for (int t = PG_TABLE_DOMAINS; t <= PG_TABLE_DOMAIN_MX; t++) {
    if (rows->rows[t] > 0 && copy_rows(conn, pg_rows_copy_statement((enum pg_table)t), &rows->table[t], why, why_len) != 0)
      goto fail;
  }
  if (rows->rows[PG_TABLE_STAGE_HOSTS] > 0) {
    if (copy_rows(conn, pg_rows_copy_statement(PG_TABLE_STAGE_HOSTS), &rows->table[PG_TABLE_STAGE_HOSTS], why,
                  why_len) != 0)
      goto fail;
    PGresult *res = PQexec(conn, merge_hosts_sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    uint64_t new_hosts = ok ? strtoull(PQcmdTuples(res), NULL, 10) : 0;
    PQclear(res);
    if (!ok) {
      conn_error(conn, "merging hosts", why, why_len);
      goto fail;
    }
    bool all_new = new_hosts == rows->rows[PG_TABLE_STAGE_HOSTS];
    bool staged = false;
    for (int t = PG_TABLE_STAGE_TLSA; t <= PG_TABLE_STAGE_CHAIN; t++) {
      if (rows->rows[t] == 0) continue;
      const char *statement = all_new ? final_copy_statement(sink, (enum pg_table)t) : pg_rows_copy_statement((enum pg_table)t);
      if (copy_rows(conn, statement, &rows->table[t], why, why_len) != 0) goto fail;
      staged = staged || !all_new;
    }
    if (staged && !exec_command(conn, merge_host_rows_sql, why, why_len, "merging host rows")) goto fail;
    if (sink->worker_id != NULL) {
      const char *params[1] = {sink->scan_id};
      PGresult *claims = PQexecParams(conn, claims_done_sql, 1, NULL, params, NULL, NULL, 0);
      bool claims_ok = PQresultStatus(claims) == PGRES_COMMAND_OK;
      PQclear(claims);
      if (!claims_ok) {
        conn_error(conn, "marking host claims done", why, why_len);
        goto fail;
      }
    }
  }
  if (rows->rows[PG_TABLE_STAGE_CERTS] > 0) {
    if (copy_rows(conn, pg_rows_copy_statement(PG_TABLE_STAGE_CERTS), &rows->table[PG_TABLE_STAGE_CERTS], why,
                  why_len) != 0 ||
        !exec_command(conn, merge_certs_sql, why, why_len, "upserting certificates"))
      goto fail;
  }
  char number[32], domain_rows[32];
  snprintf(number, sizeof number, "%llu", (unsigned long long)batch->batch_no);
  snprintf(domain_rows, sizeof domain_rows, "%llu", (unsigned long long)batch->rows.rows[PG_TABLE_DOMAINS]);
  const char *params[4] = {sink->scan_id, number, ranges, domain_rows};
  PGresult *res = PQexecParams(conn,
                               "INSERT INTO scan_batches (scan_id, batch_no, seqs, domain_rows) "
                               "VALUES ($1, $2, $3::int8multirange, $4)",
                               4, NULL, params, NULL, NULL, 0);
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok) {
    conn_error(conn, "recording progress", why, why_len);
    goto fail;
  }
  if (!exec_command(conn, "COMMIT", why, why_len, "COMMIT")) return -1;
  return 0;
fail:
  if (!connection_lost(conn)) PQclear(PQexec(conn, "ROLLBACK"));
  return -1;
}

static int writer_connect(struct pg_writer *w, char *why, size_t why_len) {
  if (w->conn != NULL) PQfinish(w->conn);
  w->conn = PQconnectdb(w->sink->conninfo);
  if (connection_lost(w->conn)) {
    conn_error(w->conn, "connecting", why, why_len);
    return -1;
  }
  if (!exec_command(w->conn, "SET client_encoding = 'UTF8'; SET synchronous_commit = on", why, why_len,
                    "session setup") ||
      !exec_command(w->conn, stage_setup_sql, why, why_len, "creating staging tables")) {
    return -1;
  }
  return 0;
}

/* Runs step (commit a batch, or finalise the scan) until it succeeds,
 * reconnecting with backoff while the connection is lost; gives up after
 * retry_timeout_ms, or at once on an error with the connection up (a
 * rejected row or statement: retrying cannot help). */
typedef int (*writer_step)(struct pg_writer *w, void *arg, char *why, size_t why_len);

static int with_retry(struct pg_writer *w, writer_step step, void *arg, char *why, size_t why_len) {
  struct pg_sink *sink = w->sink;
  double deadline = now_s() + sink->retry_timeout_ms / 1000.0;
  unsigned backoff_ms = PG_SINK_BACKOFF_MIN_MS;
  for (;;) {
    int rc = -1;
    if (!connection_lost(w->conn) || writer_connect(w, why, why_len) == 0) {
      rc = step(w, arg, why, why_len);
      if (rc == 0) return 0;
      /* A deadlock victim (two workers' batches and claims) is retried;
       * any other error with the connection up cannot be cured by it. */
      if (!connection_lost(w->conn) && strstr(why, "deadlock detected") == NULL) return -1;
    }
    if (now_s() >= deadline) {
      char reason[PG_SINK_ERROR_BYTES / 2];
      snprintf(reason, sizeof reason, "%s", why);
      snprintf(why, why_len, "database unreachable for %u s, giving up: %.400s", sink->retry_timeout_ms / 1000,
               reason);
      return -1;
    }
    pthread_mutex_lock(&sink->lock);
    sink->stats.retries++;
    pthread_mutex_unlock(&sink->lock);
    if (sink->log != NULL) fprintf(sink->log, "danescan: %s; retrying in %u ms\n", why, backoff_ms);
    sleep_ms(backoff_ms);
    backoff_ms = backoff_ms * 2 > PG_SINK_BACKOFF_MAX_MS ? PG_SINK_BACKOFF_MAX_MS : backoff_ms * 2;
  }
}

struct commit_arg {
  struct pg_batch *batch;
  const char *ranges;
};

static int commit_step(struct pg_writer *w, void *arg, char *why, size_t why_len) {
  struct commit_arg *commit = arg;
  return commit_batch(w, commit->batch, commit->ranges, why, why_len);
}

static char *finalize_inputs_json(struct pg_sink *sink, uint64_t *names_out) {
  struct json_buf buf;
  json_buf_init(&buf);
  json_array_begin(&buf);
  for (size_t i = 0; i < sink->input_count; i++) {
    json_object_begin(&buf);
    json_key(&buf, "name");
    json_string(&buf, sink->input_names[i]);
    json_key(&buf, "sha256");
    json_string(&buf, sink->input != NULL ? input_reader_checksum(sink->input, i) : NULL);
    json_object_end(&buf);
  }
  json_array_end(&buf);
  json_raw(&buf, "", 1);
  *names_out = 0;
  if (sink->input != NULL) {
    struct input_counts counts;
    input_reader_get_counts(sink->input, &counts);
    *names_out = counts.names;
  }
  if (json_buf_failed(&buf)) {
    json_buf_free(&buf);
    return NULL;
  }
  return buf.data;
}

static int finalize_step(struct pg_writer *w, void *arg, char *why, size_t why_len) {
  (void)arg;
  struct pg_sink *sink = w->sink;
  uint64_t names = 0;
  char *inputs = finalize_inputs_json(sink, &names);
  char names_text[32];
  snprintf(names_text, sizeof names_text, "%llu", (unsigned long long)names);
  const char *complete = sink->outcome_known ? (sink->outcome_complete ? "true" : "false") : NULL;
  const char *params[5] = {sink->scan_id, inputs, names_text, complete, sink->outcome_error};
  PGresult *res = PQexecParams(w->conn,
                               "UPDATE scans SET ended_at = now(), inputs = $2::jsonb, input_names = $3,"
                               " complete = $4::boolean, error = $5,"
                               " domains = (SELECT count(*) FROM domains WHERE scan_id = $1)"
                               " WHERE id = $1",
                               5, NULL, params, NULL, NULL, 0);
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
  if (rc != 0) conn_error(w->conn, "finishing the scan row", why, why_len);
  PQclear(res);
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

    double started = now_s();
    char *ranges = batch_seq_ranges(batch);
    int rc = -1;
    if (ranges == NULL) {
      snprintf(why, sizeof why, "out of memory preparing a batch");
    } else {
      struct commit_arg commit = {batch, ranges};
      rc = with_retry(w, commit_step, &commit, why, sizeof why);
    }
    free(ranges);
    pthread_mutex_lock(&sink->lock);
    sink->queued--;
    if (rc == 0) {
      sink->stats.batches_committed++;
      sink->stats.rows_committed += pg_rows_total(&batch->rows);
      sink->stats.domains_committed += batch->rows.rows[PG_TABLE_DOMAINS];
    }
    sink->stats.writer_busy_s += now_s() - started;
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
  if (last && !failed && sink->worker_id == NULL && with_retry(w, finalize_step, NULL, why, sizeof why) != 0)
    writer_fail(sink, why);
  if (w->conn != NULL) PQfinish(w->conn);
  w->conn = NULL;
  return NULL;
}

/* ---- scan thread ---- */

static void enqueue_current(struct pg_sink *sink) {
  struct pg_batch *batch = sink->current;
  if (batch == NULL || (batch->seq_count == 0 && pg_rows_total(&batch->rows) == 0)) return;
  sink->current = NULL;
  pthread_mutex_lock(&sink->lock);
  if (sink->queue_tail != NULL) sink->queue_tail->next = batch;
  else sink->queue_head = batch;
  sink->queue_tail = batch;
  sink->queued++;
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
  if (host_set_add(&sink->sent_hosts, host->name)) pg_rows_add_host(&batch->rows, host, sink->scan_id);
  return pg_rows_failed(&batch->rows) ? -1 : 0;
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
  for (size_t i = 0; i < result->link_count; i++) {
    const struct mx_host *host = result->links[i].host;
    if (host_set_add(&sink->sent_hosts, host->name)) pg_rows_add_host(&batch->rows, host, sink->scan_id);
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
  for (size_t i = 0; i < sink->input_count; i++) free(sink->input_names[i]);
  free(sink->input_names);
  free(sink->committed);
  free(sink->outcome_error);
  free(sink->conninfo);
  free(sink->scan_id);
  free(sink->worker_id);
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

uint64_t pg_sink_committed_count(void *ctx) { return ((struct pg_sink *)ctx)->committed_seqs; }

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


static int register_scan(struct pg_sink *sink, PGconn *conn, const struct pg_sink_config *config, char *why,
                         size_t why_len) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  char cwd[PATH_MAX] = "";
  if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
  char *command_line = pg_text_array_literal((const char *const *)config->argv, (size_t)config->argc);
  if (command_line == NULL) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  int rc = -1;
  PGresult *res;
  if (!config->resume) {
    const char *params[6] = {sink->scan_id, "danescan " DANESCAN_VERSION, host, cwd, command_line,
                             config->parameters_json};
    res = PQexecParams(conn,
                       "INSERT INTO scans (id, software, host, cwd, command_line, parameters)"
                       " VALUES ($1, $2, $3, $4, $5::text[], $6::jsonb) ON CONFLICT (id) DO NOTHING",
                       6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      conn_error(conn, "registering the scan", why, why_len);
    } else if (strcmp(PQcmdTuples(res), "1") != 0) {
      snprintf(why, why_len, "scan %s is already in the database; continue it with 'danescan resume %s'",
               sink->scan_id, sink->scan_id);
    } else {
      rc = 0;
    }
  } else {
    const char *params[1] = {sink->scan_id};
    res = PQexecParams(conn,
                       "UPDATE scans SET runs = runs + 1, ended_at = NULL, complete = NULL, error = NULL"
                       " WHERE id = $1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) conn_error(conn, "reopening the scan", why, why_len);
    else if (strcmp(PQcmdTuples(res), "1") != 0) snprintf(why, why_len, "no scan %s in the database", sink->scan_id);
    else rc = 0;
  }
  PQclear(res);
  free(command_line);
  if (rc != 0) return -1;
  const char *params[1] = {sink->scan_id};
  res = PQexecParams(conn, "SELECT danescan_create_scan_partitions($1)", 1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    conn_error(conn, "creating the scan's partitions", why, why_len);
    rc = -1;
  }
  PQclear(res);
  return rc;
}

static int load_progress(struct pg_sink *sink, PGconn *conn, char *why, size_t why_len) {
  const char *params[1] = {sink->scan_id};
  PGresult *res = PQexecParams(conn, "SELECT coalesce(max(batch_no), 0) + 1 FROM scan_batches WHERE scan_id = $1",
                               1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    PQclear(res);
    conn_error(conn, "reading progress", why, why_len);
    return -1;
  }
  sink->next_batch_no = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  res = PQexecParams(conn,
                     "SELECT lower(r), upper(r) FROM scan_batches b, unnest(b.seqs) AS r"
                     " WHERE b.scan_id = $1 ORDER BY 1",
                     1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    PQclear(res);
    conn_error(conn, "reading progress", why, why_len);
    return -1;
  }
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

uint32_t pg_sink_default_retry_timeout_ms(void) {
  const char *env = getenv("DANESCAN_DB_RETRY_TIMEOUT_S");
  if (env != NULL && env[0] != '\0') {
    char *end;
    unsigned long seconds = strtoul(env, &end, 10);
    if (*end == '\0' && seconds > 0 && seconds < 86400 * 7) return (uint32_t)(seconds * 1000);
  }
  return PG_SINK_DEFAULT_RETRY_TIMEOUT_MS;
}

static size_t writer_count(void) {
  const char *env = getenv("DANESCAN_DB_WRITERS");
  if (env != NULL && env[0] >= '1' && env[0] <= '0' + PG_SINK_MAX_WRITERS && env[1] == '\0') return (size_t)(env[0] - '0');
  return PG_SINK_DEFAULT_WRITERS;
}

/* A connection with the schema migrated, or NULL with why. */
static PGconn *connect_and_migrate(const char *conninfo, FILE *log, char *why, size_t why_len) {
  PGconn *conn = PQconnectdb(conninfo);
  char schema_dir[PATH_MAX];
  if (connection_lost(conn)) {
    conn_error(conn, "connecting", why, why_len);
    goto fail;
  }
  if (!exec_command(conn, "SET client_encoding = 'UTF8'", why, why_len, "session setup")) goto fail;
  if (pg_schema_find_dir(schema_dir, sizeof schema_dir) == 0) {
    if (pg_schema_migrate(conn, schema_dir, log, why, why_len) < 0) goto fail;
  } else if (pg_schema_version(conn, why, why_len) <= 0) {
    snprintf(why, why_len, "database has no danescan schema and schema/migrations was not found "
                           "(set DANESCAN_SCHEMA_DIR or run 'danescan db migrate')");
    goto fail;
  }
  return conn;
fail:
  PQfinish(conn);
  return NULL;
}

int pg_sink_register_scan(const struct pg_sink_config *config, char *why, size_t why_len) {
  PGconn *conn = connect_and_migrate(config->conninfo != NULL ? config->conninfo : "", config->log, why, why_len);
  if (conn == NULL) return -1;
  struct pg_sink registering;
  memset(&registering, 0, sizeof registering);
  registering.scan_id = (char *)config->scan_id;
  int rc = register_scan(&registering, conn, config, why, why_len);
  PQfinish(conn);
  return rc;
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
  sink->batch_domains = config->batch_domains ? config->batch_domains : PG_SINK_DEFAULT_BATCH_DOMAINS;
  sink->max_queued = config->max_queued_batches ? config->max_queued_batches : PG_SINK_DEFAULT_MAX_QUEUED_BATCHES;
  sink->retry_timeout_ms = config->retry_timeout_ms != 0 ? config->retry_timeout_ms : pg_sink_default_retry_timeout_ms();
  sink->writer_count = writer_count();
  sink->log = config->log;
  sink->chunk_size = config->chunk_size > 0 ? config->chunk_size : 1;
  if (config->worker_id != NULL) sink->worker_id = strdup(config->worker_id);
  sink->input = config->input;
  sink->input_names = calloc(config->input_count + 1, sizeof *sink->input_names);
  if (sink->conninfo == NULL || sink->scan_id == NULL || sink->input_names == NULL || !build_final_copy(sink)) {
    snprintf(why, why_len, "out of memory");
    sink_free(sink);
    return -1;
  }
  for (size_t i = 0; i < config->input_count; i++) {
    sink->input_names[i] = strdup(config->input_names[i]);
    if (sink->input_names[i] != NULL) sink->input_count++;
  }

  PGconn *conn = connect_and_migrate(sink->conninfo, config->log, why, why_len);
  int rc = -1;
  if (conn == NULL) goto out;
  if (sink->worker_id != NULL) {
    /* Registered, partitioned and loaded by the scan's starter. */
    sink->next_batch_no = config->worker_no << 32;
  } else {
    if (register_scan(sink, conn, config, why, why_len) != 0) goto out;
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
