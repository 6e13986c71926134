/* The explanation of one domain result for mail operators (`danescan
 * check`). Two streams are written side by side: the report (what was looked
 * up and found) and the list of fixes; they are joined at the end. */
#include "report/explain.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "record/probe_detail.h"
#include "report/explain_hygiene.h"
#include "report/explain_sts.h"

#define EXPLAIN_DATA_SHOWN_HEX_CHARS 64 /* longer TLSA data (full certificates) is cut */
#define EXPLAIN_SECONDS_PER_DAY 86400

struct explain {
  FILE *out; /* the report */
  FILE *fix; /* "what to fix" items */
  size_t fix_count;
  const struct explain_options *options;
};

static void say(struct explain *e, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void say(struct explain *e, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(e->out, format, args);
  va_end(args);
}

/* One item of the fix list: "  - <text>\n". */
static void fix(struct explain *e, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void fix(struct explain *e, const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("  - ", e->fix);
  vfprintf(e->fix, format, args);
  fputc('\n', e->fix);
  va_end(args);
  e->fix_count++;
}

static void hex(const uint8_t *bytes, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * len] = '\0';
}

/* The record's data in hex, cut to EXPLAIN_DATA_SHOWN_HEX_CHARS with "...". */
static void tlsa_data_text(const struct tlsa_record *record, char *out, size_t out_len) {
  char full[2 * TLSA_DATA_MAX_BYTES + 1];
  size_t len = record->data_len <= TLSA_DATA_MAX_BYTES ? record->data_len : TLSA_DATA_MAX_BYTES;
  hex(record->data, len, full);
  if (strlen(full) > EXPLAIN_DATA_SHOWN_HEX_CHARS)
    snprintf(out, out_len, "%.*s...", EXPLAIN_DATA_SHOWN_HEX_CHARS, full);
  else snprintf(out, out_len, "%s", full);
}

static const char *usage_name(uint8_t usage) {
  switch (usage) {
  case TLSA_USAGE_PKIX_TA:
    return "PKIX-TA";
  case TLSA_USAGE_PKIX_EE:
    return "PKIX-EE";
  case TLSA_USAGE_DANE_TA:
    return "DANE-TA";
  case TLSA_USAGE_DANE_EE:
    return "DANE-EE";
  default:
    return "unknown usage";
  }
}

static const char *rcode_text(int rcode, char *buf, size_t buf_len) {
  if (rcode < 0) return "no answer";
  const ldns_lookup_table *entry = ldns_lookup_by_id(ldns_rcodes, rcode);
  if (entry != NULL) return entry->name;
  snprintf(buf, buf_len, "RCODE %d", rcode);
  return buf;
}

/* "NAME TYPE: secure (NOERROR), EDE 9 (DNSKEY Missing): text" */
static void describe_lookup(struct explain *e, const char *indent, const char *name, const char *type,
                            const struct dns_fact *fact) {
  if (!fact->done) {
    say(e, "%s%s %s: not looked up\n", indent, name, type);
    return;
  }
  char rcode_buf[24];
  say(e, "%s%s %s: %s (%s", indent, name, type, dnssec_state_name(fact->state),
      rcode_text(fact->rcode, rcode_buf, sizeof rcode_buf));
  if (fact->failure != NULL) say(e, ", %s", fact->failure);
  if (fact->attempts > 1) say(e, ", %u queries", fact->attempts);
  say(e, ")");
  if (fact->has_ede) {
    say(e, ", EDE %u", (unsigned)fact->ede_code);
    if (fact->ede_text != NULL && fact->ede_text[0] != '\0') say(e, " \"%s\"", fact->ede_text);
  }
  say(e, "\n");
}

static bool fact_failed(const struct dns_fact *fact) {
  return fact->done && (fact->state == DNSSEC_BOGUS || fact->state == DNSSEC_FAILED);
}

/* An insecure host whose other answers validated: its zone is signed, and
 * what is insecure is an answer without records (a denial of existence the
 * resolver did not validate), not the zone. */
static bool insecure_denial_in_signed_zone(const struct mx_host *host) {
  bool a_insecure = host->a.done && host->a.state == DNSSEC_INSECURE;
  bool aaaa_insecure = host->aaaa.done && host->aaaa.state == DNSSEC_INSECURE;
  bool some_secure = (host->a.done && host->a.state == DNSSEC_SECURE) ||
      (host->aaaa.done && host->aaaa.state == DNSSEC_SECURE) || (host->tlsa.done && host->tlsa.state == DNSSEC_SECURE);
  return (a_insecure || aaaa_insecure) && some_secure;
}

/* The repair advice for a bogus or failed lookup of name. */
static void fix_lookup(struct explain *e, const char *name, const char *type, const struct dns_fact *fact,
                       const char *consequence) {
  if (fact->state == DNSSEC_BOGUS) {
    char ede[RESULT_EDE_TEXT_MAX_BYTES + 32] = "";
    if (fact->has_ede) {
      snprintf(ede, sizeof ede, ", EDE %u%s%s", (unsigned)fact->ede_code, fact->ede_text != NULL ? " " : "",
               fact->ede_text != NULL ? fact->ede_text : "");
    }
    fix(e,
        "%s %s does not validate (DNSSEC bogus%s): %s. Fix the zone's signatures (re-sign it, check that "
        "RRSIGs have not expired and that NSEC/NSEC3 records are complete) or the DS record at the parent so "
        "that it matches a DNSKEY of the zone.",
        name, type, ede, consequence);
  } else {
    fix(e,
        "%s %s failed (%s): %s. Make sure every name server of the zone answers it (no lame delegation, no "
        "REFUSED, no timeouts).",
        name, type, fact->failure != NULL ? fact->failure : "no usable answer", consequence);
  }
}

static void tlsa_name(const struct mx_host *host, char *out, size_t out_len) {
  snprintf(out, out_len, "_25._tcp.%s", host->tlsa_base != NULL ? host->tlsa_base : host->name);
}

static void address_endpoint(const struct host_address *address, unsigned port, char *out, size_t out_len) {
  if (address->family == AF_INET6) snprintf(out, out_len, "[%s]:%u", address->text, port);
  else snprintf(out, out_len, "%s:%u", address->text, port);
}

static unsigned smtp_port(const struct explain *e) {
  return e->options != NULL && e->options->smtp_port != 0 ? e->options->smtp_port : 25;
}

/* ------------------------------------------------------------ TLSA records */

static void describe_tlsa_records(struct explain *e, const struct mx_host *host) {
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *record = &host->tlsa_records[i];
    char data[EXPLAIN_DATA_SHOWN_HEX_CHARS + 8];
    tlsa_data_text(record, data, sizeof data);
    say(e, "      [%zu] TLSA %u %u %u %s  (%s) %s%s\n", i, record->usage, record->selector, record->matching_type, data,
        usage_name(record->usage), record->usable ? "usable" : "NOT usable: ",
        record->usable ? "" : (record->unusable_reason != NULL ? record->unusable_reason : "?"));
  }
}

