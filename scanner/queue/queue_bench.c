/* `danescan db bench-queue` (see queue_bench.h). */
#include "queue/queue_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "db/pg_schema.h"
#include "db/scan_row.h"
#include "input/input.h"
#include "queue/queue_db.h"
#include "util/clock.h"

/* One benchmark worker: lease, "resolve" nothing, complete; until done.
 * Exit status 0, or 1 on a database error (printed). */
static int bench_worker(const char *url, const char *scan_id, unsigned index) {
  char why[512];
  PGconn *conn = db_connect(url, NULL, why, sizeof why);
  char worker_id[64];
  snprintf(worker_id, sizeof worker_id, "bench:%d:%u", (int)getpid(), index);
  uint64_t worker_no;
  if (conn == NULL ||
      queue_db_register_worker(conn, scan_id, worker_id, "bench", (int)getpid(), &worker_no, why, sizeof why) != 0) {
    fprintf(stderr, "bench worker: %s\n", why);
    PQfinish(conn);
    return 1;
  }
  int rc = 0;
  for (;;) {
    struct queue_chunk chunk;
    int leased = queue_db_lease_chunk(conn, scan_id, worker_id, QUEUE_DEFAULT_LEASE_TTL_MS, &chunk, why, sizeof why);
    if (leased < 0) {
      rc = 1;
      break;
    }
    if (leased == 0) {
      struct queue_progress progress;
      if (queue_db_progress(conn, scan_id, &progress, why, sizeof why) != 0) {
        rc = 1;
        break;
      }
      if (queue_progress_finished(&progress)) break;
      usleep(10000);
      continue;
    }
    char chunks[32], counts[32];
    snprintf(chunks, sizeof chunks, "{%llu}", (unsigned long long)chunk.chunk_no);
    snprintf(counts, sizeof counts, "{%zu}", chunk.count);
    db_exec(conn, "BEGIN", "BEGIN", why, sizeof why);
    if (queue_db_complete_chunks(conn, scan_id, worker_id, chunks, counts, 1, why, sizeof why) != 0) {
      db_rollback(conn);
      queue_chunk_clear(&chunk);
      rc = 1;
      break;
    }
    db_exec(conn, "COMMIT", "COMMIT", why, sizeof why);
    queue_chunk_clear(&chunk);
  }
  if (rc != 0) fprintf(stderr, "bench worker %u: %s\n", index, why);
  queue_db_worker_exit(conn, scan_id, worker_id, rc == 0 ? "done" : "failed", why, sizeof why);
  PQfinish(conn);
  return rc;
}

int queue_bench_main(const char *url, unsigned long long domains, unsigned workers, unsigned chunk_size, bool keep) {
  char scan_id[64];
  snprintf(scan_id, sizeof scan_id, "qbench-%ld-%d", (long)time(NULL), (int)getpid());
  char *argv_stored[] = {"db", "bench-queue"};
  struct db_scan_registration registration = {.scan_id = scan_id, .argc = 2, .argv = argv_stored};
  char why[512];
  PGconn *conn = pg_schema_connect(url, stderr, why, sizeof why);
  if (conn == NULL || db_scan_register(conn, &registration, why, sizeof why) != DB_OK ||
      db_scan_init_queue(conn, scan_id, chunk_size, why, sizeof why) != DB_OK) {
    fprintf(stderr, "danescan db bench-queue: %s\n", why);
    PQfinish(conn);
    return 1;
  }
  /* The synthetic input: one name a line, read by the real input reader. */
  size_t text_len = (size_t)domains * 24 + 1;
  char *text = malloc(text_len);
  size_t used = 0;
  for (unsigned long long i = 0; text != NULL && i < domains; i++) {
    used += (size_t)snprintf(text + used, text_len - used, "d%llu.bench.lab\n", i);
  }
  struct input_options options;
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_LIST;
  struct input_reader *input = text != NULL ? input_reader_open_memory(text, used, "bench", &options, why, sizeof why)
                                            : NULL;
  int rc = 1;
  if (input == NULL) {
    fprintf(stderr, "danescan db bench-queue: %s\n", text == NULL ? "out of memory" : why);
    goto out;
  }
  double t0 = clock_now_s();
  uint64_t loaded = 0;
  const char *paths[1] = {"bench"};
  if (queue_db_load(conn, scan_id, input, paths, 1, NULL, &loaded, NULL, NULL, why, sizeof why) != 0) {
    fprintf(stderr, "danescan db bench-queue: %s\n", why);
    goto out;
  }
  double load_s = clock_now_s() - t0;
  t0 = clock_now_s();
  fflush(NULL);
  for (unsigned w = 0; w < workers; w++) {
    pid_t pid = fork();
    if (pid == 0) _exit(bench_worker(url, scan_id, w));
  }
  int failed = 0, status;
  while (wait(&status) > 0) failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  double run_s = clock_now_s() - t0;
  struct queue_progress progress;
  if (queue_db_progress(conn, scan_id, &progress, why, sizeof why) != 0 || failed > 0 ||
      !queue_progress_finished(&progress) || progress.domains_done != domains) {
    fprintf(stderr, "danescan db bench-queue: %d workers failed, %llu of %llu domains handed out\n", failed,
            (unsigned long long)progress.domains_done, domains);
    goto out;
  }
  printf("danescan db bench-queue: loaded %llu names in %.2f s (%.0f names/s); %u workers took %llu chunks of %u"
         " in %.2f s: %.0f leases/s, %.0f domains/s\n",
         (unsigned long long)loaded, load_s, (double)loaded / load_s, workers, (unsigned long long)progress.chunks,
         chunk_size, run_s, (double)progress.chunks / run_s, (double)progress.domains_done / run_s);
  rc = 0;
out:
  input_reader_free(input);
  free(text);
  if (!keep) {
    const char *params[1] = {scan_id};
    PQclear(PQexecParams(conn, "SELECT danescan_drop_scan($1)", 1, NULL, params, NULL, NULL, 0));
  }
  PQfinish(conn);
  return rc;
}
