/* DNSSEC hygiene of one zone: RFC 8624 and RFC 9276 judged on the resolver's answers. */
#include "record/zone_hygiene.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *rfc8624_level_name(enum rfc8624_level level) {
  switch (level) {
  case RFC8624_MUST_NOT:
    return "must-not";
  case RFC8624_NOT_RECOMMENDED:
    return "not-recommended";
  case RFC8624_MAY:
    return "may";
  case RFC8624_RECOMMENDED:
    return "recommended";
  case RFC8624_MUST:
    return "must";
  case RFC8624_UNASSIGNED:
    break;
  }
  return "unassigned";
}

/* RFC 8624 3.1, one row per algorithm: number, mnemonic, signing, validation. */
static const struct {
  uint8_t number;
  const char *mnemonic;
  enum rfc8624_level signing, validation;
} algorithms[] = {
    {1, "RSAMD5", RFC8624_MUST_NOT, RFC8624_MUST_NOT},
    {3, "DSA", RFC8624_MUST_NOT, RFC8624_MUST_NOT},
    {5, "RSASHA1", RFC8624_NOT_RECOMMENDED, RFC8624_MUST},
    {6, "DSA-NSEC3-SHA1", RFC8624_MUST_NOT, RFC8624_MUST_NOT},
    {7, "RSASHA1-NSEC3-SHA1", RFC8624_NOT_RECOMMENDED, RFC8624_MUST},
    {8, "RSASHA256", RFC8624_MUST, RFC8624_MUST},
    {10, "RSASHA512", RFC8624_NOT_RECOMMENDED, RFC8624_MUST},
    {12, "ECC-GOST", RFC8624_MUST_NOT, RFC8624_MAY},
    {13, "ECDSAP256SHA256", RFC8624_MUST, RFC8624_MUST},
    {14, "ECDSAP384SHA384", RFC8624_MAY, RFC8624_RECOMMENDED},
    {15, "ED25519", RFC8624_RECOMMENDED, RFC8624_RECOMMENDED},
    {16, "ED448", RFC8624_MAY, RFC8624_RECOMMENDED},
};