/* Does a usable record hold the digest of a served certificate under the
 * wrong selector or usage? Such typos are the most common DANE mistake; say
 * exactly which record to change. */
static void diagnose_record_mixups(struct explain *e, const struct mx_host *host, const struct probe_detail *detail,
                                   const char *address_text) {
  char name[300];
  tlsa_name(host, name, sizeof name);
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *record = &host->tlsa_records[i];
    if (!record->usable || record->matching_type != TLSA_MATCHING_SHA256 || record->data_len != 32) continue;
    for (size_t depth = 0; depth < detail->chain_count; depth++) {
      if (memcmp(record->data, detail->chain_sha256[depth], 32) != 0) continue;
      if (record->selector == TLSA_SELECTOR_SPKI) {
        fix(e,
            "TLSA record [%zu] of %s holds the SHA-256 of the whole certificate at depth %zu served on %s but "
            "says selector 1 (public key): publish it as `%s. IN TLSA %u 0 1 ...` (selector 0) or replace the "
            "data with the SHA-256 of the public key.",
            i, name, depth, address_text, name, record->usage);
      } else if (record->usage == TLSA_USAGE_DANE_EE && depth > 0) {
        fix(e,
            "TLSA record [%zu] of %s is DANE-EE (3) but matches the issuer certificate at depth %zu, and DANE-EE "
            "only matches the server's own certificate: publish it as `%s. IN TLSA 2 0 1 ...` (DANE-TA) and "
            "make the server send that issuer certificate in its chain.",
            i, name, depth, name);
      }
    }
  }
}

/* RFC 7671 section 9, digest agility: for one usage and selector OpenSSL
 * (and so Postfix and danescan) uses only the records of the strongest
 * digest, SHA-512 over SHA-256. A SHA-256 record beside a SHA-512 one of
 * the same usage and selector is never tried: when the SHA-512 records are
 * wrong, the host fails although the SHA-256 one would match. Says so,
 * naming the SHA-256 record that matches what was served when the probe
 * shows it (the leaf's key for 3 1 1, the leaf certificate for 3 0 1). */
static void diagnose_digest_agility(struct explain *e, const struct mx_host *host, const struct probe_detail *detail) {
  char name[300];
  tlsa_name(host, name, sizeof name);
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *weak = &host->tlsa_records[i];
    if (!weak->usable || weak->matching_type != TLSA_MATCHING_SHA256) continue;
    size_t strong = host->tlsa_count;
    for (size_t k = 0; k < host->tlsa_count && strong == host->tlsa_count; k++) {
      const struct tlsa_record *other = &host->tlsa_records[k];
      if (other->usable && other->matching_type == TLSA_MATCHING_SHA512 && other->usage == weak->usage &&
          other->selector == weak->selector) {
        strong = k;
      }
    }
    if (strong == host->tlsa_count) continue;
    const uint8_t *served = NULL;
    if (weak->usage == TLSA_USAGE_DANE_EE && weak->selector == TLSA_SELECTOR_SPKI && detail->has_leaf_spki_sha256) {
      served = detail->leaf_spki_sha256;
    } else if (weak->usage == TLSA_USAGE_DANE_EE && weak->selector == TLSA_SELECTOR_CERT && detail->chain_count > 0) {
      served = detail->chain_sha256[0];
    }
    bool matches = served != NULL && weak->data_len == 32 && memcmp(weak->data, served, 32) == 0;
    fix(e,
        "TLSA record [%zu] of %s (%u %u 1, SHA-256)%s is never tried: record [%zu] (%u %u 2, SHA-512) has the same "
        "usage and selector, and DANE clients (OpenSSL, Postfix) use only the strongest digest of a usage/selector "
        "pair (RFC 7671 section 9, digest agility). Correct the SHA-512 record(s) of %u %u or remove them.",
        i, name, weak->usage, weak->selector, matches ? " matches the server's key/certificate but" : "", strong,
        weak->usage, weak->selector, weak->usage, weak->selector);
    return;
  }
}

/* ------------------------------------------------------------ probes */

static const char *depth_text(int depth) {
  return depth == 0 ? "the server certificate" : "an issuer certificate";
}

