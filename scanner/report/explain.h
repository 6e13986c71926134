/* The human explanation of one domain result, for `danescan check`: host by
 * host and address by address, what was looked up (MX, A/AAAA, TLSA names),
 * the DNSSEC state of each lookup with any RFC 8914 EDE, the TLSA records
 * published (usable or why not) and which one matched, each probe result,
 * and concrete sentences on what failed and what to fix (RFC 7672, RFC 7671
 * rollover practice). A pure function of the record: no I/O, no clock (the
 * caller passes "now"), so every sentence can be unit tested. It does not
 * decide anything: statuses come from the record (pipeline/rules.h). */
#ifndef DANESCAN_REPORT_EXPLAIN_H
#define DANESCAN_REPORT_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "record/provider.h"
#include "record/result.h"

struct explain_options {
  int64_t now_unix;   /* seconds, for "expired N days ago"; 0 = do not compare dates */
  unsigned smtp_port; /* port the probes used (25 outside labs); shown only when not 25 */
  /* The Public Suffix List for the DNS operator of each NS target of an NS
   * lookup (check --ns-lookup; the operator of domain_dns_operators,
   * record/provider.h); NULL: the targets are shown without operators. */
  const struct provider_list *providers;
};

/* Returns the explanation of result as a NUL-terminated string the caller
 * frees with free(), ending with a newline; NULL only when out of memory.
 * result and every host it links to are only read. A record without probe
 * details (DNS-only mode) is explained from its DNS facts. */
char *explain_domain(const struct domain_result *result, const struct explain_options *options);

#endif
