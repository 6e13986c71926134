/* `danescan status` (see status_cmd.h). */
#include "cli/status_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "queue/queue_db.h"

#define STATUS_RATE_WINDOW_S 60 /* the rate is measured over the batches committed this long ago */

static void usage(FILE *out) {
  fprintf(out, "usage: danescan status --db URL --scan ID\n"
               "  progress of a scan with workers: done/total, rate, ETA, workers and heartbeats\n");
}

int status_cmd_main(int argc, char **argv) {
  const char *db_url = getenv("DANESCAN_DB");
  const char *scan_id = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db_url = argv[++i];
    else if (strcmp(argv[i], "--scan") == 0 && i + 1 < argc) scan_id = argv[++i];
    else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "danescan status: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (scan_id == NULL) {
    usage(stderr);
    return 2;
  }
  PGconn *conn = PQconnectdb(db_url != NULL ? db_url : "");
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "danescan status: database: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return 1;
  }
  char why[512];
  struct queue_scan_info info;
  struct queue_progress progress;
  int exit_code = 1;
  if (queue_db_scan_info(conn, scan_id, &info, why, sizeof why) != 0 ||
      (info.exists && queue_db_progress(conn, scan_id, &progress, why, sizeof why) != 0)) {
    fprintf(stderr, "danescan status: %s\n", why);
    goto out;
  }
  if (!info.exists) {
    fprintf(stderr, "danescan status: no scan '%s' in the database\n", scan_id);
    goto out;
  }
  if (info.chunk_size == 0) {
    fprintf(stderr, "danescan status: scan %s was not run with workers (no work queue)\n", scan_id);
    goto out;
  }
  char window[16];
  snprintf(window, sizeof window, "%d", STATUS_RATE_WINDOW_S);
  const char *params[2] = {scan_id, window};
  PGresult *res = PQexecParams(conn,
                               "SELECT coalesce(sum(domain_rows), 0) FROM scan_batches WHERE scan_id = $1"
                               " AND committed_at > now() - $2::integer * interval '1 s'",
                               2, NULL, params, NULL, NULL, 0);
  double rate = PQresultStatus(res) == PGRES_TUPLES_OK ? strtod(PQgetvalue(res, 0, 0), NULL) / STATUS_RATE_WINDOW_S : 0;
  PQclear(res);
  double percent = progress.total > 0 ? 100.0 * (double)progress.domains_done / (double)progress.total : 0;
  printf("scan %s: %s\n", scan_id,
         info.complete ? "complete" : queue_progress_finished(&progress) ? "finished" : "running or stopped");
  printf("  done: %llu of %llu%s names (%.1f%%), %llu of %llu chunks, %llu leased now, %llu taken over\n",
         (unsigned long long)progress.domains_done, (unsigned long long)progress.total,
         progress.loaded ? "" : " loaded so far", percent, (unsigned long long)progress.chunks_done,
         (unsigned long long)progress.chunks, (unsigned long long)progress.chunks_leased,
         (unsigned long long)progress.takeovers);
  if (rate > 0 && progress.loaded) {
    printf("  rate: %.0f domains/s over the last %d s, ETA %.0f s\n", rate, STATUS_RATE_WINDOW_S,
           (double)(progress.total - progress.domains_done) / rate);
  } else {
    printf("  rate: %.0f domains/s over the last %d s\n", rate, STATUS_RATE_WINDOW_S);
  }
  res = PQexecParams(conn,
                     "SELECT worker_id, host, pid, extract(epoch FROM now() - heartbeat_at)::numeric(10,1),"
                     " domains, chunks, coalesce(exit_status, CASE WHEN heartbeat_at < now() - interval '30 s'"
                     "   THEN 'silent' ELSE 'alive' END)"
                     " FROM scan_workers WHERE scan_id = $1 ORDER BY worker_no",
                     1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    fprintf(stderr, "danescan status: database: %s", PQerrorMessage(conn));
    PQclear(res);
    goto out;
  }
  int alive = 0;
  for (int i = 0; i < PQntuples(res); i++) alive += strcmp(PQgetvalue(res, i, 6), "alive") == 0;
  printf("  workers: %d alive, %d in all\n", alive, PQntuples(res));
  for (int i = 0; i < PQntuples(res); i++) {
    printf("    %-40s pid %-7s heartbeat %5s s ago  %8s domains  %5s chunks  %s\n", PQgetvalue(res, i, 0),
           PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
           PQgetvalue(res, i, 6));
  }
  PQclear(res);
  exit_code = 0;
out:
  PQfinish(conn);
  return exit_code;
}