static void describe_match(struct explain *e, const struct mx_host *host, int index, int depth) {
  if (index >= 0 && (size_t)index < host->tlsa_count) {
    const struct tlsa_record *record = &host->tlsa_records[index];
    say(e, "        matched TLSA [%d] %u %u %u at depth %d (%s)\n", index, record->usage, record->selector,
        record->matching_type, depth, depth_text(depth));
  } else if (index >= 0) {
    say(e, "        matched TLSA [%d] at depth %d\n", index, depth);
  }
}

static const char *key_kind_name(int kind) {
  return kind == PROBE_KEY_RSA ? "RSA" : "ECDSA";
}

/* The records to publish for the certificate served on one address: the
 * exact 3 1 1 record when the key's digest is known (leaf_spki_sha256 may be
 * NULL), and the exact 3 0 1 record of the certificate. */
static void fix_publish_for_leaf(struct explain *e, const struct mx_host *host, const struct host_address *address,
                                 const uint8_t leaf_cert_sha256[32], const uint8_t *leaf_spki_sha256,
                                 const char *key_label) {
  char name[300], endpoint[80], digest[65], spki[65];
  tlsa_name(host, name, sizeof name);
  address_endpoint(address, smtp_port(e), endpoint, sizeof endpoint);
  hex(leaf_cert_sha256, 32, digest);
  if (leaf_spki_sha256 != NULL) {
    hex(leaf_spki_sha256, 32, spki);
    fix(e,
        "No usable TLSA record of %s matches the %scertificate served on %s. Publish "
        "`%s. IN TLSA 3 1 1 %s` (this key; survives certificate renewals with the same key) or "
        "`%s. IN TLSA 3 0 1 %s` (this certificate), or deploy the key that matches the published records.",
        name, key_label, address->text, name, spki, name, digest);
    return;
  }
  fix(e,
      "No usable TLSA record of %s matches the %scertificate served on %s. Publish "
      "`%s. IN TLSA 3 1 1 <sha256 of the served SPKI>` (survives certificate renewals with the same key; "
      "compute it with `openssl s_client -starttls smtp -connect %s -servername %s </dev/null 2>/dev/null | "
      "openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256`) or exactly "
      "`%s. IN TLSA 3 0 1 %s` (this certificate), or deploy the key that matches the published records.",
      name, key_label, address->text, name, endpoint, host->name, name, digest);
}

static void explain_unmatched_records(struct explain *e, const struct mx_host *host, const char *address_text) {
  char name[300];
  tlsa_name(host, name, sizeof name);
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *record = &host->tlsa_records[i];
    if (!record->usable) continue;
    say(e, "        TLSA %u %u %u ([%zu]) does not match the %s served on %s\n", record->usage, record->selector,
        record->matching_type, i, record->usage == TLSA_USAGE_DANE_EE ? "key/certificate" : "chain", address_text);
  }
}

