/* The supervisor of a queued scan (see supervisor.h). */
#include "run/supervisor.h"

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

#include "db/db.h"
#include "db/db_retry.h"
#include "db/pg_schema.h"
#include "db/scan_row.h"
#include "queue/queue_db.h"
#include "run/scan_metadata.h"
#include "run/scan_metrics.h"
#include "run/scan_sinks.h"
#include "util/clock.h"
#include "util/log.h"

#define SUPERVISOR_POLL_MS 200 /* child exits, signals, progress */
#define SUPERVISOR_MAX_ARGS 600

/* ---- helpers ---- */

int scan_workers_is_queued(const char *db_url, const char *scan_id) {
  char why[512];
  PGconn *conn = db_connect(db_url, NULL, why, sizeof why);
  if (conn == NULL) {
    log_error("%s", why);
    return -1;
  }
  struct db_scan_info info;
  int rc = db_scan_info(conn, scan_id, &info, why, sizeof why);
  if (rc != 0) {
    /* A database migrated before the queue has no such column (its name,
     * not the message's language, decides): not queued. */
    rc = strstr(why, "queue_chunk_size") != NULL ? 0 : -1;
    if (rc < 0) log_error("%s", why);
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
  char run_tag[16];           /* random, makes worker ids unique across runs */
  struct input_counts counts; /* of the input this run loaded */
  double last_metrics_s;      /* when the metrics file was last written (clock_now_s) */
  bool loaded_here;
  char load_error[512];
  double started_s;
};

static bool child_running(const struct child *child) {
  return child->pid > 0;
}

static int round_trip(PGconn *conn, void *arg, char *why, size_t why_len) {
  (void)arg;
  return db_exec(conn, "SELECT 1", "checking the connection", why, why_len);
}

static bool stopped_hard(void *ctx) {
  (void)ctx;
  return stop_signals >= 2;
}

/* The supervisor's connection, reconnected if PostgreSQL restarted or was
 * away, by the writers' rule and for as long (db/db_retry.h). A round trip
 * checks it: a connection whose server restarted still says OK until used.
 * Returns false when it stays away. */
static bool ensure_connection(struct supervisor *sup) {
  char why[512];
  struct db_retry_policy policy = {.conninfo = sup->options->db_url, .should_stop = stopped_hard};
  return db_retry_run(&policy, &sup->conn, round_trip, NULL, why, sizeof why) == DB_OK;
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
    log_error("cannot start a worker: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv("/proc/self/exe", args);
    log_error("cannot run a worker: %s", strerror(errno));
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
        log_error("database unreachable: not starting another worker");
        stopping = true;
      } else if (queue_db_worker_exit(sup->conn, sup->scan_id, child->worker_id, exit_status, why, sizeof why) != 0) {
        log_error("%s (its leases expire after %u s)", why, sup->options->lease_ttl_ms / 1000);
        PQreset(sup->conn);
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == 3) stopping = true; /* resolver check: no point */
      unsigned limit = 4 * sup->child_count + 4;
      if (!stopping && stop_signals == 0 && sup->replaced < limit) {
        log_warning("worker %s %s; starting another", child->worker_id, exit_status);
        sup->replaced++;
        spawn_child(sup, child);
      } else {
        log_warning("worker %s %s", child->worker_id, exit_status);
      }
      break;
    }
  }
}

struct load_attempt {
  struct supervisor *sup;
  uint64_t loaded;
  bool stopped;
};

static void metrics_while_loading(PGconn *conn, void *arg);

/* One attempt: the input read again from its start, loaded from where the
 * queue stands. */
