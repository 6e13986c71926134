/* JSON Lines writer. The field names here are the documented output schema
 * (docs/output.md); researchers parse years of files with them, so a field
 * is added, never renamed. */
#include "store/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "record/mta_sts_result.h"
#include "record/zone_hygiene.h"
#include "store/probe_json.h"

#define JSONL_BATCH_BYTES (256 * 1024) /* written when this much is buffered */

struct jsonl_state {
  int fd;
  bool owns_fd;
  char *scan_id;
  struct json_buf batch;  /* whole lines waiting for write() */
  struct json_buf record; /* the record being built */
  char path[256];
};

static void write_rcode(struct json_buf *buf, int rcode) {
  if (rcode < 0) {
    json_null(buf);
    return;
  }
  const ldns_lookup_table *entry = ldns_lookup_by_id(ldns_rcodes, rcode);
  if (entry != NULL) json_string(buf, entry->name);
  else json_int(buf, rcode);
}

static void write_fact(struct json_buf *buf, const struct dns_fact *fact) {
  if (!fact->done) {
    json_null(buf);
    return;
  }
  json_object_begin(buf);
  json_key(buf, "dnssec");
  json_string(buf, dnssec_state_name(fact->state));
  json_key(buf, "rcode");
  write_rcode(buf, fact->rcode);
  json_key(buf, "ede");
  if (fact->has_ede) {
    json_object_begin(buf);
    json_key(buf, "code");
    json_uint(buf, fact->ede_code);
    json_key(buf, "text");
    json_string(buf, fact->ede_text != NULL ? fact->ede_text : "");
    json_object_end(buf);
  } else {
    json_null(buf);
  }
  json_key(buf, "failure");
  json_string(buf, fact->failure);
  json_key(buf, "attempts");
  json_uint(buf, fact->attempts);
  json_key(buf, "slow_retried");
  json_bool(buf, fact->slow_retried);
  json_key(buf, "elapsed_ms");
  json_uint(buf, fact->elapsed_ms);
  json_object_end(buf);
}

/* "ns" and "ns_source" when the domain has NS targets (zone input, or
 * --ns-lookup), "ns_lookup" when it was looked up; none for invalid names
 * (pg_rows stores no operator for them either). */
static void write_ns(struct json_buf *buf, const struct domain_result *result) {
  if (result->status == DOMAIN_INVALID_NAME) return;
  if (result->ns[0] != '\0') {
    json_key(buf, "ns");
    json_array_begin(buf);
    for (const char *at = result->ns; *at != '\0';) {
      size_t len = strcspn(at, " ");
      json_string_len(buf, at, len);
      at += len;
      if (*at == ' ') at++;
    }
    json_array_end(buf);
    json_key(buf, "ns_source");
    json_string(buf, result->ns_source == NS_SOURCE_LOOKUP ? "lookup" : "zone");
  }
  if (result->ns_lookup.done) {
    json_key(buf, "ns_lookup");
    write_fact(buf, &result->ns_lookup);
  }
}

static void write_tlsa(struct json_buf *buf, const struct tlsa_record *record) {
  json_object_begin(buf);
  json_key(buf, "usage");
  json_uint(buf, record->usage);
  json_key(buf, "selector");
  json_uint(buf, record->selector);
  json_key(buf, "matching_type");
  json_uint(buf, record->matching_type);
  json_key(buf, "data");
  json_hex(buf, record->data, record->data_len);
  json_key(buf, "usable");
  json_bool(buf, record->usable);
  json_key(buf, "unusable_reason");
  json_string(buf, record->unusable_reason);
  json_object_end(buf);
}

/* The host's mta_sts_match: true/false when the domain has a policy that
 * lists mx patterns, else null. */
static void write_mta_sts_match(struct json_buf *buf, const struct mta_sts_result *sts, size_t link_index) {
  json_key(buf, "mta_sts_match");
  if (sts != NULL && sts->has_policy && sts->mode != STS_MODE_NONE && link_index < RESULT_MAX_MX_HOSTS) {
    json_bool(buf, sts->host_match[link_index]);
  } else {
    json_null(buf);
  }
}

