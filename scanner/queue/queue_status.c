/* `danescan status`'s report (see queue_status.h). */
#include "queue/queue_status.h"

#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/scan_row.h"
#include "queue/queue_db.h"

int queue_status_print(PGconn *conn, const char *scan_id, FILE *out, char *why, size_t why_len) {
  struct db_scan_info info;
  struct queue_progress progress;
  if (db_scan_info(conn, scan_id, &info, why, why_len) != DB_OK ||
      (info.exists && queue_db_progress(conn, scan_id, &progress, why, why_len) != DB_OK))
    return -1;
  if (!info.exists) {
    snprintf(why, why_len, "no scan '%s' in the database", scan_id);
    return -1;
  }
  if (info.chunk_size == 0) {
    snprintf(why, why_len, "scan %s was not run with workers (no work queue)", scan_id);
    return -1;
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
  fprintf(out, "scan %s: %s\n", scan_id,
          info.complete                            ? "complete"
              : queue_progress_finished(&progress) ? "finished"
                                                   : "running or stopped");
  fprintf(out, "  done: %llu of %llu%s names (%.1f%%), %llu of %llu chunks, %llu leased now, %llu taken over\n",
          (unsigned long long)progress.domains_done, (unsigned long long)progress.total,
          progress.loaded ? "" : " loaded so far", percent, (unsigned long long)progress.chunks_done,
          (unsigned long long)progress.chunks, (unsigned long long)progress.chunks_leased,
          (unsigned long long)progress.takeovers);
  if (rate > 0 && progress.loaded) {
    fprintf(out, "  rate: %.0f domains/s over the last %d s, ETA %.0f s\n", rate, STATUS_RATE_WINDOW_S,
            (double)(progress.total - progress.domains_done) / rate);
  } else {
    fprintf(out, "  rate: %.0f domains/s over the last %d s\n", rate, STATUS_RATE_WINDOW_S);
  }
  if (db_query(conn,
               "SELECT worker_id, host, pid, extract(epoch FROM now() - heartbeat_at)::numeric(10,1),"
               " domains, chunks, coalesce(exit_status, CASE WHEN heartbeat_at < now() - interval '30 s'"
               "   THEN 'silent' ELSE 'alive' END)"
               " FROM scan_workers WHERE scan_id = $1 ORDER BY worker_no",
               1, params, PGRES_TUPLES_OK, "listing workers", &res, why, why_len) != DB_OK)
    return -1;
  int alive = 0;
  for (int i = 0; i < PQntuples(res); i++) alive += strcmp(PQgetvalue(res, i, 6), "alive") == 0;
  fprintf(out, "  workers: %d alive, %d in all\n", alive, PQntuples(res));
  for (int i = 0; i < PQntuples(res); i++) {
    fprintf(out, "    %-40s pid %-7s heartbeat %5s s ago  %8s domains  %5s chunks  %s\n", PQgetvalue(res, i, 0),
            PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
            PQgetvalue(res, i, 6));
  }
  PQclear(res);
  return 0;
}
