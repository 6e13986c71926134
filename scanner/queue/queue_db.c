/* The work queue's SQL (see queue_db.h). Every value reaches the server as a
 * parameter or as COPY text through db/pg_copy.h, never spliced into SQL.
 * Arrays go as PostgreSQL array literals built here from names and addresses
 * that the pipeline has validated (host names: letters, digits, '-', '.';
 * addresses: inet text), quoted anyway. */
#include "queue/queue_db.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/pg_copy.h"
#include "db/scan_row.h"

/* ---- helpers ---- */

/* A statement without rows (db_command without the row count). */
static int exec_command(PGconn *conn, const char *sql, int count, const char *const *params, const char *what,
                        char *why, size_t why_len) {
  return db_command(conn, sql, count, params, what, NULL, why, why_len);
}

static char *int_array(const int *items, size_t count) {
  struct pg_buf buf;
  pg_buf_init(&buf);
  pg_buf_raw(&buf, "{", 1);
  for (size_t i = 0; i < count; i++) {
    char number[24];
    int n = snprintf(number, sizeof number, "%s%d", i > 0 ? "," : "", items[i]);
    pg_buf_raw(&buf, number, (size_t)n);
  }
  pg_buf_raw(&buf, "}", 2);
  if (pg_buf_failed(&buf)) {
    pg_buf_free(&buf);
    return NULL;
  }
  return buf.data;
}

/* ---- the scan's queue ---- */

/* ---- loading ---- */

static void add_input_row(struct pg_buf *buf, const char *scan_id, const struct input_name *name) {
  pg_field_text(buf, scan_id, 64);
  pg_field_uint(buf, name->seq);
  pg_field_text(buf, name->name, INPUT_NAME_MAX_BYTES);
  if (name->invalid) pg_field_text(buf, name->reason[0] ? name->reason : "invalid domain name", INPUT_REASON_MAX_BYTES);
  else pg_field_null(buf);
  pg_field_uint(buf, name->file_index);
  pg_field_uint(buf, name->line);
  pg_field_int(buf, name->rank);
  pg_field_text(buf, name->ns[0] != '\0' ? name->ns : NULL, INPUT_NS_MAX_BYTES); /* migration 017 */
  pg_row_end(buf);
}

/* One loading transaction: the rows, the chunks they complete (all chunks
 * of [first, hi) with hi the new total, the last one possibly short when
 * final), the new total. */
static int load_commit(PGconn *conn, const char *scan_id, const struct pg_buf *rows, uint64_t lo, uint64_t hi,
                       uint32_t chunk_size, char *why, size_t why_len) {
  int rc = db_exec(conn, "BEGIN", "loading the input", why, why_len);
  if (rc != DB_OK) return rc;
  rc = db_copy(conn, "COPY scan_inputs (scan_id, seq, name, invalid_reason, file_index, line, rank, ns) FROM STDIN",
               rows->data, rows->len, why, why_len);
  if (rc != DB_OK) goto fail;
  char lo_text[24], hi_text[24], size_text[16];
  snprintf(lo_text, sizeof lo_text, "%llu", (unsigned long long)lo);
  snprintf(hi_text, sizeof hi_text, "%llu", (unsigned long long)hi);
  snprintf(size_text, sizeof size_text, "%u", chunk_size);
  const char *params[4] = {scan_id, lo_text, hi_text, size_text};
  if (hi > lo &&
      (rc = exec_command(conn,
                         "INSERT INTO scan_chunks (scan_id, chunk_no, seq_lo, seq_hi)"
                         " SELECT $1, c, c * $4::bigint, least((c + 1) * $4::bigint, $3::bigint)"
                         " FROM generate_series($2::bigint / $4::bigint, ($3::bigint - 1) / $4::bigint) c",
                         4, params, "adding chunks", why, why_len)) != DB_OK)
    goto fail;
  if ((rc = db_scan_set_queue_total(conn, scan_id, hi, why, why_len)) != DB_OK) goto fail;
  return db_exec(conn, "COMMIT", "loading the input", why, why_len);
fail:
  db_rollback(conn);
  return rc;
}

