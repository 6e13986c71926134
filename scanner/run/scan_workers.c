/* Supervisor and worker processes of a queued scan (see scan_workers.h). */
#include "run/scan_workers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/rand.h>

#include "run/scan_runtime.h"
#include "run/scan_sinks.h"
#include "pipeline/scan.h"
#include "queue/queue_db.h"
#include "queue/work_queue.h"
#include "store/jsonl.h"
#include "store/pg_sink.h"
#include "util/json.h"

#define SUPERVISOR_POLL_MS 200          /* child exits, signals, progress */
#define SUPERVISOR_MAX_ARGS 600

/* ---- helpers ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static PGconn *connect_db(const char *url, const char *command) {
  PGconn *conn = PQconnectdb(url);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "danescan %s: database: %s", command, PQerrorMessage(conn));
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

int scan_workers_is_queued(const char *db_url, const char *scan_id) {
  PGconn *conn = connect_db(db_url, "resume");
  if (conn == NULL) return -1;
  struct queue_scan_info info;
  char why[512];
  int rc = queue_db_scan_info(conn, scan_id, &info, why, sizeof why);
  if (rc != 0) {
    /* A database migrated before the queue has no such column: not queued. */
    rc = strstr(why, "queue_chunk_size") != NULL ? 0 : -1;
    if (rc < 0) fprintf(stderr, "danescan resume: %s\n", why);
  } else {
    rc = info.exists && info.chunk_size > 0;
  }
  PQfinish(conn);
  return rc;
}

/* ---- the supervisor ---- */

static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int signal_number) {
  (void)signal_number;
  stop_signals++;
}

struct child {
  pid_t pid;
  char worker_id[160];
  char certs_part[4096];
};

struct supervisor {
  const struct scan_options *options;
  const char *scan_id;
  int argc;
  char **argv;
  PGconn *conn;
  struct child *children;
  unsigned child_count;
  unsigned started, replaced, failed_exits;
  unsigned next_index;
  char run_tag[16];               /* random, makes worker ids unique across runs */
  struct input_counts counts;     /* of the input this run loaded */
  bool loaded_here;
  char load_error[512];
  double started_s;
};

static bool child_running(const struct child *child) { return child->pid > 0; }

/* A round trip: a connection whose server restarted still says OK until used. */
static bool round_trip_ok(PGconn *conn) {
  PGresult *res = PQexec(conn, "SELECT 1");
  bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  PQclear(res);
  return ok;
}

/* The supervisor's connection, reconnected if PostgreSQL restarted or was
 * away, for as long as the writers retry (pg_sink_default_retry_timeout_ms).
 * Returns false when it stays away. */
static bool ensure_connection(struct supervisor *sup) {
  double deadline = now_s() + pg_sink_default_retry_timeout_ms() / 1000.0;
  unsigned backoff_ms = 100;
  while (PQstatus(sup->conn) != CONNECTION_OK || !round_trip_ok(sup->conn)) {
    if (now_s() >= deadline || stop_signals >= 2) return false;
    sleep_ms(backoff_ms);
    backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
    PQreset(sup->conn);
  }
  return true;
}

/* execs `danescan scan <options> --worker-process ...` in a child that dies
 * with the supervisor (PR_SET_PDEATHSIG): killing the supervisor kills the
 * scan, which `resume` then continues. */
static int spawn_child(struct supervisor *sup, struct child *child) {
  char host[128] = "";
  gethostname(host, sizeof host - 1);
  unsigned index = sup->next_index++;
  snprintf(child->worker_id, sizeof child->worker_id, "%s:%d:%s:%u", host, (int)getpid(), sup->run_tag, index);
  const char *certs = sup->options->certs_path;
  child->certs_part[0] = '\0';
  if (certs != NULL) snprintf(child->certs_part, sizeof child->certs_part, "%s.worker-%u", certs, index);

  char *args[SUPERVISOR_MAX_ARGS];
  int n = 0;
  args[n++] = "danescan";
  int split = sup->argc; /* options before a "--" */
  for (int i = 0; i < sup->argc; i++) {
    if (strcmp(sup->argv[i], "--") == 0) {
      split = i;
      break;
    }
  }
  for (int i = 0; i < split && n < SUPERVISOR_MAX_ARGS - 20; i++) args[n++] = sup->argv[i];
  args[n++] = "--worker-process";
  args[n++] = "--worker-id";
  args[n++] = child->worker_id;
  args[n++] = "--scan-id";
  args[n++] = (char *)sup->scan_id;
  args[n++] = "--db";
  args[n++] = (char *)sup->options->db_url;
  args[n++] = "--no-progress";
  if (certs != NULL) {
    args[n++] = "--certs";
    args[n++] = child->certs_part;
  }
  for (int i = split; i < sup->argc && n < SUPERVISOR_MAX_ARGS - 1; i++) args[n++] = sup->argv[i];
  args[n] = NULL;

  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "danescan scan: cannot start a worker: %s\n", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv("/proc/self/exe", args);
    fprintf(stderr, "danescan scan: cannot run a worker: %s\n", strerror(errno));
    _exit(127);
  }
  child->pid = pid;
  sup->started++;
  return 0;
}

