/* The DNSSEC hygiene part of `danescan check`'s explanation (explain.h,
 * issue 19): per zone that matters to the domain (its MX zone and its hosts'
 * TLSA zones), the DNSKEY algorithms and key sizes, the DS digest types with
 * their RFC 8624 status, the denial of existence with the RFC 9276 verdict,
 * the earliest RRSIG expiration, and one fix per finding (re-sign with
 * algorithm 13 or 15, SHA-256 DS, NSEC3 iterations 0 without salt, re-sign
 * before the expiration). A pure function of the record, like explain.c. */
#ifndef DANESCAN_REPORT_EXPLAIN_HYGIENE_H
#define DANESCAN_REPORT_EXPLAIN_HYGIENE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "record/result.h"

/* Writes the section to out and one "  - ..." line per finding to fixes;
 * now_unix (0: unknown) turns expirations into days. Writes nothing when
 * the record holds no zone. Returns the number of fixes written. */
size_t explain_hygiene(const struct domain_result *result, int64_t now_unix, FILE *out, FILE *fixes);

#endif