int queue_db_load(PGconn *conn, const char *scan_id, struct input_reader *input, const char *const *input_paths,
                  size_t input_count, volatile sig_atomic_t *stop, uint64_t *loaded_out,
                  void (*on_commit)(PGconn *conn, void *ctx), void *on_commit_ctx, char *why, size_t why_len) {
  struct db_scan_info info;
  *loaded_out = 0;
  int rc = db_scan_info(conn, scan_id, &info, why, why_len);
  if (rc != DB_OK) return rc;
  if (!info.exists || info.chunk_size == 0) {
    snprintf(why, why_len, "scan %s has no work queue", scan_id);
    return DB_ERROR;
  }
  uint64_t per_transaction = (QUEUE_LOAD_TRANSACTION_NAMES + info.chunk_size - 1) / info.chunk_size *
      (uint64_t)info.chunk_size;
  uint64_t committed = info.total; /* names below this ordinal are stored */
  struct pg_buf rows;
  pg_buf_init(&rows);
  uint64_t pending_hi = committed;
  for (;;) {
    if (stop != NULL && *stop) {
      rc = 1;
      break;
    }
    struct input_name name;
    int got = input_reader_next(input, &name, why, why_len);
    if (got < 0) {
      rc = DB_ERROR; /* the input: reading it again cannot help */
      break;
    }
    if (got > 0 && name.seq < committed) continue; /* loaded by an earlier run */
    if (got > 0) {
      add_input_row(&rows, scan_id, &name);
      pending_hi = name.seq + 1;
    }
    bool flush = got == 0 || pending_hi - committed >= per_transaction;
    if (flush && (pending_hi > committed || got == 0)) {
      if (pg_buf_failed(&rows)) {
        snprintf(why, why_len, "out of memory loading the input");
        rc = DB_ERROR;
        break;
      }
      if (pending_hi > committed &&
          (rc = load_commit(conn, scan_id, &rows, committed, pending_hi, info.chunk_size, why, why_len)) != DB_OK)
        break;
      committed = pending_hi;
      pg_buf_reset(&rows);
      if (on_commit != NULL) on_commit(conn, on_commit_ctx);
    }
    if (got == 0) break;
  }
  pg_buf_free(&rows);
  *loaded_out = committed;
  if (rc != 0) return rc;
  char *inputs = db_scan_inputs_json(input, input_paths, input_count);
  struct input_counts counts;
  input_reader_get_counts(input, &counts);
  rc = db_scan_set_loaded(conn, scan_id, committed, inputs, &counts, why, why_len);
  free(inputs);
  return rc;
}

/* ---- workers ---- */