static int load_step(PGconn *conn, void *arg, char *why, size_t why_len) {
  struct load_attempt *attempt = arg;
  const struct scan_options *options = attempt->sup->options;
  struct input_options input_options = options->input;
  struct input_reader *input = input_reader_open((const char *const *)options->inputs, options->input_count,
                                                 &input_options, why, why_len);
  if (input == NULL) return DB_ERROR; /* the input: opening it again cannot help */
  int rc = queue_db_load(conn, attempt->sup->scan_id, input, (const char *const *)options->inputs, options->input_count,
                         &stop_signals, &attempt->loaded, metrics_while_loading, attempt->sup, why, why_len);
  input_reader_get_counts(input, &attempt->sup->counts);
  input_reader_free(input);
  attempt->stopped = rc == 1;
  return rc == 1 ? DB_OK : rc;
}

static void load_on_retry(void *ctx, const char *why, unsigned wait_ms) {
  struct load_attempt *attempt = ctx;
  log_warning("%s; loading again from name %llu in %u ms", why, (unsigned long long)attempt->loaded, wait_ms);
}

/* Loads the input into the queue, retrying (from where it stopped, with the
 * input read again) by db/db_retry.h's rule. Returns 0 loaded, 1 stopped by
 * a signal, -1 failed (load_error). */
static int load_input(struct supervisor *sup) {
  struct load_attempt attempt = {.sup = sup};
  struct db_retry_policy policy = {.conninfo = sup->options->db_url, .on_retry = load_on_retry, .ctx = &attempt};
  char why[512] = "";
  if (db_retry_run(&policy, &sup->conn, load_step, &attempt, why, sizeof why) != DB_OK) {
    snprintf(sup->load_error, sizeof sup->load_error, "%s", why);
    return -1;
  }
  return attempt.stopped ? 1 : 0;
}

static void show_progress(struct supervisor *sup, bool final) {
  struct queue_progress progress;
  char why[512];
  if (queue_db_progress(sup->conn, sup->scan_id, &progress, why, sizeof why) != 0) return;
  double elapsed = clock_now_s() - sup->started_s;
  fprintf(stderr, "\r\033[K%llu/%llu%s domains  %.0f domains/s  %u workers  %llu/%llu chunks done%s",
          (unsigned long long)progress.domains_done, (unsigned long long)progress.total, progress.loaded ? "" : "+",
          elapsed > 0 ? (double)progress.domains_done / elapsed : 0.0, running_children(sup),
          (unsigned long long)progress.chunks_done, (unsigned long long)progress.chunks, final ? "\n" : "");
  log_progress_shown(!final);
}

/* --metrics-file (run/scan_metrics.h); a failure is reported and the scan
 * goes on (the previous file stays). */
static void write_metrics_on(struct supervisor *sup, PGconn *conn) {
  char why[512];
  if (scan_metrics_write(conn, sup->scan_id, sup->options->metrics_file, clock_now_s() - sup->started_s,
                         running_children(sup), why, sizeof why) != 0)
    log_warning("metrics: %s", why);
  sup->last_metrics_s = clock_now_s();
}

static void write_metrics(struct supervisor *sup) {
  write_metrics_on(sup, sup->conn);
}

/* queue_db_load's on_commit: the metrics file is kept fresh while a long
 * input loads (the poll loop has not started yet). */
static void metrics_while_loading(PGconn *conn, void *arg) {
  struct supervisor *sup = arg;
  if (sup->options->metrics_file != NULL && clock_now_s() - sup->last_metrics_s >= SCAN_METRICS_INTERVAL_S) {
    write_metrics_on(sup, conn);
  }
}

/* Certificates of every worker's --certs part, each once (by the "# sha256"
 * line that starts each PEM block), into the --certs file. */
