/* The one retry rule for database work: a step that failed with DB_RETRY
 * (db.h: connection lost, deadlock victim, serialization failure) is run
 * again after a pause that doubles from DB_BACKOFF_MIN_MS to
 * DB_BACKOFF_MAX_MS, reconnecting first when the connection is gone, until
 * it succeeds or the database has been failing for the retry timeout; a
 * DB_ERROR failure is final at once. Used by the PostgreSQL sink's writers,
 * the work queue's thread and the supervisor, so all of them ride out the
 * same outage and give up after the same time. Blocking: never call it
 * inside an event loop. */
#ifndef DANESCAN_DB_DB_RETRY_H
#define DANESCAN_DB_DB_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 5000
#define DB_DEFAULT_RETRY_TIMEOUT_MS (300u * 1000) /* 5 minutes; $DANESCAN_DB_RETRY_TIMEOUT_S */

/* How long a failing database is retried: $DANESCAN_DB_RETRY_TIMEOUT_S
 * (seconds, 1 to a week) when set, else DB_DEFAULT_RETRY_TIMEOUT_MS. */
uint32_t db_retry_timeout_ms(void);

/* The state of one retried piece of work: when the failures began and the
 * next pause. Zeroed or db_retry_reset: no failure yet. */
struct db_retry {
  uint32_t timeout_ms;
  double failing_since_ms; /* 0: the last attempt succeeded */
  unsigned backoff_ms;
};

void db_retry_init(struct db_retry *retry, uint32_t timeout_ms);

/* An attempt succeeded: the next failure starts a new timeout. */
void db_retry_reset(struct db_retry *retry);

/* An attempt failed with rc (DB_ERROR or DB_RETRY) and why. Returns true
 * with *wait_ms, the pause before the next attempt (the backoff doubles), or
 * false when the failure is final: rc is DB_ERROR (why unchanged), or the
 * database has failed for timeout_ms (why becomes "database unreachable for
 * N s, giving up: <why>"). */
bool db_retry_failed(struct db_retry *retry, int rc, char *why, size_t why_len, unsigned *wait_ms);

/* One attempt of the work: runs on conn (connected), returns DB_OK or
 * DB_ERROR/DB_RETRY with why. */
typedef int (*db_step_fn)(PGconn *conn, void *arg, char *why, size_t why_len);

struct db_retry_policy {
  const char *conninfo;
  const char *setup_sql; /* run on every new connection; NULL = none */
  uint32_t timeout_ms;   /* 0 = db_retry_timeout_ms() */
  /* Before each pause: the failure and the pause (log and count it). NULL:
   * silent. */
  void (*on_retry)(void *ctx, const char *why, unsigned wait_ms);
  /* Asked before each pause; true ends the retries (why is kept). NULL:
   * never. */
  bool (*should_stop)(void *ctx);
  void *ctx;
};

/* Runs step on *conn until it returns DB_OK, reconnecting (*conn is
 * replaced; the caller owns it and PQfinishes it) while the connection is
 * lost, by the rule above. Returns DB_OK, or DB_ERROR/DB_RETRY with why. */
int db_retry_run(const struct db_retry_policy *policy, PGconn **conn, db_step_fn step, void *arg, char *why,
                 size_t why_len);

#endif