int queue_db_register_worker(PGconn *conn, const char *scan_id, const char *worker_id, const char *host, int pid,
                             uint64_t *worker_no, char *why, size_t why_len) {
  char pid_text[16];
  snprintf(pid_text, sizeof pid_text, "%d", pid);
  const char *params[4] = {scan_id, worker_id, host, pid_text};
  PGresult *res;
  int query_rc = db_query(conn,
                          "INSERT INTO scan_workers (scan_id, worker_id, host, pid) VALUES ($1, $2, $3, $4)"
                          " RETURNING worker_no",
                          4, params, PGRES_TUPLES_OK, "registering the worker", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  *worker_no = db_field_u64(res, 0, 0);
  PQclear(res);
  return 0;
}

int queue_db_heartbeat(PGconn *conn, const char *scan_id, const char *worker_id, uint32_t ttl_ms,
                       const struct queue_worker_counters *counters, unsigned *alive, char *why, size_t why_len) {
  char values[8][24];
  const uint64_t numbers[7] = {counters->domains,     counters->chunks,      counters->probes,
                               counters->connections, counters->dns_queries, counters->dns_retries,
                               counters->dns_timeouts};
  for (int i = 0; i < 7; i++) snprintf(values[i], sizeof values[i], "%llu", (unsigned long long)numbers[i]);
  snprintf(values[7], sizeof values[7], "%u", ttl_ms);
  const char *params[11] = {scan_id,
                            worker_id,
                            values[0],
                            values[1],
                            values[2],
                            values[3],
                            values[4],
                            values[5],
                            values[6],
                            values[7],
                            counters->detail_json[0] != '\0' ? counters->detail_json : NULL};
  /* One statement: renew everything this worker holds, store its counters,
   * count the live workers. */
  PGresult *res;
  int query_rc = db_query(
      conn,
      "WITH w AS (UPDATE scan_workers SET heartbeat_at = now(), domains = $3, chunks = $4, probes = $5,"
      "   connections = $6, dns_queries = $7, dns_retries = $8, dns_timeouts = $9,"
      "   counters = coalesce($11::jsonb, counters)"
      "   WHERE scan_id = $1 AND worker_id = $2 RETURNING 1),"
      " c AS (UPDATE scan_chunks SET lease_expires = now() + $10::integer * interval '1 ms'"
      "   WHERE scan_id = $1 AND lease_owner = $2 AND state = 'leased' RETURNING 1),"
      " a AS (UPDATE address_leases SET expires = now() + $10::integer * interval '1 ms'"
      "   WHERE scan_id = $1 AND worker_id = $2 RETURNING 1)"
      " SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM c), (SELECT count(*) FROM a),"
      "  (SELECT count(*) FROM scan_workers WHERE scan_id = $1 AND exited_at IS NULL"
      "    AND heartbeat_at > now() - $10::integer * interval '1 ms')",
      11, params, PGRES_TUPLES_OK, "heartbeat", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  uint64_t live = db_field_u64(res, 0, 3);
  *alive = live > 0 ? (unsigned)live : 1;
  PQclear(res);
  return 0;
}

void queue_chunk_clear(struct queue_chunk *chunk) {
  free(chunk->names);
  memset(chunk, 0, sizeof *chunk);
}

int queue_db_lease_chunk(PGconn *conn, const char *scan_id, const char *worker_id, uint32_t ttl_ms,
                         struct queue_chunk *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  char ttl_text[16];
  snprintf(ttl_text, sizeof ttl_text, "%u", ttl_ms);
  const char *params[3] = {scan_id, worker_id, ttl_text};
  /* SKIP LOCKED: workers never wait for each other's lease; a chunk whose
   * holder is gone (no heartbeat, or exited) is as good as pending. */
  PGresult *res;
  int query_rc = db_query(conn,
                          "WITH c AS (SELECT chunk_no FROM scan_chunks"
                          "   WHERE scan_id = $1 AND state <> 'done'"
                          "     AND (state = 'pending' OR lease_expires < now()"
                          "          OR danescan_worker_gone($1, lease_owner, $3::integer))"
                          "   ORDER BY chunk_no LIMIT 1 FOR UPDATE SKIP LOCKED)"
                          " UPDATE scan_chunks s SET state = 'leased', lease_owner = $2, leases = s.leases + 1,"
                          "   lease_expires = now() + $3::integer * interval '1 ms'"
                          " FROM c WHERE s.scan_id = $1 AND s.chunk_no = c.chunk_no"
                          " RETURNING s.chunk_no, s.seq_lo, s.seq_hi, s.done_count",
                          3, params, PGRES_TUPLES_OK, "leasing a chunk", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  if (PQntuples(res) == 0) {
    PQclear(res);
    return 0;
  }
  out->chunk_no = db_field_u64(res, 0, 0);
  out->seq_lo = db_field_u64(res, 0, 1);
  out->seq_hi = db_field_u64(res, 0, 2);
  bool partly_done = db_field_u64(res, 0, 3) > 0;
  PQclear(res);

  char lo_text[24], hi_text[24];
  snprintf(lo_text, sizeof lo_text, "%llu", (unsigned long long)out->seq_lo);
  snprintf(hi_text, sizeof hi_text, "%llu", (unsigned long long)out->seq_hi);
  const char *name_params[4] = {scan_id, lo_text, hi_text, partly_done ? "t" : "f"};
  query_rc = db_query(conn,
                      "SELECT seq, name, invalid_reason, file_index, line, rank, coalesce(ns, '') FROM scan_inputs i"
                      " WHERE i.scan_id = $1 AND i.seq >= $2::bigint AND i.seq < $3::bigint"
                      "   AND (NOT $4::boolean OR NOT EXISTS"
                      "        (SELECT 1 FROM domains d WHERE d.scan_id = $1 AND d.seq = i.seq))"
                      " ORDER BY seq",
                      4, name_params, PGRES_TUPLES_OK, "reading a chunk's names", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  int n = PQntuples(res);
  out->names = calloc(n > 0 ? (size_t)n : 1, sizeof *out->names);
  if (out->names == NULL) {
    PQclear(res);
    snprintf(why, why_len, "out of memory reading a chunk");
    return -1;
  }
  for (int i = 0; i < n; i++) {
    struct input_name *name = &out->names[i];
    name->seq = db_field_u64(res, i, 0);
    snprintf(name->name, sizeof name->name, "%s", PQgetvalue(res, i, 1));
    name->invalid = !PQgetisnull(res, i, 2);
    if (name->invalid) snprintf(name->reason, sizeof name->reason, "%s", PQgetvalue(res, i, 2));
    name->file_index = (unsigned)db_field_u64(res, i, 3);
    name->line = db_field_u64(res, i, 4);
    name->rank = strtoll(PQgetvalue(res, i, 5), NULL, 10);
    snprintf(name->ns, sizeof name->ns, "%s", PQgetvalue(res, i, 6));
  }
  out->count = (size_t)n;
  PQclear(res);
  return 1;
}

int queue_db_progress(PGconn *conn, const char *scan_id, struct queue_progress *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *params[1] = {scan_id};
  PGresult *res;
  int query_rc = db_query(conn,
                          "SELECT s.queue_total, s.queue_loaded, count(c.chunk_no),"
                          " count(c.chunk_no) FILTER (WHERE c.state = 'done'),"
                          " count(c.chunk_no) FILTER (WHERE c.state = 'leased'),"
                          " coalesce(sum(c.done_count), 0),"
                          " coalesce(sum(greatest(c.leases - 1, 0)), 0)"
                          " FROM scans s LEFT JOIN scan_chunks c ON c.scan_id = s.id"
                          " WHERE s.id = $1 GROUP BY s.queue_total, s.queue_loaded",
                          1, params, PGRES_TUPLES_OK, "reading progress", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  if (PQntuples(res) == 1) {
    out->total = db_field_u64(res, 0, 0);
    out->loaded = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    out->chunks = db_field_u64(res, 0, 2);
    out->chunks_done = db_field_u64(res, 0, 3);
    out->chunks_leased = db_field_u64(res, 0, 4);
    out->domains_done = db_field_u64(res, 0, 5);
    out->takeovers = db_field_u64(res, 0, 6);
  }
  PQclear(res);
  return 0;
}

bool queue_progress_finished(const struct queue_progress *progress) {
  return progress->loaded && progress->chunks_done == progress->chunks;
}

int queue_db_worker_exit(PGconn *conn, const char *scan_id, const char *worker_id, const char *exit_status, char *why,
                         size_t why_len) {
  const char *params[3] = {scan_id, worker_id, exit_status};
  return exec_command(
      conn,
      "WITH c AS (UPDATE scan_chunks SET state = 'pending', lease_owner = NULL, lease_expires = NULL"
      "   WHERE scan_id = $1 AND lease_owner = $2 AND state = 'leased' RETURNING 1),"
      " a AS (UPDATE address_leases SET worker_id = NULL, released_at = now()"
      "   WHERE scan_id = $1 AND worker_id = $2 RETURNING 1)"
      " UPDATE scan_workers SET exited_at = coalesce(exited_at, now()), exit_status = coalesce(exit_status, $3)"
      " WHERE scan_id = $1 AND worker_id = $2",
      3, params, "ending the worker", why, why_len);
}

/* True when the process pid certainly no longer runs: no such process
 * (ESRCH), or a zombie ('Z') or dead ('X') one in /proc/PID/stat. A worker
 * killed together with its supervisor is reparented to PID 1, and stays a
 * zombie until PID 1 reaps it: seconds in a container whose PID 1 reaps
 * lazily, forever under one that never does; kill(pid, 0) succeeds on a
 * zombie. Anything else (running, or /proc unreadable) counts as alive. */
static bool process_gone(pid_t pid) {
  if (pid <= 0) return true;
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *stat_file = fopen(path, "r");
  if (stat_file == NULL) return errno == ENOENT;
  char line[512];
  size_t got = fread(line, 1, sizeof line - 1, stat_file);
  fclose(stat_file);
  line[got] = '\0';
  /* "pid (comm) S ...": comm may hold spaces and parentheses, so the state
   * follows the last ')'. */
  const char *close_paren = strrchr(line, ')');
  if (close_paren == NULL || close_paren[1] != ' ') return false;
  char state = close_paren[2];
  return state == 'Z' || state == 'X';
}

int queue_db_reap_local_workers(PGconn *conn, const char *scan_id, const char *host, char *why, size_t why_len) {
  const char *params[2] = {scan_id, host};
  PGresult *res;
  int query_rc = db_query(conn,
                          "SELECT worker_id, pid FROM scan_workers WHERE scan_id = $1 AND host = $2"
                          " AND exited_at IS NULL",
                          2, params, PGRES_TUPLES_OK, "listing workers", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  int reaped = 0;
  for (int i = 0; i < PQntuples(res); i++) {
    pid_t pid = (pid_t)strtol(PQgetvalue(res, i, 1), NULL, 10);
    /* A reused pid makes us wait for the lease TTL instead: the safe
     * direction. */
    if (process_gone(pid)) {
      int rc = queue_db_worker_exit(conn, scan_id, PQgetvalue(res, i, 0), "killed", why, why_len);
      if (rc != DB_OK) {
        PQclear(res);
        return rc;
      }
      reaped++;
    }
  }
  PQclear(res);
  return reaped;
}

/* ---- host claims ---- */

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int queue_db_claim_hosts(PGconn *conn, const char *scan_id, const char *worker_id, uint32_t ttl_ms,
                         const char *const *names, size_t count, enum queue_claim *outcome, char *why, size_t why_len) {
  if (count == 0) return 0;
  /* Rows are locked in name order by every claimer, so two claim
   * statements cannot deadlock with each other. */
  const char **sorted = malloc(count * sizeof *sorted);
  if (sorted == NULL) {
    snprintf(why, why_len, "out of memory claiming hosts");
    return -1;
  }
  memcpy(sorted, names, count * sizeof *sorted);
  qsort(sorted, count, sizeof *sorted, compare_names);
  char *array = pg_text_array_literal(sorted, count);
  free(sorted);
  if (array == NULL) {
    snprintf(why, why_len, "out of memory claiming hosts");
    return -1;
  }
  char ttl_text[16];
  snprintf(ttl_text, sizeof ttl_text, "%u", ttl_ms);
  const char *params[4] = {scan_id, worker_id, array, ttl_text};
  PGresult *res;
  int query_rc = db_query(
      conn,
      "WITH want AS (SELECT DISTINCT h FROM unnest($3::text[]) h ORDER BY h),"
      " taken AS (INSERT INTO host_claims AS c (scan_id, host, worker_id)"
      "   SELECT $1, h, $2 FROM want ORDER BY h"
      "   ON CONFLICT (scan_id, host) DO UPDATE SET worker_id = $2, claimed_at = now(),"
      "     probe_runs = c.probe_runs + 1"
      "   WHERE NOT c.done AND c.worker_id <> $2 AND danescan_worker_gone($1, c.worker_id, $4::integer)"
      "   RETURNING host)"
      " SELECT w.h, t.host IS NOT NULL, coalesce(c.done, false), c.worker_id = $2"
      " FROM want w LEFT JOIN taken t ON t.host = w.h"
      " LEFT JOIN host_claims c ON c.scan_id = $1 AND c.host = w.h",
      4, params, PGRES_TUPLES_OK, "claiming hosts", &res, why, why_len);
  free(array);
  if (query_rc != DB_OK) return query_rc;
  for (size_t i = 0; i < count; i++) outcome[i] = QUEUE_CLAIM_BUSY;
  for (int row = 0; row < PQntuples(res); row++) {
    const char *host = PQgetvalue(res, row, 0);
    bool taken = strcmp(PQgetvalue(res, row, 1), "t") == 0;
    bool done = strcmp(PQgetvalue(res, row, 2), "t") == 0;
    /* Already ours (asked again after a lost reply) counts as taken. */
    bool ours = strcmp(PQgetvalue(res, row, 3), "t") == 0;
    enum queue_claim claim = taken ? QUEUE_CLAIM_MINE
        : done                     ? QUEUE_CLAIM_DONE
        : ours                     ? QUEUE_CLAIM_MINE
                                   : QUEUE_CLAIM_BUSY;
    for (size_t i = 0; i < count; i++) {
      if (strcmp(names[i], host) == 0) outcome[i] = claim;
    }
  }
  PQclear(res);
  return 0;
}

static int status_from_name(const char *name, int count, const char *(*namer)(int)) {
  for (int i = 0; i < count; i++) {
    if (strcmp(namer(i), name) == 0) return i;
  }
  return -1;
}

static const char *host_status_namer(int i) {
  return host_status_name((enum host_status)i);
}
static const char *probe_result_namer(int i) {
  return probe_result_name((enum probe_result)i);
}
static const char *probe_step_namer(int i) {
  return probe_step_name((enum probe_step)i);
}
static const char *rollover_namer(int i) {
  return rollover_class_name((enum rollover_class)i);
}
static const char *flag_namer(int i) {
  return mx_host_flag_name((unsigned)i);
}

/* Flags from a text[] literal "{a,b}" (flag words have no quotes or commas). */
static unsigned flags_from_array(const char *text) {
  unsigned flags = 0;
  char word[64];
  size_t len = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '{' || *p == '"') continue;
    if (*p == ',' || *p == '}') {
      word[len] = '\0';
      int bit = len > 0 ? status_from_name(word, MX_FLAG_COUNT, flag_namer) : -1;
      if (bit >= 0) flags |= 1u << bit;
      len = 0;
    } else if (len + 1 < sizeof word) {
      word[len++] = *p;
    }
  }
  return flags;
}

int queue_db_fetch_host(PGconn *conn, const char *scan_id, const char *name, struct queue_host_result *out, char *why,
                        size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *params[2] = {scan_id, name};
  PGresult *res;
  int query_rc = db_query(conn,
                          "SELECT m.status, m.flags, host(p.address), p.result, p.reason, p.attempts,"
                          " p.first_result, p.first_step, m.rollover"
                          " FROM mx_hosts m LEFT JOIN probes p"
                          "   ON p.scan_id = m.scan_id AND p.host = m.host AND p.probe_no = 0"
                          " WHERE m.scan_id = $1 AND m.host = $2",
                          2, params, PGRES_TUPLES_OK, "reading a host probed elsewhere", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  int rows = PQntuples(res);
  if (rows == 0) {
    PQclear(res);
    return 0;
  }
  int status = status_from_name(PQgetvalue(res, 0, 0), HOST_STATUS_COUNT, host_status_namer);
  out->status = status >= 0 ? (enum host_status)status : HOST_DANE_UNPROBED;
  out->flags = flags_from_array(PQgetvalue(res, 0, 1));
  int rollover = status_from_name(PQgetvalue(res, 0, 8), ROLLOVER_CLASS_COUNT, rollover_namer);
  out->rollover = rollover >= 0 ? (enum rollover_class)rollover : ROLLOVER_NONE;
  for (int i = 0; i < rows && out->address_count < QUEUE_HOST_MAX_ADDRESSES; i++) {
    if (PQgetisnull(res, i, 2)) continue;
    size_t k = out->address_count++;
    snprintf(out->addresses[k].address, sizeof out->addresses[k].address, "%s", PQgetvalue(res, i, 2));
    int result = status_from_name(PQgetvalue(res, i, 3), PROBE_RESULT_COUNT, probe_result_namer);
    out->addresses[k].result = result >= 0 ? (enum probe_result)result : PROBE_SKIPPED;
    snprintf(out->addresses[k].reason, sizeof out->addresses[k].reason, "%s", PQgetvalue(res, i, 4));
    out->addresses[k].attempts = PQgetisnull(res, i, 5) ? 0 : (unsigned)strtoul(PQgetvalue(res, i, 5), NULL, 10);
    int first = status_from_name(PQgetvalue(res, i, 6), PROBE_RESULT_COUNT, probe_result_namer);
    int step = status_from_name(PQgetvalue(res, i, 7), PROBE_STEP_DONE + 1, probe_step_namer);
    out->addresses[k].first_result = first >= 0 ? (enum probe_result)first : PROBE_SKIPPED;
    out->addresses[k].first_step = step >= 0 ? (enum probe_step)step : PROBE_STEP_NONE;
    if (first < 0) out->addresses[k].attempts = out->addresses[k].attempts > 1 ? 1 : out->addresses[k].attempts;
  }
  PQclear(res);
  return 1;
}

/* ---- scan-wide address slots ---- */

int queue_db_acquire_addresses(PGconn *conn, const char *scan_id, const char *worker_id, const char *const *addresses,
                               size_t count, unsigned slots, uint32_t gap_ms, uint32_t ttl_ms, int *slot_out, char *why,
                               size_t why_len) {
  if (count == 0) return 0;
  char *array = pg_text_array_literal(addresses, count);
  if (array == NULL) {
    snprintf(why, why_len, "out of memory acquiring addresses");
    return -1;
  }
  char slots_text[16], gap_text[16], ttl_text[16];
  snprintf(slots_text, sizeof slots_text, "%u", slots > 0 ? slots : 1);
  snprintf(gap_text, sizeof gap_text, "%u", gap_ms);
  snprintf(ttl_text, sizeof ttl_text, "%u", ttl_ms);
  const char *params[6] = {scan_id, worker_id, array, slots_text, gap_text, ttl_text};
  /* Row by row in array order: the function takes one slot per element, so
   * the same address twice in one call gets two slots (or -1). */
  PGresult *res;
  int query_rc = db_query(conn,
                          "SELECT danescan_acquire_address($1, $2, a, $4::integer, $5::integer, $6::integer)"
                          " FROM unnest($3::text[]) WITH ORDINALITY AS u(a, n) ORDER BY n",
                          6, params, PGRES_TUPLES_OK, "acquiring address slots", &res, why, why_len);
  free(array);
  if (query_rc != DB_OK) return query_rc;
  for (size_t i = 0; i < count; i++) {
    slot_out[i] = (int)i < PQntuples(res) ? (int)strtol(PQgetvalue(res, (int)i, 0), NULL, 10) : -1;
  }
  PQclear(res);
  return 0;
}

int queue_db_release_addresses(PGconn *conn, const char *scan_id, const char *worker_id, const char *const *addresses,
                               const int *slots, size_t count, char *why, size_t why_len) {
  if (count == 0) return 0;
  char *address_array = pg_text_array_literal(addresses, count);
  char *slot_array = int_array(slots, count);
  if (address_array == NULL || slot_array == NULL) {
    free(address_array);
    free(slot_array);
    snprintf(why, why_len, "out of memory releasing addresses");
    return -1;
  }
  const char *params[4] = {scan_id, worker_id, address_array, slot_array};
  int rc = exec_command(conn,
                        "UPDATE address_leases l SET worker_id = NULL, released_at = now()"
                        " FROM unnest($3::text[], $4::integer[]) AS u(a, s)"
                        " WHERE l.scan_id = $1 AND l.address = u.a AND l.slot = u.s AND l.worker_id = $2",
                        4, params, "releasing address slots", why, why_len);
  free(address_array);
  free(slot_array);
  return rc;
}

int queue_db_complete_chunks(PGconn *conn, const char *scan_id, const char *worker_id, const char *chunks,
                             const char *counts, size_t chunk_count, char *why, size_t why_len) {
  const char *fence_params[3] = {scan_id, chunks, worker_id};
  PGresult *res;
  int query_rc = db_query(conn,
                          "SELECT chunk_no FROM scan_chunks WHERE scan_id = $1 AND chunk_no = ANY($2::bigint[])"
                          " AND lease_owner = $3 AND state = 'leased' ORDER BY chunk_no FOR UPDATE",
                          3, fence_params, PGRES_TUPLES_OK, "checking the chunk leases", &res, why, why_len);
  if (query_rc != DB_OK) return query_rc;
  bool held = (size_t)PQntuples(res) == chunk_count;
  PQclear(res);
  if (!held) {
    snprintf(why, why_len,
             "worker %s lost the lease of a chunk of %s (another worker took it over): stopping so that no "
             "domain is stored twice",
             worker_id, chunks);
    return -1;
  }
  const char *count_params[3] = {scan_id, chunks, counts};
  return exec_command(conn,
                      "UPDATE scan_chunks c SET done_count = c.done_count + u.n,"
                      "  state = CASE WHEN c.done_count + u.n >= c.seq_hi - c.seq_lo THEN 'done' ELSE c.state END,"
                      "  done_at = CASE WHEN c.done_count + u.n >= c.seq_hi - c.seq_lo THEN now() END"
                      " FROM unnest($2::bigint[], $3::integer[]) AS u(chunk_no, n)"
                      " WHERE c.scan_id = $1 AND c.chunk_no = u.chunk_no",
                      3, count_params, "counting the chunks' domains", why, why_len);
}

int queue_db_finish_scan(PGconn *conn, const char *scan_id, char *why, size_t why_len) {
  struct queue_progress progress;
  int rc = queue_db_progress(conn, scan_id, &progress, why, why_len);
  if (rc != DB_OK) return rc;
  if (!queue_progress_finished(&progress)) return 0;
  rc = db_scan_finish_queued(conn, scan_id, why, why_len);
  return rc == DB_OK ? 1 : rc;
}

/* ---- the PostgreSQL sink's batch hook ---- */

/* "{c1,c2}" and "{n1,n2}": the chunks of the sorted ordinals and how many
 * of them each holds. */
static int chunk_arrays(const uint64_t *seqs, size_t count, uint32_t chunk_size, char **chunks_out, char **counts_out,
                        size_t *chunk_count) {
  struct pg_buf chunks, counts;
  pg_buf_init(&chunks);
  pg_buf_init(&counts);
  pg_buf_raw(&chunks, "{", 1);
  pg_buf_raw(&counts, "{", 1);
  *chunk_count = 0;
  size_t i = 0;
  while (i < count) {
    uint64_t chunk = seqs[i] / chunk_size;
    size_t n = 0;
    while (i < count && seqs[i] / chunk_size == chunk) {
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

static int fence_batch(void *ctx, PGconn *conn, const uint64_t *seqs, size_t count, char *why, size_t why_len) {
  const struct queue_batch_fence *fence = ctx;
  if (count == 0) return DB_OK;
  char *chunks = NULL, *counts = NULL;
  size_t chunk_count = 0;
  if (chunk_arrays(seqs, count, fence->chunk_size, &chunks, &counts, &chunk_count) != 0) {
    snprintf(why, why_len, "out of memory preparing a batch");
    return DB_ERROR;
  }
  int rc = queue_db_complete_chunks(conn, fence->scan_id, fence->worker_id, chunks, counts, chunk_count, why, why_len);
  free(chunks);
  free(counts);
  return rc;
}

/* The hosts of this batch are stored: whoever waits on their claims may
 * reuse them. Locked in host order, as the claimers lock them. */
static const char claims_done_sql[] = "UPDATE host_claims c SET done = true FROM (SELECT h.host FROM host_claims h"
                                      "   JOIN stage_mx_hosts s ON s.host = h.host WHERE h.scan_id = $1 AND NOT h.done"
                                      "   ORDER BY h.host FOR UPDATE OF h) d"
                                      " WHERE c.scan_id = $1 AND c.host = d.host";

static int mark_claims_done(void *ctx, PGconn *conn, char *why, size_t why_len) {
  const struct queue_batch_fence *fence = ctx;
  const char *params[1] = {fence->scan_id};
  return exec_command(conn, claims_done_sql, 1, params, "marking host claims done", why, why_len);
}

void queue_db_batch_hook(const struct queue_batch_fence *fence, struct pg_sink_batch_hook *out) {
  memset(out, 0, sizeof *out);
  out->ctx = (void *)fence;
  out->before_rows = fence_batch;
  out->after_hosts = mark_claims_done;
}

int queue_db_counter_sums(PGconn *conn, const char *scan_id,
                          void (*each)(void *ctx, const char *group, const char *name, const char *key,
                                       const char *value),
                          void *ctx, char *why, size_t why_len) {
  const char *params[1] = {scan_id};
  PGresult *res;
  /* Numbers are summed; per resolver (by name) too, except last_down_ms
   * (the largest) and down_now (any worker's). */
  int rc = db_query(
      conn,
      "WITH c AS (SELECT counters FROM scan_workers WHERE scan_id = $1 AND counters IS NOT NULL),"
      " groups AS (SELECT g.key AS grp, v.key, v.value FROM c, jsonb_each(c.counters) g, jsonb_each(g.value) v"
      "   WHERE jsonb_typeof(g.value) = 'object' AND jsonb_typeof(v.value) = 'number'),"
      " resolvers AS (SELECT r->>'name' AS name, v.key, v.value FROM c,"
      "   jsonb_array_elements(c.counters->'dns'->'resolvers') r, jsonb_each(r) v"
      "   WHERE jsonb_typeof(c.counters->'dns'->'resolvers') = 'array' AND v.key <> 'name')"
      " SELECT grp, NULL, key, sum(value::text::numeric)::text FROM groups GROUP BY grp, key"
      " UNION ALL"
      " SELECT 'resolvers', name, key,"
      "   CASE WHEN key = 'last_down_ms' THEN max(value::text::numeric) FILTER (WHERE key = 'last_down_ms')::text"
      "        WHEN key = 'down_now' THEN bool_or(value::text::boolean) FILTER (WHERE key = 'down_now')::text"
      "        ELSE sum(value::text::numeric) FILTER (WHERE jsonb_typeof(value) = 'number')::text END"
      " FROM resolvers GROUP BY name, key ORDER BY 1, 2, 3",
      1, params, PGRES_TUPLES_OK, "summing the workers' counters", &res, why, why_len);
  if (rc != DB_OK) return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    each(ctx, PQgetvalue(res, i, 0), PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
         PQgetvalue(res, i, 3));
  }
  PQclear(res);
  return DB_OK;
}

int queue_db_summary(PGconn *conn, const char *scan_id, struct queue_summary *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn,
                    "SELECT count(*), coalesce(sum(domains), 0), coalesce(sum(dns_queries), 0),"
                    " coalesce(sum(dns_retries), 0), coalesce(sum(dns_timeouts), 0), coalesce(sum(probes), 0),"
                    " coalesce(sum(connections), 0),"
                    " (SELECT coalesce(sum(leases - 1), 0) FROM scan_chunks WHERE scan_id = $1 AND leases > 1),"
                    " (SELECT count(*) FROM scan_chunks WHERE scan_id = $1),"
                    " (SELECT coalesce(sum(probe_runs - 1), 0) FROM host_claims WHERE scan_id = $1),"
                    " (SELECT count(*) FROM host_claims WHERE scan_id = $1)"
                    " FROM scan_workers WHERE scan_id = $1",
                    1, params, PGRES_TUPLES_OK, "summing the workers", &res, why, why_len);
  if (rc != DB_OK) return rc;
  uint64_t *fields[] = {&out->workers,      &out->domains,          &out->dns_queries,  &out->dns_retries,
                        &out->dns_timeouts, &out->probes,           &out->connections,  &out->takeovers,
                        &out->chunks,       &out->duplicate_probes, &out->hosts_claimed};
  for (int i = 0; i < (int)(sizeof fields / sizeof fields[0]); i++) *fields[i] = db_field_u64(res, 0, i);
  PQclear(res);
  return DB_OK;
}

int queue_db_workers_json(PGconn *conn, const char *scan_id, char **out, char *why, size_t why_len) {
  *out = NULL;
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn,
                    "SELECT coalesce(json_agg(json_build_object('worker_id', worker_id, 'host', host, 'pid', pid,"
                    " 'domains', domains, 'exit_status', exit_status) ORDER BY worker_no), '[]')"
                    " FROM scan_workers WHERE scan_id = $1",
                    1, params, PGRES_TUPLES_OK, "listing the workers", &res, why, why_len);
  if (rc != DB_OK) return rc;
  *out = strdup(PQgetvalue(res, 0, 0));
  PQclear(res);
  if (*out == NULL) {
    snprintf(why, why_len, "out of memory");
    return DB_ERROR;
  }
  return DB_OK;
}
