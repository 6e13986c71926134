/* Per-address probe output: the result and reason always; when the address
 * was probed, the SMTP and TLS details the STARTTLS stage kept, and the
 * attempts (the first one's result when the probe was retried). Banner and
 * EHLO text come from the network and are escaped by the JSON writer. */
#include "store/probe_json.h"

#include <time.h>

#include "record/probe_detail.h"

static void write_ms(struct json_buf *buf, const char *key, int32_t ms) {
  json_key(buf, key);
  if (ms < 0) json_null(buf);
  else json_int(buf, ms);
}

static void write_text(struct json_buf *buf, const char *key, const char *text) {
  json_key(buf, key);
  json_string(buf, text[0] != '\0' ? text : NULL);
}

static void write_unix_time(struct json_buf *buf, const char *key, int64_t seconds) {
  json_key(buf, key);
  if (seconds <= 0) {
    json_null(buf);
    return;
  }
  char text[32];
  time_t t = (time_t)seconds;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_string(buf, text);
}

static void write_key_type(struct json_buf *buf, const struct probe_key_type_result *key_type) {
  json_object_begin(buf);
  json_key(buf, "present");
  json_bool(buf, key_type->present);
  json_key(buf, "result");
  json_string(buf, key_type->present ? probe_result_name(key_type->result) : NULL);
  json_key(buf, "matched_tlsa");
  if (key_type->matched_tlsa_index >= 0) json_int(buf, key_type->matched_tlsa_index);
  else json_null(buf);
  write_text(buf, "leaf_key_type", key_type->leaf_key_type);
  json_object_end(buf);
}

void probe_json_write(struct json_buf *buf, const struct host_address *address) {
  const struct probe_detail *detail = address->probe;
  json_object_begin(buf);
  json_key(buf, "result");
  json_string(buf, probe_result_name(address->probe_result));
  json_key(buf, "reason");
  json_string(buf, address->probe_reason != NULL && address->probe_reason[0] ? address->probe_reason : NULL);
  if (detail != NULL) {
    json_key(buf, "tlsrpt");
    json_string(buf, detail->tlsrpt != TLSRPT_NONE ? tlsrpt_result_name(detail->tlsrpt) : NULL);
    json_key(buf, "step");
    json_string(buf, probe_step_name(detail->last_step));
    /* MTA-STS.md: per probed address, "valid" or why not; null when the
     * probe was not asked for it (no --mta-sts) */
    json_key(buf, "pkix");
    json_string(buf, detail->pkix != PROBE_PKIX_NOT_CHECKED ? probe_pkix_name(detail->pkix) : NULL);
    json_key(buf, "pkix_reason");
    json_string(buf, detail->pkix_reason);
    json_key(buf, "smtp_code");
    if (detail->smtp_code > 0) json_int(buf, detail->smtp_code);
    else json_null(buf);
    json_key(buf, "banner");
    if (detail->banner != NULL) json_string_len(buf, detail->banner, detail->banner_len);
    else json_null(buf);
    json_key(buf, "ehlo_keywords");
    json_array_begin(buf);
    for (size_t i = 0; i < detail->ehlo_keyword_count; i++) json_string(buf, detail->ehlo_keywords[i]);
    json_array_end(buf);
    json_key(buf, "starttls_offered");
    json_bool(buf, detail->starttls_offered);
    json_key(buf, "tls");
    if (detail->tls_up) {
      json_object_begin(buf);
      write_text(buf, "version", detail->tls_version);
      write_text(buf, "cipher", detail->tls_cipher);
      write_text(buf, "group", detail->tls_group);
      write_text(buf, "signature_algorithm", detail->peer_signature_algorithm);
      write_text(buf, "leaf_key_type", detail->leaf_key_type);
      json_key(buf, "verify_error");
      json_int(buf, detail->verify_error);
      json_key(buf, "matched_tlsa");
      if (detail->matched_tlsa_index >= 0) json_int(buf, detail->matched_tlsa_index);
      else json_null(buf);
      json_key(buf, "match_depth");
      if (detail->match_depth >= 0) json_int(buf, detail->match_depth);
      else json_null(buf);
      json_key(buf, "chain_sha256");
      json_array_begin(buf);
      for (size_t i = 0; i < detail->chain_count; i++) json_hex(buf, detail->chain_sha256[i], 32);
      json_array_end(buf);
      json_key(buf, "chain_sent");
      json_uint(buf, detail->chain_sent);
      write_unix_time(buf, "leaf_not_before", detail->leaf_not_before);
      write_unix_time(buf, "leaf_not_after", detail->leaf_not_after);
      write_unix_time(buf, "chain_not_after", detail->chain_not_after);
      json_key(buf, "expires_soon");
      json_bool(buf, detail->expires_soon);
      json_key(buf, "key_types");
      json_object_begin(buf);
      json_key(buf, "rsa");
      write_key_type(buf, &detail->key_types[PROBE_KEY_RSA]);
      json_key(buf, "ecdsa");
      write_key_type(buf, &detail->key_types[PROBE_KEY_ECDSA]);
      json_object_end(buf);
      json_key(buf, "partial_algorithm_coverage");
      json_bool(buf, detail->partial_algorithm_coverage);
      json_key(buf, "tlsa_refused");
      json_uint(buf, detail->tlsa_refused);
      json_object_end(buf);
    } else {
      json_null(buf);
    }
    json_key(buf, "timings_ms");
    json_object_begin(buf);
    write_ms(buf, "connect", detail->connect_ms);
    write_ms(buf, "banner", detail->banner_ms);
    write_ms(buf, "ehlo", detail->ehlo_ms);
    write_ms(buf, "starttls", detail->starttls_ms);
    write_ms(buf, "handshake", detail->handshake_ms);
    json_object_end(buf);
    json_key(buf, "attempts");
    json_uint(buf, detail->attempts);
    json_key(buf, "first_attempt");
    if (detail->attempts > 1) {
      json_object_begin(buf);
      json_key(buf, "result");
      json_string(buf, probe_result_name(detail->first.result));
      json_key(buf, "step");
      json_string(buf, probe_step_name(detail->first.step));
      json_key(buf, "reason");
      json_string(buf, detail->first_reason);
      write_ms(buf, "elapsed_ms", detail->first.elapsed_ms);
      write_ms(buf, "pause_ms", detail->first.pause_ms);
      json_object_end(buf);
    } else {
      json_null(buf);
    }
  }
  json_object_end(buf);
}

/* RESULTS.md: each failure also maps to a TLS-RPT result type. */
static enum tlsrpt_result host_tlsrpt(const struct mx_host *host) {
  switch (host->status) {
  case HOST_TLSA_FAILED:
    return TLSRPT_DNSSEC_INVALID;
  case HOST_TLSA_UNUSABLE:
    return TLSRPT_TLSA_INVALID;
  case HOST_DANE_FAILED:
    for (size_t i = 0; i < host->address_count; i++) {
      const struct probe_detail *detail = host->addresses[i].probe;
      if (detail != NULL && detail->tlsrpt != TLSRPT_NONE) return detail->tlsrpt;
    }
    return TLSRPT_VALIDATION_FAILURE;
  default:
    return TLSRPT_NONE;
  }
}

void probe_json_write_host_extras(struct json_buf *buf, const struct mx_host *host) {
  enum tlsrpt_result tlsrpt = host_tlsrpt(host);
  json_key(buf, "tlsrpt");
  json_string(buf, tlsrpt != TLSRPT_NONE ? tlsrpt_result_name(tlsrpt) : NULL);
}
