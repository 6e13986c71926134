/* Formats the neutral result record into COPY rows (see pg_rows.h). Every
 * value goes through pg_copy's field writers: nothing scanned is ever spliced
 * into SQL text. */
#include "store/pg_rows.h"

#include "record/mta_sts_result.h"
#include "record/probe_detail.h"
#include "record/provider.h"
#include "record/zone_hygiene.h"
#include "tls/cert_info.h"

#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>

static const char *const copy_statements[PG_TABLE_COUNT] = {
    [PG_TABLE_DOMAINS] =
        "COPY domains (scan_id, seq, domain, tld, status, invalid_reason, mx_dnssec, mx_lookup_dnssec, "
        "mx_rcode, mx_ede_code, mx_ede_text, mx_failure, mx_attempts, mx_elapsed_ms, implicit_mx, "
        "null_mx_mixed, mx_truncated, mx_count, island, input_file, input_line, rank, started_at, "
        "elapsed_ms, skip_reason) FROM STDIN",
    [PG_TABLE_DOMAIN_MX] = "COPY domain_mx (scan_id, seq, domain, preference, host, mta_sts_match) FROM STDIN",
    [PG_TABLE_DOMAIN_MTA_STS] = "COPY domain_mta_sts (scan_id, seq, domain, status, failure, id, mode, max_age, "
                                "mx_patterns, http_status, record_dnssec, record_rcode, record_failure, "
                                "policy_host_dnssec, tlsrpt_status, tlsrpt_rua, tlsrpt_failure, tlsrpt_dnssec, "
                                "tlsrpt_rcode) FROM STDIN",
    [PG_TABLE_DOMAIN_DNS_OPERATORS] = "COPY domain_dns_operators (scan_id, seq, domain, operator, ns_hosts) FROM STDIN",
    [PG_TABLE_DOMAIN_ZONES] =
        "COPY domain_dnssec_zones (scan_id, seq, domain, zone, roles, dnskey_dnssec, ds_dnssec, key_algorithms, "
        "key_bits, key_flags, ds_digest_types, denial, nsec3_iterations, nsec3_salt_length, nsec3_verdict, "
        "dnskey_rrsig_expires, rrsig_expires, flags) FROM STDIN",
    [PG_TABLE_STAGE_HOSTS] =
        "COPY stage_mx_hosts (scan_id, host, status, address_dnssec, cname_target, tlsa_base, flags, "
        "rollover, tlsa_params, address_count, tlsa_count, tlsa_usable_count, a_dnssec, a_rcode, "
        "aaaa_dnssec, aaaa_rcode, tlsa_dnssec, tlsa_rcode, tlsa_ede_code, tlsa_ede_text, tlsa_failure, "
        "resolve_ms, provider) FROM STDIN",
    [PG_TABLE_STAGE_TLSA] =
        "COPY stage_tlsa_records (scan_id, host, position, usage, selector, matching_type, data, usable, "
        "unusable_reason) FROM STDIN",
    [PG_TABLE_STAGE_ADDRESSES] = "COPY stage_addresses (scan_id, host, address, family) FROM STDIN",
    [PG_TABLE_STAGE_PROBES] =
        "COPY stage_probes (scan_id, host, address, probe_no, result, reason, tls_version, cipher, "
        "kx_group, peer_sig_alg, matched_tlsa, match_depth, banner, banner_text, ehlo_keywords, "
        "connect_ms, smtp_ms, tls_ms, total_ms, leaf_sha256, chain_sent, attempts, step, first_result, "
        "first_step, first_reason, first_ms, retry_pause_ms, pkix, pkix_reason) FROM STDIN",
    [PG_TABLE_STAGE_CHAIN] = "COPY stage_probe_chain (scan_id, host, address, probe_no, depth, cert_sha256) FROM STDIN",
    [PG_TABLE_STAGE_CERTS] =
        "COPY stage_certificates (sha256, der, subject, issuer, san, not_before, not_after, key_type, "
        "key_bits, spki_sha256) FROM STDIN",
};

