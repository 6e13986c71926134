/* `danescan export` (see export_scan.h): reads the columns of each table
 * of export_dictionary.h from the catalog, COPYs the scan's rows out of
 * PostgreSQL (CSV, or one row_to_json per line) and deflates them straight
 * into DIR/.NAME.tmp while hashing the compressed bytes, then has
 * export_package.c describe the files and renames everything into place.
 * Values are converted in the SELECT, so both formats share one conversion
 * table (select_expression) and the client never parses a row. */
#include "report/export_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "db/db.h"

/* Rows are gathered into blocks this big before deflate sees them: one
 * deflate call per COPY row would cost more than the compression. */
#define EXPORT_BLOCK_BYTES ((size_t)256 * 1024)
#define EXPORT_SQL_MAX_BYTES ((size_t)64 * 1024)

/* The session: timestamps are converted to UTC in the SELECT, these make
 * every other text form fixed whatever the server's defaults are. */
static const char session_sql[] = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601';"
                                  " SET extra_float_digits = 3; SET bytea_output = 'hex';"
                                  " BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/* The scans row ($1): the id, the row as JSON without the machine's name and
 * directory and with --db values (which may carry a password) redacted, and
 * the Frictionless sources (software and command line, then each input). */
static const char scan_sql[] =
    "WITH s AS (SELECT * FROM scans WHERE id = $1::text),"
    " c AS (SELECT coalesce(array_agg(CASE WHEN p = '--db' THEN '(database URL)'"
    "                                      WHEN a LIKE '--db=%' THEN '--db=(database URL)' ELSE a END"
    "                                 ORDER BY n), '{}') AS argv"
    "         FROM (SELECT a, n, lag(a) OVER (ORDER BY n) AS p"
    "                 FROM s, unnest(s.command_line) WITH ORDINALITY u(a, n)) x)"
    " SELECT s.id,"
    "        ((to_jsonb(s) - 'host' - 'cwd' - 'command_line') || jsonb_build_object('command_line', c.argv))::text,"
    "        (SELECT json_agg(src ORDER BY k) FROM ("
    "           SELECT 0 AS k, json_build_object('title', s.software || ': danescan '"
    "                                            || array_to_string(c.argv, ' ')) AS src"
    "           UNION ALL"
    "           SELECT i, json_build_object('title', 'input ' || coalesce(x ->> 'name', '(unnamed)')"
    "                                       || coalesce(' (SHA-256 ' || (x ->> 'sha256') || ')', ''))"
    "             FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.inputs) = 'array' THEN s.inputs"
    "                                            ELSE '[]'::jsonb END) WITH ORDINALITY e(x, i)) z)::text"
    "   FROM s, c";

/* The columns of table $1 in order: name, type name ('array' for arrays),
 * type kind (e: enum), NOT NULL, position in the primary key, comment, enum
 * labels as a JSON array. */
static const char columns_sql[] =
    "SELECT a.attname, CASE WHEN t.typcategory = 'A' THEN 'array' ELSE t.typname END, t.typtype, a.attnotnull,"
    "       coalesce((SELECT k.ord FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)"
    "                  WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.attnum = a.attnum), 0),"
    "       col_description(a.attrelid, a.attnum),"
    "       (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)"
    "  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE a.attrelid = to_regclass('public.' || quote_ident($1::text)) AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

