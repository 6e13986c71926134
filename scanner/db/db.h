/* The one way danescan talks to PostgreSQL: connecting, running a statement,
 * and saying what a failure means. Every failure is reported as
 * "database: WHAT: server message" in why and classified by the connection's
 * state and the result's SQLSTATE, never by the text of the message (which
 * follows the server's lc_messages):
 *   DB_RETRY  the same transaction may succeed if run again: the connection
 *             is lost, or the server chose this transaction as the victim of
 *             a deadlock (40P01) or a serialization failure (40001);
 *   DB_ERROR  anything else (a rejected statement or row): running it again
 *             cannot help.
 * Blocking libpq: call from a thread of its own or before an event loop
 * runs, never inside one. Nothing here keeps state between calls. */
#ifndef DANESCAN_DB_DB_H
#define DANESCAN_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

enum db_rc {
  DB_OK = 0,
  DB_ERROR = -1,
  DB_RETRY = -2,
};

/* Connects to conninfo ("" = the PG* environment) and, when setup_sql is not
 * NULL, runs it (session settings). Returns the connection, or NULL with
 * "database: connecting: ..." in why (nothing to free). */
PGconn *db_connect(const char *conninfo, const char *setup_sql, char *why, size_t why_len);

/* True when conn is NULL or not in CONNECTION_OK. */
bool db_connection_lost(const PGconn *conn);

/* True for a result a retry of the same transaction may cure: SQLSTATE
 * 40P01 (deadlock detected) or 40001 (serialization failure). */
bool db_result_retryable(const PGresult *res);

/* Writes "database: what: <server message>" into why (trailing newline
 * trimmed) and returns the classification of the failure (res may be NULL,
 * e.g. after a failed PQputCopyData): DB_RETRY or DB_ERROR. Does not clear
 * res. */
int db_fail(PGconn *conn, const PGresult *res, const char *what, char *why, size_t why_len);

/* Runs sql (one or more statements without parameters). Returns DB_OK when
 * the last result is COMMAND_OK or TUPLES_OK, else DB_ERROR/DB_RETRY with
 * why. */
int db_exec(PGconn *conn, const char *sql, const char *what, char *why, size_t why_len);

/* Runs a statement with text parameters and hands back its result in *out
 * when its status is want (the caller PQclears it). Returns DB_OK, or
 * DB_ERROR/DB_RETRY with why (*out is NULL then). */
int db_query(PGconn *conn, const char *sql, int count, const char *const *params, ExecStatusType want, const char *what,
             PGresult **out, char *why, size_t why_len);

/* db_query for a statement without rows (want PGRES_COMMAND_OK); the
 * result is discarded. With rows_out (may be NULL) the affected rows. */
int db_command(PGconn *conn, const char *sql, int count, const char *const *params, const char *what,
               uint64_t *rows_out, char *why, size_t why_len);

/* Sends buf (COPY text rows) through statement ("COPY t (...) FROM STDIN")
 * in chunks. Returns DB_OK or DB_ERROR/DB_RETRY with why. */
int db_copy(PGconn *conn, const char *statement, const char *data, size_t len, char *why, size_t why_len);

/* Rolls back the connection's open transaction, if the connection is up. */
void db_rollback(PGconn *conn);

/* A column as an unsigned number; NULL reads as 0. */
uint64_t db_field_u64(const PGresult *res, int row, int column);

/* A column as a boolean ("t"); NULL reads as false. */
bool db_field_bool(const PGresult *res, int row, int column);

#endif
