/* The metrics file of a scan (see scan_metrics.h). The names follow the
 * Prometheus conventions: danescan_ prefix, _total for counters, base units.
 * The workers' detail counters (queue_db_counter_sums) become one family,
 * danescan_worker_counter{group,key}, so a new counter needs no edit here. */
#include "run/scan_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_db.h"
#include "record/status.h"

struct metrics_out {
  FILE *file;
  bool counter_header;
  struct ns_lookup_stats ns_lookup; /* the workers' "ns_lookup" group, summed */
};

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *file, const char *text) {
  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '\\' || *p == '"') fputc('\\', file);
    if (*p == '\n') {
      fputs("\\n", file);
      continue;
    }
    fputc(*p, file);
  }
}

static bool is_number(const char *text) {
  char *end = NULL;
  strtod(text, &end);
  return end != text && *end == '\0';
}

static void each_counter(void *ctx, const char *group, const char *name, const char *key, const char *value) {
  struct metrics_out *out = ctx;
  if (!is_number(value)) return; /* down_now and other words */
  if (strcmp(group, "ns_lookup") == 0 && name == NULL) {
    uint64_t n = strtoull(value, NULL, 10);
    if (strcmp(key, "lookups") == 0) out->ns_lookup.lookups = n;
    else if (strcmp(key, "found") == 0) out->ns_lookup.found = n;
    else if (strcmp(key, "no_ns") == 0) out->ns_lookup.no_ns = n;
    else if (strcmp(key, "failed") == 0) out->ns_lookup.failed = n;
  }
  if (!out->counter_header) {
    fputs("# HELP danescan_worker_counter The workers' counters of the scan, summed (docs/output.md, metadata).\n"
          "# TYPE danescan_worker_counter gauge\n",
          out->file);
    out->counter_header = true;
  }
  fputs("danescan_worker_counter{group=\"", out->file);
  label_value(out->file, group);
  if (name != NULL) {
    fputs("\",name=\"", out->file);
    label_value(out->file, name);
  }
  fputs("\",key=\"", out->file);
  label_value(out->file, key);
  fprintf(out->file, "\"} %s\n", value);
}

static void metric(FILE *file, const char *name, const char *type, const char *help, const char *scan_id,
                   double value) {
  fprintf(file, "# HELP %s %s\n# TYPE %s %s\n%s{scan=\"", name, help, name, type, name);
  label_value(file, scan_id);
  fprintf(file, "\"} %.17g\n", value);
}

/* The NS-lookup counters (scan --ns-lookup), as the metadata's "ns_lookup". */
static void ns_lookup_metrics(FILE *file, const char *scan_id, const struct ns_lookup_stats *ns) {
  metric(file, "danescan_ns_lookups_total", "counter",
         "NS lookups made (--ns-lookup: one per domain whose input gave no NS records).", scan_id, (double)ns->lookups);
  metric(file, "danescan_ns_lookups_found_total", "counter", "NS lookups that gave NS targets.", scan_id,
         (double)ns->found);
  metric(file, "danescan_ns_lookups_no_ns_total", "counter",
         "NS lookups answered without NS records (NODATA, NXDOMAIN, a CNAME).", scan_id, (double)ns->no_ns);
  metric(file, "danescan_ns_lookups_failed_total", "counter", "NS lookups that failed or were bogus.", scan_id,
         (double)ns->failed);
}

/* Opens PATH.tmp.PID (its name in tmp) for writing; NULL with why. */
static FILE *open_temporary(const char *path, char *tmp, size_t tmp_len, char *why, size_t why_len) {
  if ((size_t)snprintf(tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid()) >= tmp_len) {
    snprintf(why, why_len, "--metrics-file: path too long");
    return NULL;
  }
  FILE *file = fopen(tmp, "w");
  if (file == NULL) snprintf(why, why_len, "%s: %s", tmp, strerror(errno));
  return file;
}

/* Closes file and renames tmp over path; removes tmp on failure (ok: the
 * content is complete). Returns 0 or -1 with why. */
