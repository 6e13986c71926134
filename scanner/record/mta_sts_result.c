/* Clearing the MTA-STS part of a domain record (mta_sts_result.h). */
#include "record/mta_sts_result.h"

#include <stdlib.h>
#include <string.h>

void mta_sts_result_clear(struct mta_sts_result *result) {
  if (result == NULL) return;
  dns_fact_clear(&result->record_lookup);
  dns_fact_clear(&result->tlsrpt_lookup);
  dns_fact_clear(&result->policy_host_a);
  dns_fact_clear(&result->policy_host_aaaa);
  for (size_t i = 0; i < result->mx_pattern_count; i++) free(result->mx_patterns[i]);
  free(result->mx_patterns);
  memset(result, 0, sizeof *result);
  result->record_lookup.rcode = -1;
  result->tlsrpt_lookup.rcode = -1;
  result->policy_host_a.rcode = -1;
  result->policy_host_aaaa.rcode = -1;
  result->max_age = -1;
}
