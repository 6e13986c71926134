/* Output names of the record's own flags and states (not RESULTS.md
 * statuses, which live in status.c). */
#include "record/result.h"

#include <stdlib.h>
#include <string.h>

static const char *const mx_flag_words[MX_FLAG_COUNT] = {
    "nxdomain",
    "target-is-tld",
    "target-is-localhost",
    "ancestor-nxdomain",
    "tlsa-at-original-name",
    "tlsa-insecure",
    "a-lookup-failed",
    "aaaa-lookup-failed",
    "partial-algorithm-coverage",
    "expires-soon",
    "tlsa-refused",
    "ee-selector-0",
    "ta-public-intermediate",
    "single-key",
    "leaf-expires-soon",
    "rrsig-expires-soon",
};

const char *mx_host_flag_name(unsigned bit_index) {
  return bit_index < MX_FLAG_COUNT ? mx_flag_words[bit_index] : "?";
}

const char *island_state_name(enum island_state state) {
  switch (state) {
  case ISLAND_UNSIGNED:
    return "unsigned";
  case ISLAND_SIGNED_NO_DS:
    return "signed-no-ds";
  case ISLAND_CHECK_FAILED:
    return "check-failed";
  case ISLAND_NOT_CHECKED:
  default:
    return "not-checked";
  }
}

void dns_fact_clear(struct dns_fact *fact) {
  free(fact->ede_text);
  memset(fact, 0, sizeof *fact);
  fact->rcode = -1;
}
