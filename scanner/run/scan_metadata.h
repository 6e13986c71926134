/* The scan's metadata document (`scan --metadata FILE`): one writer for both
 * ways a scan runs. A single-process scan fills struct scan_metadata from
 * its own run (scan_metadata_from_run); a scan run by workers fills it from
 * the database after they ended (scan_metadata_from_db: the scans row, the
 * domains, and the sums of the counters each worker stored). Both then go
 * through scan_metadata_write, so both documents have the same keys, every
 * status in status_counts (zeros too), and the same counts for the same
 * input. The key names of the counters are one table (scan_metadata.c),
 * used to write them and to read the workers' sums back.
 *
 * Also the workers' side of it: scan_counters_detail_json is what a worker
 * stores at each heartbeat (queue_worker_counters.detail_json). */
#ifndef DANESCAN_RUN_SCAN_METADATA_H
#define DANESCAN_RUN_SCAN_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <libpq-fe.h>

#include "dns/dns_client.h"
#include "input/input.h"
#include "db/scan_row.h"
#include "record/status.h"
#include "run/scan_runtime.h"

#define SCAN_METADATA_RESOLVER_NAME_BYTES 64

struct scan_resolver_counters {
  char name[SCAN_METADATA_RESOLVER_NAME_BYTES];
  uint64_t queries_sent, replies, timeouts, down_events, down_ms, last_down_ms;
  bool down_now;
};

/* The DNS client's and the MX host cache's counters, as the document has
 * them ("dns", "mx_host_cache"). */
struct scan_counters {
  uint64_t lookups, queries_sent, retries, timeouts, servfail, refused, slow_retried, failed, bogus, mismatched,
      over_tcp, late_replies;
  size_t resolver_count;
  struct scan_resolver_counters resolvers[DNS_MAX_RESOLVERS];
  uint64_t cache_requests, cache_hits, cache_resolved, cache_evicted;
  /* DNSSEC hygiene zone cache (pipeline/zone_cache.h), "zone_cache": all 0 with --dnssec-hygiene none */
  uint64_t zone_requests, zone_hits, zone_resolved, zone_lookups, zone_evicted;
  /* NS lookups of scan --ns-lookup (pipeline/ns_lookup.h), "ns_lookup": all 0 without it */
  uint64_t ns_lookups, ns_found, ns_no_ns, ns_failed;
};

/* The counters of this process's runtime. */
void scan_counters_from_runtime(const struct scan_runtime *runtime, struct scan_counters *out);

/* The summary line of the NS lookups (scan --ns-lookup), nothing when
 * there were none: "  ns lookups: N (M with NS, K without NS, F failed)". */
void scan_counters_print_ns_lookup(FILE *out, const struct scan_counters *counters);

/* The counters as the JSON object a worker stores
 * ({"dns": {...}, "mx_host_cache": {...}}), into out (NUL-terminated).
 * Returns 0, or -1 when it does not fit (out is "" then). */
int scan_counters_detail_json(const struct scan_counters *counters, char *out, size_t out_len);

struct scan_metadata {
  const char *scan_id;
  int argc; /* the command line */
  char **argv;
  const char *probe_mode;
  time_t started, ended;
  bool complete;
  const char *error; /* NULL when none */
  /* The inputs: names with the SHA-256 of each file, and the reader's
   * counts. */
  size_t input_count;
  const char *const *input_names;
  const char *const *input_sha256; /* each may be NULL (unknown); NULL: the reader's */
  struct input_reader *input;      /* borrowed, NULL from the database */
  struct input_counts input_counts;
  uint64_t domains;
  uint64_t by_status[DOMAIN_STATUS_COUNT];
  struct scan_counters counters;
  /* Worker processes as a JSON array (from the database); NULL for a
   * single-process scan, whose one entry is this process (worker_id null). */
  const char *workers_json;
  /* scan_metadata_from_db's own: what it allocated. */
  bool from_db;
  struct db_scan_inputs stored_inputs;
};

/* A single-process scan's document. Strings are borrowed from the caller. */
void scan_metadata_from_run(struct scan_metadata *out, const char *scan_id, int argc, char **argv,
                            const char *probe_mode, time_t started, time_t ended, bool complete, const char *error,
                            size_t input_count, const char *const *input_names, struct input_reader *input,
                            const uint64_t *by_status, uint64_t domains, const struct scan_runtime *runtime);

/* A scan run by workers, read from the database after they ended: its row,
 * its domains and the workers' summed counters. Strings are owned by out
 * until scan_metadata_clear. Returns 0, or -1 with why. */
int scan_metadata_from_db(struct scan_metadata *out, PGconn *conn, const char *scan_id, int argc, char **argv,
                          const char *probe_mode, time_t started, bool complete, char *why, size_t why_len);
void scan_metadata_clear(struct scan_metadata *metadata);

/* Writes the document (one JSON object and a newline) to path. Returns 0, or
 * -1 with "path: reason" in why. */
int scan_metadata_write(const char *path, const struct scan_metadata *metadata, char *why, size_t why_len);

#endif
