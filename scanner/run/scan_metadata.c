/* The scan's metadata document, one writer for both ways a scan runs (see
 * scan_metadata.h). */
#include "run/scan_metadata.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/scan_row.h"
#include "queue/queue_db.h"
#include "util/json.h"

/* ---- the counters' names: written from and read into these fields ---- */

struct counter_field {
  const char *key;
  size_t offset;
};

#define DNS_FIELD(key, member) \
  { key, offsetof(struct scan_counters, member) }
static const struct counter_field dns_fields[] = {
    DNS_FIELD("lookups", lookups),
    DNS_FIELD("queries_sent", queries_sent),
    DNS_FIELD("retries", retries),
    DNS_FIELD("timeouts", timeouts),
    DNS_FIELD("servfail", servfail),
    DNS_FIELD("refused", refused),
    DNS_FIELD("slow_retried", slow_retried),
    DNS_FIELD("failed", failed),
    DNS_FIELD("bogus", bogus),
    DNS_FIELD("mismatched", mismatched),
    DNS_FIELD("over_tcp", over_tcp),
    DNS_FIELD("late_replies", late_replies),
};
static const struct counter_field cache_fields[] = {
    DNS_FIELD("requests", cache_requests),
    DNS_FIELD("hits", cache_hits),
    DNS_FIELD("resolved", cache_resolved),
    DNS_FIELD("evicted", cache_evicted),
};
static const struct counter_field zone_fields[] = {
    DNS_FIELD("requests", zone_requests), DNS_FIELD("hits", zone_hits),       DNS_FIELD("resolved", zone_resolved),
    DNS_FIELD("lookups", zone_lookups),   DNS_FIELD("evicted", zone_evicted),
};
static const struct counter_field ns_fields[] = {
    DNS_FIELD("lookups", ns_lookups),
    DNS_FIELD("found", ns_found),
    DNS_FIELD("no_ns", ns_no_ns),
    DNS_FIELD("failed", ns_failed),
};
#undef DNS_FIELD

#define RESOLVER_FIELD(key, member) \
  { key, offsetof(struct scan_resolver_counters, member) }
static const struct counter_field resolver_fields[] = {
    RESOLVER_FIELD("queries_sent", queries_sent), RESOLVER_FIELD("replies", replies),
    RESOLVER_FIELD("timeouts", timeouts),         RESOLVER_FIELD("down_events", down_events),
    RESOLVER_FIELD("down_ms", down_ms),           RESOLVER_FIELD("last_down_ms", last_down_ms),
};
#undef RESOLVER_FIELD

#define FIELD_COUNT(table) (sizeof(table) / sizeof(table)[0])

static uint64_t *field_at(void *base, const struct counter_field *field) {
  return (uint64_t *)((char *)base + field->offset);
}

static void write_fields(struct json_buf *buf, const void *base, const struct counter_field *fields, size_t count) {
  for (size_t i = 0; i < count; i++) {
    json_key(buf, fields[i].key);
    json_uint(buf, *field_at((void *)base, &fields[i]));
  }
}

static int set_field(void *base, const struct counter_field *fields, size_t count, const char *key, const char *value) {
  for (size_t i = 0; i < count; i++) {
    if (strcmp(fields[i].key, key) == 0) {
      *field_at(base, &fields[i]) = strtoull(value, NULL, 10);
      return 0;
    }
  }
  return -1;
}

/* "dns": {...}, "mx_host_cache": {...} into an open object. */
static void write_counters(struct json_buf *buf, const struct scan_counters *counters) {
  json_key(buf, "dns");
  json_object_begin(buf);
  write_fields(buf, counters, dns_fields, FIELD_COUNT(dns_fields));
  json_key(buf, "resolvers");
  json_array_begin(buf);
  for (size_t i = 0; i < counters->resolver_count; i++) {
    const struct scan_resolver_counters *resolver = &counters->resolvers[i];
    json_object_begin(buf);
    json_key(buf, "name");
    json_string(buf, resolver->name);
    write_fields(buf, resolver, resolver_fields, FIELD_COUNT(resolver_fields));
    json_key(buf, "down_now");
    json_bool(buf, resolver->down_now);
    json_object_end(buf);
  }
  json_array_end(buf);
  json_object_end(buf);
  json_key(buf, "mx_host_cache");
  json_object_begin(buf);
  write_fields(buf, counters, cache_fields, FIELD_COUNT(cache_fields));
  json_object_end(buf);
  json_key(buf, "zone_cache");
  json_object_begin(buf);
  write_fields(buf, counters, zone_fields, FIELD_COUNT(zone_fields));
  json_object_end(buf);
  json_key(buf, "ns_lookup");
  json_object_begin(buf);
  write_fields(buf, counters, ns_fields, FIELD_COUNT(ns_fields));
  json_object_end(buf);
}