static void explain_address(struct explain *e, const struct mx_host *host, const struct host_address *address) {
  const struct probe_detail *detail = address->probe;
  char name[300];
  tlsa_name(host, name, sizeof name);
  if (detail == NULL && address->probe_result == PROBE_SKIPPED && address->probe_reason == NULL) {
    say(e, "    %s: not probed\n", address->text);
    return;
  }
  say(e, "    %s: %s", address->text, probe_result_name(address->probe_result));
  if (address->probe_reason != NULL && address->probe_reason[0] != '\0') say(e, " (%s)", address->probe_reason);
  say(e, "\n");
  if (detail != NULL) {
    if (detail->tls_up) {
      say(e, "        TLS: %s %s%s%s, server key %s\n", detail->tls_version, detail->tls_cipher,
          detail->tls_group[0] ? ", group " : "", detail->tls_group,
          detail->leaf_key_type[0] ? detail->leaf_key_type : "?");
    }
    if (detail->chain_count > 0) {
      char digest[65];
      hex(detail->chain_sha256[0], 32, digest);
      say(e, "        server certificate SHA-256 %s (chain of %zu)\n", digest, detail->chain_count);
    }
    if (address->probe_result == PROBE_AUTHENTICATED)
      describe_match(e, host, detail->matched_tlsa_index, detail->match_depth);
    for (int kind = 0; kind < PROBE_KEY_KIND_COUNT; kind++) {
      const struct probe_key_type_result *kt = &detail->key_types[kind];
      if (!kt->probed || !kt->present) continue;
      say(e, "        %s certificate: %s", key_kind_name(kind), probe_result_name(kt->result));
      if (kt->matched_tlsa_index >= 0)
        say(e, ", matched TLSA [%d] at depth %d", kt->matched_tlsa_index, kt->match_depth);
      say(e, "\n");
    }
    if (detail->attempts > 1) {
      say(e, "        second attempt; the first ended in %s at the %s step", probe_result_name(detail->first.result),
          probe_step_name(detail->first.step));
      if (detail->first_reason != NULL) say(e, " (%s)", detail->first_reason);
      say(e, "\n");
    }
  }

  char endpoint[80];
  address_endpoint(address, smtp_port(e), endpoint, sizeof endpoint);
  switch (address->probe_result) {
  case PROBE_AUTHENTICATED:
    if (detail != NULL) {
      for (int kind = 0; kind < PROBE_KEY_KIND_COUNT; kind++) {
        const struct probe_key_type_result *kt = &detail->key_types[kind];
        if (kt->probed && kt->present && kt->result == PROBE_TLSA_MISMATCH) {
          char label[16];
          snprintf(label, sizeof label, "%s ", key_kind_name(kind));
          fix_publish_for_leaf(e, host, address, kt->leaf_sha256,
                               kt->has_leaf_spki_sha256 ? kt->leaf_spki_sha256 : NULL, label);
        }
      }
    }
    break;
  case PROBE_TLSA_MISMATCH:
    explain_unmatched_records(e, host, address->text);
    if (detail != NULL) diagnose_record_mixups(e, host, detail, address->text);
    if (detail != NULL) diagnose_digest_agility(e, host, detail);
    if (detail != NULL && detail->chain_count > 0) {
      bool per_kind = false;
      for (int kind = 0; kind < PROBE_KEY_KIND_COUNT; kind++) {
        const struct probe_key_type_result *kt = &detail->key_types[kind];
        if (kt->probed && kt->present && kt->result == PROBE_TLSA_MISMATCH) {
          char label[16];
          snprintf(label, sizeof label, "%s ", key_kind_name(kind));
          fix_publish_for_leaf(e, host, address, kt->leaf_sha256,
                               kt->has_leaf_spki_sha256 ? kt->leaf_spki_sha256 : NULL, label);
          per_kind = true;
        }
      }
      if (!per_kind) {
        fix_publish_for_leaf(e, host, address, detail->chain_sha256[0],
                             detail->has_leaf_spki_sha256 ? detail->leaf_spki_sha256 : NULL, "");
      }
    } else {
      fix(e,
          "No usable TLSA record of %s matches the certificate served on %s: publish `%s. IN TLSA 3 1 1 "
          "<sha256 of the served SPKI>` or deploy the key that matches the published records.",
          name, address->text, name);
    }
    break;
  case PROBE_NAME_MISMATCH: {
    bool two_names = host->tlsa_base != NULL && strcmp(host->tlsa_base, host->name) != 0;
    fix(e,
        "A DANE-TA record of %s matched the chain served on %s, but the server certificate does not name %s%s%s: "
        "reissue the certificate with %s in its subjectAltName, or publish a DANE-EE record "
        "(`%s. IN TLSA 3 1 1 <sha256 of the served SPKI>`), for which names are not checked.",
        name, address->text, host->name, two_names ? " nor " : "", two_names ? host->tlsa_base : "", host->name, name);
    break;
  }
  case PROBE_CERT_EXPIRED: {
    char when[96] = "";
    if (detail != NULL && e->options != NULL && e->options->now_unix > 0) {
      int64_t now = e->options->now_unix;
      if (detail->leaf_not_after > 0 && detail->leaf_not_after < now) {
        snprintf(when, sizeof when, " (the server certificate expired %" PRId64 " days ago)",
                 (now - detail->leaf_not_after) / EXPLAIN_SECONDS_PER_DAY);
      } else if (detail->leaf_not_before > now) {
        snprintf(when, sizeof when, " (the server certificate is not valid for another %" PRId64 " days)",
                 (detail->leaf_not_before - now) / EXPLAIN_SECONDS_PER_DAY + 1);
      } else if (detail->chain_not_after > 0 && detail->chain_not_after < now) {
        snprintf(when, sizeof when, " (an issuer certificate expired)");
      }
    }
    fix(e,
        "A DANE-TA record of %s matched the chain served on %s, but a certificate of the chain is expired or not "
        "yet valid%s: renew the certificate (DANE-TA checks dates), or use a DANE-EE record "
        "(`%s. IN TLSA 3 1 1 <sha256 of the served SPKI>`), for which dates are not checked.",
        name, address->text, when, name);
    break;
  }
  case PROBE_NO_STARTTLS:
    fix(e,
        "The server on %s does not offer STARTTLS: DANE senders will not deliver to it. Enable STARTTLS "
        "(e.g. Postfix smtpd_tls_security_level = may with smtpd_tls_chain_files set).",
        endpoint);
    break;
  case PROBE_STARTTLS_REFUSED:
    fix(e,
        "The server on %s offers STARTTLS but refused it%s%s: DANE senders will not deliver to it. Check the "
        "server's TLS configuration (certificate and key files present and readable).",
        endpoint, detail != NULL && detail->smtp_code > 0 ? " with " : "",
        detail != NULL && detail->smtp_code > 0 ? (detail->smtp_code >= 500 ? "a 5xx reply" : "a 4xx reply") : "");
    break;
  case PROBE_TLS_FAILED:
    fix(e,
        "The TLS handshake with %s failed%s%s%s: DANE senders will not deliver to it. Check the server's "
        "certificate and key, and that it supports TLS 1.2 or 1.3 with common ciphers.",
        endpoint, address->probe_reason != NULL ? " (" : "", address->probe_reason != NULL ? address->probe_reason : "",
        address->probe_reason != NULL ? ")" : "");
    break;
  case PROBE_SMTP_FAILED:
    fix(e,
        "The server on %s gave no usable SMTP greeting or EHLO reply: check that an SMTP server answers there "
        "(it may also reject this scanner's address).",
        endpoint);
    break;
  case PROBE_CONNECT_FAILED:
    fix(e,
        "Cannot connect to %s from here: check that the server listens on port %u and that no firewall drops "
        "the connection (the scanner's own network may block port 25 too).",
        endpoint, smtp_port(e));
    break;
  case PROBE_TIMEOUT:
    fix(e,
        "%s timed out: check that the server answers promptly on port %u (a firewall dropping packets, or a "
        "slow greeting; the scanner's own network may block port 25 too).",
        endpoint, smtp_port(e));
    break;
  case PROBE_UNAUTHENTICATED_TLS:
  case PROBE_SKIPPED:
  case PROBE_RESULT_COUNT:
    break;
  }
}