void pg_rows_init(struct pg_rows *rows) {
  for (int i = 0; i < PG_TABLE_COUNT; i++) {
    pg_buf_init(&rows->table[i]);
    rows->rows[i] = 0;
  }
}

void pg_rows_free(struct pg_rows *rows) {
  for (int i = 0; i < PG_TABLE_COUNT; i++) pg_buf_free(&rows->table[i]);
}

bool pg_rows_failed(const struct pg_rows *rows) {
  for (int i = 0; i < PG_TABLE_COUNT; i++) {
    if (pg_buf_failed(&rows->table[i])) return true;
  }
  return false;
}

uint64_t pg_rows_total(const struct pg_rows *rows) {
  uint64_t total = 0;
  for (int i = 0; i < PG_TABLE_COUNT; i++) total += rows->rows[i];
  return total;
}

const char *pg_rows_copy_statement(enum pg_table table) {
  return table < PG_TABLE_COUNT ? copy_statements[table] : NULL;
}

static void field_rcode(struct pg_buf *buf, const struct dns_fact *fact) {
  if (!fact->done || fact->rcode < 0) {
    pg_field_null(buf);
    return;
  }
  const ldns_lookup_table *entry = ldns_lookup_by_id(ldns_rcodes, fact->rcode);
  if (entry != NULL) {
    pg_field_text(buf, entry->name, PG_TEXT_MAX_BYTES);
  } else {
    char number[16];
    snprintf(number, sizeof number, "%d", fact->rcode);
    pg_field_text(buf, number, PG_TEXT_MAX_BYTES);
  }
}

static void field_dnssec(struct pg_buf *buf, const struct dns_fact *fact) {
  if (fact->done) pg_field_text(buf, dnssec_state_name(fact->state), PG_TEXT_MAX_BYTES);
  else pg_field_null(buf);
}

static const char *tld_of(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot != NULL ? dot + 1 : name;
}

static void field_text_or_null(struct pg_buf *buf, const char *text) {
  pg_field_text(buf, text != NULL && text[0] != '\0' ? text : NULL, PG_TEXT_MAX_BYTES);
}