/* RFC 8624 3.3: number, mnemonic, delegation, validation. */
static const struct {
  uint8_t number;
  const char *mnemonic;
  enum rfc8624_level delegation, validation;
} digests[] = {
    {0, "NULL", RFC8624_MUST_NOT, RFC8624_MUST_NOT},  {1, "SHA-1", RFC8624_MUST_NOT, RFC8624_MUST},
    {2, "SHA-256", RFC8624_MUST, RFC8624_MUST},       {3, "GOST R 34.11-94", RFC8624_MUST_NOT, RFC8624_MAY},
    {4, "SHA-384", RFC8624_MAY, RFC8624_RECOMMENDED},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

enum rfc8624_level rfc8624_algorithm_signing(uint8_t algorithm) {
  for (size_t i = 0; i < COUNT_OF(algorithms); i++) {
    if (algorithms[i].number == algorithm) return algorithms[i].signing;
  }
  return RFC8624_UNASSIGNED;
}

enum rfc8624_level rfc8624_algorithm_validation(uint8_t algorithm) {
  for (size_t i = 0; i < COUNT_OF(algorithms); i++) {
    if (algorithms[i].number == algorithm) return algorithms[i].validation;
  }
  return RFC8624_UNASSIGNED;
}

enum rfc8624_level rfc8624_digest_delegation(uint8_t digest_type) {
  for (size_t i = 0; i < COUNT_OF(digests); i++) {
    if (digests[i].number == digest_type) return digests[i].delegation;
  }
  return RFC8624_UNASSIGNED;
}

enum rfc8624_level rfc8624_digest_validation(uint8_t digest_type) {
  for (size_t i = 0; i < COUNT_OF(digests); i++) {
    if (digests[i].number == digest_type) return digests[i].validation;
  }
  return RFC8624_UNASSIGNED;
}

const char *dnssec_algorithm_mnemonic(uint8_t algorithm) {
  for (size_t i = 0; i < COUNT_OF(algorithms); i++) {
    if (algorithms[i].number == algorithm) return algorithms[i].mnemonic;
  }
  return "unknown";
}

const char *ds_digest_mnemonic(uint8_t digest_type) {
  for (size_t i = 0; i < COUNT_OF(digests); i++) {
    if (digests[i].number == digest_type) return digests[i].mnemonic;
  }
  return "unknown";
}

const char *zone_denial_name(enum zone_denial denial) {
  switch (denial) {
  case ZONE_DENIAL_NSEC:
    return "nsec";
  case ZONE_DENIAL_NSEC3:
    return "nsec3";
  case ZONE_DENIAL_UNKNOWN:
    break;
  }
  return NULL;
}

const char *nsec3_verdict_name(enum nsec3_verdict verdict) {
  switch (verdict) {
  case NSEC3_VERDICT_RECOMMENDED:
    return "recommended";
  case NSEC3_VERDICT_NOT_RECOMMENDED:
    return "not-recommended";
  case NSEC3_VERDICT_INSECURE_ITERATIONS:
    return "insecure-iterations";
  case NSEC3_VERDICT_NONE:
    break;
  }
  return NULL;
}

enum nsec3_verdict rfc9276_verdict(uint16_t iterations, uint8_t salt_length) {
  if (iterations > RFC9276_RESOLVER_ITERATION_LIMIT) return NSEC3_VERDICT_INSECURE_ITERATIONS;
  if (iterations > 0 || salt_length > 0) return NSEC3_VERDICT_NOT_RECOMMENDED;
  return NSEC3_VERDICT_RECOMMENDED;
}

static const char *const flag_names[ZONE_FLAG_COUNT] = {
    "alg-must-not",
    "alg-not-recommended",
    "ds-sha1",
    "ds-digest-must-not",
    "nsec3-salt",
    "nsec3-iterations",
    "nsec3-insecure-iterations",
    "rrsig-expires-soon",
};

const char *zone_hygiene_flag_name(unsigned bit_index) {
  return bit_index < ZONE_FLAG_COUNT ? flag_names[bit_index] : "unknown";
}

void zone_hygiene_init(struct zone_hygiene *h, const char *zone) {
  memset(h, 0, sizeof *h);
  snprintf(h->zone, sizeof h->zone, "%s", zone);
  h->dnskey_lookup.rcode = h->ds_lookup.rcode = h->nsec3param_lookup.rcode = -1;
}

static bool owner_is(const ldns_rr *rr, const char *zone) {
  char text[256];
  ldns_rdf *owner = ldns_rr_owner(rr);
  if (owner == NULL) return false;
  char *s = ldns_rdf2str(owner);
  if (s == NULL) return false;
  size_t len = strlen(s);
  if (len > 1 && s[len - 1] == '.') s[--len] = '\0';
  snprintf(text, sizeof text, "%s", s);
  LDNS_FREE(s);
  for (char *p = text; *p; p++) *p = (char)tolower((unsigned char)*p);
  return strcmp(text, zone) == 0;
}

static void note_lookup(struct dns_hygiene_lookup *lookup, enum dnssec_state state, int rcode) {
  lookup->done = true;
  lookup->state = state;
  lookup->rcode = rcode;
}

static void set_key_flags(struct zone_hygiene *h) {
  for (size_t i = 0; i < h->key_count; i++) {
    enum rfc8624_level level = rfc8624_algorithm_signing(h->keys[i].algorithm);
    if (level == RFC8624_MUST_NOT) h->flags |= ZONE_FLAG_ALG_MUST_NOT;
    if (level == RFC8624_NOT_RECOMMENDED) h->flags |= ZONE_FLAG_ALG_NOT_RECOMMENDED;
  }
}

void zone_hygiene_take_dnskey(struct zone_hygiene *h, const ldns_pkt *packet, enum dnssec_state state, int rcode) {
  note_lookup(&h->dnskey_lookup, state, rcode);
  if (packet == NULL) return;
  const ldns_rr_list *rrs = ldns_pkt_answer(packet);
  for (size_t i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++) {
    const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
    ldns_rr_type type = ldns_rr_get_type(rr);
    if (type == LDNS_RR_TYPE_DNSKEY && ldns_rr_rd_count(rr) >= 4 && owner_is(rr, h->zone)) {
      h->keys_seen++;
      if (h->key_count == ZONE_HYGIENE_MAX_KEYS) continue;
      struct zone_key *key = &h->keys[h->key_count++];
      key->flags = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
      key->algorithm = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
      key->key_tag = ldns_calc_keytag(rr);
      key->bits = (uint32_t)ldns_rr_dnskey_key_size(rr);
    } else if (type == LDNS_RR_TYPE_RRSIG && owner_is(rr, h->zone)) {
      ldns_rdf *covered = ldns_rr_rrsig_typecovered(rr);
      ldns_rdf *expiration = ldns_rr_rrsig_expiration(rr);
      if (covered == NULL || expiration == NULL || ldns_rdf2rr_type(covered) != LDNS_RR_TYPE_DNSKEY) continue;
      int64_t expires = (int64_t)ldns_rdf2native_time_t(expiration);
      if (expires > 0 && (h->dnskey_rrsig_expires == 0 || expires < h->dnskey_rrsig_expires)) {
        h->dnskey_rrsig_expires = expires;
      }
    }
  }
  set_key_flags(h);
}

void zone_hygiene_take_ds(struct zone_hygiene *h, const ldns_pkt *packet, enum dnssec_state state, int rcode) {
  note_lookup(&h->ds_lookup, state, rcode);
  if (packet == NULL) return;
  const ldns_rr_list *rrs = ldns_pkt_answer(packet);
  for (size_t i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++) {
    const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DS || ldns_rr_rd_count(rr) < 4 || !owner_is(rr, h->zone)) continue;
    if (h->ds_count == ZONE_HYGIENE_MAX_DS) break;
    struct zone_ds *ds = &h->ds[h->ds_count++];
    ds->key_tag = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
    ds->algorithm = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
    ds->digest_type = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
    if (ds->digest_type == 1) h->flags |= ZONE_FLAG_DS_SHA1;
    else if (rfc8624_digest_delegation(ds->digest_type) == RFC8624_MUST_NOT) h->flags |= ZONE_FLAG_DS_DIGEST_MUST_NOT;
  }
}

