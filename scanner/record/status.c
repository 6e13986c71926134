/* The one table of status words (shared/spec/RESULTS.md). Researchers compare
 * scans across years: a word here never changes meaning, new ones may be
 * added at the end of their enum. */
#include "record/status.h"

#include "record/probe_detail.h"

#include <string.h>

static const char *const dnssec_state_words[DNSSEC_STATE_COUNT] = {
    [DNSSEC_SECURE] = "secure",
    [DNSSEC_INSECURE] = "insecure",
    [DNSSEC_BOGUS] = "bogus",
    [DNSSEC_FAILED] = "failed",
};

static const char *const probe_result_words[PROBE_RESULT_COUNT] = {
    [PROBE_AUTHENTICATED] = "authenticated",
    [PROBE_TLSA_MISMATCH] = "tlsa-mismatch",
    [PROBE_NAME_MISMATCH] = "name-mismatch",
    [PROBE_CERT_EXPIRED] = "cert-expired",
    [PROBE_NO_STARTTLS] = "no-starttls",
    [PROBE_STARTTLS_REFUSED] = "starttls-refused",
    [PROBE_TLS_FAILED] = "tls-failed",
    [PROBE_SMTP_FAILED] = "smtp-failed",
    [PROBE_CONNECT_FAILED] = "connect-failed",
    [PROBE_TIMEOUT] = "timeout",
    [PROBE_UNAUTHENTICATED_TLS] = "unauthenticated-tls",
    [PROBE_SKIPPED] = "skipped",
};

static const char *const host_status_words[HOST_STATUS_COUNT] = {
    [HOST_DANE_VALID] = "dane-valid",
    [HOST_DANE_FAILED] = "dane-failed",
    [HOST_DANE_UNREACHABLE] = "dane-unreachable",
    [HOST_TLSA_UNUSABLE] = "tlsa-unusable",
    [HOST_TLSA_FAILED] = "tlsa-failed",
    [HOST_NO_TLSA] = "no-tlsa",
    [HOST_INSECURE] = "insecure",
    [HOST_ADDRESS_FAILED] = "address-failed",
    [HOST_NO_ADDRESS] = "no-address",
    [HOST_DANE_UNPROBED] = "dane-unprobed",
};

static const char *const domain_status_words[DOMAIN_STATUS_COUNT] = {
    [DOMAIN_INVALID_NAME] = "invalid-name",
    [DOMAIN_LOOKUP_FAILED] = "lookup-failed",
    [DOMAIN_DNSSEC_BOGUS] = "dnssec-bogus",
    [DOMAIN_NXDOMAIN] = "nxdomain",
    [DOMAIN_NULL_MX] = "null-mx",
    [DOMAIN_NO_MAIL] = "no-mail",
    [DOMAIN_INSECURE] = "insecure",
    [DOMAIN_DANE_FAILED] = "dane-failed",
    [DOMAIN_DANE_UNREACHABLE] = "dane-unreachable",
    [DOMAIN_DANE_VALID] = "dane-valid",
    [DOMAIN_DANE_PARTIAL] = "dane-partial",
    [DOMAIN_TLSA_UNUSABLE] = "tlsa-unusable",
    [DOMAIN_NO_DANE] = "no-dane",
    [DOMAIN_DANE_UNPROBED] = "dane-unprobed",
    [DOMAIN_SKIPPED] = "skipped",
};

static const char *const rollover_class_words[ROLLOVER_CLASS_COUNT] = {
    [ROLLOVER_NONE] = "none",
    [ROLLOVER_SINGLE] = "single",
    [ROLLOVER_CURRENT_NEXT] = "current+next",
    [ROLLOVER_CURRENT_ISSUER] = "current+issuer",
    [ROLLOVER_ISSUER] = "issuer",
    [ROLLOVER_UNMATCHED] = "unmatched",
};

static const char *const tlsrpt_result_words[TLSRPT_RESULT_COUNT] = {
    [TLSRPT_NONE] = "none",
    [TLSRPT_STARTTLS_NOT_SUPPORTED] = "starttls-not-supported",
    [TLSRPT_CERTIFICATE_HOST_MISMATCH] = "certificate-host-mismatch",
    [TLSRPT_CERTIFICATE_EXPIRED] = "certificate-expired",
    [TLSRPT_TLSA_INVALID] = "tlsa-invalid",
    [TLSRPT_DNSSEC_INVALID] = "dnssec-invalid",
    [TLSRPT_VALIDATION_FAILURE] = "validation-failure",
};

static const char *word_of(const char *const *words, int count, int value) {
  if (value < 0 || value >= count || words[value] == NULL) return "?";
  return words[value];
}

static int value_of(const char *const *words, int count, const char *word) {
  if (word == NULL) return -1;
  for (int i = 0; i < count; i++) {
    if (words[i] != NULL && strcmp(words[i], word) == 0) return i;
  }
  return -1;
}