/* ------------------------------------------------------------ hosts */

static void rollover_advice(struct explain *e, const struct mx_host *host) {
  char name[300];
  tlsa_name(host, name, sizeof name);
  if (host->rollover == ROLLOVER_SINGLE || (host->flags & MX_FLAG_SINGLE_KEY)) {
    fix(e,
        "%s publishes TLSA records for the key it serves now and for nothing else (single-key; two records "
        "of one key, or a DANE-TA record on the leaf itself, are still one): the next key change breaks "
        "delivery from DANE senders. Publish `3 1 1` of the next key beside the current one (current+next, RFC 7671 "
        "section 8), or current+issuer (`3 1 1` for the current key plus `2 1 1` for a CA you control), and "
        "publish a new record at least two TTLs before deploying its key.",
        name);
  } else if (host->rollover == ROLLOVER_ISSUER) {
    say(e,
        "    note: only DANE-TA records: a change of CA breaks delivery unless the new CA's record is published "
        "first.\n");
  } else if (host->rollover == ROLLOVER_UNMATCHED) {
    say(e, "    note: no usable record matches a certificate the server presented (rollover unmatched).\n");
  }
}

/* The rollover hazards (pipeline/rollover.h): failures a renewal will cause. */
static void hazard_advice(struct explain *e, const struct mx_host *host) {
  char name[300];
  tlsa_name(host, name, sizeof name);
  if (host->flags & MX_FLAG_EE_SELECTOR_0) {
    fix(e,
        "%s has a DANE-EE record on the whole certificate (`3 0 x`, ee-selector-0): every certificate renewal "
        "breaks it, even when the key is kept. Publish `3 1 1` (the SHA-256 of the public key) instead and keep "
        "the key across renewals.",
        name);
  }
  if (host->flags & MX_FLAG_TA_PUBLIC_INTERMEDIATE) {
    fix(e,
        "A DANE-TA record of %s matches an intermediate certificate of a public CA (ta-public-intermediate): the "
        "CA rotates its intermediates on its own schedule, and delivery breaks the day it does. Prefer `3 1 1` "
        "of your own key over `2 x x` on a public intermediate.",
        name);
  }
  if (host->flags & MX_FLAG_RRSIG_EXPIRES_SOON) {
    char when[96] = "";
    if (host->tlsa_rrsig_expires > 0 && e->options != NULL && e->options->now_unix > 0) {
      snprintf(when, sizeof when, " in %" PRId64 " days",
               (host->tlsa_rrsig_expires - e->options->now_unix) / EXPLAIN_SECONDS_PER_DAY);
    }
    fix(e,
        "The DNSSEC signatures over the TLSA records of %s expire%s (rrsig-expires-soon): unless the zone is "
        "re-signed before then, validating senders get SERVFAIL for the TLSA lookup and defer all mail to the "
        "host. Check that the signer re-signs the zone automatically, and re-sign it now.",
        name, when);
  }
  if (host->flags & MX_FLAG_LEAF_EXPIRES_SOON) {
    fix(e,
        "The certificate %s presents expires soon (leaf-expires-soon): before the renewal is deployed, a TLSA "
        "record for the key it will use must be published (keep the key, or publish `3 1 1` of the new key two "
        "TTLs ahead).",
        host->name);
  }
}