static void write_host(struct json_buf *buf, const struct mx_link *link, const struct mta_sts_result *sts,
                       size_t link_index) {
  const struct mx_host *host = link->host;
  json_object_begin(buf);
  json_key(buf, "preference");
  json_uint(buf, link->preference);
  json_key(buf, "host");
  json_string(buf, host->name);
  json_key(buf, "status");
  json_string(buf, host_status_name(host->status));
  json_key(buf, "address_dnssec");
  if (host->a.done || host->aaaa.done) json_string(buf, dnssec_state_name(host->address_dnssec));
  else json_null(buf);
  json_key(buf, "cname_target");
  json_string(buf, host->cname_target);
  json_key(buf, "tlsa_base");
  json_string(buf, host->tlsa_base);
  json_key(buf, "flags");
  json_array_begin(buf);
  for (unsigned bit = 0; bit < MX_FLAG_COUNT; bit++) {
    if (host->flags & (1u << bit)) json_string(buf, mx_host_flag_name(bit));
  }
  json_array_end(buf);
  json_key(buf, "lookups");
  json_object_begin(buf);
  json_key(buf, "a");
  write_fact(buf, &host->a);
  json_key(buf, "aaaa");
  write_fact(buf, &host->aaaa);
  json_key(buf, "tlsa");
  write_fact(buf, &host->tlsa);
  if (host->tlsa_target.done) {
    json_key(buf, "tlsa_at_target");
    write_fact(buf, &host->tlsa_target);
  }
  if (host->ancestor.done) {
    json_key(buf, "tlsa_ancestor");
    write_fact(buf, &host->ancestor);
  }
  json_object_end(buf);
  json_key(buf, "addresses");
  json_array_begin(buf);
  for (size_t i = 0; i < host->address_count; i++) {
    const struct host_address *address = &host->addresses[i];
    json_object_begin(buf);
    json_key(buf, "ip");
    json_string(buf, address->text);
    json_key(buf, "family");
    json_uint(buf, address->family == AF_INET6 ? 6 : 4);
    json_key(buf, "probe");
    probe_json_write(buf, address);
    json_object_end(buf);
  }
  json_array_end(buf);
  json_key(buf, "tlsa");
  json_array_begin(buf);
  for (size_t i = 0; i < host->tlsa_count; i++) write_tlsa(buf, &host->tlsa_records[i]);
  json_array_end(buf);
  json_key(buf, "tlsa_params");
  json_array_begin(buf);
  for (size_t i = 0; i < host->tlsa_count; i++) {
    char triple[16];
    snprintf(triple, sizeof triple, "%u %u %u", host->tlsa_records[i].usage, host->tlsa_records[i].selector,
             host->tlsa_records[i].matching_type);
    json_string(buf, triple);
  }
  json_array_end(buf);
  json_key(buf, "rollover");
  json_string(buf, rollover_class_name(host->rollover));
  write_mta_sts_match(buf, sts, link_index);
  probe_json_write_host_extras(buf, host);
  json_key(buf, "resolve_ms");
  json_uint(buf, host->resolve_ms);
  json_object_end(buf);
}

static void write_lookup_state(struct json_buf *buf, const struct dns_hygiene_lookup *lookup) {
  if (lookup->done) json_string(buf, dnssec_state_name(lookup->state));
  else json_null(buf);
}

static void write_unix_time(struct json_buf *buf, int64_t seconds);

