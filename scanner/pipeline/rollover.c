/* Rollover truth and hazards from the records and the presented chains. */
#include "pipeline/rollover.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/rules.h"
#include "record/probe_detail.h"

void rollover_flags_from_records(struct mx_host *host) {
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *record = &host->tlsa_records[i];
    if (record->usable && record->usage == TLSA_USAGE_DANE_EE && record->selector == TLSA_SELECTOR_CERT) {
      host->flags |= MX_FLAG_EE_SELECTOR_0;
    }
  }
}

static void note_match(enum rules_record_match *match, const struct tlsa_record *record, int depth) {
  enum rules_record_match found = RULES_MATCH_NONE;
  if (record->usage == TLSA_USAGE_DANE_EE && depth == 0) found = RULES_MATCH_LEAF;
  if (record->usage == TLSA_USAGE_DANE_TA) found = depth == 0 ? RULES_MATCH_LEAF : RULES_MATCH_ABOVE;
  if (found > *match) *match = found;
}

/* A 3 x 1 record against a leaf known only by its digests (the handshake of
 * the other key type keeps no DER). */
static bool match_leaf_digest(const struct tlsa_record *record, const struct probe_key_type_result *key) {
  if (record->matching_type != TLSA_MATCHING_SHA256 || record->data_len != 32) return false;
  if (record->selector == TLSA_SELECTOR_CERT) return memcmp(record->data, key->leaf_sha256, 32) == 0;
  return key->has_leaf_spki_sha256 && memcmp(record->data, key->leaf_spki_sha256, 32) == 0;
}

int rollover_judge(struct mx_host *host, const struct rollover_context *ctx) {
  bool presented = false, leaf_soon = false;
  int64_t horizon = ctx->now_unix + (int64_t)ctx->warn_days * 86400;
  for (size_t a = 0; a < host->address_count; a++) {
    const struct probe_detail *detail = host->addresses[a].probe;
    if (detail == NULL || detail->chain_count == 0) continue;
    presented = true;
    /* Still valid, but not for long: the renewal is due. (An expired
     * leaf is expires-soon's business: cert-expired or a harmless DANE-EE.) */
    if (detail->leaf_not_after >= ctx->now_unix && detail->leaf_not_after < horizon) leaf_soon = true;
  }
  if (!presented || host->tlsa_count == 0) return 0;
  enum rules_record_match *match = calloc(host->tlsa_count, sizeof *match);
  if (match == NULL) return -1;
  bool public_intermediate = false;
  for (size_t a = 0; a < host->address_count; a++) {
    const struct probe_detail *detail = host->addresses[a].probe;
    if (detail == NULL) continue;
    for (size_t i = 0; i < host->tlsa_count; i++) {
      const struct tlsa_record *record = &host->tlsa_records[i];
      if (!record->usable) continue;
      for (size_t depth = 0; depth < detail->chain_count; depth++) {
        if (detail->chain_der == NULL || detail->chain_der[depth] == NULL) continue;
        if (!chain_match_der(record, detail->chain_der[depth], detail->chain_der_len[depth])) continue;
        note_match(&match[i], record, (int)depth);
        if (record->usage == TLSA_USAGE_DANE_TA && depth > 0 &&
            chain_store_issued_by_public_ca(ctx->public_cas, detail->chain_der[depth], detail->chain_der_len[depth])) {
          public_intermediate = true;
        }
      }
      for (int k = 0; k < PROBE_KEY_KIND_COUNT; k++) {
        const struct probe_key_type_result *key = &detail->key_types[k];
        if (key->present && match_leaf_digest(record, key)) note_match(&match[i], record, 0);
        if (key->present && key->matched_tlsa_index == (int)i) note_match(&match[i], record, key->match_depth);
      }
      if (detail->matched_tlsa_index == (int)i) note_match(&match[i], record, detail->match_depth);
    }
  }
  host->rollover = rules_rollover_truth(host->tlsa_records, match, host->tlsa_count);
  free(match);
  if (host->rollover == ROLLOVER_SINGLE) host->flags |= MX_FLAG_SINGLE_KEY;
  if (public_intermediate) host->flags |= MX_FLAG_TA_PUBLIC_INTERMEDIATE;
  if (leaf_soon) host->flags |= MX_FLAG_LEAF_EXPIRES_SOON;
  return 0;
}
