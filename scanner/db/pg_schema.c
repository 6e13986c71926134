/* Schema migrations (see pg_schema.h). The SQL lives in schema/migrations so
 * researchers read the same text the scanner applies. */
#include "db/pg_schema.h"
#include "db/db.h"
#include "util/data_files.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PG_SCHEMA_LOCK_KEY 0x64616e65 /* "dane": advisory lock of migrations */
#define PG_SCHEMA_MAX_FILES 1000

int pg_schema_find_dir(char *out, size_t out_len) {
  static const struct data_dir_spec spec = {"DANESCAN_SCHEMA_DIR", "schema/migrations", "migrations"};
  return data_dir_find(&spec, out, out_len);
}

struct migration_file {
  int version;
  char name[256];
};

static int compare_files(const void *a, const void *b) {
  const struct migration_file *x = a, *y = b;
  return (x->version > y->version) - (x->version < y->version);
}

/* NNN_*.sql files of dir, sorted by version. Returns the count or -1. */
static int list_files(const char *dir, struct migration_file **out, char *why, size_t why_len) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    snprintf(why, why_len, "%s: %s", dir, strerror(errno));
    return -1;
  }
  struct migration_file *files = calloc(PG_SCHEMA_MAX_FILES, sizeof *files);
  if (files == NULL) {
    closedir(d);
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(d)) != NULL && count < PG_SCHEMA_MAX_FILES) {
    const char *name = entry->d_name;
    size_t len = strlen(name);
    if (len < 9 || len >= sizeof files[0].name || strcmp(name + len - 4, ".sql") != 0) continue;
    if (name[0] < '0' || name[0] > '9' || name[1] < '0' || name[1] > '9' || name[2] < '0' || name[2] > '9' ||
        name[3] != '_') {
      continue;
    }
    files[count].version = atoi(name);
    snprintf(files[count].name, sizeof files[count].name, "%s", name);
    count++;
  }
  closedir(d);
  qsort(files, (size_t)count, sizeof *files, compare_files);
  for (int i = 1; i < count; i++) {
    if (files[i].version == files[i - 1].version) {
      snprintf(why, why_len, "%s: two migrations with version %d (%s, %s)", dir, files[i].version, files[i - 1].name,
               files[i].name);
      free(files);
      return -1;
    }
  }
  *out = files;
  return count;
}

int pg_schema_latest(const char *dir) {
  struct migration_file *files = NULL;
  char why[256];
  int count = list_files(dir, &files, why, sizeof why);
  if (count < 0) return -1;
  int latest = count > 0 ? files[count - 1].version : 0;
  free(files);
  return latest;
}

static bool exec_ok(PGconn *conn, const char *sql, char *why, size_t why_len, const char *what) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(res);
  bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  if (!ok) snprintf(why, why_len, "%s: %s", what, PQerrorMessage(conn));
  PQclear(res);
  return ok;
}

int pg_schema_version(PGconn *conn, char *why, size_t why_len) {
  PGresult *res = PQexec(conn,
                         "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 "
                         "ELSE (SELECT coalesce(max(version), 0) FROM schema_version) END");
  int version = -1;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    version = atoi(PQgetvalue(res, 0, 0));
  } else {
    snprintf(why, why_len, "reading the schema version: %s", PQerrorMessage(conn));
  }
  PQclear(res);
  return version;
}

static int apply_one(PGconn *conn, const char *dir, const struct migration_file *file, char *why, size_t why_len) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, file->name);
  char *sql = data_file_read(path, PG_SCHEMA_MAX_FILE_BYTES, why, why_len);
  if (sql == NULL) return -1;
  int rc = -1;
  char version[16];
  snprintf(version, sizeof version, "%d", file->version);
  const char *params[2] = {version, file->name};
  if (!exec_ok(conn, "BEGIN", why, why_len, file->name)) goto out;
  if (!exec_ok(conn, sql, why, why_len, file->name)) goto rollback;
  PGresult *res = PQexecParams(conn, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2, NULL, params,
                               NULL, NULL, 0);
  bool inserted = PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!inserted) snprintf(why, why_len, "%s: recording the version: %s", file->name, PQerrorMessage(conn));
  PQclear(res);
  if (!inserted) goto rollback;
  if (!exec_ok(conn, "COMMIT", why, why_len, file->name)) goto out;
  rc = 0;
  goto out;
rollback:
  PQclear(PQexec(conn, "ROLLBACK"));
out:
  free(sql);
  return rc;
}

int pg_schema_migrate(PGconn *conn, const char *dir, FILE *log, char *why, size_t why_len) {
  struct migration_file *files = NULL;
  int count = list_files(dir, &files, why, why_len);
  if (count < 0) return -1;
  char lock_sql[96];
  snprintf(lock_sql, sizeof lock_sql, "SELECT pg_advisory_lock(%d)", PG_SCHEMA_LOCK_KEY);
  if (!exec_ok(conn, lock_sql, why, why_len, "taking the migration lock")) {
    free(files);
    return -1;
  }
  int applied = -1;
  if (!exec_ok(conn,
               "SET client_min_messages = warning; "
               "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, "
               "applied_at timestamptz NOT NULL DEFAULT now())",
               why, why_len, "creating schema_version")) {
    goto out;
  }
  int current = pg_schema_version(conn, why, why_len);
  if (current < 0) goto out;
  applied = 0;
  for (int i = 0; i < count; i++) {
    if (files[i].version <= current) continue;
    if (apply_one(conn, dir, &files[i], why, why_len) != 0) {
      applied = -1;
      break;
    }
    applied++;
    if (log != NULL) fprintf(log, "danescan: applied migration %s\n", files[i].name);
  }
out:
  snprintf(lock_sql, sizeof lock_sql, "SELECT pg_advisory_unlock(%d)", PG_SCHEMA_LOCK_KEY);
  PQclear(PQexec(conn, lock_sql));
  free(files);
  return applied;
}

PGconn *pg_schema_connect(const char *conninfo, FILE *log, char *why, size_t why_len) {
  PGconn *conn = db_connect(conninfo, "SET client_encoding = 'UTF8'", why, why_len);
  if (conn == NULL) return NULL;
  char schema_dir[PATH_MAX];
  if (pg_schema_find_dir(schema_dir, sizeof schema_dir) == 0) {
    if (pg_schema_migrate(conn, schema_dir, log, why, why_len) < 0) goto fail;
  } else if (pg_schema_version(conn, why, why_len) <= 0) {
    snprintf(why, why_len,
             "database has no danescan schema and schema/migrations was not found "
             "(set DANESCAN_SCHEMA_DIR or run 'danescan db migrate')");
    goto fail;
  }
  return conn;
fail:
  PQfinish(conn);
  return NULL;
}
