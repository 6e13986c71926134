/* Loading and running the report SQL files (see report_sql.h). The files are
 * read at run time so a researcher and the binary read the same text. */
#include "report/report_sql.h"
#include "db/db.h"
#include "util/data_files.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int report_sql_find_dir(const char *option, char *out, size_t out_len) {
  if (option != NULL) {
    snprintf(out, out_len, "%s", option);
    struct stat st;
    return stat(out, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
  }
  static const struct data_dir_spec spec = {"DANESCAN_REPORTS", "reports", "reports"};
  return data_dir_find(&spec, out, out_len);
}

static bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* A growing output string. */
struct sql_text {
  char *data;
  size_t len, cap;
  bool failed;
};

static void text_add(struct sql_text *t, const char *bytes, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap * 2 > t->len + n + 1 ? t->cap * 2 : t->len + n + 1;
    char *grown = realloc(t->data, cap);
    if (grown == NULL) {
      t->failed = true;
      return;
    }
    t->data = grown;
    t->cap = cap;
  }
  memcpy(t->data + t->len, bytes, n);
  t->len += n;
  t->data[t->len] = '\0';
}

char *report_sql_substitute(PGconn *conn, const char *sql, const struct report_sql_variable *vars, size_t var_count,
                            char *why, size_t why_len) {
  size_t len = strlen(sql);
  struct sql_text out = {0};
  text_add(&out, "", 0);
  size_t i = 0;
  while (i < len && !out.failed) {
    char c = sql[i];
    if (c == '\'') { /* string literal, '' escapes a quote */
      size_t start = i++;
      while (i < len) {
        if (sql[i++] == '\'') {
          if (i < len && sql[i] == '\'') {
            i++;
            continue;
          }
          break;
        }
      }
      text_add(&out, sql + start, i - start);
      continue;
    }
    if (c == '-' && i + 1 < len && sql[i + 1] == '-') { /* comment to end of line */
      size_t start = i;
      while (i < len && sql[i] != '\n') i++;
      text_add(&out, sql + start, i - start);
      continue;
    }
    if (c == ':' && i + 1 < len && sql[i + 1] == '\'' && (i == 0 || sql[i - 1] != ':')) {
      size_t start = i + 2;
      size_t end = start;
      while (end < len && is_name_char(sql[end])) end++;
      if (end < len && sql[end] == '\'' && end > start) {
        size_t k = 0;
        while (k < var_count &&
               !(strlen(vars[k].name) == end - start && memcmp(vars[k].name, sql + start, end - start) == 0)) {
          k++;
        }
        if (k == var_count) {
          snprintf(why, why_len, "unknown variable :'%.*s'", (int)(end - start), sql + start);
          free(out.data);
          return NULL;
        }
        /* What psql does with :'name': the value as a quoted literal,
         * escaped for this connection's encoding and string settings. */
        char *literal = PQescapeLiteral(conn, vars[k].value, strlen(vars[k].value));
        if (literal == NULL) {
          snprintf(why, why_len, "cannot quote :'%s': %s", vars[k].name, PQerrorMessage(conn));
          free(out.data);
          return NULL;
        }
        text_add(&out, literal, strlen(literal));
        PQfreemem(literal);
        i = end + 1;
        continue;
      }
    }
    text_add(&out, sql + i, 1);
    i++;
  }
  if (out.failed) {
    snprintf(why, why_len, "out of memory");
    free(out.data);
    return NULL;
  }
  /* One statement for PQexec: drop the trailing semicolon psql needs. */
  size_t o = out.len;
  while (o > 0 && (out.data[o - 1] == '\n' || out.data[o - 1] == ' ' || out.data[o - 1] == '\t')) o--;
  if (o > 0 && out.data[o - 1] == ';') o--;
  out.data[o] = '\0';
  return out.data;
}

PGresult *report_sql_run(PGconn *conn, const char *dir, const char *name, const struct report_sql_variable *vars,
                         size_t var_count, char *why, size_t why_len) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s.sql", dir, name);
  char *text = data_file_read(path, REPORT_SQL_MAX_FILE_BYTES, why, why_len);
  if (text == NULL) return NULL;
  char sub_why[256];
  char *sql = report_sql_substitute(conn, text, vars, var_count, sub_why, sizeof sub_why);
  free(text);
  if (sql == NULL) {
    snprintf(why, why_len, "%s: %s", path, sub_why);
    return NULL;
  }
  /* No parameters: with the scan ids as literals the planner prunes every
   * other scan's partitions at plan time, as it does for the same file in
   * psql (a generic plan with $n would leave that to run time, where a
   * correlated subquery cannot do it). */
  PGresult *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
  free(sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    snprintf(why, why_len, "%s: %s", path, PQresultErrorMessage(res));
    size_t l = strlen(why);
    while (l > 0 && why[l - 1] == '\n') why[--l] = '\0';
    PQclear(res);
    return NULL;
  }
  return res;
}

int report_sql_prepare_summaries(PGconn *conn, const char *scan_id, const char *previous_id, char *why,
                                 size_t why_len) {
  /* The scan, the previous scan and the scans trend.sql lists (its series:
   * same input digests, started no later, the last 100; migration 012). */
  static const char sql[] = "SELECT count(*) FILTER (WHERE danescan_summarize_scan(id))"
                            " FROM (SELECT scan_id AS id FROM danescan_scan_series($1)"
                            "       UNION SELECT id FROM scans WHERE id = $1 OR id = nullif($2, '')) w";
  const char *params[2] = {scan_id, previous_id != NULL ? previous_id : ""};
  PGresult *res = NULL;
  int rc = db_exec(conn, "BEGIN READ WRITE", "starting the summaries' transaction", why, why_len);
  if (rc == DB_OK)
    rc = db_query(conn, sql, 2, params, PGRES_TUPLES_OK, "computing the report summaries", &res, why, why_len);
  PQclear(res);
  if (rc == DB_OK) rc = db_exec(conn, "COMMIT", "storing the report summaries", why, why_len);
  if (rc != DB_OK) {
    db_rollback(conn);
    return rc;
  }
  if (previous_id == NULL || previous_id[0] == '\0') return DB_OK;
  return report_sql_prepare_pair(conn, scan_id, previous_id, why, why_len);
}

int report_sql_prepare_pair(PGconn *conn, const char *new_scan, const char *old_scan, char *why, size_t why_len) {
  static const char sql[] = "SELECT danescan_summarize_pair($1, $2)";
  const char *params[2] = {new_scan, old_scan};
  PGresult *res = NULL;
  int rc = db_exec(conn, "BEGIN READ WRITE", "starting the pair summary's transaction", why, why_len);
  if (rc == DB_OK)
    rc = db_query(conn, sql, 2, params, PGRES_TUPLES_OK, "computing the pair summary", &res, why, why_len);
  PQclear(res);
  if (rc == DB_OK) rc = db_exec(conn, "COMMIT", "storing the pair summary", why, why_len);
  if (rc != DB_OK) db_rollback(conn);
  return rc;
}

PGconn *report_sql_connect(const char *url, char *why, size_t why_len) {
  /* jit off: compiling a report query's plan took 1 to 1.5 s each on the
   * bench machine (bench/bench_report.sh), more than most of them run.
   * work_mem: the diff and status changes hash two scans' domains by name;
   * with the default 4 MB a 10-million-domain join spills to disk in many
   * batches. Session settings only: psql users choose their own. */
  return db_connect(url, "SET default_transaction_read_only = on; SET jit = off; SET work_mem = '128MB'", why, why_len);
}
