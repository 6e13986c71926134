/* The mta_sts.status of one domain (shared/spec/MTA-STS.md), decided from
 * what the scan found: the _mta-sts record, the fetch outcome and the
 * policy, the pattern match of each MX host and the PKIX result of each
 * probed address. A pure function: no I/O, no allocation; the caller
 * gathers the inputs (pipeline/) and keeps the words (record/status.h). */
#ifndef DANESCAN_STS_STS_STATUS_H
#define DANESCAN_STS_STS_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "record/status.h"
#include "sts/sts_fetch.h"
#include "sts/sts_policy.h"
#include "sts/sts_txt.h"

#define STS_FAILURE_MAX_BYTES 320

struct sts_decision_host {
  const char *name;               /* the MX host name (for the failure text) */
  bool match;                     /* matches a pattern of the policy (sts_policy_matches) */
  const enum pkix_result *pkix;   /* one per address, address_count long; NULL when 0 */
  const char *const *address_text; /* the addresses as text, same length; NULL allowed */
  size_t address_count;
};

struct sts_decision {
  enum sts_record_verdict record;
  const char *record_why; /* for STS_RECORD_INVALID */
  /* The fetch, when the record is valid: fetched false means it was not
   * made (counted as unavailable). */
  bool fetched;
  enum sts_fetch_outcome fetch_outcome;
  const char *fetch_why;
  /* The parse of the fetched body, when fetch_outcome is STS_FETCH_OK. */
  enum sts_policy_verdict policy;
  const char *policy_why;
  enum mta_sts_mode mode;
  const struct sts_decision_host *hosts;
  size_t host_count;
};

/* The status, in the spec's order: none, record-invalid,
 * policy-unavailable (fetch not OK: unavailable or skipped), policy-invalid
 * (fetch invalid, or the body not a policy), mode-none, mx-mismatch (a
 * host matching no pattern), cert-invalid (an address whose pkix is a
 * failure; PKIX_NOT_CHECKED is none), valid. failure (failure_len bytes)
 * says why for every status but none, mode-none and valid, where it is "". */
enum mta_sts_status sts_status_decide(const struct sts_decision *input, char *failure, size_t failure_len);

/* Is this PKIX result a failure for MTA-STS (not valid, not unchecked)? */
bool sts_pkix_failed(enum pkix_result result);

#endif
