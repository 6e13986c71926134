/* `danescan export`: writes one scan's per-domain and per-host tables to a
 * directory as gzip-compressed CSV or JSON Lines, one file per table, and a
 * Frictionless Data Package (datapackage.json) that describes them, so that
 * a scan can be published and read by pandas, R, DuckDB or frictionless.
 * Rows are streamed (COPY ... TO STDOUT through zlib): memory does not grow
 * with the scan. Reads only, inside one read-only REPEATABLE READ
 * transaction (the files are one snapshot); danescan_reader suffices. The
 * columns are those the tables have at run time; their descriptions come
 * from report/export_dictionary.h. How values are written is in
 * reports/README.md ("Publishing a scan"). */
#ifndef DANESCAN_REPORT_EXPORT_SCAN_H
#define DANESCAN_REPORT_EXPORT_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "report/export_dictionary.h"

enum export_format {
  EXPORT_CSV_GZ,   /* NAME.csv.gz: RFC 4180 CSV with a header line */
  EXPORT_JSONL_GZ, /* NAME.jsonl.gz: one JSON object per line */
};

/* "csv.gz" or "jsonl.gz" to the format. Returns 0, or -1 for anything else. */
int export_format_parse(const char *text, enum export_format *out);

struct export_request {
  const char *scan_id;
  const char *out_dir; /* created if missing */
  enum export_format format;
  const char *license; /* licenses[0]: an SPDX/ODC id or a URL; NULL: a placeholder to fill in */
  bool force;          /* write into a non-empty out_dir, replacing files of the same names */
};

/* What a field holds, from its PostgreSQL type; decides how it is written
 * and its Frictionless type. */
enum export_kind {
  EXPORT_KIND_STRING,   /* text, inet, and every type without a better mapping (its text form) */
  EXPORT_KIND_ENUM,     /* a PostgreSQL enum: string with constraints.enum */
  EXPORT_KIND_INTEGER,  /* smallint, integer, bigint */
  EXPORT_KIND_NUMBER,   /* numeric, real, double precision */
  EXPORT_KIND_BOOLEAN,  /* true / false */
  EXPORT_KIND_DATETIME, /* timestamptz: UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ */
  EXPORT_KIND_DATE,     /* date: YYYY-MM-DD */
  EXPORT_KIND_BYTES,    /* bytea: lower-case hex, no \x prefix */
  EXPORT_KIND_ARRAY,    /* any array: a JSON array (its JSON text in CSV) */
  EXPORT_KIND_JSON,     /* json, jsonb: the JSON value (its JSON text in CSV) */
};

/* A column of an exported table, as the catalog describes it. */
struct export_field {
  char *name;
  enum export_kind kind;
  bool required;         /* NOT NULL */
  int key_position;      /* 1-based position in the primary key, 0 when not in it */
  char *enum_values;     /* EXPORT_KIND_ENUM: a JSON array of the labels in enum order; else NULL */
  const char *described; /* the dictionary's description, or NULL */
  char *comment;         /* the column's PostgreSQL comment, or NULL */
};

/* One written file. */
struct export_resource {
  const struct export_table *table;
  struct export_field *fields;
  size_t field_count;
  char file_name[96];  /* NAME.csv.gz */
  uint64_t rows;       /* data rows (the CSV header not counted) */
  uint64_t bytes;      /* compressed size */
  char sha256_hex[65]; /* of the compressed file */
};

/* Everything datapackage.json says. */
struct export_package {
  const char *scan_id;
  enum export_format format;
  const char *license;
  char created[32];   /* UTC, YYYY-MM-DDTHH:MM:SSZ */
  char *scan_json;    /* the scans row as a JSON object (host and cwd left out, --db values redacted) */
  char *sources_json; /* a JSON array of Frictionless sources */
  struct export_resource *resources;
  size_t resource_count;
};

/* The datapackage.json text of package (NUL-terminated, the caller frees),
 * or NULL when out of memory. A field without a dictionary description gets
 * its PostgreSQL comment or a placeholder, and one line on warnings (may be
 * NULL). */
char *export_package_json(const struct export_package *package, FILE *warnings);

/* Exports request->scan_id from conn into request->out_dir. Writes every
 * file under a temporary name (DIR/.NAME.tmp) and renames them at the end,
 * datapackage.json last, so DIR never holds a datapackage.json that does not
 * describe the files beside it. One line per file on progress (may be NULL),
 * warnings (undescribed columns) on warnings (may be NULL). Returns 0 when
 * done; -1 with why when the scan is unknown, out_dir is not empty (without
 * force) or cannot be written, or a statement fails (temporary files are
 * removed, and out_dir if this call created it). */
int export_scan(PGconn *conn, const struct export_request *request, FILE *progress, FILE *warnings, char *why,
                size_t why_len);

#endif
