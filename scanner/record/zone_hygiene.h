/* DNSSEC hygiene of one zone (issue 19): what its DNSKEY, DS and NSEC3PARAM
 * answers say about its algorithms, key sizes, DS digest types and denial of
 * existence, judged by RFC 8624 (algorithm and digest requirements) and RFC
 * 9276 (NSEC3 parameters), and the earliest RRSIG expiration over its DNSKEY
 * RRset. It reads the validating resolver's answers (DO set); it neither
 * looks anything up (pipeline/zone_cache.h does) nor validates. Pure: no
 * clock, no I/O; the caller passes "now" where a date matters. */
#ifndef DANESCAN_RECORD_ZONE_HYGIENE_H
#define DANESCAN_RECORD_ZONE_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "record/status.h"

#define ZONE_HYGIENE_MAX_KEYS 8 /* DNSKEYs kept per zone (a hostile zone may publish hundreds) */
#define ZONE_HYGIENE_MAX_DS 8

/* RFC 8624 section 3.1 / 3.3 requirement levels ("unassigned": not in its tables). */
enum rfc8624_level {
  RFC8624_UNASSIGNED = 0,
  RFC8624_MUST_NOT,
  RFC8624_NOT_RECOMMENDED,
  RFC8624_MAY,
  RFC8624_RECOMMENDED,
  RFC8624_MUST,
};
const char *rfc8624_level_name(enum rfc8624_level level); /* "must-not", "not-recommended", ... */

/* RFC 8624 3.1: DNSKEY algorithm, column "DNSSEC Signing" and "DNSSEC Validation". */
enum rfc8624_level rfc8624_algorithm_signing(uint8_t algorithm);
enum rfc8624_level rfc8624_algorithm_validation(uint8_t algorithm);
/* RFC 8624 3.3: DS digest type, column "DNSSEC Delegation" and "DNSSEC Validation". */
enum rfc8624_level rfc8624_digest_delegation(uint8_t digest_type);
enum rfc8624_level rfc8624_digest_validation(uint8_t digest_type);
/* Mnemonic of a DNSKEY algorithm ("RSASHA256") or a DS digest type ("SHA-256"); "unknown". */
const char *dnssec_algorithm_mnemonic(uint8_t algorithm);
const char *ds_digest_mnemonic(uint8_t digest_type);

enum zone_denial { ZONE_DENIAL_UNKNOWN = 0, ZONE_DENIAL_NSEC, ZONE_DENIAL_NSEC3 };
const char *zone_denial_name(enum zone_denial denial); /* NULL for unknown */

/* RFC 9276 verdict on NSEC3 parameters. Iterations above this count are
 * treated as insecure by the validators in use (Unbound's default
 * val-nsec3-keysize-iterations "1024 150 2048 150 4096 150", BIND 9's
 * maximum of 150; RFC 9276 3.2 lets a validator do so for any count above 0). */
#define RFC9276_RESOLVER_ITERATION_LIMIT 150
enum nsec3_verdict {
  NSEC3_VERDICT_NONE = 0,            /* not NSEC3 */
  NSEC3_VERDICT_RECOMMENDED,         /* iterations 0 and an empty salt (RFC 9276 3.1) */
  NSEC3_VERDICT_NOT_RECOMMENDED,     /* a salt, or 1..150 iterations: against 3.1, validators MAY treat as insecure */
  NSEC3_VERDICT_INSECURE_ITERATIONS, /* more than 150 iterations: validators treat the zone's denials as insecure */
};
const char *nsec3_verdict_name(enum nsec3_verdict verdict); /* NULL for none */
enum nsec3_verdict rfc9276_verdict(uint16_t iterations, uint8_t salt_length);

