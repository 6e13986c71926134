/* What `danescan scan` runs once its options are parsed (see scan_run.h). */
#include "run/scan_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "dns/dns_client.h"
#include "input/input.h"
#include "pipeline/host_resolver.h"
#include "pipeline/scan.h"
#include "run/scan_metadata.h"
#include "run/scan_metrics.h"
#include "run/scan_runtime.h"
#include "run/scan_sinks.h"
#include "run/supervisor.h"
#include "run/worker.h"
#include "util/clock.h"
#include "util/log.h"

static void make_scan_id(char *out, size_t out_len) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  unsigned char random_bytes[4] = {0};
  if (RAND_bytes(random_bytes, sizeof random_bytes) != 1) {
    uint32_t fallback = (uint32_t)getpid() ^ (uint32_t)now;
    memcpy(random_bytes, &fallback, sizeof random_bytes);
  }
  size_t n = strftime(out, out_len, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(out + n, out_len - n, "-%02x%02x%02x%02x", random_bytes[0], random_bytes[1], random_bytes[2],
           random_bytes[3]);
}

static void print_diagnostic(const char *message, void *arg) {
  (void)arg;
  log_warning("%s", message);
}

static void print_summary(FILE *out, const struct scan_stats *stats, const struct dns_client_stats *dns,
                          const struct host_resolver_stats *hosts, const struct input_counts *counts) {
  fprintf(out, "danescan: %llu domains in %.1f s (%.0f domains/s)\n", (unsigned long long)stats->domains_done,
          stats->elapsed_s, stats->elapsed_s > 0 ? (double)stats->domains_done / stats->elapsed_s : 0.0);
  fprintf(out, "  domains per status:\n");
  for (int i = 0; i < DOMAIN_STATUS_COUNT; i++) {
    if (stats->by_status[i] == 0) continue;
    fprintf(out, "    %-18s %llu\n", domain_status_name((enum domain_status)i),
            (unsigned long long)stats->by_status[i]);
  }
  fprintf(out, "  input: %llu names, %llu invalid, %llu duplicates, %llu bad lines\n",
          (unsigned long long)counts->names, (unsigned long long)counts->invalid,
          (unsigned long long)counts->duplicates, (unsigned long long)counts->bad_lines);
  fprintf(out,
          "  dns: %llu lookups, %llu queries sent, %llu retries, %llu timeouts, %llu SERVFAIL, "
          "%llu REFUSED, %llu malformed, %llu mismatched replies, %llu late replies used, %llu over TCP, "
          "%llu CD=1 repeats, %llu needed a slow retry, %llu failed, %llu bogus\n",
          (unsigned long long)dns->lookups_done, (unsigned long long)dns->queries_sent,
          (unsigned long long)dns->retries, (unsigned long long)dns->timeouts, (unsigned long long)dns->servfails,
          (unsigned long long)dns->refused, (unsigned long long)dns->malformed, (unsigned long long)dns->mismatched,
          (unsigned long long)dns->late_replies, (unsigned long long)dns->truncated,
          (unsigned long long)dns->cd_requeries, (unsigned long long)dns->slow_retried, (unsigned long long)dns->failed,
          (unsigned long long)dns->bogus);
  dns_client_stats_print_resolvers(out, dns);
  double hit_rate = hosts->requests > 0 ? 100.0 * (double)hosts->hits / (double)hosts->requests : 0.0;
  fprintf(out, "  mx hosts: %llu requests, %llu resolved, cache hit rate %.1f%%, %llu evicted\n",
          (unsigned long long)hosts->requests, (unsigned long long)hosts->resolved, hit_rate,
          (unsigned long long)hosts->evicted);
  if (stats->error[0] != '\0') fprintf(out, "  stopped early: %s\n", stats->error);
}

static void print_probe_summary(FILE *out, struct probe_engine *engine) {
  struct probe_stats probes;
  probe_engine_get_stats(engine, &probes);
  fprintf(out,
          "  probes: %llu addresses, %llu SMTP connections (%llu retries after a transient failure), %llu with a "
          "usable TLSA record OpenSSL refused; per result:",
          (unsigned long long)probes.completed, (unsigned long long)probes.connections,
          (unsigned long long)probes.retries, (unsigned long long)probes.tlsa_refused);
  for (int i = 0; i < PROBE_RESULT_COUNT; i++) {
    if (probes.results[i] > 0) {
      fprintf(out, " %s %llu", probe_result_name((enum probe_result)i), (unsigned long long)probes.results[i]);
    }
  }
  fprintf(out, "\n");
}

/* --metrics-file in one process: the scan's own counters, written every
 * SCAN_METRICS_INTERVAL_S from the event loop and once at the end. */
struct local_metrics {
  const char *path;
  const char *scan_id;
  struct scan *scan;
  struct scan_runtime *runtime;
  struct input_reader *input;
  double started_s;
  struct event *timer;
};

static void write_local_metrics(const struct local_metrics *m) {
  struct scan_metrics_local values;
  memset(&values, 0, sizeof values);
  struct scan_stats stats;
  scan_get_stats(m->scan, &stats);
  struct input_counts counts;
  input_reader_get_counts(m->input, &counts);
  struct dns_client_stats dns;
  dns_client_get_stats(m->runtime->dns, &dns);
  values.names = counts.names;
  values.input_done = stats.input_done;
  values.bad_lines = counts.bad_lines;
  values.domains_done = stats.domains_done;
  values.in_flight = stats.in_flight;
  memcpy(values.by_status, stats.by_status, sizeof values.by_status);
  values.elapsed_s = clock_now_s() - m->started_s;
  values.dns_queries = dns.queries_sent;
  values.dns_retries = dns.retries;
  values.dns_timeouts = dns.timeouts;
  values.dns_failed = dns.failed;
  if (m->runtime->engine != NULL) {
    struct probe_stats probes;
    probe_engine_get_stats(m->runtime->engine, &probes);
    values.probes = probes.completed;
    values.connections = probes.connections;
  }
  values.ns_lookup = m->runtime->ns_lookup;
  char why[512] = "";
  if (scan_metrics_write_local(m->path, m->scan_id, &values, why, sizeof why) != 0) log_warning("metrics: %s", why);
}