const char *dnssec_state_name(enum dnssec_state state) {
  return word_of(dnssec_state_words, DNSSEC_STATE_COUNT, (int)state);
}
const char *probe_result_name(enum probe_result result) {
  return word_of(probe_result_words, PROBE_RESULT_COUNT, (int)result);
}
const char *host_status_name(enum host_status status) {
  return word_of(host_status_words, HOST_STATUS_COUNT, (int)status);
}
const char *domain_status_name(enum domain_status status) {
  return word_of(domain_status_words, DOMAIN_STATUS_COUNT, (int)status);
}
const char *rollover_class_name(enum rollover_class rollover) {
  return word_of(rollover_class_words, ROLLOVER_CLASS_COUNT, (int)rollover);
}
const char *tlsrpt_result_name(enum tlsrpt_result result) {
  return word_of(tlsrpt_result_words, TLSRPT_RESULT_COUNT, (int)result);
}

#define DEFINE_PARSE(fn, type, words, count)  \
  int fn(const char *word, type *out) {       \
    int value = value_of(words, count, word); \
    if (value < 0) return -1;                 \
    *out = (type)value;                       \
    return 0;                                 \
  }

DEFINE_PARSE(dnssec_state_parse, enum dnssec_state, dnssec_state_words, DNSSEC_STATE_COUNT)
DEFINE_PARSE(probe_result_parse, enum probe_result, probe_result_words, PROBE_RESULT_COUNT)
DEFINE_PARSE(host_status_parse, enum host_status, host_status_words, HOST_STATUS_COUNT)
DEFINE_PARSE(domain_status_parse, enum domain_status, domain_status_words, DOMAIN_STATUS_COUNT)

enum dnssec_state dnssec_state_worst(enum dnssec_state a, enum dnssec_state b) {
  return a > b ? a : b;
}

/* MTA-STS and TLS-RPT (shared/spec/MTA-STS.md). */
static const char *const probe_pkix_words[PROBE_PKIX_COUNT] = {
    [PROBE_PKIX_NOT_CHECKED] = "not-checked",
    [PROBE_PKIX_VALID] = "valid",
    [PROBE_PKIX_NO_TLS] = "no-tls",
    [PROBE_PKIX_TLS_VERSION] = "tls-version",
    [PROBE_PKIX_UNTRUSTED] = "untrusted",
    [PROBE_PKIX_EXPIRED] = "expired",
    [PROBE_PKIX_NAME_MISMATCH] = "name-mismatch",
    [PROBE_PKIX_INVALID] = "invalid",
};

const char *probe_pkix_name(enum probe_pkix pkix) {
  return (unsigned)pkix < PROBE_PKIX_COUNT ? probe_pkix_words[pkix] : "?";
}

static const char *const mta_sts_status_words[MTA_STS_STATUS_COUNT] = {
    [MTA_STS_NONE] = "none",
    [MTA_STS_RECORD_INVALID] = "record-invalid",
    [MTA_STS_POLICY_UNAVAILABLE] = "policy-unavailable",
    [MTA_STS_POLICY_INVALID] = "policy-invalid",
    [MTA_STS_MODE_NONE] = "mode-none",
    [MTA_STS_MX_MISMATCH] = "mx-mismatch",
    [MTA_STS_CERT_INVALID] = "cert-invalid",
    [MTA_STS_CERT_UNCHECKED] = "cert-unchecked",
    [MTA_STS_VALID] = "valid",
};

static const char *const mta_sts_mode_words[STS_MODE_COUNT] = {
    [STS_MODE_ENFORCE] = "enforce",
    [STS_MODE_TESTING] = "testing",
    [STS_MODE_NONE] = "none",
};

static const char *const tlsrpt_record_status_words[TLSRPT_RECORD_STATUS_COUNT] = {
    [TLSRPT_RECORD_NONE] = "none",
    [TLSRPT_RECORD_INVALID] = "invalid",
    [TLSRPT_RECORD_VALID] = "valid",
};

const char *mta_sts_status_name(enum mta_sts_status status) {
  return word_of(mta_sts_status_words, MTA_STS_STATUS_COUNT, (int)status);
}
const char *mta_sts_mode_name(enum mta_sts_mode mode) {
  return word_of(mta_sts_mode_words, STS_MODE_COUNT, (int)mode);
}
const char *tlsrpt_record_status_name(enum tlsrpt_record_status status) {
  return word_of(tlsrpt_record_status_words, TLSRPT_RECORD_STATUS_COUNT, (int)status);
}

DEFINE_PARSE(mta_sts_status_parse, enum mta_sts_status, mta_sts_status_words, MTA_STS_STATUS_COUNT)
DEFINE_PARSE(mta_sts_mode_parse, enum mta_sts_mode, mta_sts_mode_words, STS_MODE_COUNT)
DEFINE_PARSE(tlsrpt_record_status_parse, enum tlsrpt_record_status, tlsrpt_record_status_words,
             TLSRPT_RECORD_STATUS_COUNT)
