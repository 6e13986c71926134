/* The MTA-STS and TLS-RPT part of `danescan check`'s explanation
 * (explain.h): what was looked up, the policy, each MX host's match, the
 * status and, for a failure, what to fix (RFC 8461, RFC 8460). A pure
 * function of the record, like explain.c. */
#ifndef DANESCAN_REPORT_EXPLAIN_STS_H
#define DANESCAN_REPORT_EXPLAIN_STS_H

#include <stddef.h>
#include <stdio.h>

#include "record/result.h"

/* Writes the section to out and one "  - ..." line per fix to fixes.
 * Writes nothing when the record has no MTA-STS result. Returns the number
 * of fixes written. */
size_t explain_mta_sts(const struct domain_result *result, FILE *out, FILE *fixes);

#endif
