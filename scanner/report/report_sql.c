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

#define REPORT_SQL_MAX_VARIABLES 9

int report_sql_find_dir(const char *option, char *out, size_t out_len) {
  if (option != NULL) {
    snprintf(out, out_len, "%s", option);
    struct stat st;
    return stat(out, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
  }
  static const char *const exe_dirs[] = {"../share/danescan/reports"};
  return data_dir_find("DANESCAN_REPORTS", "reports", exe_dirs, 1, out, out_len);
}

static bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

char *report_sql_substitute(const char *sql, const struct report_sql_variable *vars, size_t var_count,
                            size_t *param_vars, size_t *param_count, char *why, size_t why_len) {
  *param_count = 0;
  if (var_count > REPORT_SQL_MAX_VARIABLES) {
    snprintf(why, why_len, "too many variables (%zu, at most %d)", var_count, REPORT_SQL_MAX_VARIABLES);
    return NULL;
  }
  size_t len = strlen(sql);
  /* ":'x'" (4 bytes at least) becomes "$n::text" (8 bytes): at most twice. */
  char *out = malloc(2 * len + 1);
  if (out == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  size_t o = 0;
  size_t i = 0;
  while (i < len) {
    char c = sql[i];
    if (c == '\'') { /* string literal, '' escapes a quote */
      out[o++] = sql[i++];
      while (i < len) {
        out[o++] = sql[i];
        if (sql[i++] == '\'') {
          if (i < len && sql[i] == '\'') {
            out[o++] = sql[i++];
            continue;
          }
          break;
        }
      }
      continue;
    }
    if (c == '-' && i + 1 < len && sql[i + 1] == '-') { /* comment to end of line */
      while (i < len && sql[i] != '\n') out[o++] = sql[i++];
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
          free(out);
          return NULL;
        }
        /* Parameters are numbered in order of first use: PostgreSQL wants
         * exactly as many values as the statement names. */
        size_t param = 0;
        while (param < *param_count && param_vars[param] != k) param++;
        if (param == *param_count) param_vars[(*param_count)++] = k;
        o += (size_t)sprintf(out + o, "$%zu::text", param + 1);
        i = end + 1;
        continue;
      }
    }
    out[o++] = sql[i++];
  }
  /* One statement for PQexecParams: drop the trailing semicolon psql needs. */
  while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' ' || out[o - 1] == '\t')) o--;
  if (o > 0 && out[o - 1] == ';') o--;
  out[o] = '\0';
  return out;
}

PGresult *report_sql_run(PGconn *conn, const char *dir, const char *name, const struct report_sql_variable *vars,
                         size_t var_count, char *why, size_t why_len) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s.sql", dir, name);
  char *text = data_file_read(path, REPORT_SQL_MAX_FILE_BYTES, why, why_len);
  if (text == NULL) return NULL;
  char sub_why[256];
  size_t param_vars[REPORT_SQL_MAX_VARIABLES];
  size_t param_count = 0;
  char *sql = report_sql_substitute(text, vars, var_count, param_vars, &param_count, sub_why, sizeof sub_why);
  free(text);
  if (sql == NULL) {
    snprintf(why, why_len, "%s: %s", path, sub_why);
    return NULL;
  }
  const char *values[REPORT_SQL_MAX_VARIABLES];
  for (size_t k = 0; k < param_count; k++) values[k] = vars[param_vars[k]].value;
  PGresult *res = PQexecParams(conn, sql, (int)param_count, NULL, values, NULL, NULL, 0);
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

PGconn *report_sql_connect(const char *url, char *why, size_t why_len) {
  return db_connect(url, "SET default_transaction_read_only = on", why, why_len);
}
