/* DNSSEC hygiene in `danescan check`: zone by zone, facts then fixes. */
#include "report/explain_hygiene.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "record/zone_hygiene.h"

#define SECONDS_PER_DAY 86400

static size_t fix(FILE *fixes, const char *format, ...) __attribute__((format(printf, 2, 3)));
static size_t fix(FILE *fixes, const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("  - ", fixes);
  vfprintf(fixes, format, args);
  fputc('\n', fixes);
  va_end(args);
  return 1;
}

static void roles_text(const struct domain_zone *zone, char *out, size_t out_len) {
  snprintf(out, out_len, "%s%s%s", zone->mx ? "MX" : "", zone->mx && zone->tlsa ? " and " : "",
           zone->tlsa ? "TLSA" : "");
}

/* The algorithms of the zone's keys that carry flag-worthy RFC 8624 levels, as "RSASHA1 (5)". */
static void algorithms_at(const struct zone_hygiene *zone, enum rfc8624_level level, char *out, size_t out_len) {
  out[0] = '\0';
  size_t used = 0;
  for (size_t i = 0; i < zone->key_count; i++) {
    uint8_t alg = zone->keys[i].algorithm;
    if (rfc8624_algorithm_signing(alg) != level) continue;
    bool seen = false;
    for (size_t j = 0; j < i; j++) seen = seen || zone->keys[j].algorithm == alg;
    if (seen) continue;
    int n = snprintf(out + used, out_len - used, "%s%s (%u)", used > 0 ? ", " : "", dnssec_algorithm_mnemonic(alg),
                     (unsigned)alg);
    if (n < 0 || (size_t)n >= out_len - used) break;
    used += (size_t)n;
  }
}

static void describe_zone(FILE *out, const struct domain_zone *domain_zone, int64_t now_unix) {
  const struct zone_hygiene *zone = domain_zone->zone;
  char roles[32];
  roles_text(domain_zone, roles, sizeof roles);
  fprintf(out, "  zone %s (%s records):", zone->zone, roles);
  if (zone->dnskey_lookup.done && zone->dnskey_lookup.state != DNSSEC_SECURE) {
    fprintf(out, " DNSKEY lookup %s", dnssec_state_name(zone->dnskey_lookup.state));
  }
  fputc('\n', out);
  for (size_t i = 0; i < zone->key_count; i++) {
    const struct zone_key *key = &zone->keys[i];
    fprintf(out, "    DNSKEY %s tag %u: algorithm %u %s, %" PRIu32 " bits; RFC 8624 signing %s, validation %s\n",
            (key->flags & 1) ? "KSK" : "ZSK", (unsigned)key->key_tag, (unsigned)key->algorithm,
            dnssec_algorithm_mnemonic(key->algorithm), key->bits,
            rfc8624_level_name(rfc8624_algorithm_signing(key->algorithm)),
            rfc8624_level_name(rfc8624_algorithm_validation(key->algorithm)));
  }
  if (zone->ds_count == 0) fprintf(out, "    DS: none seen in the parent\n");
  for (size_t i = 0; i < zone->ds_count; i++) {
    const struct zone_ds *ds = &zone->ds[i];
    fprintf(out, "    DS tag %u: digest type %u %s; RFC 8624 delegation %s, validation %s\n", (unsigned)ds->key_tag,
            (unsigned)ds->digest_type, ds_digest_mnemonic(ds->digest_type),
            rfc8624_level_name(rfc8624_digest_delegation(ds->digest_type)),
            rfc8624_level_name(rfc8624_digest_validation(ds->digest_type)));
  }
  if (zone->denial == ZONE_DENIAL_NSEC3) {
    fprintf(out, "    denial: NSEC3, %u iterations, salt of %u bytes (from %s); RFC 9276: %s\n",
            (unsigned)zone->nsec3_iterations, (unsigned)zone->nsec3_salt_length,
            zone->nsec3_from_param ? "NSEC3PARAM" : "an NSEC3 record",
            nsec3_verdict_name(rfc9276_verdict(zone->nsec3_iterations, zone->nsec3_salt_length)));
  } else if (zone->denial == ZONE_DENIAL_NSEC) {
    fprintf(out, "    denial: NSEC\n");
  } else {
    fprintf(out, "    denial: not seen\n");
  }
  if (domain_zone->rrsig_expires > 0 && now_unix > 0) {
    fprintf(out, "    earliest RRSIG expiration (DNSKEY, %s): in %" PRId64 " days\n", roles,
            (domain_zone->rrsig_expires - now_unix) / SECONDS_PER_DAY);
  }
}