static void signal_children(struct supervisor *sup, int signal_number) {
  for (unsigned i = 0; i < sup->child_count; i++) {
    if (child_running(&sup->children[i])) kill(sup->children[i].pid, signal_number);
  }
}

static unsigned running_children(const struct supervisor *sup) {
  unsigned running = 0;
  for (unsigned i = 0; i < sup->child_count; i++) running += child_running(&sup->children[i]);
  return running;
}

/* Reaps exited children; a worker that did not finish the queue is ended in
 * the database at once (its chunks go back to pending) and replaced, unless
 * the scan is stopping or has replaced too many already (a crash loop). */
static void reap_children(struct supervisor *sup, bool stopping) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (unsigned i = 0; i < sup->child_count; i++) {
      struct child *child = &sup->children[i];
      if (child->pid != pid) continue;
      child->pid = 0;
      bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (clean) break;
      sup->failed_exits++;
      char exit_status[64];
      if (WIFSIGNALED(status)) snprintf(exit_status, sizeof exit_status, "killed (signal %d)", WTERMSIG(status));
      else snprintf(exit_status, sizeof exit_status, "failed (exit %d)", WEXITSTATUS(status));
      char why[512];
      if (!ensure_connection(sup)) {
        /* The workers gave up on the database too: starting more cannot help. */
        fprintf(stderr, "danescan scan: database unreachable: not starting another worker\n");
        stopping = true;
      } else if (queue_db_worker_exit(sup->conn, sup->scan_id, child->worker_id, exit_status, why, sizeof why) != 0) {
        fprintf(stderr, "danescan scan: %s (its leases expire after %u s)\n", why, sup->options->lease_ttl_ms / 1000);
        PQreset(sup->conn);
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == 3) stopping = true; /* resolver check: no point */
      unsigned limit = 4 * sup->child_count + 4;
      if (!stopping && stop_signals == 0 && sup->replaced < limit) {
        if (!sup->options->quiet) {
          fprintf(stderr, "danescan: worker %s %s; starting another\n", child->worker_id, exit_status);
        }
        sup->replaced++;
        spawn_child(sup, child);
      } else if (!sup->options->quiet) {
        fprintf(stderr, "danescan: worker %s %s\n", child->worker_id, exit_status);
      }
      break;
    }
  }
}

/* Loads the input into the queue, retrying (from where it stopped, with the
 * input read again) while the database is unreachable. Returns 0 loaded, 1
 * stopped by a signal, -1 failed (load_error). */
static int load_input(struct supervisor *sup) {
  const struct scan_options *options = sup->options;
  double deadline = now_s() + pg_sink_default_retry_timeout_ms() / 1000.0;
  unsigned backoff_ms = 100;
  for (;;) {
    char why[512] = "";
    struct input_options input_options = options->input;
    struct input_reader *input = input_reader_open((const char *const *)options->inputs, options->input_count,
                                                   &input_options, why, sizeof why);
    if (input == NULL) {
      snprintf(sup->load_error, sizeof sup->load_error, "%s", why);
      return -1;
    }
    uint64_t loaded = 0;
    int rc = queue_db_load(sup->conn, sup->scan_id, input, (const char *const *)options->inputs,
                           options->input_count, &stop_signals, &loaded, why, sizeof why);
    input_reader_get_counts(input, &sup->counts);
    input_reader_free(input);
    if (rc >= 0) return rc;
    bool database_down = PQstatus(sup->conn) != CONNECTION_OK || strncmp(why, "database:", 9) == 0;
    if (!database_down || now_s() >= deadline) {
      snprintf(sup->load_error, sizeof sup->load_error, "%s", why);
      return -1;
    }
    fprintf(stderr, "danescan scan: %s; loading again from name %llu in %u ms\n", why,
            (unsigned long long)loaded, backoff_ms);
    sleep_ms(backoff_ms);
    backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
    PQreset(sup->conn);
  }
}

