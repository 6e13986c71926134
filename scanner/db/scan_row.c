/* The scans row's only writer (see scan_row.h). */
#include "db/scan_row.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/pg_copy.h"
#include "record/status.h"
#include "util/json.h"

int db_scan_register(PGconn *conn, const struct db_scan_registration *registration, char *why, size_t why_len) {
  const char *scan_id = registration->scan_id;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  char cwd[PATH_MAX] = "";
  if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
  int rc;
  uint64_t rows = 0;
  if (!registration->resume) {
    char *command_line = pg_text_array_literal((const char *const *)registration->argv, (size_t)registration->argc);
    if (command_line == NULL) {
      snprintf(why, why_len, "out of memory");
      return DB_ERROR;
    }
    const char *params[6] = {scan_id,      "danescan " DANESCAN_VERSION, host, cwd,
                             command_line, registration->parameters_json};
    rc = db_command(conn,
                    "INSERT INTO scans (id, software, host, cwd, command_line, parameters)"
                    " VALUES ($1, $2, $3, $4, $5::text[], $6::jsonb) ON CONFLICT (id) DO NOTHING",
                    6, params, "registering the scan", &rows, why, why_len);
    free(command_line);
    if (rc == DB_OK && rows != 1) {
      snprintf(why, why_len, "scan %s is already in the database; continue it with 'danescan resume %s'", scan_id,
               scan_id);
      rc = DB_ERROR;
    }
  } else {
    const char *params[1] = {scan_id};
    rc = db_command(conn,
                    "UPDATE scans SET runs = runs + 1, ended_at = NULL, complete = NULL, error = NULL"
                    " WHERE id = $1",
                    1, params, "reopening the scan", &rows, why, why_len);
    if (rc == DB_OK && rows != 1) {
      snprintf(why, why_len, "no scan %s in the database", scan_id);
      rc = DB_ERROR;
    }
  }
  if (rc != DB_OK) return rc;
  const char *params[1] = {scan_id};
  PGresult *res;
  rc = db_query(conn, "SELECT danescan_create_scan_partitions($1)", 1, params, PGRES_TUPLES_OK,
                "creating the scan's partitions", &res, why, why_len);
  PQclear(res);
  return rc;
}

char *db_scan_inputs_json(struct input_reader *input, const char *const *paths, size_t count) {
  struct json_buf buf;
  json_buf_init(&buf);
  json_array_begin(&buf);
  for (size_t i = 0; i < count; i++) {
    json_object_begin(&buf);
    json_key(&buf, "name");
    json_string(&buf, paths[i]);
    json_key(&buf, "sha256");
    json_string(&buf, input != NULL ? input_reader_checksum(input, i) : NULL);
    json_object_end(&buf);
  }
  json_array_end(&buf);
  json_raw(&buf, "", 1);
  if (json_buf_failed(&buf)) {
    json_buf_free(&buf);
    return NULL;
  }
  return buf.data;
}

/* input_counts as four text parameters (NULL when unknown). */
struct counts_text {
  char names[24], invalid[24], duplicates[24], bad_lines[24];
};

static void counts_params(const struct input_counts *counts, struct counts_text *text, const char **params) {
  if (counts == NULL) {
    for (int i = 0; i < 4; i++) params[i] = NULL;
    return;
  }
  snprintf(text->names, sizeof text->names, "%llu", (unsigned long long)counts->names);
  snprintf(text->invalid, sizeof text->invalid, "%llu", (unsigned long long)counts->invalid);
  snprintf(text->duplicates, sizeof text->duplicates, "%llu", (unsigned long long)counts->duplicates);
  snprintf(text->bad_lines, sizeof text->bad_lines, "%llu", (unsigned long long)counts->bad_lines);
  params[0] = text->names;
  params[1] = text->invalid;
  params[2] = text->duplicates;
  params[3] = text->bad_lines;
}

int db_scan_summarize(PGconn *conn, const char *scan_id, char *why, size_t why_len) {
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn, "SELECT danescan_summarize_scan($1)", 1, params, PGRES_TUPLES_OK,
                    "computing the scan's report summaries", &res, why, why_len);
  PQclear(res);
  return rc;
}

