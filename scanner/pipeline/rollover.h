/* Rollover readiness of an MX host (issue 19): which of its usable TLSA
 * records match the chains its addresses presented, the rollover class that
 * follows (rules_rollover_truth) and the hazard flags a renewal would trip
 * over. It reads the host's records and probe details, writes only
 * host->rollover and host->flags, and does no I/O. */
#ifndef DANESCAN_PIPELINE_ROLLOVER_H
#define DANESCAN_PIPELINE_ROLLOVER_H

#include <stdint.h>

#include "record/result.h"
#include "tls/chain_match.h"

struct rollover_context {
  const struct chain_store *public_cas; /* WebPKI roots (--ca-file or the system store); NULL: no
                                           ta-public-intermediate judgement */
  int64_t now_unix;                     /* for leaf-expires-soon */
  unsigned warn_days;                   /* --expiry-warn-days */
};

/* From the records alone (any probe mode): sets ee-selector-0 when a usable
 * DANE-EE record has selector 0 (the whole certificate: every renewal
 * changes it, even when the key is kept). Call after the TLSA lookup. */
void rollover_flags_from_records(struct mx_host *host);

/* After the probes of a host with usable secure TLSA. When at least one
 * address presented a chain: replaces host->rollover (the records-only
 * class of rules_rollover_class) with the truth of rules_rollover_truth, and
 * sets single-key (class single: every usable record matches the presented
 * leaf, no next), ta-public-intermediate (a usable 2 x x matches a presented
 * certificate above the leaf that a public CA of ctx issued) and
 * leaf-expires-soon (a presented leaf is still valid at now but its
 * notAfter is before now + warn_days).
 * A record matches when danescan's own comparison finds its certificate or
 * key in a presented chain (leaf: usage 3, or usage 2 at depth 0; above:
 * usage 2 at depth > 0), when it matches the leaf of the second handshake
 * of another key type (3 x 1 records), or when OpenSSL reported it as the
 * matched record. Without a presented chain (unreachable, borrowed from
 * another worker) nothing changes. Returns 0, or -1 when out of memory
 * (nothing changed). */
int rollover_judge(struct mx_host *host, const struct rollover_context *ctx);

#endif
