/* Renders report tables (query results of the reports/ SQL files) as one
 * self-contained HTML page (inline SVG charts, no script, no external
 * resource, print CSS), the same content as Markdown, and one CSV per table.
 * Numbers are formatted for reading here: integers with thousands separators,
 * columns named pct* as percentages, a column named "change" signed; text is
 * shown as the SQL returns it (dates are ISO 8601 strings from the SQL).
 * HTML cells carry the raw value in data-v so tests can compare with psql.
 * Output errors are the caller's to check with ferror(). */
#ifndef DANESCAN_REPORT_REPORT_RENDER_H
#define DANESCAN_REPORT_REPORT_RENDER_H

#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#define REPORT_RENDER_MAX_CHART_ITEMS 60  /* bars or points drawn per chart */
#define REPORT_RENDER_MAX_CELL_BYTES 4096 /* longer cell text is cut */

enum report_chart {
  REPORT_CHART_NONE = 0,
  REPORT_CHART_BARS, /* one horizontal bar per row */
  REPORT_CHART_LINE, /* one point per row, in row order */
};

/* One report table: reports/<name>.sql, <name>.csv, section id s-<name>,
 * table id t-<name>, chart id chart-<name>. */
struct report_table {
  const char *name;
  const char *title;
  const char *intro;
  enum report_chart chart;
  const char *chart_label_column; /* column names in the result */
  const char *chart_value_column;
  size_t max_rows_shown; /* 0: every row; else the rest is counted, not shown */
};

/* Formats cell (row, col) for reading into out (NUL-terminated, cut to
 * out_len). NULL cells become "–". */
void report_render_format_cell(const PGresult *res, int row, int col, char *out, size_t out_len);

/* Page head and foot; title is plain text (escaped here). */
void report_render_begin(FILE *html, FILE *markdown, const char *title);
void report_render_end(FILE *html, FILE *markdown);

/* One section: heading, intro, chart (when the table asks for one and the
 * columns exist), table. */
void report_render_table(FILE *html, FILE *markdown, const struct report_table *table, const PGresult *res);

/* Writes every row of res to path as CSV (RFC 4180, raw values, NULL empty).
 * Returns 0 or -1 when the file cannot be written. */
int report_render_csv(const char *path, const PGresult *res);

#endif