static void explain_host(struct explain *e, const struct domain_result *result, const struct mx_link *link) {
  const struct mx_host *host = link->host;
  char name[300];
  tlsa_name(host, name, sizeof name);
  say(e, "\nMX %u %s: %s\n", (unsigned)link->preference, host->name, host_status_name(host->status));
  if (host->cname_target != NULL) say(e, "  CNAME to %s\n", host->cname_target);
  const char *address_name = host->cname_target != NULL ? host->cname_target : host->name;
  describe_lookup(e, "  ", address_name, "A", &host->a);
  describe_lookup(e, "  ", address_name, "AAAA", &host->aaaa);
  if (host->tlsa_target.done) {
    char target[300];
    snprintf(target, sizeof target, "_25._tcp.%s", host->cname_target != NULL ? host->cname_target : host->name);
    describe_lookup(e, "  ", target, "TLSA", &host->tlsa_target);
  }
  if (host->tlsa.done) describe_lookup(e, "  ", name, "TLSA", &host->tlsa);
  else
    say(e, "  TLSA: not looked up (%s)\n",
        host->address_dnssec == DNSSEC_SECURE ? "no addresses to protect"
                                              : "address records are not secure: DANE does not apply");
  if (host->ancestor.done) {
    char ancestor[300];
    snprintf(ancestor, sizeof ancestor, "_tcp.%s", host->tlsa_base != NULL ? host->tlsa_base : host->name);
    describe_lookup(e, "  ", ancestor, "(ancestor check)", &host->ancestor);
  }
  if (host->tlsa_count > 0) {
    say(e, "  TLSA records: %zu published, %zu usable for SMTP, rollover %s\n", host->tlsa_count,
        host->tlsa_usable_count, rollover_class_name(host->rollover));
    describe_tlsa_records(e, host);
  }
  if (host->flags != 0) {
    say(e, "  flags:");
    for (unsigned bit = 0; bit < MX_FLAG_COUNT; bit++) {
      if (host->flags & (1u << bit)) say(e, " %s", mx_host_flag_name(bit));
    }
    say(e, "\n");
  }
  if (host->address_count > 0) say(e, "  addresses:\n");
  for (size_t i = 0; i < host->address_count; i++) explain_address(e, host, &host->addresses[i]);

  /* Host-level findings. */
  if (host->flags & MX_FLAG_TARGET_IS_LOCALHOST) {
    fix(e, "MX host %s is localhost: senders would deliver to themselves; name your real mail server.", host->name);
  }
  if (host->flags & MX_FLAG_TARGET_IS_TLD) {
    fix(e, "MX host %s is a single label (a top-level domain): use the full name of the mail server.", host->name);
  }
  if (host->flags & MX_FLAG_A_FAILED) fix_lookup(e, address_name, "A", &host->a, "the host is reached over IPv6 only");
  if (host->flags & MX_FLAG_AAAA_FAILED) {
    fix_lookup(e, address_name, "AAAA", &host->aaaa, "the host is reached over IPv4 only");
  }
  switch (host->status) {
  case HOST_DANE_VALID:
    say(e, "  => every reachable address of %s authenticated with DANE.\n", host->name);
    rollover_advice(e, host);
    break;
  case HOST_DANE_FAILED:
    say(e, "  => DANE authentication of %s failed: DANE senders defer mail to it.\n", host->name);
    rollover_advice(e, host);
    break;
  case HOST_DANE_UNREACHABLE:
    say(e, "  => %s publishes DANE, but no address could be reached from here.\n", host->name);
    break;
  case HOST_TLSA_UNUSABLE:
    say(e,
        "  => %s has secure TLSA records, but none is usable for SMTP: senders require TLS without "
        "authenticating it.\n",
        host->name);
    fix(e,
        "None of the TLSA records of %s is usable for SMTP (RFC 7672 3.1: only DANE-TA(2) and DANE-EE(3) with "
        "selector 0/1 and matching type 0/1/2 count, with a digest of the right length, or for matching type 0 "
        "the whole DER certificate (selector 0) or SubjectPublicKeyInfo (selector 1)): replace them with "
        "`%s. IN TLSA 3 1 1 <sha256 of the served SPKI>`.",
        name, name);
    if (host->flags & MX_FLAG_TLSA_REFUSED) {
      say(e,
          "  => OpenSSL refused TLSA records of %s that danescan classified usable (see each address's reason); "
          "DANE clients built on OpenSSL ignore them too.\n",
          host->name);
    }
    break;
  case HOST_TLSA_FAILED:
    say(e,
        "  => the TLSA lookup for %s was %s: a DANE sender must defer mail to this host (RFC 7672 2.2), so mail "
        "is delayed and eventually bounced.\n",
        name, dnssec_state_name(host->tlsa.state));
    fix_lookup(e, name, "TLSA", &host->tlsa, "TLSA lookup failing means DANE senders defer mail to this host");
    if (host->flags & MX_FLAG_ANCESTOR_NXDOMAIN) {
      fix(e,
          "_tcp.%s answers NXDOMAIN although %s exists: resolvers using qname minimisation or NSEC aggressive "
          "caching then deny the TLSA name. Fix the name server or signer so that the empty non-terminal "
          "_tcp.%s answers NOERROR.",
          host->tlsa_base != NULL ? host->tlsa_base : host->name, name,
          host->tlsa_base != NULL ? host->tlsa_base : host->name);
    }
    break;
  case HOST_NO_TLSA:
    say(e, "  => %s is in a signed zone but publishes no TLSA records: mail to it is not protected by DANE.\n",
        host->name);
    fix(e,
        "%s has secure addresses but no TLSA records: to protect it, publish `%s. IN TLSA 3 1 1 <sha256 of the "
        "server's SPKI>` plus a second record for the next key (current+next).",
        host->name, name);
    break;
  case HOST_INSECURE:
    if (host->flags & MX_FLAG_NXDOMAIN) {
      say(e, "  => %s does not exist.\n", host->name);
      fix(e, "MX host %s does not exist (NXDOMAIN): fix the MX record of %s.", host->name, result->name);
    } else if (insecure_denial_in_signed_zone(host)) {
      /* One of the host's answers validated, so its zone is signed; the
       * insecure one is a denial (NODATA) the resolver did not accept:
       * typically NSEC3 iterations above the validator's limit (RFC 9276
       * 3.2; the lab's hyg-nsec3-high.lab). Telling the operator to sign
       * the zone would be wrong. */
      const char *insecure_type = host->a.done && host->a.state == DNSSEC_INSECURE ? "A" : "AAAA";
      say(e, "  => %s is in a signed zone, but its %s answer came back insecure: DANE does not apply to it.\n",
          host->name, insecure_type);
      fix(e,
          "The zone of MX host %s is signed, yet the resolver did not validate its %s answer, a denial of "
          "existence (NODATA). The usual cause is NSEC3 with more iterations than validators accept (above 150: "
          "Unbound and BIND treat such denials as insecure, RFC 9276 3.2), which turns DANE off for the host. "
          "Re-sign the zone with NSEC3 iterations 0 and no salt (RFC 9276 3.1), or with NSEC.",
          host->name, insecure_type);
    } else {
      say(e, "  => the address records of %s are not DNSSEC-signed: DANE does not apply to it.\n", host->name);
      fix(e,
          "The zone of MX host %s is not signed: sign it (and publish its DS at the parent), then publish TLSA "
          "records at %s.",
          host->name, name);
    }
    break;
  case HOST_ADDRESS_FAILED:
    say(e, "  => the address lookups of %s failed or were bogus: senders cannot use this host.\n", host->name);
    if (fact_failed(&host->a)) fix_lookup(e, address_name, "A", &host->a, "senders cannot reach this host");
    else if (fact_failed(&host->aaaa))
      fix_lookup(e, address_name, "AAAA", &host->aaaa, "senders cannot reach this host");
    break;
  case HOST_NO_ADDRESS:
    say(e, "  => %s has no A and no AAAA records.\n", host->name);
    if (!(host->flags & MX_FLAG_NXDOMAIN)) {
      fix(e, "MX host %s has no address records: publish its A/AAAA records or remove the MX record.", host->name);
    } else {
      fix(e, "MX host %s does not exist (NXDOMAIN): fix the MX record of %s.", host->name, result->name);
    }
    break;
  case HOST_DANE_UNPROBED:
    say(e, "  => usable secure TLSA records; not probed (DNS only).\n");
    rollover_advice(e, host);
    break;
  case HOST_STATUS_COUNT:
    break;
  }
  if (host->flags & MX_FLAG_TLSA_INSECURE) {
    fix(e,
        "The addresses of %s are signed but the TLSA answer for %s is insecure (an unsigned delegation below the "
        "host?): sign the zone that holds %s.",
        host->name, name, name);
  }
  if (host->flags & MX_FLAG_PARTIAL_ALGORITHM_COVERAGE) {
    fix(e,
        "%s serves both an RSA and an ECDSA certificate but its TLSA records match only one: publish a record for "
        "each key, or a sender that picks the other algorithm fails authentication.",
        host->name);
  }
  if (host->flags & MX_FLAG_EXPIRES_SOON) {
    fix(e,
        "A certificate served by %s expires soon (or a DANE-EE server certificate is past its dates, harmless for "
        "DANE but worth renewing): renew it and keep a TLSA record for the new key published beforehand.",
        host->name);
  }
  hazard_advice(e, host);
}

