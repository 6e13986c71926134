/* Runs the SQL files of reports/ (one report table each) through libpq, the
 * same text a researcher runs in psql: psql's quoted variables (:'scan_id')
 * become quoted literals as psql makes them (PQescapeLiteral), so a file
 * needs no edit to run in either place and gets the same plan (scan ids
 * known at plan time: partitions pruned). Used by `danescan report` and `danescan diff`. Does not
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
 * $DANESCAN_REPORTS, else the installed <bin>/../share/danescan/reports,
 * else <source>/reports of the tree this binary was built from (the order:
 * data_dir_find in util/data_files.h).
 * Returns 0 and the path in out, -1 when none exists (out holds the last
 * path tried). */
int report_sql_find_dir(const char *option, char *out, size_t out_len);

/* Rewrites psql variable references :'name' (outside string literals and
 * comments) into the value as a literal quoted for conn (PQescapeLiteral),
 * and drops a trailing semicolon. Returns a malloc'd string (caller frees)
 * or NULL with the reason in why (unknown variable, out of memory). */
char *report_sql_substitute(PGconn *conn, const char *sql, const struct report_sql_variable *vars, size_t var_count,
                            char *why, size_t why_len);

/* Reads <dir>/<name>.sql (at most REPORT_SQL_MAX_FILE_BYTES), substitutes
 * the variables and runs it as one statement. Returns a PGRES_TUPLES_OK
 * result the caller PQclear()s, or NULL with the reason (file, variable,
 * server error) in why. Blocking: for command-line tools, not event loops. */
PGresult *report_sql_run(PGconn *conn, const char *dir, const char *name, const struct report_sql_variable *vars,
                         size_t var_count, char *why, size_t why_len);

/* Computes the missing or stale summaries (migration 009) of the scan, of
 * previous_id (NULL or "": none) and of the scans trend.sql lists, and the
 * pair summary of the scan and previous_id (report_sql_prepare_pair), in a
 * READ WRITE transaction of its own (danescan_summarize_scan is SECURITY
 * DEFINER: the read-only role may run it). Returns DB_OK, or DB_ERROR/
 * DB_RETRY with why (e.g. a standby): the reports still work then, reading
 * the raw rows. */
int report_sql_prepare_summaries(PGconn *conn, const char *scan_id, const char *previous_id, char *why, size_t why_len);

/* Computes the missing or stale pair summary (migration 018: what changed
 * from old_scan to new_scan, read by status_changes, dane_adoption,
 * input_change and diff_domains) in a READ WRITE transaction of its own;
 * report_sql_prepare_summaries calls it for the scan and previous_id.
 * Returns as report_sql_prepare_summaries; on failure the files read the
 * raw rows. */
int report_sql_prepare_pair(PGconn *conn, const char *new_scan, const char *old_scan, char *why, size_t why_len);

/* Connects to url and makes the session read-only (reports never write;
 * the summaries are written in an explicit READ WRITE transaction), without
 * JIT and with work_mem 128 MB (report_sql.c says why).
 * Returns the connection or NULL with the reason in why. */
PGconn *report_sql_connect(const char *url, char *why, size_t why_len);

#endif