void scan_counters_from_runtime(const struct scan_runtime *runtime, struct scan_counters *out) {
  memset(out, 0, sizeof *out);
  struct dns_client_stats dns;
  dns_client_get_stats(runtime->dns, &dns);
  out->lookups = dns.lookups_done;
  out->queries_sent = dns.queries_sent;
  out->retries = dns.retries;
  out->timeouts = dns.timeouts;
  out->servfail = dns.servfails;
  out->refused = dns.refused;
  out->slow_retried = dns.slow_retried;
  out->failed = dns.failed;
  out->bogus = dns.bogus;
  out->mismatched = dns.mismatched;
  out->over_tcp = dns.truncated;
  out->late_replies = dns.late_replies;
  for (size_t i = 0; i < dns.resolver_count && i < DNS_MAX_RESOLVERS; i++) {
    const struct dns_resolver_stats *from = &dns.resolvers[i];
    struct scan_resolver_counters *to = &out->resolvers[out->resolver_count++];
    snprintf(to->name, sizeof to->name, "%s", from->name);
    to->queries_sent = from->queries_sent;
    to->replies = from->replies;
    to->timeouts = from->timeouts;
    to->down_events = from->down_events;
    to->down_ms = from->down_ms_total;
    to->last_down_ms = from->last_down_ms;
    to->down_now = from->down_now;
  }
  struct host_resolver_stats hosts;
  host_resolver_get_stats(runtime->hosts, &hosts);
  out->cache_requests = hosts.requests;
  out->cache_hits = hosts.hits;
  out->cache_resolved = hosts.resolved;
  out->cache_evicted = hosts.evicted;
  if (runtime->zones != NULL) {
    struct zone_cache_stats zones;
    zone_cache_get_stats(runtime->zones, &zones);
    out->zone_requests = zones.requests;
    out->zone_hits = zones.hits;
    out->zone_resolved = zones.resolved;
    out->zone_lookups = zones.lookups;
    out->zone_evicted = zones.evicted;
  }
  out->ns_lookups = runtime->ns_lookup.lookups;
  out->ns_found = runtime->ns_lookup.found;
  out->ns_no_ns = runtime->ns_lookup.no_ns;
  out->ns_failed = runtime->ns_lookup.failed;
}

void scan_counters_print_ns_lookup(FILE *out, const struct scan_counters *counters) {
  if (counters->ns_lookups == 0) return;
  fprintf(out,
          "  ns lookups: %llu (%llu with NS, %llu without NS: not a zone apex or no such name, %llu failed or "
          "bogus)\n",
          (unsigned long long)counters->ns_lookups, (unsigned long long)counters->ns_found,
          (unsigned long long)counters->ns_no_ns, (unsigned long long)counters->ns_failed);
}

int scan_counters_detail_json(const struct scan_counters *counters, char *out, size_t out_len) {
  struct json_buf buf;
  json_buf_init(&buf);
  json_object_begin(&buf);
  write_counters(&buf, counters);
  json_object_end(&buf);
  int rc = -1;
  if (!json_buf_failed(&buf) && buf.len < out_len) {
    memcpy(out, buf.data, buf.len);
    out[buf.len] = '\0';
    rc = 0;
  } else if (out_len > 0) {
    out[0] = '\0';
  }
  json_buf_free(&buf);
  return rc;
}

