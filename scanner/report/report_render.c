/* HTML, Markdown and CSV rendering of report tables (see report_render.h).
 * The charts are drawn from the same rows the table shows, so a chart never
 * says something its table does not. */
#include "report/report_render.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL type OIDs (pg_type.h is a server header). */
#define REPORT_OID_INT8 20
#define REPORT_OID_INT2 21
#define REPORT_OID_INT4 23
#define REPORT_OID_NUMERIC 1700

#define CHART_WIDTH 720
#define CHART_LABEL_WIDTH 220
#define CHART_VALUE_WIDTH 90
#define CHART_BAR_HEIGHT 18
#define CHART_BAR_GAP 6
#define LINE_HEIGHT 240
#define LINE_MARGIN 40

static const char css[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:60em;color:#111;background:#fff;line-height:1.4}"
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #999}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left;vertical-align:top}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#eee}"
    ".src,.note{color:#555;font-size:.85em}"
    "svg.chart{display:block;margin:.5em 0;max-width:100%;height:auto}"
    "svg .bar{fill:#3b6ea5}svg .line{fill:none;stroke:#3b6ea5;stroke-width:2}svg .point{fill:#3b6ea5}"
    "svg text{font-size:12px;fill:#111}svg .axis{stroke:#777;stroke-width:1}"
    "@media print{body{margin:0;max-width:none}section{break-inside:avoid}"
    "h2{break-after:avoid}svg .bar,svg .point{fill:#444}svg .line{stroke:#444}}";

static bool is_integer_type(Oid type) {
  return type == REPORT_OID_INT8 || type == REPORT_OID_INT4 || type == REPORT_OID_INT2;
}

static bool is_number_type(Oid type) {
  return is_integer_type(type) || type == REPORT_OID_NUMERIC;
}

static bool is_percent_column(const char *name) {
  size_t len = strlen(name);
  return strncmp(name, "pct", 3) == 0 || (len > 4 && strcmp(name + len - 4, "_pct") == 0);
}

/* "-1234567.5" -> "-1,234,567.5" */
static void group_thousands(const char *raw, char *out, size_t out_len) {
  size_t o = 0;
  const char *p = raw;
  if (*p == '-' || *p == '+') {
    if (o + 1 < out_len) out[o++] = *p;
    p++;
  }
  size_t digits = strspn(p, "0123456789");
  for (size_t k = 0; k < digits; k++) {
    if (k > 0 && (digits - k) % 3 == 0 && o + 1 < out_len) out[o++] = ',';
    if (o + 1 < out_len) out[o++] = p[k];
  }
  for (const char *q = p + digits; *q != '\0' && o + 1 < out_len; q++) out[o++] = *q;
  out[o] = '\0';
}

void report_render_format_cell(const PGresult *res, int row, int col, char *out, size_t out_len) {
  if (out_len == 0) return;
  if (PQgetisnull(res, row, col)) {
    snprintf(out, out_len, "–");
    return;
  }
  const char *raw = PQgetvalue(res, row, col);
  if (!is_number_type(PQftype(res, col))) {
    snprintf(out, out_len, "%s", raw);
    return;
  }
  char grouped[128];
  group_thousands(raw, grouped, sizeof grouped);
  const char *name = PQfname(res, col);
  const char *sign = strcmp(name, "change") == 0 && raw[0] != '-' && strcmp(raw, "0") != 0 ? "+" : "";
  /* A number cell is short; a longer one is cut, never overflowed. */
  const char *parts[3] = {sign, grouped, is_percent_column(name) ? " %" : ""};
  size_t used = 0;
  for (size_t i = 0; i < 3 && out_len > 0; i++) {
    size_t len = strlen(parts[i]);
    if (used + len >= out_len) len = out_len - 1 - used;
    memcpy(out + used, parts[i], len);
    used += len;
  }
  if (out_len > 0) out[used] = '\0';
}

static void html_escape(FILE *f, const char *s) {
  for (; *s != '\0'; s++) {
    switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    case '\'':
      fputs("&#39;", f);
      break;
    default:
      fputc(*s, f);
    }
  }
}