static void show_progress(struct supervisor *sup, bool final) {
  struct queue_progress progress;
  char why[512];
  if (queue_db_progress(sup->conn, sup->scan_id, &progress, why, sizeof why) != 0) return;
  double elapsed = now_s() - sup->started_s;
  fprintf(stderr, "\r\033[K%llu/%llu%s domains  %.0f domains/s  %u workers  %llu/%llu chunks done%s",
          (unsigned long long)progress.domains_done, (unsigned long long)progress.total, progress.loaded ? "" : "+",
          elapsed > 0 ? (double)progress.domains_done / elapsed : 0.0, running_children(sup),
          (unsigned long long)progress.chunks_done, (unsigned long long)progress.chunks, final ? "\n" : "");
}

/* Certificates of every worker's --certs part, each once (by the "# sha256"
 * line that starts each PEM block), into the --certs file. */
static int merge_certificates(struct supervisor *sup) {
  const char *path = sup->options->certs_path;
  if (path == NULL) return 0;
  FILE *out = fopen(path, "w");
  if (out == NULL) {
    fprintf(stderr, "danescan scan: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t seen_cap = 256, seen_count = 0;
  char (*seen)[65] = malloc(seen_cap * sizeof *seen);
  char line[8192];
  for (unsigned index = 0; index < sup->next_index; index++) {
    char part[4200];
    snprintf(part, sizeof part, "%s.worker-%u", path, index);
    FILE *in = fopen(part, "r");
    if (in == NULL) continue;
    bool keep = false;
    while (fgets(line, sizeof line, in) != NULL) {
      char digest[65];
      if (sscanf(line, "# sha256 %64s", digest) == 1) {
        keep = true;
        for (size_t i = 0; i < seen_count; i++) {
          if (strcmp(seen[i], digest) == 0) keep = false;
        }
        if (keep && seen != NULL) {
          if (seen_count == seen_cap) {
            char (*grown)[65] = realloc(seen, 2 * seen_cap * sizeof *seen);
            if (grown != NULL) {
              seen = grown;
              seen_cap *= 2;
            }
          }
          if (seen_count < seen_cap) memcpy(seen[seen_count++], digest, 65);
        }
      }
      if (keep) fputs(line, out);
    }
    fclose(in);
    unlink(part);
  }
  free(seen);
  return fclose(out) == 0 ? 0 : -1;
}

static void print_db_summary(struct supervisor *sup, bool complete) {
  const char *params[1] = {sup->scan_id};
  double elapsed = now_s() - sup->started_s;
  PGresult *res = PQexecParams(sup->conn,
                               "SELECT status, count(*) FROM domains WHERE scan_id = $1 GROUP BY 1 ORDER BY 1",
                               1, NULL, params, NULL, NULL, 0);
  uint64_t total = 0;
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(res); i++) total += strtoull(PQgetvalue(res, i, 1), NULL, 10);
  }
  fprintf(stderr, "danescan: scan %s: %llu domains stored, this run %.1f s; %u worker processes started, %u replaced\n",
          sup->scan_id, (unsigned long long)total, elapsed, sup->started, sup->replaced);
  fprintf(stderr, "  domains per status:\n");
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(res); i++)
      fprintf(stderr, "    %-18s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
  }
  PQclear(res);
  if (sup->loaded_here) {
    fprintf(stderr, "  input: %llu names, %llu invalid, %llu duplicates, %llu bad lines\n",
            (unsigned long long)sup->counts.names, (unsigned long long)sup->counts.invalid,
            (unsigned long long)sup->counts.duplicates, (unsigned long long)sup->counts.bad_lines);
  }
  res = PQexecParams(sup->conn,
                     "SELECT count(*), coalesce(sum(domains), 0), coalesce(sum(dns_queries), 0),"
                     " coalesce(sum(dns_retries), 0), coalesce(sum(dns_timeouts), 0), coalesce(sum(probes), 0),"
                     " coalesce(sum(connections), 0),"
                     " (SELECT coalesce(sum(leases - 1), 0) FROM scan_chunks WHERE scan_id = $1 AND leases > 1),"
                     " (SELECT count(*) FROM scan_chunks WHERE scan_id = $1),"
                     " (SELECT coalesce(sum(probe_runs - 1), 0) FROM host_claims WHERE scan_id = $1),"
                     " (SELECT count(*) FROM host_claims WHERE scan_id = $1)"
                     " FROM scan_workers WHERE scan_id = $1",
                     1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    fprintf(stderr,
            "  workers: %s (all runs); dns: %s queries, %s retries, %s timeouts; probes: %s addresses,"
            " %s SMTP connections\n",
            PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4),
            PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6));
    fprintf(stderr, "  queue: %s chunks, %s taken over or released; %s hosts probed, %s duplicate probes\n",
            PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 7), PQgetvalue(res, 0, 10), PQgetvalue(res, 0, 9));
  }
  PQclear(res);
  if (!complete) {
    res = PQexecParams(sup->conn, "SELECT coalesce(error, 'not every name is stored yet') FROM scans WHERE id = $1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
      fprintf(stderr, "  stopped early: %s (continue with 'danescan resume %s')\n", PQgetvalue(res, 0, 0),
              sup->scan_id);
    }
    PQclear(res);
  }
}

