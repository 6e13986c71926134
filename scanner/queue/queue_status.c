/* `danescan status`'s report (see queue_status.h). */
#include "queue/queue_status.h"

#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/scan_row.h"
#include "queue/queue_db.h"
#include "util/json.h"

static int alive_workers(PGresult *workers) {
  int alive = 0;
  for (int i = 0; i < PQntuples(workers); i++) alive += strcmp(PQgetvalue(workers, i, 6), "alive") == 0;
  return alive;
}

static int print_text(FILE *out, const char *scan_id, const char *state, const struct queue_progress *progress,
                      double rate, PGresult *workers) {
  double percent = progress->total > 0 ? 100.0 * (double)progress->domains_done / (double)progress->total : 0;
  fprintf(out, "scan %s: %s\n", scan_id, state);
  fprintf(out, "  done: %llu of %llu%s names (%.1f%%), %llu of %llu chunks, %llu leased now, %llu taken over\n",
          (unsigned long long)progress->domains_done, (unsigned long long)progress->total,
          progress->loaded ? "" : " loaded so far", percent, (unsigned long long)progress->chunks_done,
          (unsigned long long)progress->chunks, (unsigned long long)progress->chunks_leased,
          (unsigned long long)progress->takeovers);
  if (rate > 0 && progress->loaded) {
    fprintf(out, "  rate: %.0f domains/s over the last %d s, ETA %.0f s\n", rate, STATUS_RATE_WINDOW_S,
            (double)(progress->total - progress->domains_done) / rate);
  } else {
    fprintf(out, "  rate: %.0f domains/s over the last %d s\n", rate, STATUS_RATE_WINDOW_S);
  }
  fprintf(out, "  workers: %d alive, %d in all\n", alive_workers(workers), PQntuples(workers));
  for (int i = 0; i < PQntuples(workers); i++) {
    fprintf(out, "    %-40s pid %-7s heartbeat %5s s ago  %8s domains  %5s chunks  %s\n", PQgetvalue(workers, i, 0),
            PQgetvalue(workers, i, 2), PQgetvalue(workers, i, 3), PQgetvalue(workers, i, 4), PQgetvalue(workers, i, 5),
            PQgetvalue(workers, i, 6));
  }
  return 0;
}

/* One JSON object, for monitoring (danescan-status(1) names the fields). */
static int print_json(FILE *out, const char *scan_id, const char *state, const struct queue_progress *progress,
                      double rate, PGresult *workers) {
  struct json_buf buf;
  json_buf_init(&buf);
  json_object_begin(&buf);
  json_key(&buf, "scan_id");
  json_string(&buf, scan_id);
  json_key(&buf, "state");
  json_string(&buf, state);
  json_key(&buf, "names_done");
  json_uint(&buf, progress->domains_done);
  json_key(&buf, "names_total");
  json_uint(&buf, progress->total);
  json_key(&buf, "loaded");
  json_bool(&buf, progress->loaded);
  json_key(&buf, "chunks_done");
  json_uint(&buf, progress->chunks_done);
  json_key(&buf, "chunks");
  json_uint(&buf, progress->chunks);
  json_key(&buf, "chunks_leased");
  json_uint(&buf, progress->chunks_leased);
  json_key(&buf, "takeovers");
  json_uint(&buf, progress->takeovers);
  json_key(&buf, "rate_domains_per_s");
  json_double(&buf, rate);
  json_key(&buf, "rate_window_s");
  json_uint(&buf, STATUS_RATE_WINDOW_S);
  json_key(&buf, "eta_s");
  if (rate > 0 && progress->loaded) json_double(&buf, (double)(progress->total - progress->domains_done) / rate);
  else json_null(&buf);
  json_key(&buf, "workers_alive");
  json_uint(&buf, (uint64_t)alive_workers(workers));
  json_key(&buf, "workers");
  json_array_begin(&buf);
  for (int i = 0; i < PQntuples(workers); i++) {
    json_object_begin(&buf);
    json_key(&buf, "worker_id");
    json_string(&buf, PQgetvalue(workers, i, 0));
    json_key(&buf, "host");
    json_string(&buf, PQgetvalue(workers, i, 1));
    json_key(&buf, "pid");
    json_uint(&buf, strtoull(PQgetvalue(workers, i, 2), NULL, 10));
    json_key(&buf, "heartbeat_age_s");
    json_double(&buf, strtod(PQgetvalue(workers, i, 3), NULL));
    json_key(&buf, "domains");
    json_uint(&buf, strtoull(PQgetvalue(workers, i, 4), NULL, 10));
    json_key(&buf, "chunks");
    json_uint(&buf, strtoull(PQgetvalue(workers, i, 5), NULL, 10));
    json_key(&buf, "state");
    json_string(&buf, PQgetvalue(workers, i, 6));
    json_object_end(&buf);
  }
  json_array_end(&buf);
  json_object_end(&buf);
  int rc = json_buf_failed(&buf) ? -1 : 0;
  if (rc == 0) fprintf(out, "%.*s\n", (int)buf.len, buf.data);
  json_buf_free(&buf);
  return rc;
}

int queue_status_print(PGconn *conn, const char *scan_id, enum queue_status_format format, FILE *out, char *why,
                       size_t why_len) {
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
  if (db_query(conn,
               "SELECT worker_id, host, pid, extract(epoch FROM now() - heartbeat_at)::numeric(10,1),"
               " domains, chunks, coalesce(exit_status, CASE WHEN heartbeat_at < now() - interval '30 s'"
               "   THEN 'silent' ELSE 'alive' END)"
               " FROM scan_workers WHERE scan_id = $1 ORDER BY worker_no",
               1, params, PGRES_TUPLES_OK, "listing workers", &res, why, why_len) != DB_OK)
    return -1;
  const char *state = info.complete        ? "complete"
      : queue_progress_finished(&progress) ? "finished"
                                           : "running or stopped";
  int rc = format == QUEUE_STATUS_JSON ? print_json(out, scan_id, state, &progress, rate, res)
                                       : print_text(out, scan_id, state, &progress, rate, res);
  PQclear(res);
  if (rc != 0) snprintf(why, why_len, "out of memory");
  return rc;
}