/* Markdown table cell: pipes escaped, line breaks flattened. */
static void markdown_escape(FILE *f, const char *s) {
  for (; *s != '\0'; s++) {
    if (*s == '|') {
      fputs("\\|", f);
    } else if (*s == '\n' || *s == '\r') {
      fputc(' ', f);
    } else {
      fputc(*s, f);
    }
  }
}

static void column_title(const char *name, char *out, size_t out_len) {
  snprintf(out, out_len, "%s", name);
  for (char *p = out; *p != '\0'; p++) {
    if (*p == '_') *p = ' ';
  }
  size_t len = strlen(out);
  if (strncmp(out, "pct ", 4) == 0) { /* "pct of mail" -> "% of mail" */
    out[0] = '%';
    memmove(out + 1, out + 3, len - 2);
  } else if (len > 4 && strcmp(out + len - 4, " pct") == 0) {
    out[len - 4] = '\0';
    strncat(out, " %", out_len - strlen(out) - 1);
  }
}

void report_render_begin(FILE *html, FILE *markdown, const char *title) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
        html);
  html_escape(html, title);
  fprintf(html, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", css);
  html_escape(html, title);
  fputs("</h1>\n", html);
  fprintf(markdown, "# %s\n", title);
}

void report_render_end(FILE *html, FILE *markdown) {
  fputs("<p class=\"note\">Every table comes from one SQL file in reports/ (run it in psql, see "
        "reports/README.md); the CSV files hold every row.</p>\n</body>\n</html>\n",
        html);
  fputs("\nEvery table comes from one SQL file in reports/ (run it in psql, see reports/README.md); "
        "the CSV files hold every row.\n",
        markdown);
}

static double cell_number(const PGresult *res, int row, int col, bool *present) {
  *present = !PQgetisnull(res, row, col);
  return *present ? strtod(PQgetvalue(res, row, col), NULL) : 0.0;
}