/* Findings per zone, in output order (zone_hygiene_flag_name). */
enum zone_hygiene_flag {
  ZONE_FLAG_ALG_MUST_NOT = 1u << 0, /* a DNSKEY algorithm RFC 8624 says MUST NOT be used for signing */
  ZONE_FLAG_ALG_NOT_RECOMMENDED =
      1u << 1,                            /* ... NOT RECOMMENDED for signing (RSASHA1, RSASHA1-NSEC3-SHA1, RSASHA512) */
  ZONE_FLAG_DS_SHA1 = 1u << 2,            /* a DS of digest type 1 (SHA-1: MUST NOT for delegation) */
  ZONE_FLAG_DS_DIGEST_MUST_NOT = 1u << 3, /* a DS of digest type 0 or 3 (GOST) */
  ZONE_FLAG_NSEC3_SALT = 1u << 4,         /* NSEC3 with a salt (RFC 9276 3.1: SHOULD NOT) */
  ZONE_FLAG_NSEC3_ITERATIONS = 1u << 5,   /* NSEC3 with iterations above 0 (RFC 9276 3.1: MUST be 0) */
  ZONE_FLAG_NSEC3_INSECURE_ITERATIONS = 1u << 6, /* above RFC9276_RESOLVER_ITERATION_LIMIT */
  ZONE_FLAG_RRSIG_EXPIRES_SOON = 1u << 7, /* an RRSIG over DNSKEY, MX or TLSA used expires within the warn days */
};
#define ZONE_FLAG_COUNT 8
const char *zone_hygiene_flag_name(unsigned bit_index);

struct zone_key {
  uint8_t algorithm;
  uint16_t flags; /* DNSKEY flags: 257 a KSK (SEP), 256 a ZSK */
  uint16_t key_tag;
  uint32_t bits; /* key size as ldns_rr_dnskey_key_size counts it (RSA modulus, curve size) */
};

struct zone_ds {
  uint16_t key_tag;
  uint8_t algorithm;
  uint8_t digest_type;
};

struct zone_hygiene {
  char zone[256]; /* apex, lower case, no trailing dot ("." for the root) */
  struct dns_hygiene_lookup {
    bool done;
    enum dnssec_state state;
    int rcode;
  } dnskey_lookup, ds_lookup, nsec3param_lookup;
  struct zone_key keys[ZONE_HYGIENE_MAX_KEYS];
  size_t key_count; /* kept (at most ZONE_HYGIENE_MAX_KEYS) */
  size_t keys_seen; /* in the answer */
  struct zone_ds ds[ZONE_HYGIENE_MAX_DS];
  size_t ds_count;
  enum zone_denial denial;
  bool nsec3_from_param; /* parameters from the NSEC3PARAM RRset (else from an NSEC3 in the authority section) */
  uint16_t nsec3_iterations;
  uint8_t nsec3_salt_length;
  int64_t dnskey_rrsig_expires; /* Unix seconds, earliest RRSIG over the DNSKEY RRset; 0: none seen */
  unsigned flags;               /* enum zone_hygiene_flag bits that do not depend on the date */
};

/* Resets h for zone (copied, truncated to fit). */
void zone_hygiene_init(struct zone_hygiene *h, const char *zone);

/* Reads the answers to DNSKEY, DS and NSEC3PARAM at the apex (any may be
 * NULL: not answered). Records are taken only at the apex name; the state and
 * rcode are the caller's (the DNS client's). Sets the date-free flags. */
void zone_hygiene_take_dnskey(struct zone_hygiene *h, const ldns_pkt *packet, enum dnssec_state state, int rcode);
void zone_hygiene_take_ds(struct zone_hygiene *h, const ldns_pkt *packet, enum dnssec_state state, int rcode);
void zone_hygiene_take_nsec3param(struct zone_hygiene *h, const ldns_pkt *packet, enum dnssec_state state, int rcode);

/* Flags of h as seen by one domain: h->flags, plus rrsig-expires-soon when the
 * earliest of h's DNSKEY RRSIGs and used_rrsig_expires (the MX/TLSA RRsets of
 * the domain in this zone; 0: none) is before now + warn_days. *earliest (may
 * be NULL) receives that earliest expiration, 0 when none is known. */
unsigned zone_hygiene_flags_at(const struct zone_hygiene *h, int64_t used_rrsig_expires, int64_t now,
                               unsigned warn_days, int64_t *earliest);

/* The signer name of the first RRSIG in the answer section covering type at
 * owner (the zone the RRset belongs to), as lower case text without the
 * trailing dot, into out. Returns 0, or -1 when there is none. *expires (may
 * be NULL) receives the earliest expiration over those RRSIGs. */
int zone_signer_of(const ldns_pkt *packet, const ldns_rdf *owner, ldns_rr_type type, char *out, size_t out_len,
                   int64_t *expires);

#endif