/* ------------------------------------------------------------ domain */

static void domain_verdict(struct explain *e, const struct domain_result *result) {
  const char *name = result->name;
  switch (result->status) {
  case DOMAIN_INVALID_NAME:
    say(e, "'%s' is not a valid domain name: %s.\n", name, result->invalid_reason);
    fix(e, "Give a domain name (letters, digits, hyphens; labels of at most 63 bytes).");
    break;
  case DOMAIN_LOOKUP_FAILED:
    say(e, "The MX lookup for %s failed: senders cannot find its mail servers.\n", name);
    fix_lookup(e, name, "MX", &result->mx, "senders defer mail to the domain");
    break;
  case DOMAIN_DNSSEC_BOGUS:
    say(e,
        "The MX RRset of %s is DNSSEC-bogus: validating resolvers answer SERVFAIL, so mail from senders behind "
        "them is delayed and bounced.\n",
        name);
    fix_lookup(e, name, "MX", &result->mx, "the MX lookup is bogus and validating senders cannot deliver");
    break;
  case DOMAIN_NXDOMAIN:
    say(e, "%s does not exist (NXDOMAIN): no mail can be delivered to it.\n", name);
    break;
  case DOMAIN_NULL_MX:
    say(e, "%s publishes a null MX (RFC 7505): it accepts no mail; DANE does not apply.\n", name);
    break;
  case DOMAIN_NO_MAIL:
    say(e, "%s has no MX and no address records: no mail can be delivered to it.\n", name);
    break;
  case DOMAIN_INSECURE:
    say(e,
        "The MX records of %s are not DNSSEC-signed and no MX host publishes secure TLSA records: DANE does not "
        "apply, senders use unauthenticated TLS at best.\n",
        name);
    fix(e,
        "Sign the zone %s (and publish its DS record at the parent), then publish TLSA records for each MX host "
        "(`_25._tcp.<mx host>. IN TLSA 3 1 1 <sha256 of the server's SPKI>`).",
        name);
    break;
  case DOMAIN_DANE_FAILED:
    say(e,
        "DANE is published for %s but fails: DANE senders defer mail to the failing hosts (and bounce it after "
        "their queue lifetime if no host works).\n",
        name);
    break;
  case DOMAIN_DANE_UNREACHABLE:
    say(e,
        "DANE is published for %s, but no DANE host could be reached from here: nothing could be "
        "authenticated.\n",
        name);
    break;
  case DOMAIN_DANE_VALID:
    say(e, "DANE works for %s: every MX host authenticated with its TLSA records.\n", name);
    break;
  case DOMAIN_DANE_PARTIAL:
    say(e, "DANE works for only some MX hosts of %s: mail through the other hosts is not protected by DANE.\n", name);
    break;
  case DOMAIN_TLSA_UNUSABLE:
    say(e, "%s publishes TLSA records, but none is usable for SMTP: TLS is mandatory, but not authenticated.\n", name);
    break;
  case DOMAIN_NO_DANE:
    say(e,
        "The MX records of %s are DNSSEC-signed, but no MX host publishes TLSA records: DANE is not "
        "deployed.\n",
        name);
    break;
  case DOMAIN_DANE_UNPROBED:
    say(e, "%s publishes usable secure TLSA records; the servers were not probed (DNS only).\n", name);
    break;
  case DOMAIN_SKIPPED:
    say(e, "%s was not checked: it (or a parent domain) is in the blocklist (%s), so it was never looked up.\n", name,
        result->skip_reason);
    break;
  case DOMAIN_STATUS_COUNT:
    break;
  }
  if (result->mx_dnssec == DNSSEC_INSECURE && result->status != DOMAIN_INSECURE &&
      (result->status == DOMAIN_DANE_VALID || result->status == DOMAIN_DANE_FAILED ||
       result->status == DOMAIN_DANE_PARTIAL || result->status == DOMAIN_DANE_UNREACHABLE ||
       result->status == DOMAIN_TLSA_UNUSABLE || result->status == DOMAIN_DANE_UNPROBED)) {
    say(e,
        "Note: the MX records of %s are not signed: DANE protects mail only through the MX hosts' own TLSA "
        "records, and an attacker who forges the MX answer can bypass it.\n",
        name);
    fix(e, "Sign the zone %s (and publish its DS at the parent) so that its MX records cannot be forged.", name);
  }
}