/* --metadata for a queued scan: the scan as the database has it. */
static int write_metadata(struct supervisor *sup, bool complete) {
  const char *path = sup->options->metadata;
  if (path == NULL) return 0;
  const char *params[2] = {sup->scan_id, complete ? "true" : "false"};
  PGresult *res = PQexecParams(
      sup->conn,
      "SELECT json_build_object('scan_id', s.id, 'software', s.software, 'command_line', s.command_line,"
      " 'host', s.host, 'probe_mode', s.parameters->>'probe_mode', 'started', s.started_at,"
      " 'ended', s.ended_at, 'complete', $2::boolean, 'error', s.error, 'inputs', s.inputs,"
      " 'domains', (SELECT count(*) FROM domains WHERE scan_id = s.id),"
      " 'status_counts', (SELECT coalesce(json_object_agg(status, n), '{}') FROM"
      "   (SELECT status, count(*) n FROM domains WHERE scan_id = s.id GROUP BY 1) c),"
      " 'workers', (SELECT json_agg(json_build_object('worker_id', worker_id, 'host', host, 'pid', pid,"
      "   'domains', domains, 'exit_status', exit_status) ORDER BY worker_no) FROM scan_workers WHERE scan_id = s.id),"
      " 'dns', (SELECT json_build_object('queries_sent', sum(dns_queries), 'retries', sum(dns_retries),"
      "   'timeouts', sum(dns_timeouts)) FROM scan_workers WHERE scan_id = s.id))"
      " FROM scans s WHERE s.id = $1",
      2, NULL, params, NULL, NULL, 0);
  int rc = -1;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    FILE *out = fopen(path, "w");
    if (out != NULL) {
      fprintf(out, "%s\n", PQgetvalue(res, 0, 0));
      rc = fclose(out) == 0 ? 0 : -1;
    }
  }
  if (rc != 0) fprintf(stderr, "danescan scan: %s: cannot write metadata\n", path);
  PQclear(res);
  return rc;
}