/* A complete scan's summaries are computed once, here, so the first report
 * does not wait for them. A failure is not the scan's: the report computes
 * what is missing (or reads the raw rows), so the error is dropped. */
static void finish_summary(PGconn *conn, const char *scan_id) {
  /* Benchmark knob (schema/README.md): DANESCAN_DB_SUMMARIES=0 leaves them
   * to the first report, so a benchmark can load raw rows now and time the
   * summaries of a later version on them (bench/bench_report.sh --raw). */
  const char *env = getenv("DANESCAN_DB_SUMMARIES");
  if (env != NULL && strcmp(env, "0") == 0) return;
  char ignored[256];
  (void)db_scan_summarize(conn, scan_id, ignored, sizeof ignored);
}

int db_scan_finish_run(PGconn *conn, const char *scan_id, const char *inputs_json, const struct input_counts *counts,
                       bool outcome_known, bool complete, const char *error, char *why, size_t why_len) {
  const char *complete_text = outcome_known ? (complete ? "true" : "false") : NULL;
  struct counts_text text;
  const char *params[8] = {scan_id, inputs_json, complete_text, error};
  counts_params(counts, &text, params + 4);
  int rc = db_command(conn,
                      "UPDATE scans SET ended_at = now(), inputs = $2::jsonb, input_names = coalesce($5::bigint, 0),"
                      " complete = $3::boolean, error = $4,"
                      " input_counts = CASE WHEN $5::bigint IS NOT NULL THEN jsonb_build_object('names', $5::bigint,"
                      "   'invalid', $6::bigint, 'duplicates', $7::bigint, 'bad_lines', $8::bigint) END,"
                      " domains = (SELECT count(*) FROM domains WHERE scan_id = $1)"
                      " WHERE id = $1",
                      8, params, "finishing the scan row", NULL, why, why_len);
  if (rc == DB_OK && outcome_known && complete) finish_summary(conn, scan_id);
  return rc;
}

int db_scan_info(PGconn *conn, const char *scan_id, struct db_scan_info *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn,
                    "SELECT coalesce(queue_chunk_size, 0), coalesce(queue_total, 0), queue_loaded,"
                    " coalesce(complete, false) FROM scans WHERE id = $1",
                    1, params, PGRES_TUPLES_OK, "reading the scan", &res, why, why_len);
  if (rc != DB_OK) return rc;
  if (PQntuples(res) == 1) {
    out->exists = true;
    out->chunk_size = (uint32_t)db_field_u64(res, 0, 0);
    out->total = db_field_u64(res, 0, 1);
    out->loaded = db_field_bool(res, 0, 2);
    out->complete = db_field_bool(res, 0, 3);
  }
  PQclear(res);
  return DB_OK;
}

int db_scan_init_queue(PGconn *conn, const char *scan_id, uint32_t chunk_size, char *why, size_t why_len) {
  char size_text[16];
  snprintf(size_text, sizeof size_text, "%u", chunk_size);
  const char *params[2] = {scan_id, size_text};
  return db_command(conn,
                    "UPDATE scans SET queue_chunk_size = coalesce(queue_chunk_size, $2::integer),"
                    " queue_total = coalesce(queue_total, 0) WHERE id = $1",
                    2, params, "making the scan's queue", NULL, why, why_len);
}

int db_scan_set_queue_total(PGconn *conn, const char *scan_id, uint64_t total, char *why, size_t why_len) {
  char total_text[24];
  snprintf(total_text, sizeof total_text, "%llu", (unsigned long long)total);
  const char *params[2] = {scan_id, total_text};
  return db_command(conn, "UPDATE scans SET queue_total = $2::bigint WHERE id = $1", 2, params, "loading the input",
                    NULL, why, why_len);
}

int db_scan_set_loaded(PGconn *conn, const char *scan_id, uint64_t total, const char *inputs_json,
                       const struct input_counts *counts, char *why, size_t why_len) {
  char total_text[24];
  snprintf(total_text, sizeof total_text, "%llu", (unsigned long long)total);
  struct counts_text text;
  const char *params[7] = {scan_id, total_text, inputs_json};
  counts_params(counts, &text, params + 3);
  return db_command(conn,
                    "UPDATE scans SET queue_loaded = true, queue_total = $2::bigint, input_names = $2::bigint,"
                    " inputs = $3::jsonb,"
                    " input_counts = CASE WHEN $4::bigint IS NOT NULL THEN jsonb_build_object('names', $4::bigint,"
                    "   'invalid', $5::bigint, 'duplicates', $6::bigint, 'bad_lines', $7::bigint) END"
                    " WHERE id = $1",
                    7, params, "recording the loaded input", NULL, why, why_len);
}

