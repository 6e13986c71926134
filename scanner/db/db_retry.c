/* The retry rule for database work (see db_retry.h). */
#include "db/db_retry.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"

uint32_t db_retry_timeout_ms(void) {
  const char *env = getenv("DANESCAN_DB_RETRY_TIMEOUT_S");
  if (env != NULL && env[0] != '\0') {
    char *end;
    unsigned long seconds = strtoul(env, &end, 10);
    if (*end == '\0' && seconds > 0 && seconds < 86400 * 7) return (uint32_t)(seconds * 1000);
  }
  return DB_DEFAULT_RETRY_TIMEOUT_MS;
}

void db_retry_init(struct db_retry *retry, uint32_t timeout_ms) {
  retry->timeout_ms = timeout_ms != 0 ? timeout_ms : db_retry_timeout_ms();
  db_retry_reset(retry);
}

void db_retry_reset(struct db_retry *retry) {
  retry->failing_since_ms = 0;
  retry->backoff_ms = DB_BACKOFF_MIN_MS;
}

bool db_retry_failed(struct db_retry *retry, int rc, char *why, size_t why_len, unsigned *wait_ms) {
  if (rc != DB_RETRY) return false;
  double now = clock_now_ms();
  if (retry->failing_since_ms == 0) retry->failing_since_ms = now;
  if (now - retry->failing_since_ms >= retry->timeout_ms) {
    char reason[512];
    snprintf(reason, sizeof reason, "%s", why);
    snprintf(why, why_len, "database unreachable for %u s, giving up: %.400s", retry->timeout_ms / 1000, reason);
    return false;
  }
  *wait_ms = retry->backoff_ms;
  retry->backoff_ms = retry->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : retry->backoff_ms * 2;
  return true;
}

int db_retry_run(const struct db_retry_policy *policy, PGconn **conn, db_step_fn step, void *arg, char *why,
                 size_t why_len) {
  struct db_retry retry;
  db_retry_init(&retry, policy->timeout_ms);
  for (;;) {
    int rc;
    if (db_connection_lost(*conn)) {
      PQfinish(*conn);
      *conn = db_connect(policy->conninfo, policy->setup_sql, why, why_len);
      /* A connection refused or dropped is worth waiting for; a setup
       * statement the server rejects is not. */
      rc = *conn != NULL ? DB_OK : DB_RETRY;
    } else {
      rc = DB_OK;
    }
    if (rc == DB_OK) {
      rc = step(*conn, arg, why, why_len);
      if (rc == DB_OK) return DB_OK;
      if (db_connection_lost(*conn)) rc = DB_RETRY;
    }
    unsigned wait_ms = 0;
    if (!db_retry_failed(&retry, rc, why, why_len, &wait_ms)) return rc;
    if (policy->should_stop != NULL && policy->should_stop(policy->ctx)) return rc;
    if (policy->on_retry != NULL) policy->on_retry(policy->ctx, why, wait_ms);
    clock_sleep_ms(wait_ms);
  }
}