int scan_supervisor_main(const struct scan_options *options, const char *scan_id, int argc, char **argv) {
  struct supervisor sup;
  memset(&sup, 0, sizeof sup);
  sup.options = options;
  sup.scan_id = scan_id;
  sup.argc = argc;
  sup.argv = argv;
  sup.started_s = now_s();
  unsigned char random_bytes[3] = {0};
  RAND_bytes(random_bytes, sizeof random_bytes);
  snprintf(sup.run_tag, sizeof sup.run_tag, "%02x%02x%02x", random_bytes[0], random_bytes[1], random_bytes[2]);
  char why[512] = "";
  int exit_code = 1;
  if (options->workers == 0) {
    fprintf(stderr, "danescan scan: internal: a queued scan needs at least one worker\n");
    return 2;
  }

  if (!options->join) {
    char *parameters = scan_sinks_parameters_json(options);
    struct pg_sink_config config = {.conninfo = options->db_url, .scan_id = scan_id, .resume = options->resume,
                                    .argc = argc, .argv = argv, .parameters_json = parameters, .log = stderr};
    int rc = pg_sink_register_scan(&config, why, sizeof why);
    free(parameters);
    if (rc != 0) {
      fprintf(stderr, "danescan scan: %s\n", why);
      return 2;
    }
  }
  sup.conn = connect_db(options->db_url, "scan");
  if (sup.conn == NULL) return 1;
  struct queue_scan_info info;
  if (queue_db_scan_info(sup.conn, scan_id, &info, why, sizeof why) != 0 || !info.exists) {
    fprintf(stderr, "danescan scan: %s\n", info.exists ? why : "no such scan in the database");
    PQfinish(sup.conn);
    return 1;
  }
  if (options->join && info.chunk_size == 0) {
    fprintf(stderr, "danescan worker: scan %s was not started with workers (it has no work queue)\n", scan_id);
    PQfinish(sup.conn);
    return 2;
  }
  if (!options->join && queue_db_init_scan(sup.conn, scan_id, options->chunk_size, why, sizeof why) != 0) {
    fprintf(stderr, "danescan scan: %s\n", why);
    PQfinish(sup.conn);
    return 1;
  }
  char host[128] = "";
  gethostname(host, sizeof host - 1);
  int reaped = queue_db_reap_local_workers(sup.conn, scan_id, host, why, sizeof why);
  if (reaped > 0 && !options->quiet) fprintf(stderr, "danescan: %d dead workers of an earlier run released their chunks\n", reaped);
  if (options->output_given && !options->resume && !options->join && strcmp(options->output, "-") != 0) {
    FILE *truncate = fopen(options->output, "w"); /* workers append */
    if (truncate == NULL) {
      fprintf(stderr, "danescan scan: %s: %s\n", options->output, strerror(errno));
      PQfinish(sup.conn);
      return 2;
    }
    fclose(truncate);
  }

  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int, old_term;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  sup.child_count = options->workers;
  sup.children = calloc(sup.child_count, sizeof *sup.children);
  if (sup.children == NULL) {
    fprintf(stderr, "danescan scan: out of memory\n");
    goto out;
  }
  if (!options->quiet) {
    fprintf(stderr, "danescan: scan %s %s with %u worker processes\n", scan_id,
            options->join ? "joined" : options->resume ? "resumed" : "started", sup.child_count);
  }
  for (unsigned i = 0; i < sup.child_count; i++) {
    if (spawn_child(&sup, &sup.children[i]) != 0) goto out;
  }
  bool load_failed = false;
  if (!options->join && !info.loaded) {
    sup.loaded_here = true;
    int rc = load_input(&sup);
    if (rc < 0) {
      load_failed = true;
      fprintf(stderr, "danescan scan: %s\n", sup.load_error);
      /* What was loaded is scanned; the scan is recorded incomplete. */
      const char *params[2] = {scan_id, sup.load_error};
      PQclear(PQexecParams(sup.conn, "UPDATE scans SET queue_loaded = true, error = $2 WHERE id = $1", 2, NULL, params,
                           NULL, NULL, 0));
    }
  }
  bool forwarded_term = false, forwarded_kill = false;
  double last_progress = 0;
  while (running_children(&sup) > 0) {
    if (stop_signals >= 1 && !forwarded_term) {
      signal_children(&sup, SIGTERM);
      forwarded_term = true;
    }
    if (stop_signals >= 2 && !forwarded_kill) {
      signal_children(&sup, SIGKILL);
      forwarded_kill = true;
    }
    reap_children(&sup, false);
    if (options->scan.progress && now_s() - last_progress >= 1.0) {
      show_progress(&sup, false);
      last_progress = now_s();
    }
    sleep_ms(SUPERVISOR_POLL_MS);
  }
  reap_children(&sup, true);
  if (!ensure_connection(&sup)) {
    fprintf(stderr, "danescan scan: database unreachable at the end of the run: %s", PQerrorMessage(sup.conn));
    goto out;
  }
  if (options->scan.progress) show_progress(&sup, true);

  int finished = queue_db_finish_scan(sup.conn, scan_id, why, sizeof why);
  if (finished < 0) fprintf(stderr, "danescan scan: %s\n", why);
  bool complete = finished == 1 && !load_failed;
  if (!complete && !options->join) {
    const char *params[2] = {scan_id, stop_signals > 0 ? "interrupted" : "workers ended before every name was stored"};
    PQclear(PQexecParams(sup.conn,
                         "UPDATE scans SET complete = false, ended_at = now(), error = coalesce(error, $2),"
                         " domains = (SELECT count(*) FROM domains WHERE scan_id = $1) WHERE id = $1",
                         2, NULL, params, NULL, NULL, 0));
  }
  if (!options->quiet) print_db_summary(&sup, complete);
  exit_code = complete ? 0 : 1;
  if (write_metadata(&sup, complete) != 0) exit_code = 1;
  if (merge_certificates(&sup) != 0) exit_code = 1;

out:
  if (sup.children != NULL && running_children(&sup) > 0) {
    signal_children(&sup, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0) {
    }
  }
  free(sup.children);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  PQfinish(sup.conn);
  return exit_code;
}