/* queue_db_counter_sums's rows into the counters. */
static void add_sum(void *ctx, const char *group, const char *name, const char *key, const char *value) {
  struct scan_counters *counters = ctx;
  if (strcmp(group, "dns") == 0) {
    set_field(counters, dns_fields, FIELD_COUNT(dns_fields), key, value);
  } else if (strcmp(group, "mx_host_cache") == 0) {
    set_field(counters, cache_fields, FIELD_COUNT(cache_fields), key, value);
  } else if (strcmp(group, "zone_cache") == 0) {
    set_field(counters, zone_fields, FIELD_COUNT(zone_fields), key, value);
  } else if (strcmp(group, "ns_lookup") == 0) {
    set_field(counters, ns_fields, FIELD_COUNT(ns_fields), key, value);
  } else if (strcmp(group, "resolvers") == 0 && name != NULL) {
    struct scan_resolver_counters *resolver = NULL;
    for (size_t i = 0; i < counters->resolver_count; i++) {
      if (strcmp(counters->resolvers[i].name, name) == 0) resolver = &counters->resolvers[i];
    }
    if (resolver == NULL && counters->resolver_count < DNS_MAX_RESOLVERS) {
      resolver = &counters->resolvers[counters->resolver_count++];
      snprintf(resolver->name, sizeof resolver->name, "%s", name);
    }
    if (resolver == NULL) return;
    if (strcmp(key, "down_now") == 0) resolver->down_now = strcmp(value, "true") == 0;
    else set_field(resolver, resolver_fields, FIELD_COUNT(resolver_fields), key, value);
  }
}

/* ---- the two sources ---- */

void scan_metadata_from_run(struct scan_metadata *out, const char *scan_id, int argc, char **argv,
                            const char *probe_mode, time_t started, time_t ended, bool complete, const char *error,
                            size_t input_count, const char *const *input_names, struct input_reader *input,
                            const uint64_t *by_status, uint64_t domains, const struct scan_runtime *runtime) {
  memset(out, 0, sizeof *out);
  out->scan_id = scan_id;
  out->argc = argc;
  out->argv = argv;
  out->probe_mode = probe_mode;
  out->started = started;
  out->ended = ended;
  out->complete = complete;
  out->error = error != NULL && error[0] != '\0' ? error : NULL;
  out->input_count = input_count;
  out->input_names = input_names;
  out->input = input;
  if (input != NULL) input_reader_get_counts(input, &out->input_counts);
  memcpy(out->by_status, by_status, sizeof out->by_status);
  out->domains = domains;
  scan_counters_from_runtime(runtime, &out->counters);
}

int scan_metadata_from_db(struct scan_metadata *out, PGconn *conn, const char *scan_id, int argc, char **argv,
                          const char *probe_mode, time_t started, bool complete, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  out->scan_id = scan_id;
  out->argc = argc;
  out->argv = argv;
  out->probe_mode = probe_mode;
  out->started = started;
  out->ended = time(NULL);
  out->complete = complete;
  out->from_db = true;
  char error[1024];
  if (db_scan_error(conn, scan_id, NULL, error, sizeof error, why, why_len) != DB_OK) goto fail;
  if (error[0] != '\0' && (out->error = strdup(error)) == NULL) goto out_of_memory;
  if (db_scan_inputs(conn, scan_id, &out->stored_inputs, why, why_len) != DB_OK) goto fail;
  out->input_count = out->stored_inputs.count;
  out->input_names = (const char *const *)out->stored_inputs.names;
  out->input_sha256 = (const char *const *)out->stored_inputs.sha256;
  out->input_counts = out->stored_inputs.counts;
  if (db_scan_domain_counts(conn, scan_id, out->by_status, &out->domains, why, why_len) != DB_OK) goto fail;
  char *workers = NULL;
  if (queue_db_workers_json(conn, scan_id, &workers, why, why_len) != DB_OK) goto fail;
  out->workers_json = workers;
  if (queue_db_counter_sums(conn, scan_id, add_sum, &out->counters, why, why_len) != DB_OK) goto fail;
  return 0;
out_of_memory:
  snprintf(why, why_len, "out of memory");
fail:
  scan_metadata_clear(out);
  return -1;
}

void scan_metadata_clear(struct scan_metadata *metadata) {
  /* Only what scan_metadata_from_db allocated: from_run borrows everything. */
  if (!metadata->from_db) return;
  db_scan_inputs_clear(&metadata->stored_inputs);
  free((char *)metadata->error);
  free((char *)metadata->workers_json);
  memset(metadata, 0, sizeof *metadata);
}
/* ---- the document ---- */