/* The domain_mta_sts row (migration 014). */
static void add_mta_sts(struct pg_rows *rows, const struct domain_result *result, const char *scan_id) {
  const struct mta_sts_result *sts = result->mta_sts;
  struct pg_buf *buf = &rows->table[PG_TABLE_DOMAIN_MTA_STS];
  pg_field_text(buf, scan_id, PG_TEXT_MAX_BYTES);
  pg_field_uint(buf, result->seq);
  pg_field_text(buf, result->name, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, mta_sts_status_name(sts->status), PG_TEXT_MAX_BYTES);
  field_text_or_null(buf, sts->failure);
  field_text_or_null(buf, sts->id);
  if (sts->has_policy) {
    pg_field_text(buf, mta_sts_mode_name(sts->mode), PG_TEXT_MAX_BYTES);
    pg_field_int(buf, sts->max_age);
    pg_field_text_array(buf, (const char *const *)sts->mx_patterns, sts->mx_pattern_count, PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
    pg_field_null(buf);
    pg_field_null(buf);
  }
  if (sts->http_status > 0) pg_field_int(buf, sts->http_status);
  else pg_field_null(buf);
  field_dnssec(buf, &sts->record_lookup);
  field_rcode(buf, &sts->record_lookup);
  pg_field_text(buf, sts->record_lookup.done ? sts->record_lookup.failure : NULL, PG_TEXT_MAX_BYTES);
  if (sts->policy_host_a.done || sts->policy_host_aaaa.done) {
    enum dnssec_state state = DNSSEC_SECURE;
    if (sts->policy_host_a.done) state = dnssec_state_worst(state, sts->policy_host_a.state);
    if (sts->policy_host_aaaa.done) state = dnssec_state_worst(state, sts->policy_host_aaaa.state);
    pg_field_text(buf, dnssec_state_name(state), PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
  }
  pg_field_text(buf, tlsrpt_record_status_name(sts->tlsrpt_status), PG_TEXT_MAX_BYTES);
  if (sts->tlsrpt_status == TLSRPT_RECORD_VALID) {
    const char *uris[MTA_STS_RUA_MAX_BYTES / 8];
    char copy[MTA_STS_RUA_MAX_BYTES];
    snprintf(copy, sizeof copy, "%s", sts->tlsrpt_rua);
    size_t count = 0;
    for (char *uri = copy; uri != NULL && *uri != '\0' && count < sizeof uris / sizeof uris[0];) {
      char *comma = strchr(uri, ',');
      if (comma != NULL) *comma = '\0';
      uris[count++] = uri;
      uri = comma != NULL ? comma + 1 : NULL;
    }
    pg_field_text_array(buf, uris, count, PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
  }
  field_text_or_null(buf, sts->tlsrpt_failure);
  field_dnssec(buf, &sts->tlsrpt_lookup);
  field_rcode(buf, &sts->tlsrpt_lookup);
  pg_row_end(buf);
  rows->rows[PG_TABLE_DOMAIN_MTA_STS]++;
}

#define NS_MAX_TARGETS (RESULT_NS_MAX_BYTES / 2) /* "a b c": 2 bytes per target at least */

void pg_rows_add_dns_operators(struct pg_rows *rows, const struct domain_result *result, const char *scan_id,
                               const struct provider_list *providers) {
  if (result->ns[0] == '\0' || result->status == DOMAIN_INVALID_NAME) return;
  /* The targets (split in a copy) and each one's operator. */
  char targets[RESULT_NS_MAX_BYTES];
  snprintf(targets, sizeof targets, "%s", result->ns);
  const char *host[NS_MAX_TARGETS];
  char operator[NS_MAX_TARGETS][256];
  size_t count = 0;
  for (char *save = NULL, *t = strtok_r(targets, " ", &save); t != NULL && count < NS_MAX_TARGETS;
       t = strtok_r(NULL, " ", &save)) {
    host[count] = t;
    if (providers == NULL || provider_of(providers, t, operator[count], sizeof operator[count]) < 0)
      operator[count][0] = '\0';
    count++;
  }
  /* One row per operator, in the order of its first target. */
  struct pg_buf *buf = &rows->table[PG_TABLE_DOMAIN_DNS_OPERATORS];
  for (size_t i = 0; i < count; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(operator[j], operator[i]) == 0;
    if (seen) continue;
    const char *hosts[NS_MAX_TARGETS];
    size_t host_count = 0;
    for (size_t k = i; k < count; k++) {
      if (strcmp(operator[k], operator[i]) == 0) hosts[host_count++] = host[k];
    }
    pg_field_text(buf, scan_id, PG_TEXT_MAX_BYTES);
    pg_field_uint(buf, result->seq);
    pg_field_text(buf, result->name, PG_TEXT_MAX_BYTES);
    pg_field_text(buf, operator[i], PG_TEXT_MAX_BYTES);
    pg_field_text_array(buf, hosts, host_count, PG_TEXT_MAX_BYTES);
    pg_row_end(buf);
    rows->rows[PG_TABLE_DOMAIN_DNS_OPERATORS]++;
  }
}

/* An int[] field from count values read by at(i). */
static void field_int_array(struct pg_buf *buf, size_t count, int64_t (*at)(const void *base, size_t i),
                            const void *base) {
  char text[ZONE_HYGIENE_MAX_KEYS * 12 + 3] = "{";
  size_t used = 1;
  for (size_t i = 0; i < count; i++) {
    int n = snprintf(text + used, sizeof text - used, "%s%lld", i > 0 ? "," : "", (long long)at(base, i));
    if (n < 0 || (size_t)n >= sizeof text - used) break;
    used += (size_t)n;
  }
  snprintf(text + used, sizeof text - used, "}");
  pg_field_text(buf, text, sizeof text);
}

static int64_t key_algorithm_at(const void *base, size_t i) {
  return ((const struct zone_hygiene *)base)->keys[i].algorithm;
}
static int64_t key_bits_at(const void *base, size_t i) {
  return ((const struct zone_hygiene *)base)->keys[i].bits;
}
static int64_t key_flags_at(const void *base, size_t i) {
  return ((const struct zone_hygiene *)base)->keys[i].flags;
}
static int64_t ds_digest_at(const void *base, size_t i) {
  return ((const struct zone_hygiene *)base)->ds[i].digest_type;
}

static void field_lookup_state(struct pg_buf *buf, const struct dns_hygiene_lookup *lookup) {
  pg_field_text(buf, lookup->done ? dnssec_state_name(lookup->state) : NULL, PG_TEXT_MAX_BYTES);
}

/* The domain_dnssec_zones rows (migration 015). */
static void add_zones(struct pg_rows *rows, const struct domain_result *result, const char *scan_id) {
  struct pg_buf *buf = &rows->table[PG_TABLE_DOMAIN_ZONES];
  for (size_t i = 0; i < result->zone_count; i++) {
    const struct domain_zone *domain_zone = &result->zones[i];
    const struct zone_hygiene *zone = domain_zone->zone;
    if (zone == NULL) continue;
    pg_field_text(buf, scan_id, PG_TEXT_MAX_BYTES);
    pg_field_uint(buf, result->seq);
    pg_field_text(buf, result->name, PG_TEXT_MAX_BYTES);
    pg_field_text(buf, zone->zone, PG_TEXT_MAX_BYTES);
    const char *roles[2];
    size_t role_count = 0;
    if (domain_zone->mx) roles[role_count++] = "mx";
    if (domain_zone->tlsa) roles[role_count++] = "tlsa";
    pg_field_text_array(buf, roles, role_count, PG_TEXT_MAX_BYTES);
    field_lookup_state(buf, &zone->dnskey_lookup);
    field_lookup_state(buf, &zone->ds_lookup);
    field_int_array(buf, zone->key_count, key_algorithm_at, zone);
    field_int_array(buf, zone->key_count, key_bits_at, zone);
    field_int_array(buf, zone->key_count, key_flags_at, zone);
    field_int_array(buf, zone->ds_count, ds_digest_at, zone);
    pg_field_text(buf, zone_denial_name(zone->denial), PG_TEXT_MAX_BYTES);
    if (zone->denial == ZONE_DENIAL_NSEC3) {
      pg_field_uint(buf, zone->nsec3_iterations);
      pg_field_uint(buf, zone->nsec3_salt_length);
      pg_field_text(buf, nsec3_verdict_name(rfc9276_verdict(zone->nsec3_iterations, zone->nsec3_salt_length)),
                    PG_TEXT_MAX_BYTES);
    } else {
      pg_field_null(buf);
      pg_field_null(buf);
      pg_field_null(buf);
    }
    if (zone->dnskey_rrsig_expires > 0) pg_field_unix_ms(buf, zone->dnskey_rrsig_expires * 1000);
    else pg_field_null(buf);
    if (domain_zone->rrsig_expires > 0) pg_field_unix_ms(buf, domain_zone->rrsig_expires * 1000);
    else pg_field_null(buf);
    const char *flags[ZONE_FLAG_COUNT];
    size_t flag_count = 0;
    for (unsigned bit = 0; bit < ZONE_FLAG_COUNT; bit++) {
      if (domain_zone->flags & (1u << bit)) flags[flag_count++] = zone_hygiene_flag_name(bit);
    }
    pg_field_text_array(buf, flags, flag_count, PG_TEXT_MAX_BYTES);
    pg_row_end(buf);
    rows->rows[PG_TABLE_DOMAIN_ZONES]++;
  }
}

void pg_rows_add_domain(struct pg_rows *rows, const struct domain_result *result, const char *scan_id) {
  struct pg_buf *buf = &rows->table[PG_TABLE_DOMAINS];
  bool invalid = result->status == DOMAIN_INVALID_NAME;
  pg_field_text(buf, scan_id, PG_TEXT_MAX_BYTES);
  pg_field_uint(buf, result->seq);
  pg_field_text(buf, result->name, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, invalid ? NULL : tld_of(result->name), PG_TEXT_MAX_BYTES);
  pg_field_text(buf, domain_status_name(result->status), PG_TEXT_MAX_BYTES);
  pg_field_text(buf, invalid ? result->invalid_reason : NULL, PG_TEXT_MAX_BYTES);
  /* mx_dnssec only when the MX lookup gave a usable answer (as JSON Lines) */
  if (!invalid && result->mx.done && (result->mx.state == DNSSEC_SECURE || result->mx.state == DNSSEC_INSECURE)) {
    pg_field_text(buf, dnssec_state_name(result->mx_dnssec), PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
  }
  field_dnssec(buf, &result->mx);
  field_rcode(buf, &result->mx);
  if (result->mx.done && result->mx.has_ede) {
    pg_field_uint(buf, result->mx.ede_code);
    pg_field_text(buf, result->mx.ede_text != NULL ? result->mx.ede_text : "", PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
    pg_field_null(buf);
  }
  pg_field_text(buf, result->mx.done ? result->mx.failure : NULL, PG_TEXT_MAX_BYTES);
  if (result->mx.done) {
    pg_field_uint(buf, result->mx.attempts);
    pg_field_uint(buf, result->mx.elapsed_ms);
  } else {
    pg_field_null(buf);
    pg_field_null(buf);
  }
  if (invalid) {
    pg_field_null(buf);
    pg_field_null(buf);
    pg_field_null(buf);
  } else {
    pg_field_bool(buf, result->implicit_mx);
    pg_field_bool(buf, result->null_mx_mixed);
    pg_field_bool(buf, result->mx_truncated);
  }
  pg_field_uint(buf, result->link_count);
  pg_field_text(buf, result->island == ISLAND_NOT_CHECKED ? NULL : island_state_name(result->island),
                PG_TEXT_MAX_BYTES);
  pg_field_uint(buf, result->file_index);
  pg_field_uint(buf, result->line);
  if (result->rank >= 0) pg_field_int(buf, result->rank);
  else pg_field_null(buf);
  pg_field_unix_ms(buf, result->started_unix_ms);
  pg_field_uint(buf, result->elapsed_ms);
  pg_field_text(buf, result->status == DOMAIN_SKIPPED ? result->skip_reason : NULL, PG_TEXT_MAX_BYTES);
  pg_row_end(buf);
  rows->rows[PG_TABLE_DOMAINS]++;

  struct pg_buf *links = &rows->table[PG_TABLE_DOMAIN_MX];
  for (size_t i = 0; i < result->link_count; i++) {
    pg_field_text(links, scan_id, PG_TEXT_MAX_BYTES);
    pg_field_uint(links, result->seq);
    pg_field_text(links, result->name, PG_TEXT_MAX_BYTES);
    pg_field_uint(links, result->links[i].preference);
    pg_field_text(links, result->links[i].host->name, PG_TEXT_MAX_BYTES);
    const struct mta_sts_result *sts = result->mta_sts;
    if (sts != NULL && sts->has_policy && sts->mode != STS_MODE_NONE) pg_field_bool(links, sts->host_match[i]);
    else pg_field_null(links);
    pg_row_end(links);
    rows->rows[PG_TABLE_DOMAIN_MX]++;
  }
  if (result->mta_sts != NULL) add_mta_sts(rows, result, scan_id);
  add_zones(rows, result, scan_id);
}

static void field_ms(struct pg_buf *buf, int64_t ms) {
  if (ms < 0) pg_field_null(buf);
  else pg_field_int(buf, ms);
}

static void field_name(struct pg_buf *buf, const char *text) {
  if (text[0] == '\0') pg_field_null(buf);
  else pg_field_text(buf, text, PG_TEXT_MAX_BYTES);
}

/* Sum of the steps that were reached, -1 when none was. */
static int64_t sum_ms(const int32_t *steps, size_t count) {
  int64_t total = -1;
  for (size_t i = 0; i < count; i++) {
    if (steps[i] < 0) continue;
    total = (total < 0 ? 0 : total) + steps[i];
  }
  return total;
}

static void add_chain_certificates(struct pg_rows *rows, const struct mx_host *host, const struct host_address *address,
                                   const struct probe_detail *detail, const char *scan_id) {
  for (size_t depth = 0; depth < detail->chain_count; depth++) {
    struct pg_buf *chain = &rows->table[PG_TABLE_STAGE_CHAIN];
    pg_field_text(chain, scan_id, PG_TEXT_MAX_BYTES);
    pg_field_text(chain, host->name, PG_TEXT_MAX_BYTES);
    pg_field_text(chain, address->text, PG_TEXT_MAX_BYTES);
    pg_field_uint(chain, 0);
    pg_field_uint(chain, depth);
    pg_field_bytea(chain, detail->chain_sha256[depth], 32, 32);
    pg_row_end(chain);
    rows->rows[PG_TABLE_STAGE_CHAIN]++;

    if (detail->chain_der[depth] == NULL) continue;
    struct cert_info info;
    if (cert_info_from_der(detail->chain_der[depth], detail->chain_der_len[depth], &info) != 0) continue;
    const char *san[CERT_INFO_MAX_SAN];
    for (size_t i = 0; i < info.san_count; i++) san[i] = info.san[i];
    struct pg_certificate cert = {
        .sha256 = detail->chain_sha256[depth],
        .der = detail->chain_der[depth],
        .der_len = detail->chain_der_len[depth],
        .subject = info.subject,
        .issuer = info.issuer,
        .san = san,
        .san_count = info.san_count,
        .not_before = info.not_before,
        .not_after = info.not_after,
        .key_type = info.key_type[0] ? info.key_type : NULL,
        .key_bits = info.key_bits,
        .spki_sha256 = info.spki_sha256,
    };
    pg_rows_add_certificate(rows, &cert);
  }
}

void pg_rows_add_probe(struct pg_rows *rows, const struct mx_host *host, const struct host_address *address,
                       const char *scan_id) {
  struct pg_buf *buf = &rows->table[PG_TABLE_STAGE_PROBES];
  const struct probe_detail *detail = address->probe;
  pg_field_text(buf, scan_id, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, host->name, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, address->text, PG_TEXT_MAX_BYTES);
  pg_field_uint(buf, 0); /* probe_no */
  pg_field_text(buf, probe_result_name(address->probe_result), PG_TEXT_MAX_BYTES);
  pg_field_text(buf, address->probe_reason, PG_TEXT_MAX_BYTES);
  if (detail == NULL) {
    for (int i = 0; i < 24; i++) pg_field_null(buf);
    pg_row_end(buf);
    rows->rows[PG_TABLE_STAGE_PROBES]++;
    return;
  }
  if (detail->tls_up) {
    field_name(buf, detail->tls_version);
    field_name(buf, detail->tls_cipher);
    field_name(buf, detail->tls_group);
    field_name(buf, detail->peer_signature_algorithm);
  } else {
    for (int i = 0; i < 4; i++) pg_field_null(buf);
  }
  if (detail->matched_tlsa_index >= 0) pg_field_int(buf, detail->matched_tlsa_index);
  else pg_field_null(buf);
  if (detail->match_depth >= 0) pg_field_int(buf, detail->match_depth);
  else pg_field_null(buf);
  if (detail->banner != NULL) {
    pg_field_bytea(buf, (const uint8_t *)detail->banner, detail->banner_len, PG_BANNER_MAX_BYTES);
    pg_field_text_len(buf, detail->banner, detail->banner_len, PG_BANNER_MAX_BYTES);
  } else {
    pg_field_null(buf);
    pg_field_null(buf);
  }
  pg_field_text_array(buf, (const char *const *)detail->ehlo_keywords, detail->ehlo_keyword_count, PG_TEXT_MAX_BYTES);
  int32_t smtp_steps[3] = {detail->banner_ms, detail->ehlo_ms, detail->starttls_ms};
  int32_t all_steps[5] = {detail->connect_ms, detail->banner_ms, detail->ehlo_ms, detail->starttls_ms,
                          detail->handshake_ms};
  field_ms(buf, detail->connect_ms);
  field_ms(buf, sum_ms(smtp_steps, 3));
  field_ms(buf, detail->handshake_ms);
  field_ms(buf, sum_ms(all_steps, 5));
  if (detail->chain_count > 0) pg_field_bytea(buf, detail->chain_sha256[0], 32, 32);
  else pg_field_null(buf);
  if (detail->tls_up) pg_field_uint(buf, detail->chain_sent);
  else pg_field_null(buf);
  pg_field_uint(buf, detail->attempts);
  pg_field_text(buf, probe_step_name(detail->last_step), PG_TEXT_MAX_BYTES);
  if (detail->attempts > 1) {
    pg_field_text(buf, probe_result_name(detail->first.result), PG_TEXT_MAX_BYTES);
    pg_field_text(buf, probe_step_name(detail->first.step), PG_TEXT_MAX_BYTES);
    pg_field_text(buf, detail->first_reason, PG_TEXT_MAX_BYTES);
    field_ms(buf, detail->first.elapsed_ms);
    field_ms(buf, detail->first.pause_ms);
  } else {
    for (int i = 0; i < 5; i++) pg_field_null(buf);
  }
  if (detail->pkix != PROBE_PKIX_NOT_CHECKED) {
    pg_field_text(buf, probe_pkix_name(detail->pkix), PG_TEXT_MAX_BYTES);
    pg_field_text(buf, detail->pkix_reason, PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
    pg_field_null(buf);
  }
  pg_row_end(buf);
  rows->rows[PG_TABLE_STAGE_PROBES]++;
  add_chain_certificates(rows, host, address, detail, scan_id);
}

void pg_rows_add_certificate(struct pg_rows *rows, const struct pg_certificate *cert) {
  struct pg_buf *buf = &rows->table[PG_TABLE_STAGE_CERTS];
  pg_field_bytea(buf, cert->sha256, 32, 32);
  pg_field_bytea(buf, cert->der, cert->der_len, PG_CERT_MAX_BYTES);
  pg_field_text(buf, cert->subject, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, cert->issuer, PG_TEXT_MAX_BYTES);
  if (cert->san != NULL) pg_field_text_array(buf, cert->san, cert->san_count, PG_TEXT_MAX_BYTES);
  else pg_field_null(buf);
  int64_t times[2] = {cert->not_before, cert->not_after};
  for (int i = 0; i < 2; i++) {
    if (times[i] == INT64_MIN) pg_field_null(buf);
    else pg_field_unix_ms(buf, times[i] * 1000);
  }
  pg_field_text(buf, cert->key_type, PG_TEXT_MAX_BYTES);
  if (cert->key_bits >= 0) pg_field_int(buf, cert->key_bits);
  else pg_field_null(buf);
  pg_field_bytea(buf, cert->spki_sha256, 32, 32);
  pg_row_end(buf);
  rows->rows[PG_TABLE_STAGE_CERTS]++;
}

void pg_rows_add_host(struct pg_rows *rows, const struct mx_host *host, const char *scan_id,
                      const struct provider_list *providers) {
  struct pg_buf *buf = &rows->table[PG_TABLE_STAGE_HOSTS];
  pg_field_text(buf, scan_id, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, host->name, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, host_status_name(host->status), PG_TEXT_MAX_BYTES);
  if (host->a.done || host->aaaa.done) pg_field_text(buf, dnssec_state_name(host->address_dnssec), PG_TEXT_MAX_BYTES);
  else pg_field_null(buf);
  pg_field_text(buf, host->cname_target, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, host->tlsa_base, PG_TEXT_MAX_BYTES);
  const char *flags[MX_FLAG_COUNT];
  size_t flag_count = 0;
  for (unsigned bit = 0; bit < MX_FLAG_COUNT; bit++) {
    if (host->flags & (1u << bit)) flags[flag_count++] = mx_host_flag_name(bit);
  }
  pg_field_text_array(buf, flags, flag_count, PG_TEXT_MAX_BYTES);
  pg_field_text(buf, rollover_class_name(host->rollover), PG_TEXT_MAX_BYTES);
  /* tlsa_params: the "u s m" triples as text[] */
  char triples[64][16];
  const char *params[64];
  size_t param_count = host->tlsa_count < 64 ? host->tlsa_count : 64;
  for (size_t i = 0; i < param_count; i++) {
    snprintf(triples[i], sizeof triples[i], "%u %u %u", host->tlsa_records[i].usage, host->tlsa_records[i].selector,
             host->tlsa_records[i].matching_type);
    params[i] = triples[i];
  }
  pg_field_text_array(buf, params, param_count, PG_TEXT_MAX_BYTES);
  pg_field_uint(buf, host->address_count);
  pg_field_uint(buf, host->tlsa_count);
  pg_field_uint(buf, host->tlsa_usable_count);
  field_dnssec(buf, &host->a);
  field_rcode(buf, &host->a);
  field_dnssec(buf, &host->aaaa);
  field_rcode(buf, &host->aaaa);
  field_dnssec(buf, &host->tlsa);
  field_rcode(buf, &host->tlsa);
  if (host->tlsa.done && host->tlsa.has_ede) {
    pg_field_uint(buf, host->tlsa.ede_code);
    pg_field_text(buf, host->tlsa.ede_text != NULL ? host->tlsa.ede_text : "", PG_TEXT_MAX_BYTES);
  } else {
    pg_field_null(buf);
    pg_field_null(buf);
  }
  pg_field_text(buf, host->tlsa.done ? host->tlsa.failure : NULL, PG_TEXT_MAX_BYTES);
  pg_field_uint(buf, host->resolve_ms);
  /* provider: '' when the name has no registrable domain (a public suffix),
   * so NULL keeps meaning "stored before migration 010" */
  char provider[256];
  if (provider_of(providers, host->name, provider, sizeof provider) < 0) provider[0] = '\0';
  pg_field_text(buf, provider, PG_TEXT_MAX_BYTES);
  pg_row_end(buf);
  rows->rows[PG_TABLE_STAGE_HOSTS]++;

  struct pg_buf *tlsa = &rows->table[PG_TABLE_STAGE_TLSA];
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *record = &host->tlsa_records[i];
    pg_field_text(tlsa, scan_id, PG_TEXT_MAX_BYTES);
    pg_field_text(tlsa, host->name, PG_TEXT_MAX_BYTES);
    pg_field_uint(tlsa, i);
    pg_field_uint(tlsa, record->usage);
    pg_field_uint(tlsa, record->selector);
    pg_field_uint(tlsa, record->matching_type);
    pg_field_bytea(tlsa, record->data != NULL ? record->data : (const uint8_t *)"", record->data_len,
                   PG_CERT_MAX_BYTES);
    pg_field_bool(tlsa, record->usable);
    pg_field_text(tlsa, record->unusable_reason, PG_TEXT_MAX_BYTES);
    pg_row_end(tlsa);
    rows->rows[PG_TABLE_STAGE_TLSA]++;
  }
  struct pg_buf *addresses = &rows->table[PG_TABLE_STAGE_ADDRESSES];
  for (size_t i = 0; i < host->address_count; i++) {
    const struct host_address *address = &host->addresses[i];
    pg_field_text(addresses, scan_id, PG_TEXT_MAX_BYTES);
    pg_field_text(addresses, host->name, PG_TEXT_MAX_BYTES);
    pg_field_text(addresses, address->text, PG_TEXT_MAX_BYTES);
    pg_field_uint(addresses, address->family == AF_INET6 ? 6 : 4);
    pg_row_end(addresses);
    rows->rows[PG_TABLE_STAGE_ADDRESSES]++;
    pg_rows_add_probe(rows, host, address, scan_id);
  }
}
