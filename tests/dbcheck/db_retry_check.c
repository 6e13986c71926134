/* danescan-db-retry-check URL: checks db/db.h's failure classification and
 * db/db_retry.h's retry rule against a real PostgreSQL (driven by
 * tests/integration/test_db_retry.py with a private database). Every retry
 * decision of the scanner goes through these two, so this is where "a
 * deadlock is retried, a rejected statement is not, whatever the server's
 * language" is proven:
 *   - SQLSTATE decides, not text: an error raised with SQLSTATE 40P01 and
 *     text that says nothing of deadlocks is DB_RETRY; one whose text says
 *     "deadlock detected" with another SQLSTATE is DB_ERROR;
 *   - a real serialization failure (40001, REPEATABLE READ write conflict)
 *     and a real deadlock (40P01, two sessions locking in opposite order)
 *     are DB_RETRY; a syntax error is DB_ERROR;
 *   - a connection the server terminated is DB_RETRY;
 *   - db_retry_run retries DB_RETRY steps (reconnecting) until they succeed,
 *     stops at once on DB_ERROR, and gives up after the retry timeout with
 *     "database unreachable for N s, giving up".
 * Prints one line per check and "N passed, N failed"; exit 1 on a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "db/db_retry.h"
#include "util/clock.h"

static int passed, failed;

static void check(int ok, const char *what, const char *detail) {
  if (ok) {
    passed++;
    printf("ok   %s\n", what);
  } else {
    failed++;
    printf("FAIL %s%s%s\n", what, detail != NULL ? ": " : "", detail != NULL ? detail : "");
  }
}

static PGconn *connect_or_die(const char *url) {
  char why[512];
  PGconn *conn = db_connect(url, "SET client_min_messages = warning", why, sizeof why);
  if (conn == NULL) {
    fprintf(stderr, "db-retry-check: %s\n", why);
    exit(2);
  }
  return conn;
}

static void sqlstate_decides(PGconn *conn) {
  char why[512];
  int rc = db_exec(conn, "DO $$ BEGIN RAISE EXCEPTION 'a message in any language' USING ERRCODE = '40P01'; END $$",
                   "raising 40P01", why, sizeof why);
  check(rc == DB_RETRY, "SQLSTATE 40P01 with unrelated text is DB_RETRY", why);
  rc = db_exec(conn, "DO $$ BEGIN RAISE EXCEPTION 'could not serialize, really' USING ERRCODE = '40001'; END $$",
               "raising 40001", why, sizeof why);
  check(rc == DB_RETRY, "SQLSTATE 40001 is DB_RETRY", why);
  rc = db_exec(conn, "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '22000'; END $$", "raising 22000",
               why, sizeof why);
  check(rc == DB_ERROR, "the text 'deadlock detected' with SQLSTATE 22000 is DB_ERROR", why);
  rc = db_exec(conn, "SELEC 1", "a typo", why, sizeof why);
  check(rc == DB_ERROR && strncmp(why, "database: a typo: ", 18) == 0, "a syntax error is DB_ERROR, reported once",
        why);
  PGresult *res = NULL;
  const char *params[1] = {"x"};
  rc = db_query(conn, "SELECT $1::integer", 1, params, PGRES_TUPLES_OK, "a bad parameter", &res, why, sizeof why);
  check(rc == DB_ERROR && res == NULL, "a rejected parameter is DB_ERROR with no result", why);
}

static void serialization_failure(PGconn *a, PGconn *b) {
  char why[512];
  db_exec(a,
          "DROP TABLE IF EXISTS retry_check; CREATE TABLE retry_check (k int PRIMARY KEY, v int);"
          "INSERT INTO retry_check VALUES (1, 0), (2, 0)",
          "setup", why, sizeof why);
  db_exec(a, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM retry_check", "snapshot", why, sizeof why);
  db_exec(b, "UPDATE retry_check SET v = 1 WHERE k = 1", "concurrent update", why, sizeof why);
  int rc = db_exec(a, "UPDATE retry_check SET v = 2 WHERE k = 1", "conflicting update", why, sizeof why);
  check(rc == DB_RETRY, "a real serialization failure (REPEATABLE READ write conflict) is DB_RETRY", why);
  db_rollback(a);
}

static void deadlock(PGconn *a, PGconn *b) {
  char why[512];
  db_exec(a, "BEGIN; UPDATE retry_check SET v = v + 1 WHERE k = 1", "a locks 1", why, sizeof why);
  db_exec(b, "BEGIN; UPDATE retry_check SET v = v + 1 WHERE k = 2", "b locks 2", why, sizeof why);
  /* a waits for 2 (sent, not awaited); b then asks for 1: one of them is
   * the deadlock victim after deadlock_timeout (1 s by default). */
  PQsendQuery(a, "UPDATE retry_check SET v = v + 1 WHERE k = 2");
  int rc_b = db_exec(b, "UPDATE retry_check SET v = v + 1 WHERE k = 1", "b locks 1", why, sizeof why);
  char why_b[512];
  snprintf(why_b, sizeof why_b, "%s", why);
  int rc_a = DB_OK;
  PGresult *res;
  while ((res = PQgetResult(a)) != NULL) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && rc_a == DB_OK) rc_a = db_fail(a, res, "a locks 2", why, sizeof why);
    PQclear(res);
  }
  int victims = (rc_a == DB_RETRY) + (rc_b == DB_RETRY);
  int errors = (rc_a == DB_ERROR) + (rc_b == DB_ERROR);
  check(victims == 1 && errors == 0, "a real deadlock's victim is DB_RETRY, the other session goes on",
        rc_b == DB_RETRY ? why_b : why);
  db_rollback(a);
  db_rollback(b);
}