static int close_and_rename(FILE *file, const char *tmp, const char *path, bool ok, char *why, size_t why_len) {
  bool failed = ferror(file) != 0;
  if (fclose(file) != 0) failed = true;
  if (!ok || failed || rename(tmp, path) != 0) {
    if (ok) snprintf(why, why_len, "%s: %s", path, failed ? "write error" : strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int scan_metrics_write_local(const char *path, const char *scan_id, const struct scan_metrics_local *values, char *why,
                             size_t why_len) {
  char tmp[4096];
  FILE *file = open_temporary(path, tmp, sizeof tmp, why, why_len);
  if (file == NULL) return -1;
  metric(file, "danescan_names", "gauge", "Names of the scan's input read so far.", scan_id, (double)values->names);
  metric(file, "danescan_input_loaded", "gauge", "1 when every input name is read.", scan_id,
         values->input_done ? 1 : 0);
  metric(file, "danescan_input_bad_lines_total", "counter", "Input lines that were no name (reported, counted).",
         scan_id, (double)values->bad_lines);
  metric(file, "danescan_domains_done_total", "counter", "Domains written.", scan_id, (double)values->domains_done);
  metric(file, "danescan_domains_in_flight", "gauge", "Domains being resolved or probed now.", scan_id,
         values->in_flight);
  fputs("# HELP danescan_domains_total Domains written, by domain status (shared/spec/RESULTS.md).\n"
        "# TYPE danescan_domains_total counter\n",
        file);
  for (int i = 0; i < DOMAIN_STATUS_COUNT; i++) {
    fputs("danescan_domains_total{scan=\"", file);
    label_value(file, scan_id);
    fprintf(file, "\",status=\"%s\"} %llu\n", domain_status_name((enum domain_status)i),
            (unsigned long long)values->by_status[i]);
  }
  metric(file, "danescan_rate_domains_per_second", "gauge", "Domains written per second since the scan started.",
         scan_id, values->elapsed_s > 0 ? (double)values->domains_done / values->elapsed_s : 0);
  metric(file, "danescan_run_seconds", "gauge", "Seconds since the scan started.", scan_id, values->elapsed_s);
  metric(file, "danescan_dns_queries_total", "counter", "DNS queries sent.", scan_id, (double)values->dns_queries);
  metric(file, "danescan_dns_retries_total", "counter", "DNS queries sent again.", scan_id,
         (double)values->dns_retries);
  metric(file, "danescan_dns_timeouts_total", "counter", "DNS queries that timed out.", scan_id,
         (double)values->dns_timeouts);
  metric(file, "danescan_dns_lookups_failed_total", "counter", "DNS lookups that failed (no usable answer).", scan_id,
         (double)values->dns_failed);
  metric(file, "danescan_probes_total", "counter", "STARTTLS probes done.", scan_id, (double)values->probes);
  metric(file, "danescan_smtp_connections_total", "counter", "SMTP connections opened.", scan_id,
         (double)values->connections);
  ns_lookup_metrics(file, scan_id, &values->ns_lookup);
  return close_and_rename(file, tmp, path, true, why, why_len);
}

int scan_metrics_write(PGconn *conn, const char *scan_id, const char *path, double elapsed_s, unsigned workers_running,
                       char *why, size_t why_len) {
  struct queue_progress progress;
  struct queue_summary summary;
  if (queue_db_progress(conn, scan_id, &progress, why, why_len) != 0 ||
      queue_db_summary(conn, scan_id, &summary, why, why_len) != 0)
    return -1;
  char tmp[4096];
  FILE *file = open_temporary(path, tmp, sizeof tmp, why, why_len);
  if (file == NULL) return -1;
  metric(file, "danescan_names", "gauge", "Names of the scan's input loaded so far.", scan_id, (double)progress.total);
  metric(file, "danescan_input_loaded", "gauge", "1 when every input name is loaded.", scan_id,
         progress.loaded ? 1 : 0);
  metric(file, "danescan_domains_done_total", "counter", "Domains stored.", scan_id, (double)progress.domains_done);
  metric(file, "danescan_chunks", "gauge", "Chunks of the work queue.", scan_id, (double)progress.chunks);
  metric(file, "danescan_chunks_done_total", "counter", "Chunks done.", scan_id, (double)progress.chunks_done);
  metric(file, "danescan_chunks_leased", "gauge", "Chunks leased by a worker now.", scan_id,
         (double)progress.chunks_leased);
  metric(file, "danescan_takeovers_total", "counter", "Leases taken over from dead or slow workers.", scan_id,
         (double)progress.takeovers);
  metric(file, "danescan_rate_domains_per_second", "gauge", "Domains stored per second since this run started.",
         scan_id, elapsed_s > 0 ? (double)progress.domains_done / elapsed_s : 0);
  metric(file, "danescan_run_seconds", "gauge", "Seconds since this run of the scan started.", scan_id, elapsed_s);
  metric(file, "danescan_workers_running", "gauge", "Worker processes running on this machine.", scan_id,
         workers_running);
  metric(file, "danescan_dns_queries_total", "counter", "DNS queries sent by all workers.", scan_id,
         (double)summary.dns_queries);
  metric(file, "danescan_dns_retries_total", "counter", "DNS queries sent again.", scan_id,
         (double)summary.dns_retries);
  metric(file, "danescan_dns_timeouts_total", "counter", "DNS queries that timed out.", scan_id,
         (double)summary.dns_timeouts);
  metric(file, "danescan_probes_total", "counter", "STARTTLS probes done.", scan_id, (double)summary.probes);
  metric(file, "danescan_smtp_connections_total", "counter", "SMTP connections opened.", scan_id,
         (double)summary.connections);
  struct metrics_out out = {.file = file, .counter_header = false};
  int rc = queue_db_counter_sums(conn, scan_id, each_counter, &out, why, why_len);
  if (rc == 0) ns_lookup_metrics(file, scan_id, &out.ns_lookup);
  return close_and_rename(file, tmp, path, rc == 0, why, why_len);
}
