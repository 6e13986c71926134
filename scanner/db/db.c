/* Connection, statements and failure classification (see db.h). */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_COPY_CHUNK_BYTES (1024 * 1024)

PGconn *db_connect(const char *conninfo, const char *setup_sql, char *why, size_t why_len) {
  PGconn *conn = PQconnectdb(conninfo != NULL ? conninfo : "");
  if (db_connection_lost(conn)) {
    db_fail(conn, NULL, "connecting", why, why_len);
    PQfinish(conn);
    return NULL;
  }
  if (setup_sql != NULL && db_exec(conn, setup_sql, "session setup", why, why_len) != DB_OK) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

bool db_connection_lost(const PGconn *conn) {
  return conn == NULL || PQstatus(conn) != CONNECTION_OK;
}

bool db_result_retryable(const PGresult *res) {
  const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  return state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
}

int db_fail(PGconn *conn, const PGresult *res, const char *what, char *why, size_t why_len) {
  snprintf(why, why_len, "database: %s: %s", what, conn != NULL ? PQerrorMessage(conn) : "no connection");
  size_t n = strlen(why);
  while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == '\r')) why[--n] = '\0';
  return db_connection_lost(conn) || db_result_retryable(res) ? DB_RETRY : DB_ERROR;
}

int db_exec(PGconn *conn, const char *sql, const char *what, char *why, size_t why_len) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(res);
  int rc = DB_OK;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) rc = db_fail(conn, res, what, why, why_len);
  PQclear(res);
  return rc;
}

int db_query(PGconn *conn, const char *sql, int count, const char *const *params, ExecStatusType want, const char *what,
             PGresult **out, char *why, size_t why_len) {
  *out = NULL;
  PGresult *res = PQexecParams(conn, sql, count, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != want) {
    int rc = db_fail(conn, res, what, why, why_len);
    PQclear(res);
    return rc;
  }
  *out = res;
  return DB_OK;
}

int db_command(PGconn *conn, const char *sql, int count, const char *const *params, const char *what,
               uint64_t *rows_out, char *why, size_t why_len) {
  PGresult *res;
  int rc = db_query(conn, sql, count, params, PGRES_COMMAND_OK, what, &res, why, why_len);
  if (rc != DB_OK) return rc;
  if (rows_out != NULL) *rows_out = strtoull(PQcmdTuples(res), NULL, 10);
  PQclear(res);
  return DB_OK;
}

int db_copy(PGconn *conn, const char *statement, const char *data, size_t len, char *why, size_t why_len) {
  PGresult *res = PQexec(conn, statement);
  if (PQresultStatus(res) != PGRES_COPY_IN) {
    int rc = db_fail(conn, res, "starting COPY", why, why_len);
    PQclear(res);
    return rc;
  }
  PQclear(res);
  size_t offset = 0;
  while (offset < len) {
    size_t chunk = len - offset;
    if (chunk > DB_COPY_CHUNK_BYTES) chunk = DB_COPY_CHUNK_BYTES;
    if (PQputCopyData(conn, data + offset, (int)chunk) != 1)
      return db_fail(conn, NULL, "sending COPY data", why, why_len);
    offset += chunk;
  }
  if (PQputCopyEnd(conn, NULL) != 1) return db_fail(conn, NULL, "ending COPY", why, why_len);
  int rc = DB_OK;
  while ((res = PQgetResult(conn)) != NULL) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == DB_OK) rc = db_fail(conn, res, statement, why, why_len);
    PQclear(res);
  }
  return rc;
}

void db_rollback(PGconn *conn) {
  if (!db_connection_lost(conn)) PQclear(PQexec(conn, "ROLLBACK"));
}

uint64_t db_field_u64(const PGresult *res, int row, int column) {
  return PQgetisnull(res, row, column) ? 0 : strtoull(PQgetvalue(res, row, column), NULL, 10);
}

bool db_field_bool(const PGresult *res, int row, int column) {
  return !PQgetisnull(res, row, column) && strcmp(PQgetvalue(res, row, column), "t") == 0;
}