int export_format_parse(const char *text, enum export_format *out) {
  if (strcmp(text, "csv.gz") == 0) *out = EXPORT_CSV_GZ;
  else if (strcmp(text, "jsonl.gz") == 0) *out = EXPORT_JSONL_GZ;
  else return -1;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* A gzip file written through deflate, hashed as it is written. */

struct gzip_file {
  int fd;
  bool deflating;
  z_stream stream;
  EVP_MD_CTX *sha256;
  uint64_t bytes; /* compressed bytes written */
  unsigned char *block;
  size_t block_len;
  unsigned char *out;
};

static int write_all(int fd, const unsigned char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static void gzip_close(struct gzip_file *file) {
  if (file->deflating) deflateEnd(&file->stream);
  file->deflating = false;
  if (file->fd >= 0) close(file->fd);
  file->fd = -1;
  EVP_MD_CTX_free(file->sha256);
  file->sha256 = NULL;
  free(file->block);
  free(file->out);
  file->block = file->out = NULL;
}

static int gzip_open(struct gzip_file *file, const char *path, char *why, size_t why_len) {
  memset(file, 0, sizeof *file);
  file->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file->fd < 0) {
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return -1;
  }
  file->block = malloc(EXPORT_BLOCK_BYTES);
  file->out = malloc(EXPORT_BLOCK_BYTES);
  file->sha256 = EVP_MD_CTX_new();
  /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
  if (file->block == NULL || file->out == NULL || file->sha256 == NULL ||
      EVP_DigestInit_ex(file->sha256, EVP_sha256(), NULL) != 1 ||
      deflateInit2(&file->stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    snprintf(why, why_len, "%s: out of memory", path);
    gzip_close(file);
    return -1;
  }
  file->deflating = true;
  return 0;
}

/* Deflates the block (flush: Z_NO_FLUSH or Z_FINISH) and writes what comes
 * out. */
static int gzip_deflate(struct gzip_file *file, int flush, char *why, size_t why_len) {
  file->stream.next_in = file->block;
  file->stream.avail_in = (uInt)file->block_len;
  int rc;
  do {
    file->stream.next_out = file->out;
    file->stream.avail_out = (uInt)EXPORT_BLOCK_BYTES;
    rc = deflate(&file->stream, flush);
    if (rc == Z_STREAM_ERROR) {
      snprintf(why, why_len, "deflate failed");
      return -1;
    }
    size_t produced = EXPORT_BLOCK_BYTES - file->stream.avail_out;
    if (produced > 0) {
      if (write_all(file->fd, file->out, produced) != 0) {
        snprintf(why, why_len, "writing: %s", strerror(errno));
        return -1;
      }
      EVP_DigestUpdate(file->sha256, file->out, produced);
      file->bytes += produced;
    }
  } while (file->stream.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  file->block_len = 0;
  return 0;
}

static int gzip_write(struct gzip_file *file, const char *data, size_t len, char *why, size_t why_len) {
  while (len > 0) {
    size_t room = EXPORT_BLOCK_BYTES - file->block_len;
    size_t take = len < room ? len : room;
    memcpy(file->block + file->block_len, data, take);
    file->block_len += take;
    data += take;
    len -= take;
    if (file->block_len == EXPORT_BLOCK_BYTES && gzip_deflate(file, Z_NO_FLUSH, why, why_len) != 0) return -1;
  }
  return 0;
}

/* Ends the stream, syncs and closes the file; the hash goes to hex. */
static int gzip_finish(struct gzip_file *file, char hex[65], char *why, size_t why_len) {
  if (gzip_deflate(file, Z_FINISH, why, why_len) != 0) return -1;
  if (fsync(file->fd) != 0) {
    snprintf(why, why_len, "fsync: %s", strerror(errno));
    return -1;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_DigestFinal_ex(file->sha256, digest, &digest_len);
  for (unsigned int i = 0; i < digest_len && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  int rc = close(file->fd);
  file->fd = -1;
  if (rc != 0) {
    snprintf(why, why_len, "close: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Columns and the SELECT of one table */

static enum export_kind kind_of(const char *type_name, const char *type_kind) {
  static const struct {
    const char *name;
    enum export_kind kind;
  } types[] = {
      {"int2", EXPORT_KIND_INTEGER},   {"int4", EXPORT_KIND_INTEGER},         {"int8", EXPORT_KIND_INTEGER},
      {"numeric", EXPORT_KIND_NUMBER}, {"float4", EXPORT_KIND_NUMBER},        {"float8", EXPORT_KIND_NUMBER},
      {"bool", EXPORT_KIND_BOOLEAN},   {"timestamptz", EXPORT_KIND_DATETIME}, {"date", EXPORT_KIND_DATE},
      {"bytea", EXPORT_KIND_BYTES},    {"array", EXPORT_KIND_ARRAY},          {"json", EXPORT_KIND_JSON},
      {"jsonb", EXPORT_KIND_JSON},
  };
  if (strcmp(type_kind, "e") == 0) return EXPORT_KIND_ENUM;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (strcmp(types[i].name, type_name) == 0) return types[i].kind;
  }
  return EXPORT_KIND_STRING;
}

static void free_fields(struct export_resource *resource) {
  for (size_t i = 0; i < resource->field_count; i++) {
    free(resource->fields[i].name);
    free(resource->fields[i].enum_values);
    free(resource->fields[i].comment);
  }
  free(resource->fields);
  resource->fields = NULL;
  resource->field_count = 0;
}

static char *copy_field(const PGresult *res, int row, int column, bool *failed) {
  if (PQgetisnull(res, row, column)) return NULL;
  char *copy = strdup(PQgetvalue(res, row, column));
  if (copy == NULL) *failed = true;
  return copy;
}

static int load_fields(PGconn *conn, struct export_resource *resource, char *why, size_t why_len) {
  const char *params[1] = {resource->table->name};
  PGresult *res = NULL;
  if (db_query(conn, columns_sql, 1, params, PGRES_TUPLES_OK, "reading the columns", &res, why, why_len) != DB_OK)
    return -1;
  int rows = PQntuples(res);
  if (rows == 0) {
    snprintf(why, why_len, "table %s not found (is the database migrated?)", resource->table->name);
    PQclear(res);
    return -1;
  }
  resource->fields = calloc((size_t)rows, sizeof *resource->fields);
  bool failed = resource->fields == NULL;
  for (int r = 0; r < rows && !failed; r++) {
    struct export_field *field = &resource->fields[r];
    resource->field_count++;
    field->name = copy_field(res, r, 0, &failed);
    field->kind = kind_of(PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
    field->required = db_field_bool(res, r, 3);
    field->key_position = atoi(PQgetvalue(res, r, 4));
    field->comment = copy_field(res, r, 5, &failed);
    if (field->kind == EXPORT_KIND_ENUM) field->enum_values = copy_field(res, r, 6, &failed);
    if (field->name != NULL) field->described = export_column_description(resource->table->name, field->name);
  }
  PQclear(res);
  if (failed) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  return 0;
}

/* Appends to sql (NUL-terminated, sql_size bytes); false when it would not fit. */
static bool append(char *sql, size_t sql_size, const char *text) {
  size_t used = strlen(sql);
  size_t len = strlen(text);
  if (used + len + 1 > sql_size) return false;
  memcpy(sql + used, text, len + 1);
  return true;
}

/* The expression a column is written as: what the reader gets, the same in
 * both formats but for booleans, arrays and JSON, which JSON Lines keeps
 * native and CSV writes as text. */
static void select_expression(const struct export_field *field, const char *quoted, enum export_format format,
                              char *out, size_t out_len) {
  bool csv = format == EXPORT_CSV_GZ;
  switch (field->kind) {
  case EXPORT_KIND_DATETIME:
    /* to_char gives NULL for +-infinity; those keep their text form */
    snprintf(out, out_len,
             "coalesce(to_char(t.%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), t.%s::text)", quoted,
             quoted);
    break;
  case EXPORT_KIND_BYTES:
    snprintf(out, out_len, "encode(t.%s, 'hex')", quoted);
    break;
  case EXPORT_KIND_ARRAY:
    snprintf(out, out_len, csv ? "to_json(t.%s)" : "t.%s", quoted);
    break;
  case EXPORT_KIND_BOOLEAN:
    snprintf(out, out_len, csv ? "t.%s::text" : "t.%s", quoted); /* true/false, not COPY's t/f */
    break;
  default:
    snprintf(out, out_len, "t.%s", quoted);
    break;
  }
}

/* The COPY statement of one table. scan_literal is the escaped scan id. */
static int build_copy(PGconn *conn, const struct export_resource *resource, const char *scan_literal,
                      enum export_format format, char *sql, size_t sql_size, char *why, size_t why_len) {
  const struct export_table *table = resource->table;
  bool fits = true;
  sql[0] = '\0';
  fits &= append(sql, sql_size,
                 format == EXPORT_CSV_GZ ? "COPY (SELECT " : "COPY (SELECT row_to_json(r) FROM (SELECT ");
  for (size_t i = 0; i < resource->field_count && fits; i++) {
    char *quoted = PQescapeIdentifier(conn, resource->fields[i].name, strlen(resource->fields[i].name));
    if (quoted == NULL) {
      snprintf(why, why_len, "quoting %s.%s failed", table->name, resource->fields[i].name);
      return -1;
    }
    char expression[512];
    select_expression(&resource->fields[i], quoted, format, expression, sizeof expression);
    fits &= append(sql, sql_size, i > 0 ? ", " : "");
    fits &= append(sql, sql_size, expression);
    fits &= append(sql, sql_size, " AS ");
    fits &= append(sql, sql_size, quoted);
    PQfreemem(quoted);
  }
  char from[1024];
  if (table->per_scan) {
    snprintf(from, sizeof from, " FROM public.%s t WHERE t.scan_id = %s", table->name, scan_literal);
  } else {
    snprintf(from, sizeof from,
             " FROM public.certificates t WHERE t.sha256 IN"
             " (SELECT leaf_sha256 FROM public.probes WHERE scan_id = %s AND leaf_sha256 IS NOT NULL"
             "  UNION SELECT cert_sha256 FROM public.probe_chain WHERE scan_id = %s)",
             scan_literal, scan_literal);
  }
  fits &= append(sql, sql_size, from);
  /* order by the table's own columns (t.x), not the converted output */
  fits &= append(sql, sql_size, " ORDER BY ");
  char order[256];
  snprintf(order, sizeof order, "%s", table->order_by);
  char *save = NULL;
  bool first = true;
  for (char *column = strtok_r(order, ", ", &save); column != NULL; column = strtok_r(NULL, ", ", &save)) {
    fits &= append(sql, sql_size, first ? "t." : ", t.");
    fits &= append(sql, sql_size, column);
    first = false;
  }
  /* JSON Lines: row_to_json never writes a raw control character, so a CSV
   * COPY whose quote and delimiter are control characters passes each JSON
   * text through unquoted and unescaped (the text format would double every
   * backslash) */
  fits &= append(sql, sql_size,
                 format == EXPORT_CSV_GZ ? ") TO STDOUT (FORMAT csv, HEADER)"
                                         : ") r) TO STDOUT (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')");
  if (!fits) {
    snprintf(why, why_len, "%s: the statement is longer than %zu bytes", table->name, sql_size);
    return -1;
  }
  return 0;
}

/* Runs a COPY ... TO STDOUT into file; counts the rows. */
static int copy_out(PGconn *conn, const char *sql, struct gzip_file *file, uint64_t *rows, char *why, size_t why_len) {
  PGresult *res = PQexec(conn, sql);
  if (PQresultStatus(res) != PGRES_COPY_OUT) {
    db_fail(conn, res, "COPY", why, why_len);
    PQclear(res);
    return -1;
  }
  PQclear(res);
  int rc = 0;
  for (;;) {
    char *line = NULL;
    int n = PQgetCopyData(conn, &line, 0);
    if (n == -1) break;
    if (n < 0) {
      db_fail(conn, NULL, "COPY", why, why_len);
      return -1;
    }
    if (rc == 0 && gzip_write(file, line, (size_t)n, why, why_len) != 0) rc = -1; /* read on to the end */
    PQfreemem(line);
  }
  res = PQgetResult(conn);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    if (rc == 0) db_fail(conn, res, "COPY", why, why_len);
    rc = -1;
  } else {
    *rows = strtoull(PQcmdTuples(res), NULL, 10);
  }
  PQclear(res);
  while ((res = PQgetResult(conn)) != NULL) PQclear(res);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The output directory */

struct export_dir {
  const char *path;
  bool created;
  bool *written; /* per resource: its temporary file exists */
  bool package_written;
};

static void path_join(char *out, size_t out_len, const char *dir, const char *prefix, const char *name,
                      const char *suffix) {
  snprintf(out, out_len, "%s/%s%s%s", dir, prefix, name, suffix);
}

/* Creates the directory, or checks that it is empty (unless force). */
static int prepare_dir(struct export_dir *dir, bool force, char *why, size_t why_len) {
  if (mkdir(dir->path, 0755) == 0) {
    dir->created = true;
    return 0;
  }
  if (errno != EEXIST) {
    snprintf(why, why_len, "%s: %s", dir->path, strerror(errno));
    return -1;
  }
  DIR *d = opendir(dir->path);
  if (d == NULL) {
    snprintf(why, why_len, "%s: %s", dir->path, strerror(errno));
    return -1;
  }
  bool empty = true;
  struct dirent *entry;
  while ((entry = readdir(d)) != NULL) {
    if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) empty = false;
  }
  closedir(d);
  if (!empty && !force) {
    snprintf(why, why_len, "%s is not empty (--force writes into it, replacing files of the same names)", dir->path);
    return -1;
  }
  return 0;
}

static void remove_temporaries(struct export_dir *dir, const struct export_package *package) {
  char path[4096];
  for (size_t i = 0; i < package->resource_count; i++) {
    if (!dir->written[i]) continue;
    path_join(path, sizeof path, dir->path, ".", package->resources[i].file_name, ".tmp");
    unlink(path);
  }
  if (dir->package_written) {
    path_join(path, sizeof path, dir->path, ".", "datapackage.json", ".tmp");
    unlink(path);
  }
  if (dir->created) rmdir(dir->path);
}

static int write_package(struct export_dir *dir, const char *json, char *why, size_t why_len) {
  char path[4096];
  path_join(path, sizeof path, dir->path, ".", "datapackage.json", ".tmp");
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return -1;
  }
  dir->package_written = true;
  int rc = write_all(fd, (const unsigned char *)json, strlen(json));
  if (rc == 0) rc = fsync(fd);
  if (close(fd) != 0) rc = -1;
  if (rc != 0) snprintf(why, why_len, "%s: %s", path, strerror(errno));
  return rc;
}

/* Renames the files into place: an old datapackage.json goes first and the
 * new one comes last. */
static int publish(struct export_dir *dir, const struct export_package *package, char *why, size_t why_len) {
  char from[4096], to[4096];
  path_join(to, sizeof to, dir->path, "", "datapackage.json", "");
  if (unlink(to) != 0 && errno != ENOENT) {
    snprintf(why, why_len, "%s: %s", to, strerror(errno));
    return -1;
  }
  for (size_t i = 0; i <= package->resource_count; i++) {
    const char *name = i < package->resource_count ? package->resources[i].file_name : "datapackage.json";
    path_join(from, sizeof from, dir->path, ".", name, ".tmp");
    path_join(to, sizeof to, dir->path, "", name, "");
    if (rename(from, to) != 0) {
      snprintf(why, why_len, "renaming %s to %s: %s", from, to, strerror(errno));
      return -1;
    }
    if (i < package->resource_count) dir->written[i] = false;
    else dir->package_written = false;
  }
  int fd = open(dir->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */

static int export_table(PGconn *conn, struct export_dir *dir, struct export_package *package, size_t index,
                        const char *scan_literal, char *sql, FILE *progress, char *why, size_t why_len) {
  struct export_resource *resource = &package->resources[index];
  if (load_fields(conn, resource, why, why_len) != 0) return -1;
  if (build_copy(conn, resource, scan_literal, package->format, sql, EXPORT_SQL_MAX_BYTES, why, why_len) != 0)
    return -1;
  char path[4096];
  path_join(path, sizeof path, dir->path, ".", resource->file_name, ".tmp");
  struct gzip_file file;
  if (gzip_open(&file, path, why, why_len) != 0) return -1;
  dir->written[index] = true;
  char reason[512] = "";
  int rc = copy_out(conn, sql, &file, &resource->rows, reason, sizeof reason);
  if (rc == 0) rc = gzip_finish(&file, resource->sha256_hex, reason, sizeof reason);
  gzip_close(&file);
  if (rc != 0) {
    snprintf(why, why_len, "%s: %s", resource->file_name, reason);
    return -1;
  }
  resource->bytes = file.bytes;
  if (progress != NULL) {
    fprintf(progress, "%s: %llu rows, %llu bytes\n", resource->file_name, (unsigned long long)resource->rows,
            (unsigned long long)resource->bytes);
  }
  return 0;
}

/* Looks the scan up; fills the package's scan_json and sources_json. */
static int load_scan(PGconn *conn, struct export_package *package, char *why, size_t why_len) {
  const char *params[1] = {package->scan_id};
  PGresult *res = NULL;
  if (db_query(conn, scan_sql, 1, params, PGRES_TUPLES_OK, "reading the scan", &res, why, why_len) != DB_OK) return -1;
  if (PQntuples(res) != 1) {
    snprintf(why, why_len, "no scan '%s' in the database", package->scan_id);
    PQclear(res);
    return -1;
  }
  bool failed = false;
  package->scan_json = copy_field(res, 0, 1, &failed);
  package->sources_json = copy_field(res, 0, 2, &failed);
  PQclear(res);
  if (failed || package->scan_json == NULL) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  return 0;
}

static void package_free(struct export_package *package) {
  for (size_t i = 0; i < package->resource_count; i++) free_fields(&package->resources[i]);
  free(package->resources);
  free(package->scan_json);
  free(package->sources_json);
}

int export_scan(PGconn *conn, const struct export_request *request, FILE *progress, FILE *warnings, char *why,
                size_t why_len) {
  struct export_package package = {
      .scan_id = request->scan_id,
      .format = request->format,
      .license = request->license,
  };
  time_t now = time(NULL);
  struct tm utc;
  gmtime_r(&now, &utc);
  strftime(package.created, sizeof package.created, "%Y-%m-%dT%H:%M:%SZ", &utc);
  struct export_dir dir = {.path = request->out_dir};
  char *sql = NULL;
  char *scan_literal = NULL;
  char *json = NULL;
  int rc = -1;

  if (db_exec(conn, session_sql, "starting a read-only transaction", why, why_len) != DB_OK) goto done;
  if (load_scan(conn, &package, why, why_len) != 0) goto done;
  scan_literal = PQescapeLiteral(conn, request->scan_id, strlen(request->scan_id));
  package.resources = calloc(export_table_count, sizeof *package.resources);
  dir.written = calloc(export_table_count, sizeof *dir.written);
  sql = malloc(EXPORT_SQL_MAX_BYTES);
  if (scan_literal == NULL || package.resources == NULL || dir.written == NULL || sql == NULL) {
    snprintf(why, why_len, "out of memory");
    goto done;
  }
  package.resource_count = export_table_count;
  for (size_t i = 0; i < export_table_count; i++) {
    package.resources[i].table = &export_tables[i];
    snprintf(package.resources[i].file_name, sizeof package.resources[i].file_name, "%s.%s", export_tables[i].name,
             request->format == EXPORT_CSV_GZ ? "csv.gz" : "jsonl.gz");
  }
  if (prepare_dir(&dir, request->force, why, why_len) != 0) goto done;
  for (size_t i = 0; i < export_table_count; i++) {
    if (export_table(conn, &dir, &package, i, scan_literal, sql, progress, why, why_len) != 0) goto cleanup;
  }
  db_exec(conn, "COMMIT", "ending the transaction", why, why_len); /* read only: nothing to lose */
  json = export_package_json(&package, warnings);
  if (json == NULL) {
    snprintf(why, why_len, "datapackage.json: out of memory");
    goto cleanup;
  }
  if (write_package(&dir, json, why, why_len) != 0) goto cleanup;
  if (publish(&dir, &package, why, why_len) != 0) goto cleanup;
  if (progress != NULL) fprintf(progress, "datapackage.json: %zu resources\n", package.resource_count);
  rc = 0;
cleanup:
  if (rc != 0) remove_temporaries(&dir, &package);
done:
  free(json);
  free(sql);
  PQfreemem(scan_literal);
  free(dir.written);
  package_free(&package);
  return rc;
}