static void chart_bars(FILE *html, const struct report_table *t, const PGresult *res, int label_col, int value_col,
                       int rows) {
  bool percent = is_percent_column(PQfname(res, value_col));
  double max = percent ? 100.0 : 0.0;
  for (int r = 0; r < rows; r++) {
    bool present;
    double v = cell_number(res, r, value_col, &present);
    if (v > max) max = v;
  }
  int height = rows * (CHART_BAR_HEIGHT + CHART_BAR_GAP) + CHART_BAR_GAP;
  int bar_area = CHART_WIDTH - CHART_LABEL_WIDTH - CHART_VALUE_WIDTH;
  fprintf(html,
          "<svg id=\"chart-%s\" class=\"chart bars\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
          "height=\"%d\" aria-label=\"",
          t->name, CHART_WIDTH, height, CHART_WIDTH, height);
  html_escape(html, t->title);
  fputs("\">\n", html);
  for (int r = 0; r < rows; r++) {
    bool present;
    double v = cell_number(res, r, value_col, &present);
    double width = max > 0 ? v / max * bar_area : 0;
    if (width < 0) width = 0;
    int y = CHART_BAR_GAP + r * (CHART_BAR_HEIGHT + CHART_BAR_GAP);
    char label[REPORT_RENDER_MAX_CELL_BYTES];
    char value[128];
    report_render_format_cell(res, r, label_col, label, sizeof label);
    report_render_format_cell(res, r, value_col, value, sizeof value);
    fprintf(html, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", CHART_LABEL_WIDTH - 6, y + 13);
    html_escape(html, label);
    fprintf(html, "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" data-label=\"",
            CHART_LABEL_WIDTH, y, width, CHART_BAR_HEIGHT);
    html_escape(html, label);
    fputs("\" data-v=\"", html);
    if (present) html_escape(html, PQgetvalue(res, r, value_col));
    fputs("\"><title>", html);
    html_escape(html, label);
    fputs(": ", html);
    html_escape(html, value);
    fprintf(html, "</title></rect><text x=\"%.1f\" y=\"%d\">", CHART_LABEL_WIDTH + width + 4, y + 13);
    html_escape(html, value);
    fputs("</text>\n", html);
  }
  fputs("</svg>\n", html);
}

static void chart_line(FILE *html, const struct report_table *t, const PGresult *res, int label_col, int value_col,
                       int rows) {
  bool percent = is_percent_column(PQfname(res, value_col));
  double max = percent ? 100.0 : 0.0;
  for (int r = 0; r < rows; r++) {
    bool present;
    double v = cell_number(res, r, value_col, &present);
    if (v > max) max = v;
  }
  if (max <= 0) max = 1;
  double plot_w = CHART_WIDTH - 2 * LINE_MARGIN;
  double plot_h = LINE_HEIGHT - 2 * LINE_MARGIN;
  fprintf(html,
          "<svg id=\"chart-%s\" class=\"chart line-chart\" role=\"img\" viewBox=\"0 0 %d %d\" width=\"%d\" "
          "height=\"%d\" aria-label=\"",
          t->name, CHART_WIDTH, LINE_HEIGHT, CHART_WIDTH, LINE_HEIGHT);
  html_escape(html, t->title);
  fputs("\">\n", html);
  fprintf(html,
          "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
          "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
          LINE_MARGIN, LINE_MARGIN, LINE_MARGIN, LINE_HEIGHT - LINE_MARGIN, LINE_MARGIN, LINE_HEIGHT - LINE_MARGIN,
          CHART_WIDTH - LINE_MARGIN, LINE_HEIGHT - LINE_MARGIN);
  fputs("<polyline class=\"line\" points=\"", html);
  for (int r = 0; r < rows; r++) {
    bool present;
    double v = cell_number(res, r, value_col, &present);
    if (!present) continue;
    double x = LINE_MARGIN + (rows > 1 ? plot_w * r / (rows - 1) : plot_w / 2);
    double y = LINE_HEIGHT - LINE_MARGIN - v / max * plot_h;
    fprintf(html, "%.1f,%.1f ", x, y);
  }
  fputs("\"/>\n", html);
  for (int r = 0; r < rows; r++) {
    bool present;
    double v = cell_number(res, r, value_col, &present);
    if (!present) continue;
    double x = LINE_MARGIN + (rows > 1 ? plot_w * r / (rows - 1) : plot_w / 2);
    double y = LINE_HEIGHT - LINE_MARGIN - v / max * plot_h;
    char label[REPORT_RENDER_MAX_CELL_BYTES];
    char value[128];
    report_render_format_cell(res, r, label_col, label, sizeof label);
    report_render_format_cell(res, r, value_col, value, sizeof value);
    fprintf(html, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" data-label=\"", x, y);
    html_escape(html, label);
    fputs("\" data-v=\"", html);
    html_escape(html, PQgetvalue(res, r, value_col));
    fputs("\"><title>", html);
    html_escape(html, label);
    fputs(": ", html);
    html_escape(html, value);
    fprintf(html, "</title></circle><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y - 8);
    html_escape(html, value);
    fputs("</text>\n", html);
    /* The x axis names the first and the last point (ISO dates: first 10 bytes). */
    if (r == 0 || r == rows - 1) {
      fprintf(html, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.10s</text>\n", x,
              LINE_HEIGHT - LINE_MARGIN + 16, label);
    }
  }
  fputs("</svg>\n", html);
}

static void render_chart(FILE *html, const struct report_table *t, const PGresult *res, int rows) {
  if (t->chart == REPORT_CHART_NONE || rows == 0) return;
  int label_col = PQfnumber(res, t->chart_label_column);
  int value_col = PQfnumber(res, t->chart_value_column);
  if (label_col < 0 || value_col < 0 || !is_number_type(PQftype(res, value_col))) return;
  if (rows > REPORT_RENDER_MAX_CHART_ITEMS) rows = REPORT_RENDER_MAX_CHART_ITEMS;
  if (t->chart == REPORT_CHART_BARS) {
    chart_bars(html, t, res, label_col, value_col, rows);
  } else {
    chart_line(html, t, res, label_col, value_col, rows);
  }
}

void report_render_table(FILE *html, FILE *markdown, const struct report_table *t, const PGresult *res) {
  int rows = PQntuples(res);
  int cols = PQnfields(res);
  int shown = rows;
  if (t->max_rows_shown > 0 && (size_t)rows > t->max_rows_shown) shown = (int)t->max_rows_shown;

  fprintf(html, "<section id=\"s-%s\">\n<h2>", t->name);
  html_escape(html, t->title);
  fputs("</h2>\n<p>", html);
  html_escape(html, t->intro);
  fprintf(html, "</p>\n<p class=\"src\">Source: reports/%s.sql &middot; %s.csv</p>\n", t->name, t->name);
  fprintf(markdown, "\n## %s\n\n%s\n\nSource: reports/%s.sql, %s.csv\n\n", t->title, t->intro, t->name, t->name);

  if (rows == 0) {
    fprintf(html, "<p class=\"note\" id=\"t-%s\" data-rows=\"0\">No rows.</p>\n</section>\n", t->name);
    fputs("No rows.\n", markdown);
    return;
  }
  render_chart(html, t, res, shown);

  char cell[REPORT_RENDER_MAX_CELL_BYTES];
  fprintf(html, "<table id=\"t-%s\" data-rows=\"%d\">\n<thead><tr>", t->name, rows);
  fputc('|', markdown);
  for (int c = 0; c < cols; c++) {
    column_title(PQfname(res, c), cell, sizeof cell);
    fputs("<th>", html);
    html_escape(html, cell);
    fputs("</th>", html);
    fputc(' ', markdown);
    markdown_escape(markdown, cell);
    fputs(" |", markdown);
  }
  fputs("</tr></thead>\n<tbody>\n", html);
  fputc('\n', markdown);
  fputc('|', markdown);
  for (int c = 0; c < cols; c++) fputs(is_number_type(PQftype(res, c)) ? " ---: |" : " --- |", markdown);
  fputc('\n', markdown);
  for (int r = 0; r < shown; r++) {
    fputs("<tr>", html);
    fputc('|', markdown);
    for (int c = 0; c < cols; c++) {
      report_render_format_cell(res, r, c, cell, sizeof cell);
      fputs(is_number_type(PQftype(res, c)) ? "<td class=\"num\"" : "<td", html);
      if (!PQgetisnull(res, r, c)) {
        fputs(" data-v=\"", html);
        html_escape(html, PQgetvalue(res, r, c));
        fputc('"', html);
      }
      fputc('>', html);
      html_escape(html, cell);
      fputs("</td>", html);
      fputc(' ', markdown);
      markdown_escape(markdown, cell);
      fputs(" |", markdown);
    }
    fputs("</tr>\n", html);
    fputc('\n', markdown);
  }
  fputs("</tbody>\n</table>\n", html);
  if (shown < rows) {
    char total[64];
    char shown_text[64];
    char raw[32];
    snprintf(raw, sizeof raw, "%d", rows);
    group_thousands(raw, total, sizeof total);
    snprintf(raw, sizeof raw, "%d", shown);
    group_thousands(raw, shown_text, sizeof shown_text);
    fprintf(html,
            "<p class=\"note cap\" data-shown=\"%d\" data-total=\"%d\">Showing %s of %s rows; all in %s.csv.</p>\n",
            shown, rows, shown_text, total, t->name);
    fprintf(markdown, "\nShowing %s of %s rows; all in %s.csv.\n", shown_text, total, t->name);
  }
  fputs("</section>\n", html);
}

static void csv_field(FILE *f, const char *s) {
  if (strpbrk(s, ",\"\r\n") == NULL) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s != '\0'; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

int report_render_csv(const char *path, const PGresult *res) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  int rows = PQntuples(res);
  int cols = PQnfields(res);
  for (int c = 0; c < cols; c++) {
    if (c > 0) fputc(',', f);
    csv_field(f, PQfname(res, c));
  }
  fputs("\r\n", f);
  for (int r = 0; r < rows; r++) {
    for (int c = 0; c < cols; c++) {
      if (c > 0) fputc(',', f);
      if (!PQgetisnull(res, r, c)) csv_field(f, PQgetvalue(res, r, c));
    }
    fputs("\r\n", f);
  }
  bool failed = ferror(f) != 0;
  if (fclose(f) != 0) failed = true;
  return failed ? -1 : 0;
}
