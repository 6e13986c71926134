/* `danescan scan [options] INPUT...`: parses options into the modules'
 * config structs, checks that every resolver validates DNSSEC, runs the scan
 * and prints the summary. Policy lives in the modules; this file wires. */
#include "cli/scan_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "run/scan_options.h"
#include "run/scan_runtime.h"
#include "run/scan_sinks.h"
#include "run/scan_workers.h"
#include "dns/dns_client.h"
#include "dns/resolver_check.h"
#include "input/input.h"
#include "pipeline/host_resolver.h"
#include "pipeline/scan.h"
#include "store/jsonl.h"
#include "util/json.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan scan [options] INPUT...\n"
          "  INPUT: domain list, CSV top list or zone file (plain or gzip), '-' for stdin\n"
          "DNS:\n"
          "  --resolver IP[:PORT]        validating resolver (repeatable; default 127.0.0.1)\n"
          "  --insecure-resolver-ok      scan even if a resolver does not validate (debugging only)\n"
          "  --check-signed-name NAME    name that must validate with AD (default \".\")\n"
          "  --check-bogus-name NAME     name that must fail validation (default dnssec-failed.org)\n"
          "  --query-timeout-ms N        first-attempt timeout (default 2000)\n"
          "  --attempts N                fast attempts per lookup (default 4)\n"
          "  --max-queries N             queries in flight, upper bound (default 10000)\n"
          "  --islands                   DNSKEY check: unsigned vs signed without DS\n"
          "Scan:\n"
          "  --concurrency N             domains in flight (default 2000)\n"
          "  --host-cache N              MX hosts kept in the cache (default 50000, about 1 KB each)\n"
          "Probes:\n"
          "  --probe dane|all|none       dane (default): hosts with secure TLSA; all: every MX\n"
          "                              host (STARTTLS adoption); none: DNS only\n"
          "  --allow-reserved            contact special-purpose addresses (labs only)\n"
          "  --smtp-port N               SMTP port (default 25; other ports only for labs)\n"
          "  --ehlo NAME                 EHLO name (default: this machine's host name)\n"
          "  --rate N                    new SMTP connections per second (default 100)\n"
          "  --per-ip N                  concurrent sessions per address (default 1)\n"
          "  --per-ip-gap-ms N           minimum gap between sessions to one address (1000)\n"
          "  --per-ip-give-up N          after N sessions in a row end in 421 or a refused connection,\n"
          "                              skip the address's other probes (default 5; 0: never)\n"
          "  --blocklist FILE            CIDR prefixes never contacted\n"
          "  --connect-timeout-ms, --greeting-timeout-ms, --ehlo-timeout-ms,\n"
          "  --starttls-timeout-ms, --handshake-timeout-ms N   per-step timeouts\n"
          "  --max-probes N              SMTP sessions in flight (default 1000)\n"
          "  --expiry-warn-days N        expires_soon threshold (default 14)\n"
          "  --certs FILE                PEM of every certificate seen, once per scan\n"
          "  --no-key-types              do not probe RSA and ECDSA separately\n"
          "  --scan-id ID                scan identifier (default: generated)\n"
          "Input:\n"
          "  --input-format zone|list|csv, --shard I/N, --sample P, --limit N\n"
          "Output:\n"
          "  --output FILE               JSON Lines output (default '-': standard output;\n"
          "                              with --db only when given)\n"
          "  --db URL                    also write results into PostgreSQL (libpq conninfo/URI)\n"
          "Workers (with --db):\n"
          "  --workers N                 worker processes on this machine (default: the number of\n"
          "                              cores; 0: this process alone, without the work queue);\n"
          "                              more join with 'danescan worker --db URL --scan ID'\n"
          "  --chunk-size N              names per leased chunk (default 1000)\n"
          "  --lease-ttl-s N             a dead worker's chunks are taken over after N s (default 60)\n"
          "  --metadata FILE             JSON description of the scan\n"
          "  --progress | --no-progress  live progress line (default: when stderr is a terminal)\n"
          "  --quiet                     no summary\n");
}

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
  snprintf(out + n, out_len - n, "-%02x%02x%02x%02x", random_bytes[0], random_bytes[1],
           random_bytes[2], random_bytes[3]);
}