int db_scan_fail_load(PGconn *conn, const char *scan_id, const char *error, char *why, size_t why_len) {
  const char *params[2] = {scan_id, error};
  return db_command(conn, "UPDATE scans SET queue_loaded = true, error = $2 WHERE id = $1", 2, params,
                    "recording the loading error", NULL, why, why_len);
}

int db_scan_finish_queued(PGconn *conn, const char *scan_id, char *why, size_t why_len) {
  const char *params[1] = {scan_id};
  uint64_t rows = 0;
  int rc = db_command(conn,
                      "UPDATE scans SET complete = (error IS NULL), ended_at = now(),"
                      " domains = (SELECT count(*) FROM domains WHERE scan_id = $1)"
                      " WHERE id = $1 AND complete IS NOT TRUE",
                      1, params, "recording the scan complete", &rows, why, why_len);
  /* Only the worker that finished the scan summarises it. */
  if (rc == DB_OK && rows == 1) finish_summary(conn, scan_id);
  return rc;
}

int db_scan_stop_queued(PGconn *conn, const char *scan_id, const char *error, char *why, size_t why_len) {
  const char *params[2] = {scan_id, error};
  return db_command(conn,
                    "UPDATE scans SET complete = false, ended_at = now(), error = coalesce(error, $2),"
                    " domains = (SELECT count(*) FROM domains WHERE scan_id = $1) WHERE id = $1",
                    2, params, "recording the scan stopped", NULL, why, why_len);
}

int db_scan_error(PGconn *conn, const char *scan_id, const char *placeholder, char *out, size_t out_len, char *why,
                  size_t why_len) {
  const char *params[2] = {scan_id, placeholder};
  PGresult *res;
  out[0] = '\0';
  int rc = db_query(conn, "SELECT coalesce(error, $2) FROM scans WHERE id = $1", 2, params, PGRES_TUPLES_OK,
                    "reading the scan's error", &res, why, why_len);
  if (rc != DB_OK) return rc;
  if (PQntuples(res) == 1) snprintf(out, out_len, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return DB_OK;
}

int db_scan_command_line(PGconn *conn, const char *scan_id, char ***args, int *argc_out, char **cwd, char *why,
                         size_t why_len) {
  *args = NULL;
  *argc_out = 0;
  *cwd = NULL;
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn,
                    "SELECT a.arg, s.cwd FROM scans s, unnest(s.command_line) WITH ORDINALITY"
                    " AS a(arg, n) WHERE s.id = $1 ORDER BY a.n",
                    1, params, PGRES_TUPLES_OK, "reading the scan's command line", &res, why, why_len);
  if (rc != DB_OK) return rc;
  int n = PQntuples(res);
  if (n == 0) {
    PQclear(res);
    return 1;
  }
  char **list = calloc((size_t)n, sizeof *list);
  char *dir = strdup(PQgetvalue(res, 0, 1));
  bool ok = list != NULL && dir != NULL;
  for (int i = 0; ok && i < n; i++) {
    list[i] = strdup(PQgetvalue(res, i, 0));
    ok = list[i] != NULL;
  }
  PQclear(res);
  if (!ok) {
    db_scan_command_line_free(list, n, dir);
    snprintf(why, why_len, "out of memory");
    return DB_ERROR;
  }
  *args = list;
  *argc_out = n;
  *cwd = dir;
  return DB_OK;
}

void db_scan_command_line_free(char **args, int argc, char *cwd) {
  for (int i = 0; args != NULL && i < argc; i++) free(args[i]);
  free(args);
  free(cwd);
}

int db_scan_drop(PGconn *conn, const char *scan_id, char *why, size_t why_len) {
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn, "SELECT danescan_drop_scan($1)", 1, params, PGRES_TUPLES_OK, "dropping the scan", &res, why,
                    why_len);
  PQclear(res);
  return rc;
}