/* Iterations and salt length of an NSEC3 or NSEC3PARAM record (RFC 5155
 * 3.2 / 4.2: hash algorithm, flags, iterations, salt as length + bytes). */
static bool take_nsec3_params(struct zone_hygiene *h, const ldns_rr *rr) {
  if (ldns_rr_rd_count(rr) < 4) return false;
  const ldns_rdf *iterations = ldns_rr_rdf(rr, 2);
  const ldns_rdf *salt = ldns_rr_rdf(rr, 3);
  if (iterations == NULL || ldns_rdf_size(iterations) != 2 || salt == NULL || ldns_rdf_size(salt) < 1) return false;
  h->denial = ZONE_DENIAL_NSEC3;
  h->nsec3_iterations = ldns_rdf2native_int16(iterations);
  h->nsec3_salt_length = ldns_rdf_data(salt)[0];
  return true;
}

void zone_hygiene_take_nsec3param(struct zone_hygiene *h, const ldns_pkt *packet, enum dnssec_state state, int rcode) {
  note_lookup(&h->nsec3param_lookup, state, rcode);
  if (packet == NULL) return;
  /* An NSEC3 zone publishes NSEC3PARAM at its apex with the parameters of
   * its chain (RFC 5155 4); an NSEC zone answers NODATA with the apex NSEC
   * in the authority section (DO is set). */
  const ldns_rr_list *answer = ldns_pkt_answer(packet);
  for (size_t i = 0; answer != NULL && i < ldns_rr_list_rr_count(answer); i++) {
    const ldns_rr *rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC3PARAM && owner_is(rr, h->zone) && take_nsec3_params(h, rr)) {
      h->nsec3_from_param = true;
      break;
    }
  }
  if (h->denial == ZONE_DENIAL_UNKNOWN) {
    const ldns_rr_list *authority = ldns_pkt_authority(packet);
    for (size_t i = 0; authority != NULL && i < ldns_rr_list_rr_count(authority); i++) {
      const ldns_rr *rr = ldns_rr_list_rr(authority, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC && owner_is(rr, h->zone)) {
        h->denial = ZONE_DENIAL_NSEC;
        break;
      }
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC3 && take_nsec3_params(h, rr)) break;
    }
  }
  if (h->denial == ZONE_DENIAL_NSEC3) {
    if (h->nsec3_salt_length > 0) h->flags |= ZONE_FLAG_NSEC3_SALT;
    if (h->nsec3_iterations > 0) h->flags |= ZONE_FLAG_NSEC3_ITERATIONS;
    if (h->nsec3_iterations > RFC9276_RESOLVER_ITERATION_LIMIT) h->flags |= ZONE_FLAG_NSEC3_INSECURE_ITERATIONS;
  }
}

unsigned zone_hygiene_flags_at(const struct zone_hygiene *h, int64_t used_rrsig_expires, int64_t now,
                               unsigned warn_days, int64_t *earliest) {
  int64_t first = h->dnskey_rrsig_expires;
  if (used_rrsig_expires > 0 && (first == 0 || used_rrsig_expires < first)) first = used_rrsig_expires;
  if (earliest != NULL) *earliest = first;
  unsigned flags = h->flags;
  if (first > 0 && first < now + (int64_t)warn_days * 86400) flags |= ZONE_FLAG_RRSIG_EXPIRES_SOON;
  return flags;
}

int zone_signer_of(const ldns_pkt *packet, const ldns_rdf *owner, ldns_rr_type type, char *out, size_t out_len,
                   int64_t *expires) {
  if (expires != NULL) *expires = 0;
  if (packet == NULL || owner == NULL) return -1;
  const ldns_rr_list *rrs = ldns_pkt_answer(packet);
  bool found = false;
  for (size_t i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++) {
    const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || ldns_dname_compare(ldns_rr_owner(rr), owner) != 0) continue;
    ldns_rdf *covered = ldns_rr_rrsig_typecovered(rr);
    ldns_rdf *signer = ldns_rr_rrsig_signame(rr);
    ldns_rdf *expiration = ldns_rr_rrsig_expiration(rr);
    if (covered == NULL || signer == NULL || ldns_rdf2rr_type(covered) != type) continue;
    if (!found) {
      char *s = ldns_rdf2str(signer);
      if (s == NULL) return -1;
      size_t len = strlen(s);
      if (len > 1 && s[len - 1] == '.') s[--len] = '\0';
      if (len >= out_len) {
        LDNS_FREE(s);
        return -1;
      }
      for (size_t k = 0; k <= len; k++) out[k] = (char)tolower((unsigned char)s[k]);
      LDNS_FREE(s);
      found = true;
    }
    if (expires != NULL && expiration != NULL) {
      int64_t e = (int64_t)ldns_rdf2native_time_t(expiration);
      if (e > 0 && (*expires == 0 || e < *expires)) *expires = e;
    }
  }
  return found ? 0 : -1;
}
