/* Runs the SQL files of reports/ (one report table each) through libpq, the
 * same text a researcher runs in psql: psql's quoted variables (:'scan_id')
 * become query parameters ($1::text), so a file needs no edit to run in
 * either place. Used by `danescan report` and `danescan diff`. Does not
 * format anything (report_render.h does). */
#ifndef DANESCAN_REPORT_REPORT_SQL_H
#define DANESCAN_REPORT_REPORT_SQL_H

#include <stddef.h>

#include <libpq-fe.h>

#define REPORT_SQL_MAX_FILE_BYTES ((size_t)256 * 1024)

/* A psql variable and its value ("" for "none"; the SQL files test with
 * nullif(:'name', '')). */
struct report_sql_variable {
  const char *name;
  const char *value;
};

/* Finds the reports directory: `option` when not NULL, else
 * $DANESCAN_REPORTS, else <source>/reports (from this file's absolute
 * __FILE__ in a CMake build), else <binary dir>/../share/danescan/reports.
 * Returns 0 and the path in out, -1 when none exists (out holds the last
 * path tried). */
int report_sql_find_dir(const char *option, char *out, size_t out_len);

/* Rewrites psql variable references :'name' (outside string literals and
 * comments) into $n::text, numbering the variables used in order of first
 * use: param_vars[n - 1] is the index in vars of $n, *param_count how many
 * are used (param_vars holds var_count entries). At most 9 variables.
 * Returns a malloc'd string (caller frees) or NULL with the reason in why
 * (unknown variable, too many, out of memory). */
char *report_sql_substitute(const char *sql, const struct report_sql_variable *vars, size_t var_count,
                            size_t *param_vars, size_t *param_count, char *why, size_t why_len);

/* Reads <dir>/<name>.sql (at most REPORT_SQL_MAX_FILE_BYTES), substitutes
 * the variables and runs it as one statement. Returns a PGRES_TUPLES_OK
 * result the caller PQclear()s, or NULL with the reason (file, variable,
 * server error) in why. Blocking: for command-line tools, not event loops. */
PGresult *report_sql_run(PGconn *conn, const char *dir, const char *name, const struct report_sql_variable *vars,
                         size_t var_count, char *why, size_t why_len);

/* Connects to url and makes the session read-only (reports never write).
 * Returns the connection or NULL with the reason in why. */
PGconn *report_sql_connect(const char *url, char *why, size_t why_len);

#endif
