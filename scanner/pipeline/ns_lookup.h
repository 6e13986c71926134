/* The NS step of a domain's journey (scan --ns-lookup): for a name whose
 * input gave no NS records (domain lists and CSV top lists), one NS lookup
 * through the scan's DNS client, read into the same text a zone input gives
 * (domain_result.ns: normalised host names, distinct, space-separated, in
 * answer order), so DNS-operator attribution (store/pg_rows.c,
 * domain_dns_operators) is the same for both.
 *
 * What counts as the domain's NS RRset: NS records in the answer section
 * owned by the name itself, in a NOERROR answer that is secure or insecure.
 * NS names attribute a domain to its DNS operator; they are not a security
 * claim, so an insecure (unsigned) answer is kept like a secure one. No NS
 * RRset at the name (NODATA: the name is not a zone apex; NXDOMAIN; a CNAME
 * at the name, whose target's NS are not the name's) gives no NS: the tree
 * is not walked up to the enclosing zone, whose operator may not be the
 * domain's. A bogus or failed lookup (SERVFAIL, timeout after the client's
 * retries, REFUSED, ...) gives no NS either and is counted apart. */
#ifndef DANESCAN_PIPELINE_NS_LOOKUP_H
#define DANESCAN_PIPELINE_NS_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns_client.h"

enum ns_lookup_outcome {
  NS_LOOKUP_FOUND,  /* at least one NS target: out holds them */
  NS_LOOKUP_NONE,   /* answered, no NS RRset at the name (NODATA, NXDOMAIN, CNAME) */
  NS_LOOKUP_FAILED, /* bogus or failed: no answer to read */
};

/* The scan's NS-lookup counters (scan --ns-lookup; all 0 without it):
 * lookups started (one per domain without input NS, so also the extra
 * lookups the option costs) and how they ended. */
struct ns_lookup_stats {
  uint64_t lookups;
  uint64_t found;
  uint64_t no_ns;
  uint64_t failed;
};

/* Reads the NS targets of name (presentation form, no trailing dot) from
 * answer into out (NUL-terminated; "" unless NS_LOOKUP_FOUND). Targets
 * that are not host names (the root) are left out, and those past out_len
 * (the same bound as a zone input's, input.h INPUT_NS_MAX_BYTES). */
enum ns_lookup_outcome ns_lookup_read(const struct dns_answer *answer, const char *name, char *out, size_t out_len);

/* Adds one outcome to stats (lookups is counted when the lookup starts). */
void ns_lookup_count(struct ns_lookup_stats *stats, enum ns_lookup_outcome outcome);

#endif