static size_t zone_fixes(FILE *fixes, const struct domain_zone *domain_zone, int64_t now_unix) {
  const struct zone_hygiene *zone = domain_zone->zone;
  unsigned flags = domain_zone->flags;
  size_t count = 0;
  char algs[256];
  if (flags & ZONE_FLAG_ALG_MUST_NOT) {
    algorithms_at(zone, RFC8624_MUST_NOT, algs, sizeof algs);
    count += fix(fixes,
                 "Zone %s is signed with %s, which RFC 8624 says MUST NOT be used for signing (alg-must-not): "
                 "validators may treat the zone as unsigned, so its TLSA records protect nothing. Re-sign with "
                 "algorithm 13 (ECDSAP256SHA256) or 15 (ED25519), with an algorithm rollover (RFC 6781 4.1.4).",
                 zone->zone, algs);
  }
  if (flags & ZONE_FLAG_ALG_NOT_RECOMMENDED) {
    algorithms_at(zone, RFC8624_NOT_RECOMMENDED, algs, sizeof algs);
    count += fix(fixes,
                 "Zone %s is signed with %s, NOT RECOMMENDED for signing by RFC 8624 (alg-not-recommended; "
                 "SHA-1 based algorithms are being dropped by validators). Re-sign with algorithm 13 "
                 "(ECDSAP256SHA256) or 15 (ED25519), with an algorithm rollover (RFC 6781 4.1.4).",
                 zone->zone, algs);
  }
  if (flags & ZONE_FLAG_DS_SHA1) {
    count += fix(fixes,
                 "The parent of %s publishes a DS with digest type 1 (SHA-1, ds-sha1), which RFC 8624 says MUST "
                 "NOT be used for delegation. Move to a SHA-256 DS (digest type 2): publish it at the registrar, "
                 "then remove the SHA-1 one.",
                 zone->zone);
  }
  if (flags & ZONE_FLAG_DS_DIGEST_MUST_NOT) {
    count += fix(fixes,
                 "The parent of %s publishes a DS with a digest type that RFC 8624 says MUST NOT be used "
                 "(ds-digest-must-not: 0 or 3, GOST). Move to a SHA-256 DS (digest type 2).",
                 zone->zone);
  }
  if (flags & ZONE_FLAG_NSEC3_INSECURE_ITERATIONS) {
    count += fix(fixes,
                 "Zone %s uses NSEC3 with %u iterations (nsec3-insecure-iterations): above %d, validators such as "
                 "Unbound and BIND treat its denials of existence as insecure (RFC 9276 3.2), so a missing record "
                 "(an AAAA, a TLSA) is no longer proven missing and DANE can silently turn off. Re-sign with NSEC3 "
                 "iterations 0 and no salt (RFC 9276 3.1), or with NSEC.",
                 zone->zone, (unsigned)zone->nsec3_iterations, RFC9276_RESOLVER_ITERATION_LIMIT);
  } else if (flags & (ZONE_FLAG_NSEC3_ITERATIONS | ZONE_FLAG_NSEC3_SALT)) {
    count += fix(fixes,
                 "Zone %s uses NSEC3 with %u iterations and a salt of %u bytes (%s%s%s): RFC 9276 3.1 asks for "
                 "iterations 0 and no salt, and validators MAY treat higher counts as insecure. Re-sign with NSEC3 "
                 "iterations 0, no salt.",
                 zone->zone, (unsigned)zone->nsec3_iterations, (unsigned)zone->nsec3_salt_length,
                 (flags & ZONE_FLAG_NSEC3_ITERATIONS) ? "nsec3-iterations" : "",
                 (flags & ZONE_FLAG_NSEC3_ITERATIONS) && (flags & ZONE_FLAG_NSEC3_SALT) ? ", " : "",
                 (flags & ZONE_FLAG_NSEC3_SALT) ? "nsec3-salt" : "");
  }
  if (flags & ZONE_FLAG_RRSIG_EXPIRES_SOON) {
    char when[64] = "";
    if (domain_zone->rrsig_expires > 0 && now_unix > 0) {
      snprintf(when, sizeof when, " in %" PRId64 " days", (domain_zone->rrsig_expires - now_unix) / SECONDS_PER_DAY);
    }
    char roles[32];
    roles_text(domain_zone, roles, sizeof roles);
    count += fix(fixes,
                 "DNSSEC signatures of zone %s (over its DNSKEY or the %s records used) expire%s "
                 "(rrsig-expires-soon): re-sign the zone before the expiration, and check that its signer "
                 "re-signs automatically; after it, validating senders get SERVFAIL and defer mail.",
                 zone->zone, roles, when);
  }
  return count;
}

size_t explain_hygiene(const struct domain_result *result, int64_t now_unix, FILE *out, FILE *fixes) {
  if (result->zone_count == 0) return 0;
  fprintf(out, "\nDNSSEC hygiene (zones of the MX and TLSA records):\n");
  size_t count = 0;
  for (size_t i = 0; i < result->zone_count; i++) {
    if (result->zones[i].zone == NULL) continue;
    describe_zone(out, &result->zones[i], now_unix);
    count += zone_fixes(fixes, &result->zones[i], now_unix);
  }
  return count;
}
