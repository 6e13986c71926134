/* What danescan keeps of a domain's MTA-STS and TLS-RPT (shared/spec/
 * MTA-STS.md): the three lookups, the policy as fetched and parsed, the
 * status, the match of each MX host, and the TLS-RPT record. Data only;
 * the pipeline fills it (with --mta-sts, and in check, for domains with
 * mail) and owns it; the sinks read it. */
#ifndef DANESCAN_RECORD_MTA_STS_RESULT_H
#define DANESCAN_RECORD_MTA_STS_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/result.h"
#include "record/status.h"

#define MTA_STS_FAILURE_MAX_BYTES 320
#define MTA_STS_ID_MAX_BYTES 33 /* 32 characters and NUL (RFC 8461 3.1) */
#define MTA_STS_RUA_MAX_BYTES 1024
#define MTA_STS_TLSRPT_FAILURE_MAX_BYTES 256

struct mta_sts_result {
  struct dns_fact record_lookup; /* TXT _mta-sts.DOMAIN */
  struct dns_fact tlsrpt_lookup; /* TXT _smtp._tls.DOMAIN */
  struct dns_fact policy_host_a; /* A and AAAA of mta-sts.DOMAIN: made when the record is valid */
  struct dns_fact policy_host_aaaa;
  enum mta_sts_status status;
  char failure[MTA_STS_FAILURE_MAX_BYTES]; /* "" for none, mode-none and valid */
  char id[MTA_STS_ID_MAX_BYTES];           /* the record's id, "" without a valid record */
  int http_status;                         /* of the policy fetch, 0 when no response */
  bool has_policy;                         /* a valid policy was fetched: mode, max_age, mx_patterns hold it */
  enum mta_sts_mode mode;
  int64_t max_age;
  char **mx_patterns; /* owned (mta_sts_result_clear) */
  size_t mx_pattern_count;
  /* Per MX link of the domain (index as domain_result.links), when
   * has_policy and the mode is not none: the host matches a pattern. */
  bool host_match[RESULT_MAX_MX_HOSTS];
  enum tlsrpt_record_status tlsrpt_status;
  char tlsrpt_rua[MTA_STS_RUA_MAX_BYTES]; /* valid URIs joined by ",", "" unless valid */
  char tlsrpt_failure[MTA_STS_TLSRPT_FAILURE_MAX_BYTES];
};

/* Zeroes the result (facts without answer, status none), freeing what it owns. */
void mta_sts_result_clear(struct mta_sts_result *result);

#endif
