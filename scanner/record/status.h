/* The words of shared/spec/RESULTS.md, the contract between the scanner, its
 * JSON Lines output, the database and the reports. Each enum maps to its word
 * in one table (status.c); nowhere else is a status spelled out. Parsing the
 * words back (for tests and the store) goes through the same table. */
#ifndef DANESCAN_RECORD_STATUS_H
#define DANESCAN_RECORD_STATUS_H

#include <stdbool.h>

/* DNSSEC state of one lookup. Ordered from best to worst so that the state of
 * several lookups together is their maximum. */
enum dnssec_state { DNSSEC_SECURE = 0, DNSSEC_INSECURE, DNSSEC_BOGUS, DNSSEC_FAILED, DNSSEC_STATE_COUNT };

/* Result of one address (one IP of one MX host). */
enum probe_result {
  PROBE_AUTHENTICATED = 0,
  PROBE_TLSA_MISMATCH,
  PROBE_NAME_MISMATCH,
  PROBE_CERT_EXPIRED,
  PROBE_NO_STARTTLS,
  PROBE_STARTTLS_REFUSED,
  PROBE_TLS_FAILED,
  PROBE_SMTP_FAILED,
  PROBE_CONNECT_FAILED,
  PROBE_TIMEOUT,
  PROBE_UNAUTHENTICATED_TLS,
  PROBE_SKIPPED,
  PROBE_RESULT_COUNT
};

/* Status of one MX host. HOST_DANE_UNPROBED is danescan's addition for the
 * DNS-only mode (--probe none): usable secure TLSA, no probe made. */
enum host_status {
  HOST_DANE_VALID = 0,
  HOST_DANE_FAILED,
  HOST_DANE_UNREACHABLE,
  HOST_TLSA_UNUSABLE,
  HOST_TLSA_FAILED,
  HOST_NO_TLSA,
  HOST_INSECURE,
  HOST_ADDRESS_FAILED,
  HOST_NO_ADDRESS,
  HOST_DANE_UNPROBED,
  HOST_STATUS_COUNT
};

/* Status of one domain, in the order RESULTS.md evaluates them, except for
 * the two additions kept at the end so stored values never move:
 * DOMAIN_DANE_UNPROBED (--probe none) and DOMAIN_SKIPPED (issue 20: opted
 * out by the blocklist, never looked up; evaluated right after
 * DOMAIN_INVALID_NAME, pipeline/rules.c). */
enum domain_status {
  DOMAIN_INVALID_NAME = 0,
  DOMAIN_LOOKUP_FAILED,
  DOMAIN_DNSSEC_BOGUS,
  DOMAIN_NXDOMAIN,
  DOMAIN_NULL_MX,
  DOMAIN_NO_MAIL,
  DOMAIN_INSECURE,
  DOMAIN_DANE_FAILED,
  DOMAIN_DANE_UNREACHABLE,
  DOMAIN_DANE_VALID,
  DOMAIN_DANE_PARTIAL,
  DOMAIN_TLSA_UNUSABLE,
  DOMAIN_NO_DANE,
  DOMAIN_DANE_UNPROBED,
  DOMAIN_SKIPPED,
  DOMAIN_STATUS_COUNT
};

/* Rollover class of a host's usable TLSA records (RESULTS.md, quality).
 * ROLLOVER_UNMATCHED is issue 19's addition: usable records, a chain was
 * presented, and no record matches it. */
enum rollover_class {
  ROLLOVER_NONE = 0,
  ROLLOVER_SINGLE,
  ROLLOVER_CURRENT_NEXT,
  ROLLOVER_CURRENT_ISSUER,
  ROLLOVER_ISSUER,
  ROLLOVER_UNMATCHED,
  ROLLOVER_CLASS_COUNT
};

/* TLS-RPT result types (IANA registry) a failure maps to. */
enum tlsrpt_result {
  TLSRPT_NONE = 0,
  TLSRPT_STARTTLS_NOT_SUPPORTED,
  TLSRPT_CERTIFICATE_HOST_MISMATCH,
  TLSRPT_CERTIFICATE_EXPIRED,
  TLSRPT_TLSA_INVALID,
  TLSRPT_DNSSEC_INVALID,
  TLSRPT_VALIDATION_FAILURE,
  TLSRPT_RESULT_COUNT
};

/* The word of each value; never NULL for a value in range, "?" otherwise. */
const char *dnssec_state_name(enum dnssec_state state);
const char *probe_result_name(enum probe_result result);
const char *host_status_name(enum host_status status);
const char *domain_status_name(enum domain_status status);
const char *rollover_class_name(enum rollover_class rollover);
const char *tlsrpt_result_name(enum tlsrpt_result result);

/* The value of a word: returns 0 and sets *out, or -1 if the word is not one
 * of the table's. */
int dnssec_state_parse(const char *word, enum dnssec_state *out);
int probe_result_parse(const char *word, enum probe_result *out);
int host_status_parse(const char *word, enum host_status *out);
int domain_status_parse(const char *word, enum domain_status *out);

/* The worse of two DNSSEC states (secure < insecure < bogus < failed). */
enum dnssec_state dnssec_state_worst(enum dnssec_state a, enum dnssec_state b);

/* MTA-STS (shared/spec/MTA-STS.md): the status of one domain, in the order
 * they are decided (sts/sts_status.h). */
enum mta_sts_status {
  MTA_STS_NONE = 0,
  MTA_STS_RECORD_INVALID,
  MTA_STS_POLICY_UNAVAILABLE,
  MTA_STS_POLICY_INVALID,
  MTA_STS_MODE_NONE,
  MTA_STS_MX_MISMATCH,
  MTA_STS_CERT_INVALID,
  MTA_STS_CERT_UNCHECKED, /* not in the spec's first list: a valid policy whose MX certificates were not seen */
  MTA_STS_VALID,
  MTA_STS_STATUS_COUNT
};

/* The mode of an MTA-STS policy (RFC 8461 3.2). */
enum mta_sts_mode { STS_MODE_ENFORCE = 0, STS_MODE_TESTING, STS_MODE_NONE, STS_MODE_COUNT };

/* The TLS-RPT record of one domain (RFC 8460 3; MTA-STS.md). */
enum tlsrpt_record_status {
  TLSRPT_RECORD_NONE = 0,
  TLSRPT_RECORD_INVALID,
  TLSRPT_RECORD_VALID,
  TLSRPT_RECORD_STATUS_COUNT
};

const char *mta_sts_status_name(enum mta_sts_status status);
const char *mta_sts_mode_name(enum mta_sts_mode mode);
const char *tlsrpt_record_status_name(enum tlsrpt_record_status status);
int mta_sts_status_parse(const char *word, enum mta_sts_status *out);
int mta_sts_mode_parse(const char *word, enum mta_sts_mode *out);
int tlsrpt_record_status_parse(const char *word, enum tlsrpt_record_status *out);

#endif
