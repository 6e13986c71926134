/* The adoption report of one scan: runs every report table's SQL file
 * (reports/<table>.sql, for the scan and the previous one) and renders
 * DIR/report.html (self-contained), DIR/report.md (same content) and one
 * DIR/<table>.csv per table (report_render.h). Reads only. */
#ifndef DANESCAN_REPORT_REPORT_PAGE_H
#define DANESCAN_REPORT_REPORT_PAGE_H

#include <stddef.h>

#include <libpq-fe.h>

#define REPORT_DEFAULT_MAX_CHANGES 50

struct report_request {
  const char *scan_id;
  const char *previous_id; /* NULL: no comparison */
  const char *out_dir;     /* created if missing */
  size_t max_changes;      /* status changes listed on the page (the CSV has all) */
};

/* Writes the report with the SQL files of reports_dir on conn (read-only:
 * report_sql_connect). Returns 0, or 1 after reporting a database, SQL or
 * output error on stderr (no such scan included). */
int report_write(PGconn *conn, const char *reports_dir, const struct report_request *request);

#endif