static void lost_connection(const char *url) {
  char why[512];
  PGconn *victim = connect_or_die(url);
  PGconn *killer = connect_or_die(url);
  char pid[16];
  snprintf(pid, sizeof pid, "%d", PQbackendPID(victim));
  const char *params[1] = {pid};
  PGresult *res;
  db_query(killer, "SELECT pg_terminate_backend($1::integer)", 1, params, PGRES_TUPLES_OK, "terminate", &res, why,
           sizeof why);
  PQclear(res);
  clock_sleep_ms(200);
  int rc = db_exec(victim, "SELECT 1", "after termination", why, sizeof why);
  check(rc == DB_RETRY && db_connection_lost(victim), "a connection the server terminated is DB_RETRY", why);
  PQfinish(victim);
  PQfinish(killer);
}

struct flaky {
  int failures_left;
  int calls;
  int fail_with;
};

static int flaky_step(PGconn *conn, void *arg, char *why, size_t why_len) {
  struct flaky *flaky = arg;
  flaky->calls++;
  if (flaky->failures_left > 0) {
    flaky->failures_left--;
    snprintf(why, why_len, "database: step: injected failure");
    return flaky->fail_with;
  }
  return db_exec(conn, "SELECT 1", "step", why, why_len);
}

static int retries_seen;
static void count_retry(void *ctx, const char *why, unsigned wait_ms) {
  (void)ctx;
  (void)why;
  (void)wait_ms;
  retries_seen++;
}

static void retry_rule(const char *url) {
  char why[512], detail[600];
  PGconn *conn = NULL; /* db_retry_run connects */
  struct db_retry_policy policy = {.conninfo = url, .timeout_ms = 20000, .on_retry = count_retry};
  struct flaky flaky = {.failures_left = 3, .fail_with = DB_RETRY};
  retries_seen = 0;
  int rc = db_retry_run(&policy, &conn, flaky_step, &flaky, why, sizeof why);
  snprintf(detail, sizeof detail, "rc %d, %d calls, %d retries: %s", rc, flaky.calls, retries_seen, why);
  check(rc == DB_OK && flaky.calls == 4 && retries_seen == 3, "DB_RETRY steps are retried until they succeed", detail);

  flaky = (struct flaky){.failures_left = 3, .fail_with = DB_ERROR};
  retries_seen = 0;
  rc = db_retry_run(&policy, &conn, flaky_step, &flaky, why, sizeof why);
  snprintf(detail, sizeof detail, "rc %d, %d calls: %s", rc, flaky.calls, why);
  check(rc == DB_ERROR && flaky.calls == 1 && retries_seen == 0, "a DB_ERROR step is not retried", detail);

  policy.timeout_ms = 1000;
  flaky = (struct flaky){.failures_left = 1000000, .fail_with = DB_RETRY};
  double started = clock_now_s();
  rc = db_retry_run(&policy, &conn, flaky_step, &flaky, why, sizeof why);
  double took = clock_now_s() - started;
  snprintf(detail, sizeof detail, "rc %d after %.1f s: %s", rc, took, why);
  check(rc != DB_OK && took >= 1.0 && took < 10.0 && strstr(why, "database unreachable for 1 s, giving up") != NULL,
        "a step failing past the timeout gives up with the reason", detail);

  /* A lost connection is replaced before the next attempt. */
  PGconn *killer = connect_or_die(url);
  char pid[16];
  snprintf(pid, sizeof pid, "%d", PQbackendPID(conn));
  const char *params[1] = {pid};
  PGresult *res;
  db_query(killer, "SELECT pg_terminate_backend($1::integer)", 1, params, PGRES_TUPLES_OK, "terminate", &res, why,
           sizeof why);
  PQclear(res);
  PQfinish(killer);
  clock_sleep_ms(200);
  policy.timeout_ms = 20000;
  flaky = (struct flaky){.failures_left = 0};
  retries_seen = 0;
  int old_pid = atoi(pid);
  rc = db_retry_run(&policy, &conn, flaky_step, &flaky, why, sizeof why);
  snprintf(detail, sizeof detail, "rc %d, %d calls, %d retries: %s", rc, flaky.calls, retries_seen, why);
  check(rc == DB_OK && !db_connection_lost(conn) && PQbackendPID(conn) != old_pid,
        "a terminated connection is replaced and the step runs", detail);
  PQfinish(conn);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: danescan-db-retry-check URL\n");
    return 2;
  }
  const char *url = argv[1];
  PGconn *a = connect_or_die(url);
  PGconn *b = connect_or_die(url);
  sqlstate_decides(a);
  serialization_failure(a, b);
  deadlock(a, b);
  char why[512];
  db_exec(a, "DROP TABLE IF EXISTS retry_check", "cleanup", why, sizeof why);
  PQfinish(a);
  PQfinish(b);
  lost_connection(url);
  retry_rule(url);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