static void print_diagnostic(const char *message, void *arg) {
  (void)arg;
  fprintf(stderr, "danescan: %s\n", message);
}

static void iso_time(time_t t, char *out, size_t out_len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_summary(FILE *out, const struct scan_stats *stats, const struct dns_client_stats *dns,
                          const struct host_resolver_stats *hosts, const struct input_counts *counts) {
  fprintf(out, "danescan: %llu domains in %.1f s (%.0f domains/s)\n",
          (unsigned long long)stats->domains_done, stats->elapsed_s,
          stats->elapsed_s > 0 ? (double)stats->domains_done / stats->elapsed_s : 0.0);
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
          "%llu REFUSED, %llu malformed, %llu mismatched replies, %llu over TCP, "
          "%llu CD=1 repeats, %llu needed a slow retry, %llu failed, %llu bogus\n",
          (unsigned long long)dns->lookups_done, (unsigned long long)dns->queries_sent,
          (unsigned long long)dns->retries, (unsigned long long)dns->timeouts,
          (unsigned long long)dns->servfails, (unsigned long long)dns->refused,
          (unsigned long long)dns->malformed, (unsigned long long)dns->mismatched,
          (unsigned long long)dns->truncated, (unsigned long long)dns->cd_requeries,
          (unsigned long long)dns->slow_retried, (unsigned long long)dns->failed,
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
  fprintf(out, "  probes: %llu addresses, %llu SMTP connections; per result:",
          (unsigned long long)probes.completed, (unsigned long long)probes.connections);
  for (int i = 0; i < PROBE_RESULT_COUNT; i++) {
    if (probes.results[i] > 0) {
      fprintf(out, " %s %llu", probe_result_name((enum probe_result)i), (unsigned long long)probes.results[i]);
    }
  }
  fprintf(out, "\n");
}

static int write_metadata(const char *path, int argc, char **argv, const struct scan_options *options,
                          const char *scan_id, struct dns_client *dns, time_t started, time_t ended,
                          struct input_reader *input, const struct scan_stats *stats,
                          const struct dns_client_stats *dns_stats,
                          const struct host_resolver_stats *host_stats) {
  struct json_buf buf;
  json_buf_init(&buf);
  char when[32];
  json_object_begin(&buf);
  json_key(&buf, "scan_id");
  json_string(&buf, scan_id);
  json_key(&buf, "software");
  json_string(&buf, "danescan " DANESCAN_VERSION);
  json_key(&buf, "command_line");
  json_array_begin(&buf);
  for (int i = 0; i < argc; i++) json_string(&buf, argv[i]);
  json_array_end(&buf);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  json_key(&buf, "host");
  json_string(&buf, host);
  json_key(&buf, "resolvers");
  json_array_begin(&buf);
  for (size_t i = 0; i < dns_client_resolver_count(dns); i++) json_string(&buf, dns_client_resolver_name(dns, i));
  json_array_end(&buf);
  json_key(&buf, "probe_mode");
  json_string(&buf, options->probe_mode);
  json_key(&buf, "started");
  iso_time(started, when, sizeof when);
  json_string(&buf, when);
  json_key(&buf, "ended");
  iso_time(ended, when, sizeof when);
  json_string(&buf, when);
  json_key(&buf, "complete");
  json_bool(&buf, stats->error[0] == '\0');
  json_key(&buf, "error");
  json_string(&buf, stats->error[0] ? stats->error : NULL);
  json_key(&buf, "inputs");
  json_array_begin(&buf);
  for (size_t i = 0; i < options->input_count; i++) {
    json_object_begin(&buf);
    json_key(&buf, "name");
    json_string(&buf, options->inputs[i]);
    json_key(&buf, "sha256");
    json_string(&buf, input_reader_checksum(input, i));
    json_object_end(&buf);
  }
  json_array_end(&buf);
  struct input_counts counts;
  input_reader_get_counts(input, &counts);
  json_key(&buf, "input_counts");
  json_object_begin(&buf);
  json_key(&buf, "names");
  json_uint(&buf, counts.names);
  json_key(&buf, "invalid");
  json_uint(&buf, counts.invalid);
  json_key(&buf, "duplicates");
  json_uint(&buf, counts.duplicates);
  json_key(&buf, "bad_lines");
  json_uint(&buf, counts.bad_lines);
  json_object_end(&buf);
  json_key(&buf, "domains");
  json_uint(&buf, stats->domains_done);
  json_key(&buf, "status_counts");
  json_object_begin(&buf);
  for (int i = 0; i < DOMAIN_STATUS_COUNT; i++) {
    json_key(&buf, domain_status_name((enum domain_status)i));
    json_uint(&buf, stats->by_status[i]);
  }
  json_object_end(&buf);
  json_key(&buf, "dns");
  json_object_begin(&buf);
  json_key(&buf, "lookups");
  json_uint(&buf, dns_stats->lookups_done);
  json_key(&buf, "queries_sent");
  json_uint(&buf, dns_stats->queries_sent);
  json_key(&buf, "retries");
  json_uint(&buf, dns_stats->retries);
  json_key(&buf, "timeouts");
  json_uint(&buf, dns_stats->timeouts);
  json_key(&buf, "servfail");
  json_uint(&buf, dns_stats->servfails);
  json_key(&buf, "refused");
  json_uint(&buf, dns_stats->refused);
  json_key(&buf, "slow_retried");
  json_uint(&buf, dns_stats->slow_retried);
  json_key(&buf, "failed");
  json_uint(&buf, dns_stats->failed);
  json_key(&buf, "bogus");
  json_uint(&buf, dns_stats->bogus);
  json_key(&buf, "mismatched");
  json_uint(&buf, dns_stats->mismatched);
  json_key(&buf, "over_tcp");
  json_uint(&buf, dns_stats->truncated);
  json_key(&buf, "resolvers");
  json_array_begin(&buf);
  for (size_t i = 0; i < dns_stats->resolver_count; i++) {
    const struct dns_resolver_stats *rs = &dns_stats->resolvers[i];
    json_object_begin(&buf);
    json_key(&buf, "name");
    json_string(&buf, rs->name);
    json_key(&buf, "queries_sent");
    json_uint(&buf, rs->queries_sent);
    json_key(&buf, "replies");
    json_uint(&buf, rs->replies);
    json_key(&buf, "timeouts");
    json_uint(&buf, rs->timeouts);
    json_key(&buf, "down_events");
    json_uint(&buf, rs->down_events);
    json_key(&buf, "down_ms");
    json_uint(&buf, rs->down_ms_total);
    json_key(&buf, "last_down_ms");
    json_uint(&buf, rs->last_down_ms);
    json_key(&buf, "down_now");
    json_bool(&buf, rs->down_now);
    json_object_end(&buf);
  }
  json_array_end(&buf);
  json_object_end(&buf);
  json_key(&buf, "mx_host_cache");
  json_object_begin(&buf);
  json_key(&buf, "requests");
  json_uint(&buf, host_stats->requests);
  json_key(&buf, "hits");
  json_uint(&buf, host_stats->hits);
  json_key(&buf, "resolved");
  json_uint(&buf, host_stats->resolved);
  json_key(&buf, "evicted");
  json_uint(&buf, host_stats->evicted);
  json_object_end(&buf);
  json_object_end(&buf);
  json_raw(&buf, "\n", 1);
  int rc = 0;
  FILE *file = fopen(path, "w");
  if (file == NULL || json_buf_failed(&buf) || fwrite(buf.data, 1, buf.len, file) != buf.len) {
    fprintf(stderr, "danescan: %s: cannot write metadata: %s\n", path, strerror(errno));
    rc = -1;
  }
  if (file != NULL && fclose(file) != 0) rc = -1;
  json_buf_free(&buf);
  return rc;
}

int scan_cmd_main(int argc, char **argv) {
  struct scan_options options;
  char why[512] = "";
  int parsed = scan_options_parse(&options, argc, argv, why, sizeof why);
  if (parsed != 0) {
    if (parsed > 0) {
      usage(stdout);
      return 0;
    }
    fprintf(stderr, "danescan scan: %s\n", why);
    usage(stderr);
    return 2;
  }
  char scan_id[64];
  if (options.scan_id != NULL) snprintf(scan_id, sizeof scan_id, "%s", options.scan_id);
  else make_scan_id(scan_id, sizeof scan_id);
  time_t started = time(NULL);

  /* With --db the scan runs in worker processes fed by the database's work
   * queue (scan_workers.h), unless --workers 0, or a resumed scan started
   * before the queue existed. */
  if (options.worker_process) return scan_worker_main(&options, argc, argv);
  if (options.db_url != NULL) {
    bool queued = options.join || options.workers > 0;
    if (options.resume) {
      int is_queued = scan_workers_is_queued(options.db_url, scan_id);
      if (is_queued < 0) return 1;
      queued = is_queued == 1;
    }
    if (queued) {
      if (options.output_given && strcmp(options.output, "-") == 0) {
        fprintf(stderr, "danescan scan: workers cannot share standard output: give --output FILE (or --workers 0)\n");
        return 2;
      }
      if (options.input.shard_count > 1 && !options.quiet) {
        fprintf(stderr, "danescan scan: note: --shard with --db: the workers share this shard's names\n");
      }
      return scan_supervisor_main(&options, scan_id, argc, argv);
    }
  }

  struct scan_runtime runtime;
  int exit_code = scan_runtime_open(&runtime, &options, options.certs_path, "scan");
  if (exit_code != 0) {
    scan_options_free(&options);
    return exit_code;
  }
  exit_code = 1;
  struct input_reader *input = NULL;
  struct scan *scan = NULL;
  struct result_sink sinks[SCAN_MAX_SINKS];
  size_t sink_count = 0;

  options.input.diagnostic = print_diagnostic;
  input = input_reader_open((const char *const *)options.inputs, options.input_count, &options.input,
                            why, sizeof why);
  if (input == NULL) {
    fprintf(stderr, "danescan scan: %s\n", why);
    exit_code = 2;
    goto out;
  }
  if (scan_sinks_open(&options, scan_id, argc, argv, input, sinks, &sink_count, &options.scan, why,
                      sizeof why) != 0) {
    fprintf(stderr, "danescan scan: %s\n", why);
    exit_code = 2;
    goto out;
  }
  scan = scan_new(runtime.base, &options.scan, runtime.dns, runtime.hosts, input, sinks, sink_count);
  if (scan == NULL) {
    fprintf(stderr, "danescan scan: out of memory\n");
    goto out;
  }
  if (!options.quiet) fprintf(stderr, "danescan: scan %s started\n", scan_id);
  int rc = scan_run(scan);
  struct scan_stats stats;
  scan_get_stats(scan, &stats);
  for (size_t i = 0; i < sink_count; i++) {
    if (sinks[i].finish != NULL) sinks[i].finish(sinks[i].state, rc == 0, stats.error[0] ? stats.error : NULL);
    if (sinks[i].close(sinks[i].state, why, sizeof why) != 0) {
      fprintf(stderr, "danescan scan: %s\n", why);
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
  if (!options.quiet) {
    print_summary(stderr, &stats, &dns_stats, &host_stats, &counts);
    if (runtime.engine != NULL) print_probe_summary(stderr, runtime.engine);
  }
  if (options.metadata != NULL &&
      write_metadata(options.metadata, argc, argv, &options, scan_id, runtime.dns, started, time(NULL),
                     input, &stats, &dns_stats, &host_stats) != 0) {
    rc = -1;
  }
  exit_code = rc == 0 ? 0 : 1;

out:
  for (size_t i = 0; i < sink_count; i++) sinks[i].close(sinks[i].state, why, sizeof why);
  scan_free(scan);
  if (scan_runtime_close(&runtime, "scan") != 0 && exit_code == 0) exit_code = 1;
  input_reader_free(input);
  scan_options_free(&options);
  return exit_code;
}