/* One zone that matters to the domain (issue 19; docs/output.md "DNSSEC hygiene"). */
static void write_zone(struct json_buf *buf, const struct domain_zone *domain_zone, int64_t started_unix_ms) {
  const struct zone_hygiene *zone = domain_zone->zone;
  json_object_begin(buf);
  json_key(buf, "zone");
  json_string(buf, zone->zone);
  json_key(buf, "roles");
  json_array_begin(buf);
  if (domain_zone->mx) json_string(buf, "mx");
  if (domain_zone->tlsa) json_string(buf, "tlsa");
  json_array_end(buf);
  json_key(buf, "dnskey_dnssec");
  write_lookup_state(buf, &zone->dnskey_lookup);
  json_key(buf, "keys");
  json_array_begin(buf);
  for (size_t i = 0; i < zone->key_count; i++) {
    const struct zone_key *key = &zone->keys[i];
    json_object_begin(buf);
    json_key(buf, "algorithm");
    json_uint(buf, key->algorithm);
    json_key(buf, "mnemonic");
    json_string(buf, dnssec_algorithm_mnemonic(key->algorithm));
    json_key(buf, "flags");
    json_uint(buf, key->flags);
    json_key(buf, "key_tag");
    json_uint(buf, key->key_tag);
    json_key(buf, "bits");
    json_uint(buf, key->bits);
    json_key(buf, "signing");
    json_string(buf, rfc8624_level_name(rfc8624_algorithm_signing(key->algorithm)));
    json_key(buf, "validation");
    json_string(buf, rfc8624_level_name(rfc8624_algorithm_validation(key->algorithm)));
    json_object_end(buf);
  }
  json_array_end(buf);
  json_key(buf, "ds_dnssec");
  write_lookup_state(buf, &zone->ds_lookup);
  json_key(buf, "ds");
  json_array_begin(buf);
  for (size_t i = 0; i < zone->ds_count; i++) {
    const struct zone_ds *ds = &zone->ds[i];
    json_object_begin(buf);
    json_key(buf, "key_tag");
    json_uint(buf, ds->key_tag);
    json_key(buf, "algorithm");
    json_uint(buf, ds->algorithm);
    json_key(buf, "digest_type");
    json_uint(buf, ds->digest_type);
    json_key(buf, "digest");
    json_string(buf, ds_digest_mnemonic(ds->digest_type));
    json_key(buf, "delegation");
    json_string(buf, rfc8624_level_name(rfc8624_digest_delegation(ds->digest_type)));
    json_key(buf, "validation");
    json_string(buf, rfc8624_level_name(rfc8624_digest_validation(ds->digest_type)));
    json_object_end(buf);
  }
  json_array_end(buf);
  json_key(buf, "denial");
  json_string(buf, zone_denial_name(zone->denial));
  json_key(buf, "nsec3");
  if (zone->denial == ZONE_DENIAL_NSEC3) {
    json_object_begin(buf);
    json_key(buf, "iterations");
    json_uint(buf, zone->nsec3_iterations);
    json_key(buf, "salt_length");
    json_uint(buf, zone->nsec3_salt_length);
    json_key(buf, "source");
    json_string(buf, zone->nsec3_from_param ? "nsec3param" : "nsec3");
    json_key(buf, "verdict");
    json_string(buf, nsec3_verdict_name(rfc9276_verdict(zone->nsec3_iterations, zone->nsec3_salt_length)));
    json_object_end(buf);
  } else {
    json_null(buf);
  }
  json_key(buf, "dnskey_rrsig_expires");
  write_unix_time(buf, zone->dnskey_rrsig_expires);
  json_key(buf, "rrsig_expires");
  write_unix_time(buf, domain_zone->rrsig_expires);
  json_key(buf, "rrsig_days");
  if (domain_zone->rrsig_expires > 0) {
    int64_t ahead = domain_zone->rrsig_expires - started_unix_ms / 1000;
    json_int(buf, ahead >= 0 ? ahead / 86400 : -((-ahead + 86399) / 86400)); /* whole days, rounded down */
  } else {
    json_null(buf);
  }
  json_key(buf, "flags");
  json_array_begin(buf);
  for (unsigned bit = 0; bit < ZONE_FLAG_COUNT; bit++) {
    if (domain_zone->flags & (1u << bit)) json_string(buf, zone_hygiene_flag_name(bit));
  }
  json_array_end(buf);
  json_object_end(buf);
}

static void write_text_or_null(struct json_buf *buf, const char *text) {
  if (text != NULL && text[0] != '\0') json_string(buf, text);
  else json_null(buf);
}

/* mta_sts and tlsrpt_record (shared/spec/MTA-STS.md); both null when the
 * domain was not checked. */
static void write_mta_sts(struct json_buf *buf, const struct mta_sts_result *sts) {
  json_key(buf, "mta_sts");
  if (sts == NULL) {
    json_null(buf);
    json_key(buf, "tlsrpt_record");
    json_null(buf);
    return;
  }
  json_object_begin(buf);
  json_key(buf, "status");
  json_string(buf, mta_sts_status_name(sts->status));
  json_key(buf, "failure");
  write_text_or_null(buf, sts->failure);
  json_key(buf, "id");
  write_text_or_null(buf, sts->id);
  json_key(buf, "mode");
  if (sts->has_policy) json_string(buf, mta_sts_mode_name(sts->mode));
  else json_null(buf);
  json_key(buf, "max_age");
  if (sts->has_policy) json_int(buf, sts->max_age);
  else json_null(buf);
  json_key(buf, "mx_patterns");
  if (sts->has_policy) {
    json_array_begin(buf);
    for (size_t i = 0; i < sts->mx_pattern_count; i++) json_string(buf, sts->mx_patterns[i]);
    json_array_end(buf);
  } else {
    json_null(buf);
  }
  json_key(buf, "http_status");
  if (sts->http_status > 0) json_int(buf, sts->http_status);
  else json_null(buf);
  json_key(buf, "lookups");
  json_object_begin(buf);
  json_key(buf, "record");
  write_fact(buf, &sts->record_lookup);
  json_key(buf, "policy_host_a");
  write_fact(buf, &sts->policy_host_a);
  json_key(buf, "policy_host_aaaa");
  write_fact(buf, &sts->policy_host_aaaa);
  json_object_end(buf);
  json_object_end(buf);

  json_key(buf, "tlsrpt_record");
  json_object_begin(buf);
  json_key(buf, "status");
  json_string(buf, tlsrpt_record_status_name(sts->tlsrpt_status));
  json_key(buf, "rua");
  if (sts->tlsrpt_status == TLSRPT_RECORD_VALID) {
    json_array_begin(buf);
    const char *uri = sts->tlsrpt_rua;
    while (*uri != '\0') {
      const char *comma = strchr(uri, ',');
      size_t len = comma != NULL ? (size_t)(comma - uri) : strlen(uri);
      json_string_len(buf, uri, len);
      uri += len + (comma != NULL ? 1 : 0);
    }
    json_array_end(buf);
  } else {
    json_null(buf);
  }
  json_key(buf, "failure");
  write_text_or_null(buf, sts->tlsrpt_failure);
  json_key(buf, "lookup");
  write_fact(buf, &sts->tlsrpt_lookup);
  json_object_end(buf);
}