/* The k-th space-separated word of list into out ("" past the end). */
static bool nth_word(const char *list, size_t k, char *out, size_t out_len) {
  const char *p = list;
  for (;;) {
    while (*p == ' ') p++;
    if (*p == '\0') break;
    size_t len = strcspn(p, " ");
    if (k-- == 0) {
      snprintf(out, out_len, "%.*s", (int)len, p);
      return true;
    }
    p += len;
  }
  if (out_len > 0) out[0] = '\0';
  return false;
}

/* The DNS operator of an NS target as domain_dns_operators has it: its
 * registrable domain, "" for none. */
static void ns_operator(const struct explain *e, const char *host, char *out, size_t out_len) {
  if (provider_of(e->options->providers, host, out, out_len) < 0) out[0] = '\0';
}

/* check --ns-lookup: the NS lookup, its targets and, with a provider list,
 * the DNS operator(s) they belong to, in the order of their first target. */
static void describe_ns_lookup(struct explain *e, const struct domain_result *result) {
  describe_lookup(e, "  ", result->name, "NS", &result->ns_lookup);
  if (result->ns[0] == '\0') {
    int rcode = result->ns_lookup.rcode;
    if (!fact_failed(&result->ns_lookup) && (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN))
      say(e, "    no NS records at %s (not a zone apex, or no such name): no DNS operator\n", result->name);
    else say(e, "    no NS targets: the lookup failed (bogus, failed or an error RCODE), no DNS operator\n");
    return;
  }
  if (e->options == NULL || e->options->providers == NULL) {
    say(e, "    NS: %s\n", result->ns);
    return;
  }
  char host[256], operator[256], other[256], other_operator[256];
  for (size_t i = 0; nth_word(result->ns, i, host, sizeof host); i++) {
    ns_operator(e, host, operator, sizeof operator);
    bool seen = false;
    for (size_t j = 0; j < i && !seen && nth_word(result->ns, j, other, sizeof other); j++) {
      ns_operator(e, other, other_operator, sizeof other_operator);
      seen = strcmp(other_operator, operator) == 0;
    }
    if (seen) continue;
    if (operator[0] != '\0') say(e, "    DNS operator %s:", operator);
    else say(e, "    no DNS operator (a public suffix):");
    for (size_t k = i; nth_word(result->ns, k, other, sizeof other); k++) {
      ns_operator(e, other, other_operator, sizeof other_operator);
      if (strcmp(other_operator, operator) == 0) say(e, " %s", other);
    }
    say(e, "\n");
  }
}

static bool domain_has_mx_lookup(const struct domain_result *result) {
  return result->status != DOMAIN_INVALID_NAME && result->mx.done;
}

char *explain_domain(const struct domain_result *result, const struct explain_options *options) {
  char *text = NULL, *fixes = NULL;
  size_t text_len = 0, fixes_len = 0;
  struct explain e = {.options = options};
  e.out = open_memstream(&text, &text_len);
  e.fix = open_memstream(&fixes, &fixes_len);
  if (e.out == NULL || e.fix == NULL) {
    if (e.out != NULL) fclose(e.out);
    if (e.fix != NULL) fclose(e.fix);
    free(text);
    free(fixes);
    return NULL;
  }

  say(&e, "%s: %s\n", result->name, domain_status_name(result->status));
  domain_verdict(&e, result);
  bool ns_looked_up = result->status != DOMAIN_INVALID_NAME && result->ns_lookup.done;
  if (domain_has_mx_lookup(result) || ns_looked_up) say(&e, "\nLookups:\n");
  if (domain_has_mx_lookup(result)) {
    describe_lookup(&e, "  ", result->name, "MX", &result->mx);
    if (result->implicit_mx) say(&e, "  no MX records: the domain itself is the mail host (RFC 5321 5.1)\n");
    if (result->island != ISLAND_NOT_CHECKED) say(&e, "  DNSKEY check: %s\n", island_state_name(result->island));
  }
  if (ns_looked_up) describe_ns_lookup(&e, result);
  if (result->null_mx_mixed) {
    fix(&e, "%s publishes a null MX (\".\") beside other MX records (RFC 7505 violation): remove the \".\" record.",
        result->name);
  }
  if (result->mx_truncated) {
    say(&e, "  more than %d MX hosts: only the first %d were checked\n", RESULT_MAX_MX_HOSTS, RESULT_MAX_MX_HOSTS);
  }
  for (size_t i = 0; i < result->link_count; i++) {
    if (result->links[i].host != NULL) explain_host(&e, result, &result->links[i]);
  }
  e.fix_count += explain_mta_sts(result, e.out, e.fix);
  e.fix_count += explain_hygiene(result, options != NULL ? options->now_unix : 0, e.out, e.fix);

  fclose(e.fix);
  if (e.fix_count > 0) {
    say(&e, "\nWhat to fix:\n");
    fwrite(fixes, 1, fixes_len, e.out);
  } else if (result->status == DOMAIN_DANE_VALID) {
    say(&e, "\nNothing to fix.\n");
  }
  free(fixes);
  bool failed = ferror(e.out) != 0;
  if (fclose(e.out) != 0 || failed) {
    free(text);
    return NULL;
  }
  return text;
}
