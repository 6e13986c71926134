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

/* What MTA-STS makes of one probed MX address (RFC 8461 4.2), mapped by the
 * pipeline from the probe's WebPKI verdict and result. */
enum sts_address_check {
  STS_ADDRESS_UNCHECKED = 0, /* no session reached STARTTLS (not probed, unreachable, skipped): no verdict */
  STS_ADDRESS_PASSED,        /* STARTTLS, TLS >= 1.2, a WebPKI-valid chain for the MX host name */
  STS_ADDRESS_FAILED,        /* no STARTTLS, TLS below 1.2, or a chain not valid for the name */
};

struct sts_decision_address {
  const char *text; /* the address, for the failure text; NULL allowed */
  enum sts_address_check check;
  const char *reason; /* why it failed (the probe's pkix word and detail); NULL allowed */
};

struct sts_decision_host {
  const char *name;                             /* the MX host name (for the failure text) */
  bool match;                                   /* matches a pattern of the policy (sts_policy_matches) */
  const struct sts_decision_address *addresses; /* address_count long; NULL when 0 */
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
 * host matching no pattern), cert-invalid (an address STS_ADDRESS_FAILED;
 * unchecked addresses count neither way), cert-unchecked (no address
 * failed and none passed: no certificate was seen), valid (none failed,
 * at least one passed). failure (failure_len bytes)
 * says why for every status but none, mode-none and valid, where it is "". */
enum mta_sts_status sts_status_decide(const struct sts_decision *input, char *failure, size_t failure_len);

#endif