/* ---- one worker process ---- */

struct worker_context {
  struct scan *scan;
  struct scan_runtime *runtime;
  void *pg_state;
  unsigned rate_burst;
};

static void worker_counters(void *ctx, struct queue_worker_counters *out) {
  struct worker_context *worker = ctx;
  memset(out, 0, sizeof *out);
  if (worker->scan != NULL) {
    struct scan_stats stats;
    scan_get_stats(worker->scan, &stats);
    out->domains = stats.domains_done;
  }
  struct dns_client_stats dns;
  dns_client_get_stats(worker->runtime->dns, &dns);
  out->dns_queries = dns.queries_sent;
  out->dns_retries = dns.retries;
  out->dns_timeouts = dns.timeouts;
  if (worker->runtime->engine != NULL) {
    struct probe_stats probes;
    probe_engine_get_stats(worker->runtime->engine, &probes);
    out->probes = probes.completed;
    out->connections = probes.connections;
  }
}

static void worker_set_rate(void *ctx, double rate) {
  struct worker_context *worker = ctx;
  if (worker->runtime->engine == NULL) return;
  /* The burst is shared too, so the scan-wide burst stays --rate's. */
  double share = rate > 0 ? rate : 1;
  unsigned burst = worker->rate_burst;
  probe_engine_set_rate(worker->runtime->engine, share, burst);
}

static void worker_store_host(void *ctx, const struct mx_host *host) {
  struct worker_context *worker = ctx;
  if (worker->pg_state != NULL) pg_sink_add_host(worker->pg_state, host);
}