static int merge_certificates(struct supervisor *sup) {
  const char *path = sup->options->certs_path;
  if (path == NULL) return 0;
  FILE *out = fopen(path, "w");
  if (out == NULL) {
    log_error("%s: %s", path, strerror(errno));
    return -1;
  }
  size_t seen_cap = 256, seen_count = 0;
  char(*seen)[65] = malloc(seen_cap * sizeof *seen);
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
            char(*grown)[65] = realloc(seen, 2 * seen_cap * sizeof *seen);
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

/* The summary of the whole scan, from the database (metadata: its domains
 * and counts; the queue: what the workers did). */
static void print_db_summary(struct supervisor *sup, const struct scan_metadata *metadata, bool complete) {
  double elapsed = clock_now_s() - sup->started_s;
  fprintf(stderr, "danescan: scan %s: %llu domains stored, this run %.1f s; %u worker processes started, %u replaced\n",
          sup->scan_id, (unsigned long long)metadata->domains, elapsed, sup->started, sup->replaced);
  fprintf(stderr, "  domains per status:\n");
  /* In the order of RESULTS.md (the schema's enum order, as before). */
  for (int i = 0; i < DOMAIN_STATUS_COUNT; i++) {
    uint64_t count = metadata->by_status[i];
    if (count > 0)
      fprintf(stderr, "    %-18s %llu\n", domain_status_name((enum domain_status)i), (unsigned long long)count);
  }
  if (sup->loaded_here) {
    fprintf(stderr, "  input: %llu names, %llu invalid, %llu duplicates, %llu bad lines\n",
            (unsigned long long)sup->counts.names, (unsigned long long)sup->counts.invalid,
            (unsigned long long)sup->counts.duplicates, (unsigned long long)sup->counts.bad_lines);
  }
  struct queue_summary summary;
  char why[512];
  if (queue_db_summary(sup->conn, sup->scan_id, &summary, why, sizeof why) == DB_OK) {
    fprintf(stderr,
            "  workers: %llu (all runs); dns: %llu queries, %llu retries, %llu timeouts; probes: %llu addresses,"
            " %llu SMTP connections\n",
            (unsigned long long)summary.workers, (unsigned long long)summary.dns_queries,
            (unsigned long long)summary.dns_retries, (unsigned long long)summary.dns_timeouts,
            (unsigned long long)summary.probes, (unsigned long long)summary.connections);
    fprintf(stderr, "  queue: %llu chunks, %llu taken over or released; %llu hosts probed, %llu duplicate probes\n",
            (unsigned long long)summary.chunks, (unsigned long long)summary.takeovers,
            (unsigned long long)summary.hosts_claimed, (unsigned long long)summary.duplicate_probes);
  }
  scan_counters_print_ns_lookup(stderr, &metadata->counters);
  if (!complete) {
    char error[512];
    if (db_scan_error(sup->conn, sup->scan_id, "not every name is stored yet", error, sizeof error, why, sizeof why) ==
            DB_OK &&
        error[0] != '\0')
      fprintf(stderr, "  stopped early: %s (continue with 'danescan resume %s')\n", error, sup->scan_id);
  }
}

int scan_supervisor_main(const struct scan_options *options, const char *scan_id, int argc, char **argv) {
  struct supervisor sup;
  memset(&sup, 0, sizeof sup);
  sup.options = options;
  sup.scan_id = scan_id;
  sup.argc = argc;
  sup.argv = argv;
  sup.started_s = clock_now_s();
  time_t started = time(NULL);
  unsigned char random_bytes[3] = {0};
  RAND_bytes(random_bytes, sizeof random_bytes);
  snprintf(sup.run_tag, sizeof sup.run_tag, "%02x%02x%02x", random_bytes[0], random_bytes[1], random_bytes[2]);
  char why[512] = "";
  int exit_code = 1;
  if (options->workers == 0) {
    log_error("internal: a queued scan needs at least one worker");
    return 2;
  }

  if (!options->join) {
    /* The scan's starter migrates and registers it; workers only attach. */
    sup.conn = pg_schema_connect(options->db_url, stderr, why, sizeof why);
    int rc = DB_ERROR;
    if (sup.conn != NULL) {
      char *parameters = scan_sinks_parameters_json(options);
      struct db_scan_registration registration = {
          .scan_id = scan_id, .resume = options->resume, .argc = argc, .argv = argv, .parameters_json = parameters};
      rc = db_scan_register(sup.conn, &registration, why, sizeof why);
      free(parameters);
    }
    if (rc != DB_OK) {
      log_error("%s", why);
      PQfinish(sup.conn);
      return 2;
    }
  } else {
    sup.conn = db_connect(options->db_url, NULL, why, sizeof why);
    if (sup.conn == NULL) {
      log_error("%s", why);
      return 1;
    }
  }
  struct db_scan_info info;
  if (db_scan_info(sup.conn, scan_id, &info, why, sizeof why) != DB_OK || !info.exists) {
    log_error("%s", info.exists ? why : "no such scan in the database");
    PQfinish(sup.conn);
    return 1;
  }
  if (options->join && info.chunk_size == 0) {
    log_error("scan %s was not started with workers (it has no work queue)", scan_id);
    PQfinish(sup.conn);
    return 2;
  }
  if (!options->join && db_scan_init_queue(sup.conn, scan_id, options->chunk_size, why, sizeof why) != DB_OK) {
    log_error("%s", why);
    PQfinish(sup.conn);
    return 1;
  }
  char host[128] = "";
  gethostname(host, sizeof host - 1);
  int reaped = queue_db_reap_local_workers(sup.conn, scan_id, host, why, sizeof why);
  if (reaped > 0 && !options->quiet) log_notice("%d dead workers of an earlier run released their chunks", reaped);
  if (options->output_given && !options->resume && !options->join && strcmp(options->output, "-") != 0) {
    FILE *truncate = fopen(options->output, "w"); /* workers append */
    if (truncate == NULL) {
      log_error("%s: %s", options->output, strerror(errno));
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
    log_error("out of memory");
    goto out;
  }
  if (!options->quiet) {
    log_notice("scan %s %s with %u worker processes", scan_id,
               options->join         ? "joined"
                   : options->resume ? "resumed"
                                     : "started",
               sup.child_count);
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
      log_error("%s", sup.load_error);
      /* What was loaded is scanned; the scan is recorded incomplete. */
      if (db_scan_fail_load(sup.conn, scan_id, sup.load_error, why, sizeof why) != DB_OK) log_error("%s", why);
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
    if (options->scan.progress && clock_now_s() - last_progress >= 1.0) {
      show_progress(&sup, false);
      last_progress = clock_now_s();
    }
    if (options->metrics_file != NULL && clock_now_s() - sup.last_metrics_s >= SCAN_METRICS_INTERVAL_S) {
      write_metrics(&sup);
    }
    clock_sleep_ms(SUPERVISOR_POLL_MS);
  }
  reap_children(&sup, true);
  if (!ensure_connection(&sup)) {
    log_error("database unreachable at the end of the run: %s", PQerrorMessage(sup.conn));
    goto out;
  }
  if (options->scan.progress) show_progress(&sup, true);
  if (options->metrics_file != NULL) write_metrics(&sup);

  int finished = queue_db_finish_scan(sup.conn, scan_id, why, sizeof why);
  if (finished < 0) log_error("%s", why);
  bool complete = finished == 1 && !load_failed;
  if (!complete && !options->join &&
      db_scan_stop_queued(sup.conn, scan_id,
                          stop_signals > 0 ? "interrupted" : "workers ended before every name was stored", why,
                          sizeof why) != DB_OK)
    log_error("%s", why);
  exit_code = complete ? 0 : 1;
  /* One document of the whole scan from the database: the summary's and
   * --metadata's (run/scan_metadata.h). */
  struct scan_metadata metadata;
  if (scan_metadata_from_db(&metadata, sup.conn, scan_id, argc, argv, options->probe_mode, started, complete, why,
                            sizeof why) != 0) {
    log_error("%s", why);
    exit_code = 1;
  } else {
    if (!options->quiet) print_db_summary(&sup, &metadata, complete);
    if (options->metadata != NULL && scan_metadata_write(options->metadata, &metadata, why, sizeof why) != 0) {
      log_error("%s", why);
      exit_code = 1;
    }
    scan_metadata_clear(&metadata);
  }
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