int db_scan_list(PGconn *conn, FILE *out, char *why, size_t why_len) {
  PGresult *res;
  int rc = db_query(conn,
                    "SELECT s.id, to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
                    " coalesce(to_char(s.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'running/killed'),"
                    " coalesce(s.complete::text, '?'), s.runs,"
                    " (SELECT coalesce(sum(domain_rows), 0) FROM scan_batches b WHERE b.scan_id = s.id)"
                    " FROM scans s ORDER BY s.started_at",
                    0, NULL, PGRES_TUPLES_OK, "listing scans", &res, why, why_len);
  if (rc != DB_OK) return rc;
  fprintf(out, "%-36s %-19s %-19s %-8s %4s %10s\n", "scan", "started (UTC)", "ended (UTC)", "complete", "runs",
          "domains");
  for (int i = 0; i < PQntuples(res); i++) {
    fprintf(out, "%-36s %-19s %-19s %-8s %4s %10s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
            PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
  }
  PQclear(res);
  return DB_OK;
}

int db_scan_inputs(PGconn *conn, const char *scan_id, struct db_scan_inputs *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn,
                    "SELECT (input_counts->>'names')::bigint, (input_counts->>'invalid')::bigint,"
                    " (input_counts->>'duplicates')::bigint, (input_counts->>'bad_lines')::bigint"
                    " FROM scans WHERE id = $1",
                    1, params, PGRES_TUPLES_OK, "reading the scan's input counts", &res, why, why_len);
  if (rc != DB_OK) return rc;
  if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
    out->counts_known = true;
    out->counts.names = db_field_u64(res, 0, 0);
    out->counts.invalid = db_field_u64(res, 0, 1);
    out->counts.duplicates = db_field_u64(res, 0, 2);
    out->counts.bad_lines = db_field_u64(res, 0, 3);
  }
  PQclear(res);
  rc = db_query(conn,
                "SELECT i->>'name', i->>'sha256' FROM scans s, jsonb_array_elements(coalesce(s.inputs, '[]')) i"
                " WHERE s.id = $1",
                1, params, PGRES_TUPLES_OK, "reading the scan's inputs", &res, why, why_len);
  if (rc != DB_OK) return rc;
  size_t n = (size_t)PQntuples(res);
  out->names = calloc(n + 1, sizeof *out->names);
  out->sha256 = calloc(n + 1, sizeof *out->sha256);
  bool ok = out->names != NULL && out->sha256 != NULL;
  for (size_t i = 0; ok && i < n; i++) {
    out->names[i] = strdup(PQgetvalue(res, (int)i, 0));
    if (!PQgetisnull(res, (int)i, 1)) out->sha256[i] = strdup(PQgetvalue(res, (int)i, 1));
    out->count++;
    ok = out->names[i] != NULL;
  }
  PQclear(res);
  if (!ok) {
    db_scan_inputs_clear(out);
    snprintf(why, why_len, "out of memory");
    return DB_ERROR;
  }
  return DB_OK;
}

void db_scan_inputs_clear(struct db_scan_inputs *inputs) {
  for (size_t i = 0; i < inputs->count; i++) {
    free(inputs->names[i]);
    free(inputs->sha256[i]);
  }
  free(inputs->names);
  free(inputs->sha256);
  memset(inputs, 0, sizeof *inputs);
}

int db_scan_domain_counts(PGconn *conn, const char *scan_id, uint64_t *by_status, uint64_t *total, char *why,
                          size_t why_len) {
  memset(by_status, 0, DOMAIN_STATUS_COUNT * sizeof *by_status);
  *total = 0;
  const char *params[1] = {scan_id};
  PGresult *res;
  int rc = db_query(conn, "SELECT status, count(*) FROM domains WHERE scan_id = $1 GROUP BY 1", 1, params,
                    PGRES_TUPLES_OK, "counting the domains", &res, why, why_len);
  if (rc != DB_OK) return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    uint64_t count = db_field_u64(res, i, 1);
    enum domain_status status;
    if (domain_status_parse(PQgetvalue(res, i, 0), &status) == 0) by_status[status] += count;
    *total += count;
  }
  PQclear(res);
  return DB_OK;
}