static void iso_time(time_t t, char *out, size_t out_len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int scan_metadata_write(const char *path, const struct scan_metadata *metadata, char *why, size_t why_len) {
  struct json_buf buf;
  json_buf_init(&buf);
  char when[32];
  json_object_begin(&buf);
  json_key(&buf, "scan_id");
  json_string(&buf, metadata->scan_id);
  json_key(&buf, "software");
  json_string(&buf, "danescan " DANESCAN_VERSION);
  json_key(&buf, "command_line");
  json_array_begin(&buf);
  for (int i = 0; i < metadata->argc; i++) json_string(&buf, metadata->argv[i]);
  json_array_end(&buf);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  json_key(&buf, "host");
  json_string(&buf, host);
  json_key(&buf, "resolvers");
  json_array_begin(&buf);
  for (size_t i = 0; i < metadata->counters.resolver_count; i++)
    json_string(&buf, metadata->counters.resolvers[i].name);
  json_array_end(&buf);
  json_key(&buf, "probe_mode");
  json_string(&buf, metadata->probe_mode);
  json_key(&buf, "started");
  iso_time(metadata->started, when, sizeof when);
  json_string(&buf, when);
  json_key(&buf, "ended");
  iso_time(metadata->ended, when, sizeof when);
  json_string(&buf, when);
  json_key(&buf, "complete");
  json_bool(&buf, metadata->complete);
  json_key(&buf, "error");
  json_string(&buf, metadata->error);
  json_key(&buf, "inputs");
  json_array_begin(&buf);
  for (size_t i = 0; i < metadata->input_count; i++) {
    json_object_begin(&buf);
    json_key(&buf, "name");
    json_string(&buf, metadata->input_names[i]);
    json_key(&buf, "sha256");
    const char *sha256 = NULL;
    if (metadata->input_sha256 != NULL) sha256 = metadata->input_sha256[i];
    else if (metadata->input != NULL) sha256 = input_reader_checksum(metadata->input, i);
    json_string(&buf, sha256);
    json_object_end(&buf);
  }
  json_array_end(&buf);
  json_key(&buf, "input_counts");
  json_object_begin(&buf);
  json_key(&buf, "names");
  json_uint(&buf, metadata->input_counts.names);
  json_key(&buf, "invalid");
  json_uint(&buf, metadata->input_counts.invalid);
  json_key(&buf, "duplicates");
  json_uint(&buf, metadata->input_counts.duplicates);
  json_key(&buf, "bad_lines");
  json_uint(&buf, metadata->input_counts.bad_lines);
  json_object_end(&buf);
  json_key(&buf, "domains");
  json_uint(&buf, metadata->domains);
  json_key(&buf, "status_counts");
  json_object_begin(&buf);
  for (int i = 0; i < DOMAIN_STATUS_COUNT; i++) {
    json_key(&buf, domain_status_name((enum domain_status)i));
    json_uint(&buf, metadata->by_status[i]);
  }
  json_object_end(&buf);
  write_counters(&buf, &metadata->counters);
  json_key(&buf, "workers");
  if (metadata->workers_json != NULL) {
    json_raw(&buf, metadata->workers_json, strlen(metadata->workers_json));
  } else {
    /* A single-process scan: this process did the work, as a queue worker
     * would be listed (no worker id: it had no queue). */
    json_array_begin(&buf);
    json_object_begin(&buf);
    json_key(&buf, "worker_id");
    json_null(&buf);
    json_key(&buf, "host");
    json_string(&buf, host);
    json_key(&buf, "pid");
    json_int(&buf, (int64_t)getpid());
    json_key(&buf, "domains");
    json_uint(&buf, metadata->domains);
    json_key(&buf, "exit_status");
    json_string(&buf, metadata->complete ? "done" : "stopped");
    json_object_end(&buf);
    json_array_end(&buf);
  }
  json_object_end(&buf);
  json_raw(&buf, "\n", 1);
  int rc = 0;
  FILE *file = fopen(path, "w");
  if (file == NULL || json_buf_failed(&buf) || fwrite(buf.data, 1, buf.len, file) != buf.len) {
    snprintf(why, why_len, "%s: cannot write metadata: %s", path, strerror(errno));
    rc = -1;
  }
  if (file != NULL && fclose(file) != 0) rc = -1;
  json_buf_free(&buf);
  return rc;
}