static void on_metrics_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  write_local_metrics(arg);
}

int run_scan(struct scan_options *options, int argc, char **argv) {
  char why[512] = "";
  char scan_id[64];
  if (options->scan_id != NULL) snprintf(scan_id, sizeof scan_id, "%s", options->scan_id);
  else make_scan_id(scan_id, sizeof scan_id);
  time_t started = time(NULL);

  /* With --db the scan runs in worker processes fed by the database's work
   * queue (supervisor.h, worker.h), unless --workers 0, or a resumed scan started
   * before the queue existed. */
  if (options->worker_process) return scan_worker_main(options);
  if (options->db_url != NULL) {
    bool queued = options->join || options->workers > 0;
    if (options->resume) {
      int is_queued = scan_workers_is_queued(options->db_url, scan_id);
      if (is_queued < 0) return 1;
      queued = is_queued == 1;
    }
    if (queued) {
      if (options->output_given && strcmp(options->output, "-") == 0) {
        log_error("workers cannot share standard output: give --output FILE (or --workers 0)");
        return 2;
      }
      if (options->input.shard_count > 1 && !options->quiet) {
        log_notice("--shard with --db: the workers share this shard's names");
      }
      return scan_supervisor_main(options, scan_id, argc, argv);
    }
  }
  struct scan_runtime runtime;
  int exit_code = scan_runtime_open(&runtime, options, options->certs_path, "scan");
  if (exit_code != 0) return exit_code;
  exit_code = 1;
  struct input_reader *input = NULL;
  struct scan *scan = NULL;
  struct result_sink sinks[SCAN_MAX_SINKS];
  size_t sink_count = 0;

  options->input.diagnostic = print_diagnostic;
  input = input_reader_open((const char *const *)options->inputs, options->input_count, &options->input, why,
                            sizeof why);
  if (input == NULL) {
    log_error("%s", why);
    exit_code = 2;
    goto out;
  }
  if (scan_sinks_open(options, scan_id, argc, argv, input, sinks, &sink_count, &runtime.scan, why, sizeof why) != 0) {
    log_error("%s", why);
    exit_code = 2;
    goto out;
  }
  scan = scan_new(runtime.base, &runtime.scan, runtime.dns, runtime.hosts, input, sinks, sink_count);
  if (scan == NULL) {
    log_error("out of memory");
    goto out;
  }
  log_notice("scan %s started", scan_id);
  struct local_metrics metrics = {options->metrics_file, scan_id, scan, &runtime, input, clock_now_s(), NULL};
  if (options->metrics_file != NULL) {
    metrics.timer = event_new(runtime.base, -1, EV_PERSIST, on_metrics_timer, &metrics);
    struct timeval interval = {(time_t)SCAN_METRICS_INTERVAL_S, 0};
    if (metrics.timer == NULL || event_add(metrics.timer, &interval) != 0) {
      log_error("out of memory");
      if (metrics.timer != NULL) event_free(metrics.timer);
      goto out;
    }
    write_local_metrics(&metrics);
  }
  int rc = scan_run(scan);
  if (metrics.timer != NULL) {
    event_free(metrics.timer);
    write_local_metrics(&metrics);
  }
  struct scan_stats stats;
  scan_get_stats(scan, &stats);
  for (size_t i = 0; i < sink_count; i++) {
    if (sinks[i].finish != NULL) sinks[i].finish(sinks[i].state, rc == 0, stats.error[0] ? stats.error : NULL);
    if (sinks[i].close(sinks[i].state, why, sizeof why) != 0) {
      log_error("%s", why);
      rc = -1;
      if (stats.error[0] == '\0') snprintf(stats.error, sizeof stats.error, "%s", why);
    }
  }
  sink_count = 0;
  struct dns_client_stats dns_stats;
  dns_client_get_stats(runtime.dns, &dns_stats);
  struct host_resolver_stats host_stats;
  host_resolver_get_stats(runtime.hosts, &host_stats);
  struct input_counts counts;
  input_reader_get_counts(input, &counts);
  if (!options->quiet) {
    print_summary(stderr, &stats, &dns_stats, &host_stats, &counts);
    struct scan_counters counters;
    scan_counters_from_runtime(&runtime, &counters);
    scan_counters_print_ns_lookup(stderr, &counters);
    if (runtime.engine != NULL) print_probe_summary(stderr, runtime.engine);
  }
  if (options->metadata != NULL) {
    struct scan_metadata metadata;
    scan_metadata_from_run(&metadata, scan_id, argc, argv, options->probe_mode, started, time(NULL),
                           stats.error[0] == '\0', stats.error, options->input_count,
                           (const char *const *)options->inputs, input, stats.by_status, stats.domains_done, &runtime);
    if (scan_metadata_write(options->metadata, &metadata, why, sizeof why) != 0) {
      log_error("%s", why);
      rc = -1;
    }
  }
  exit_code = rc == 0 ? 0 : 1;

out:
  for (size_t i = 0; i < sink_count; i++) sinks[i].close(sinks[i].state, why, sizeof why);
  scan_free(scan);
  if (scan_runtime_close(&runtime, "scan") != 0 && exit_code == 0) exit_code = 1;
  input_reader_free(input);
  return exit_code;
}
