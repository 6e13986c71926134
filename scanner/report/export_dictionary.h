/* The data dictionary of `danescan export`: which tables a published scan
 * holds, in which order their rows are written, how they refer to each
 * other, and one sentence per column. The columns themselves are read from
 * the database at run time (report/export_scan.c), so a column added by a
 * later migration is exported even before it is described here; it then gets
 * the column's PostgreSQL comment, or a placeholder, and a warning. Only
 * data: nothing here talks to the database. */
#ifndef DANESCAN_REPORT_EXPORT_DICTIONARY_H
#define DANESCAN_REPORT_EXPORT_DICTIONARY_H

#include <stdbool.h>
#include <stddef.h>

/* A reference from some columns of a table to the same number of columns
 * of another exported table (a Frictionless foreignKey). These are the
 * scanner's own invariants (pg_sink writes a host's rows with the domains
 * that name it), not constraints PostgreSQL enforces. NULL-terminated
 * lists. */
struct export_reference {
  const char *const *columns;
  const char *table;
  const char *const *table_columns;
};

/* One exported table. */
struct export_table {
  const char *name;        /* table and resource name; the file is NAME.csv.gz or NAME.jsonl.gz */
  const char *title;       /* one line */
  const char *description; /* a paragraph: one row per what */
  bool per_scan;           /* rows WHERE scan_id = the scan; else the certificates the scan's probes saw */
  const char *order_by;    /* column list (of the table, unqualified) the rows are sorted by */
  const struct export_reference *references; /* terminated by an entry whose table is NULL */
};

/* The exported tables, in the order they are written and listed. */
extern const struct export_table export_tables[];
extern const size_t export_table_count;

/* The description of table.column, or NULL when the dictionary has none. */
const char *export_column_description(const char *table, const char *column);

#endif
