/* Schema migrations: applies the numbered SQL files of schema/migrations
 * (NNN_name.sql, in order) that the database's schema_version table does not
 * list yet, each in its own transaction, under an advisory lock so two
 * scanners starting together do not race. Re-running is a no-op. Blocking
 * libpq: call it before the event loop runs, never inside it. */
#ifndef DANESCAN_DB_PG_SCHEMA_H
#define DANESCAN_DB_PG_SCHEMA_H

#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#define PG_SCHEMA_MAX_FILE_BYTES (4u * 1024 * 1024)

/* Finds the migrations folder: $DANESCAN_SCHEMA_DIR, else the installed
 * <bin>/../share/danescan/migrations, else schema/migrations of the source
 * tree this binary was built from (the order: data_dir_find in
 * util/data_files.h). Returns 0 with the path in out, -1 if none exists. */
int pg_schema_find_dir(char *out, size_t out_len);

/* Applies pending migrations from dir. Writes one line per applied file to
 * log (may be NULL). Returns the number applied (>= 0), or -1 with why. */
int pg_schema_migrate(PGconn *conn, const char *dir, FILE *log, char *why, size_t why_len);

/* Highest applied version, 0 if none (no schema_version table), -1 on error. */
int pg_schema_version(PGconn *conn, char *why, size_t why_len);

/* Highest version in dir, -1 if the folder cannot be read. */
int pg_schema_latest(const char *dir);

/* A connection (client_encoding UTF8) to a database whose schema is
 * current: pending migrations are applied when the migrations folder is
 * found (one line each to log, may be NULL); without it the database must
 * have a schema already. Returns NULL with why. */
PGconn *pg_schema_connect(const char *conninfo, FILE *log, char *why, size_t why_len);

#endif