/* Year, month and day of a day count since 1970-01-01 (proleptic
 * Gregorian; H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  unsigned day_of_era = (unsigned)(days - era * 146097);
  unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  unsigned shifted_month = (5 * day_of_year + 2) / 153; /* March = 0 */
  *day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  *month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  *year = (int64_t)year_of_era + era * 400 + (*month <= 2 ? 1 : 0);
}

static char *put_digits(char *out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; i--) {
    out[i] = (char)('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

/* 2026-12-07T06:31:35.575Z (UTC, milliseconds). Written by hand rather than
 * with gmtime_r + strftime: once per record, those were a fifth of the
 * record's formatting. */
static void write_time(struct json_buf *buf, int64_t unix_ms) {
  char text[40];
  int64_t days = unix_ms / 86400000, in_day = unix_ms % 86400000;
  if (in_day < 0) {
    days--;
    in_day += 86400000;
  }
  int64_t year;
  unsigned month, day;
  civil_from_days(days, &year, &month, &day);
  unsigned ms = (unsigned)in_day;
  char *p = text;
  if (year >= 0 && year <= 9999) {
    p = put_digits(p, (unsigned)year, 4);
  } else {
    p += snprintf(p, 24, "%lld", (long long)year); /* as strftime's %Y */
  }
  *p++ = '-';
  p = put_digits(p, month, 2);
  *p++ = '-';
  p = put_digits(p, day, 2);
  *p++ = 'T';
  p = put_digits(p, ms / 3600000, 2);
  *p++ = ':';
  p = put_digits(p, ms / 60000 % 60, 2);
  *p++ = ':';
  p = put_digits(p, ms / 1000 % 60, 2);
  *p++ = '.';
  p = put_digits(p, ms % 1000, 3);
  *p++ = 'Z';
  json_string_len(buf, text, (size_t)(p - text));
}

static void write_unix_time(struct json_buf *buf, int64_t seconds) {
  if (seconds <= 0) json_null(buf);
  else write_time(buf, seconds * 1000);
}

void jsonl_format_domain(struct json_buf *buf, const struct domain_result *result, const char *scan_id) {
  json_object_begin(buf);
  json_key(buf, "scan_id");
  json_string(buf, scan_id);
  json_key(buf, "domain");
  json_string(buf, result->name);
  json_key(buf, "status");
  json_string(buf, domain_status_name(result->status));
  json_key(buf, "input");
  json_object_begin(buf);
  json_key(buf, "seq");
  json_uint(buf, result->seq);
  json_key(buf, "file");
  json_uint(buf, result->file_index);
  json_key(buf, "line");
  json_uint(buf, result->line);
  json_key(buf, "rank");
  if (result->rank >= 0) json_int(buf, result->rank);
  else json_null(buf);
  json_object_end(buf);
  if (result->status == DOMAIN_INVALID_NAME) {
    json_key(buf, "reason");
    json_string(buf, result->invalid_reason);
  } else if (result->status == DOMAIN_SKIPPED) {
    /* opted out: never looked up, so no lookup or host facts */
    json_key(buf, "reason");
    json_string(buf, result->skip_reason);
  } else {
    json_key(buf, "mx_dnssec");
    if (result->mx.done && (result->mx.state == DNSSEC_SECURE || result->mx.state == DNSSEC_INSECURE))
      json_string(buf, dnssec_state_name(result->mx_dnssec));
    else json_null(buf);
    json_key(buf, "mx_lookup");
    write_fact(buf, &result->mx);
    json_key(buf, "implicit_mx");
    json_bool(buf, result->implicit_mx);
    json_key(buf, "null_mx_mixed");
    json_bool(buf, result->null_mx_mixed);
    json_key(buf, "mx_truncated");
    json_bool(buf, result->mx_truncated);
    json_key(buf, "mx");
    json_array_begin(buf);
    for (size_t i = 0; i < result->link_count; i++) write_host(buf, &result->links[i], result->mta_sts, i);
    json_array_end(buf);
    json_key(buf, "island");
    if (result->island == ISLAND_NOT_CHECKED) json_null(buf);
    else json_string(buf, island_state_name(result->island));
    if (result->zone_count > 0) {
      json_key(buf, "dnssec_zones");
      json_array_begin(buf);
      for (size_t i = 0; i < result->zone_count; i++) write_zone(buf, &result->zones[i], result->started_unix_ms);
      json_array_end(buf);
    }
  }
  write_ns(buf, result);
  write_mta_sts(buf, result->mta_sts);
  json_key(buf, "started");
  write_time(buf, result->started_unix_ms);
  json_key(buf, "elapsed_ms");
  json_uint(buf, result->elapsed_ms);
  json_object_end(buf);
}

static int write_all(int fd, const char *data, size_t len, char *why, size_t why_len, const char *path) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      snprintf(why, why_len, "%s: write failed: %s", path, strerror(errno));
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int jsonl_flush(void *arg, char *why, size_t why_len) {
  struct jsonl_state *state = arg;
  if (state->batch.len == 0) return 0;
  int rc = write_all(state->fd, state->batch.data, state->batch.len, why, why_len, state->path);
  json_buf_reset(&state->batch);
  return rc;
}

static int jsonl_write(void *arg, const struct domain_result *result, char *why, size_t why_len) {
  struct jsonl_state *state = arg;
  json_buf_reset(&state->record);
  jsonl_format_domain(&state->record, result, state->scan_id);
  json_raw(&state->record, "\n", 1);
  if (json_buf_failed(&state->record)) {
    snprintf(why, why_len, "%s: out of memory formatting %s", state->path, result->name);
    return -1;
  }
  json_raw(&state->batch, state->record.data, state->record.len);
  if (json_buf_failed(&state->batch)) {
    snprintf(why, why_len, "%s: out of memory buffering output", state->path);
    return -1;
  }
  if (state->batch.len >= JSONL_BATCH_BYTES) return jsonl_flush(state, why, why_len);
  return 0;
}

static int jsonl_close(void *arg, char *why, size_t why_len) {
  struct jsonl_state *state = arg;
  int rc = jsonl_flush(state, why, why_len);
  if (state->owns_fd && close(state->fd) != 0 && rc == 0) {
    snprintf(why, why_len, "%s: close failed: %s", state->path, strerror(errno));
    rc = -1;
  }
  json_buf_free(&state->batch);
  json_buf_free(&state->record);
  free(state->scan_id);
  free(state);
  return rc;
}

static int open_sink(struct result_sink *sink, const char *path, const char *scan_id, bool append, char *why,
                     size_t why_len);

int jsonl_sink_open(struct result_sink *sink, const char *path, const char *scan_id, char *why, size_t why_len) {
  return open_sink(sink, path, scan_id, false, why, why_len);
}

int jsonl_sink_open_append(struct result_sink *sink, const char *path, const char *scan_id, char *why, size_t why_len) {
  if (strcmp(path, "-") == 0) {
    snprintf(why, why_len, "several workers cannot share standard output: give --output FILE");
    return -1;
  }
  return open_sink(sink, path, scan_id, true, why, why_len);
}

static int open_sink(struct result_sink *sink, const char *path, const char *scan_id, bool append, char *why,
                     size_t why_len) {
  struct jsonl_state *state = calloc(1, sizeof *state);
  if (state == NULL) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  snprintf(state->path, sizeof state->path, "%s", strcmp(path, "-") == 0 ? "<stdout>" : path);
  if (strcmp(path, "-") == 0) {
    state->fd = STDOUT_FILENO;
  } else {
    state->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (state->fd < 0) {
      snprintf(why, why_len, "%s: cannot open for writing: %s", path, strerror(errno));
      free(state);
      return -1;
    }
    state->owns_fd = true;
  }
  state->scan_id = strdup(scan_id);
  json_buf_init(&state->batch);
  json_buf_init(&state->record);
  memset(sink, 0, sizeof *sink);
  sink->name = "jsonl";
  sink->state = state;
  sink->write = jsonl_write;
  sink->flush = jsonl_flush;
  sink->close = jsonl_close;
  return 0;
}