int scan_worker_main(const struct scan_options *options, int argc, char **argv) {
  (void)argc;
  (void)argv;
  char why[512] = "";
  char worker_id[200];
  if (options->worker_id != NULL) {
    snprintf(worker_id, sizeof worker_id, "%s", options->worker_id);
  } else {
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    unsigned char r[3] = {0};
    RAND_bytes(r, sizeof r);
    snprintf(worker_id, sizeof worker_id, "%s:%d:%02x%02x%02x", host, (int)getpid(), r[0], r[1], r[2]);
  }
  PGconn *conn = connect_db(options->db_url, "worker");
  if (conn == NULL) return 1;
  struct queue_scan_info info;
  int rc = queue_db_scan_info(conn, options->scan_id, &info, why, sizeof why);
  PQfinish(conn);
  if (rc != 0 || !info.exists || info.chunk_size == 0) {
    fprintf(stderr, "danescan worker: %s\n", rc != 0 ? why : "the scan has no work queue");
    return 2;
  }

  struct scan_runtime runtime;
  int exit_code = scan_runtime_open(&runtime, options, options->certs_path, "worker");
  if (exit_code != 0) return exit_code;
  exit_code = 1;
  struct worker_context context = {.runtime = &runtime};
  /* Each worker gets its share of the burst; at least one token. */
  context.rate_burst = 1;
  struct work_queue_config queue_config = {
      .conninfo = options->db_url,
      .scan_id = options->scan_id,
      .worker_id = worker_id,
      .lease_ttl_ms = options->lease_ttl_ms,
      .heartbeat_ms = QUEUE_HEARTBEAT_MS,
      .prefetch_names = options->scan.concurrency + info.chunk_size,
      .per_ip = options->probe_config.per_ip,
      .per_ip_gap_ms = options->probe_config.per_ip_gap_ms,
      .total_rate = options->probe_config.rate_per_second,
      .min_workers = options->workers > 0 ? options->workers : 1,
      .retry_timeout_ms = pg_sink_default_retry_timeout_ms(),
      .log = stderr,
      .counters = worker_counters,
      .set_rate = worker_set_rate,
      .store_host = worker_store_host,
      .ctx = &context,
  };
  struct work_queue *queue = work_queue_open(runtime.base, &queue_config, why, sizeof why);
  struct result_sink sinks[SCAN_MAX_SINKS];
  size_t sink_count = 0;
  struct scan *scan = NULL;
  const char *exit_status = "failed";
  char failure[600] = "";
  if (queue == NULL) {
    fprintf(stderr, "danescan worker: %s\n", why);
    goto out;
  }
  if (runtime.engine != NULL) {
    /* Until the first heartbeat says how many workers run: a cautious
     * share, as if every local worker of a default scan ran. */
    unsigned configured = options->probe_config.rate_burst > 0 ? options->probe_config.rate_burst : 1;
    unsigned workers = options->workers > 0 ? options->workers : 1;
    context.rate_burst = configured / workers > 0 ? configured / workers : 1;
    probe_engine_set_rate(runtime.engine, options->probe_config.rate_per_second / workers, context.rate_burst);
  }
  if (options->output_given) {
    if (jsonl_sink_open_append(&sinks[sink_count], options->output, options->scan_id, why, sizeof why) != 0) {
      fprintf(stderr, "danescan worker: %s\n", why);
      goto out;
    }
    sink_count++;
  }
  struct pg_sink_config pg_config = {
      .conninfo = options->db_url,
      .scan_id = options->scan_id,
      .log = stderr,
      .worker_id = worker_id,
      .worker_no = work_queue_worker_no(queue),
      .chunk_size = info.chunk_size,
  };
  if (pg_sink_open(&sinks[sink_count], &pg_config, why, sizeof why) != 0) {
    fprintf(stderr, "danescan worker: %s\n", why);
    goto out;
  }
  context.pg_state = sinks[sink_count].state;
  sink_count++;
  scan = scan_new(runtime.base, &options->scan, runtime.dns, runtime.hosts, NULL, sinks, sink_count);
  if (scan == NULL) {
    fprintf(stderr, "danescan worker: out of memory\n");
    goto out;
  }
  struct scan_source source = {.state = queue, .next = work_queue_next, .set_wakeup = work_queue_set_wakeup};
  scan_set_source(scan, &source);
  if (runtime.stage != NULL) probe_stage_set_coordinator(runtime.stage, work_queue_coordinator(queue));
  context.scan = scan;
  rc = scan_run(scan);
  struct scan_stats stats;
  scan_get_stats(scan, &stats);
  for (size_t i = 0; i < sink_count; i++) {
    if (sinks[i].close(sinks[i].state, why, sizeof why) != 0) {
      fprintf(stderr, "danescan worker %s: %s\n", worker_id, why);
      rc = -1;
      if (stats.error[0] == '\0') snprintf(stats.error, sizeof stats.error, "%s", why);
    }
  }
  sink_count = 0;
  context.pg_state = NULL;
  if (rc == 0) {
    exit_status = "done";
    exit_code = 0;
  } else {
    snprintf(failure, sizeof failure, "%s: %s", stats.interrupted ? "stopped" : "failed", stats.error);
    exit_status = failure;
    if (!stats.interrupted) fprintf(stderr, "danescan worker %s: %s\n", worker_id, stats.error);
  }

out:
  for (size_t i = 0; i < sink_count; i++) sinks[i].close(sinks[i].state, why, sizeof why);
  context.pg_state = NULL;
  /* Sinks first: every commit lands before the leases are given back. */
  if (queue != NULL && work_queue_close(queue, exit_status, why, sizeof why) != 0) {
    fprintf(stderr, "danescan worker %s: %s\n", worker_id, why);
  }
  scan_free(scan);
  if (scan_runtime_close(&runtime, "worker") != 0 && exit_code == 0) exit_code = 1;
  return exit_code;
}
