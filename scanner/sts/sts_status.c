/* The MTA-STS status rule (sts_status.h). Each step of the spec's table is
 * one test, in its order, so that a domain gets the first status whose
 * condition holds; the failure text names the record, line, host or
 * address the check of check (report/explain.c) points the operator to. */
#include "sts/sts_status.h"

#include <stdio.h>

static void say(char *failure, size_t failure_len, const char *prefix, const char *why) {
  if (failure_len == 0) return;
  snprintf(failure, failure_len, "%s%s", prefix, why != NULL && why[0] != '\0' ? why : "(no reason given)");
}

enum mta_sts_status sts_status_decide(const struct sts_decision *input, char *failure, size_t failure_len) {
  if (failure_len > 0) failure[0] = '\0';
  switch (input->record) {
  case STS_RECORD_ABSENT:
    return MTA_STS_NONE;
  case STS_RECORD_INVALID:
    say(failure, failure_len, "_mta-sts TXT: ", input->record_why);
    return MTA_STS_RECORD_INVALID;
  case STS_RECORD_VALID:
    break;
  }
  if (!input->fetched) {
    say(failure, failure_len, "policy fetch: ", "not made");
    return MTA_STS_POLICY_UNAVAILABLE;
  }
  switch (input->fetch_outcome) {
  case STS_FETCH_OK:
    break;
  case STS_FETCH_INVALID:
    say(failure, failure_len, "policy: ", input->fetch_why);
    return MTA_STS_POLICY_INVALID;
  case STS_FETCH_UNAVAILABLE:
  case STS_FETCH_SKIPPED:
  default:
    say(failure, failure_len, "policy fetch: ", input->fetch_why);
    return MTA_STS_POLICY_UNAVAILABLE;
  }
  if (input->policy != STS_POLICY_VALID) {
    say(failure, failure_len, "policy: ", input->policy_why);
    return MTA_STS_POLICY_INVALID;
  }
  if (input->mode == STS_MODE_NONE) return MTA_STS_MODE_NONE;
  for (size_t i = 0; i < input->host_count; i++) {
    const struct sts_decision_host *host = &input->hosts[i];
    if (!host->match) {
      if (failure_len > 0) {
        snprintf(failure, failure_len, "MX host %s matches no mx pattern of the policy (RFC 8461 4.1)",
                 host->name != NULL ? host->name : "?");
      }
      return MTA_STS_MX_MISMATCH;
    }
  }
  size_t passed = 0;
  for (size_t i = 0; i < input->host_count; i++) {
    const struct sts_decision_host *host = &input->hosts[i];
    for (size_t a = 0; a < host->address_count; a++) {
      const struct sts_decision_address *address = &host->addresses[a];
      if (address->check == STS_ADDRESS_PASSED) passed++;
      if (address->check != STS_ADDRESS_FAILED) continue;
      if (failure_len > 0) {
        snprintf(failure, failure_len, "MX host %s%s%s%s: %s (RFC 8461 4.2)", host->name != NULL ? host->name : "?",
                 address->text != NULL ? " (" : "", address->text != NULL ? address->text : "",
                 address->text != NULL ? ")" : "",
                 address->reason != NULL && address->reason[0] != '\0' ? address->reason
                                                                       : "not a WebPKI-valid STARTTLS session");
      }
      return MTA_STS_CERT_INVALID;
    }
  }
  if (passed == 0) {
    /* Nothing was checked (no address reached STARTTLS, or none was
     * probed): a policy no certificate was seen for is not `valid`. */
    if (failure_len > 0)
      snprintf(failure, failure_len,
               "no MX address was checked: none reached STARTTLS (unreachable, timed out, skipped) or none was "
               "probed (RFC 8461 4.2 needs a WebPKI-valid certificate)");
    return MTA_STS_CERT_UNCHECKED;
  }
  return MTA_STS_VALID;
}
