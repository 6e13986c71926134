/* record/zone_hygiene.c (RFC 8624 / RFC 9276 verdicts read from answers) and
 * report/explain_hygiene.c (check's sentences), on packets built here. */
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "record/zone_hygiene.h"
#include "report/explain_hygiene.h"
#include "unit.h"

#define CHECK_HAS(text, needle) CHECK((text) != NULL && strstr((text), (needle)) != NULL)

static const char *rsasha1_key =
    "hyg.example. 3600 IN DNSKEY 257 3 5 "
    "AwEAAZ0d6w5fOXwcdMXQnSOIARRYd9sFzfPdiRYZKnqCBl2R0ikq6fRkj5Y/6lBS8nv1LnEAEv1p1Uzx/VO9dblasEZxHKAaiIctwFl1IwxUmcl4"
    "jLpJf+9Qzk0n340ElFRlkh2PBFVd2X3t9zcONDrGqAdrteH9DsO87+zrX5Qh84VQeO6rHLpNWFvSp/ZCinV5oYRMbrDreeqY9PXC+g6EqA56zJ+1"
    "6MBa9cCxKP5Q9hlRybIi8oIUu+YyuSgglEczNPgaIsRVUqZGioiPN6DJXYqCqdCo4Kz/EiEP0nIY4QgDalJHAqUviBxe4DXX865Ly1GS9IeEH6yS"
    "Vnsshb84T1M=";

/* A packet with the given RRs (presentation format, NULL-terminated lists) in answer and authority. */
static ldns_pkt *packet(const char *const *answer, const char *const *authority) {
  ldns_pkt *pkt = ldns_pkt_new();
  for (size_t i = 0; answer != NULL && answer[i] != NULL; i++) {
    ldns_rr *rr = NULL;
    CHECK(ldns_rr_new_frm_str(&rr, answer[i], 3600, NULL, NULL) == LDNS_STATUS_OK);
    if (rr != NULL) ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
  }
  for (size_t i = 0; authority != NULL && authority[i] != NULL; i++) {
    ldns_rr *rr = NULL;
    CHECK(ldns_rr_new_frm_str(&rr, authority[i], 3600, NULL, NULL) == LDNS_STATUS_OK);
    if (rr != NULL) ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY, rr);
  }
  return pkt;
}

static void test_rfc8624_tables(void) {
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(1)), "must-not");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(3)), "must-not");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(5)), "not-recommended");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_validation(5)), "must");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(7)), "not-recommended");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(8)), "must");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(12)), "must-not");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_validation(12)), "may");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(13)), "must");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(15)), "recommended");
  CHECK_STR(rfc8624_level_name(rfc8624_algorithm_signing(200)), "unassigned");
  CHECK_STR(dnssec_algorithm_mnemonic(7), "RSASHA1-NSEC3-SHA1");
  CHECK_STR(rfc8624_level_name(rfc8624_digest_delegation(1)), "must-not");
  CHECK_STR(rfc8624_level_name(rfc8624_digest_validation(1)), "must");
  CHECK_STR(rfc8624_level_name(rfc8624_digest_delegation(2)), "must");
  CHECK_STR(rfc8624_level_name(rfc8624_digest_delegation(4)), "may");
  CHECK_STR(ds_digest_mnemonic(2), "SHA-256");
}

static void test_rfc9276_verdict(void) {
  CHECK_STR(nsec3_verdict_name(rfc9276_verdict(0, 0)), "recommended");
  CHECK_STR(nsec3_verdict_name(rfc9276_verdict(0, 8)), "not-recommended");
  CHECK_STR(nsec3_verdict_name(rfc9276_verdict(1, 0)), "not-recommended");
  CHECK_STR(nsec3_verdict_name(rfc9276_verdict(150, 0)), "not-recommended");
  CHECK_STR(nsec3_verdict_name(rfc9276_verdict(151, 0)), "insecure-iterations");
  CHECK(nsec3_verdict_name(NSEC3_VERDICT_NONE) == NULL);
}

static void test_dnskey_and_ds(void) {
  struct zone_hygiene h;
  zone_hygiene_init(&h, "hyg.example");
  const char *answer[] = {
      rsasha1_key,
      "hyg.example. 3600 IN DNSKEY 256 3 13 "
      "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
      "other.example. 3600 IN DNSKEY 257 3 1 AwEAAZ0d", /* another owner: not this zone's */
      "hyg.example. 3600 IN RRSIG DNSKEY 5 2 3600 20270101000000 20261201000000 12088 hyg.example. AAAA",
      "hyg.example. 3600 IN RRSIG DNSKEY 13 2 3600 20261220000000 20261201000000 1 hyg.example. AAAA",
      NULL};
  ldns_pkt *pkt = packet(answer, NULL);
  zone_hygiene_take_dnskey(&h, pkt, DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  ldns_pkt_free(pkt);
  CHECK_INT(h.key_count, 2);
  CHECK_INT(h.keys[0].algorithm, 5);
  CHECK_INT(h.keys[0].bits, 2048);
  CHECK_INT(h.keys[0].flags, 257);
  CHECK_INT(h.keys[0].key_tag, 12088);
  CHECK_INT(h.keys[1].algorithm, 13);
  CHECK_INT(h.keys[1].bits, 256);
  CHECK(h.flags == ZONE_FLAG_ALG_NOT_RECOMMENDED);
  CHECK(h.dnskey_lookup.done && h.dnskey_lookup.state == DNSSEC_SECURE);
  /* 2026-12-20T00:00:00Z, the earlier of the two */
  CHECK_INT(h.dnskey_rrsig_expires, 1797724800);

  const char *ds[] = {"hyg.example. 3600 IN DS 12088 5 1 0123456789abcdef0123456789abcdef01234567",
                      "hyg.example. 3600 IN DS 12088 5 2 "
                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                      NULL};
  pkt = packet(ds, NULL);
  zone_hygiene_take_ds(&h, pkt, DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  ldns_pkt_free(pkt);
  CHECK_INT(h.ds_count, 2);
  CHECK_INT(h.ds[0].digest_type, 1);
  CHECK(h.flags == (ZONE_FLAG_ALG_NOT_RECOMMENDED | ZONE_FLAG_DS_SHA1));

  /* the date: rrsig-expires-soon only within the warn days, from DNSKEY or the RRsets used */
  int64_t earliest = 0;
  unsigned flags = zone_hygiene_flags_at(&h, 0, 1797724800 - 20 * 86400, 14, &earliest);
  CHECK(!(flags & ZONE_FLAG_RRSIG_EXPIRES_SOON));
  CHECK_INT(earliest, 1797724800);
  flags = zone_hygiene_flags_at(&h, 1797724800 - 10 * 86400, 1797724800 - 20 * 86400, 14, &earliest);
  CHECK(flags & ZONE_FLAG_RRSIG_EXPIRES_SOON);
  CHECK_INT(earliest, 1797724800 - 10 * 86400);
  flags = zone_hygiene_flags_at(&h, 0, 1797724800 - 10 * 86400, 14, NULL);
  CHECK(flags & ZONE_FLAG_RRSIG_EXPIRES_SOON);
}

static void test_denial(void) {
  struct zone_hygiene h;
  /* NSEC3PARAM at the apex */
  zone_hygiene_init(&h, "hyg.example");
  const char *param[] = {"hyg.example. 3600 IN NSEC3PARAM 1 0 200 aabbccdd", NULL};
  ldns_pkt *pkt = packet(param, NULL);
  zone_hygiene_take_nsec3param(&h, pkt, DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  ldns_pkt_free(pkt);
  CHECK(h.denial == ZONE_DENIAL_NSEC3 && h.nsec3_from_param);
  CHECK_INT(h.nsec3_iterations, 200);
  CHECK_INT(h.nsec3_salt_length, 4);
  CHECK(h.flags == (ZONE_FLAG_NSEC3_SALT | ZONE_FLAG_NSEC3_ITERATIONS | ZONE_FLAG_NSEC3_INSECURE_ITERATIONS));

  /* NODATA with the apex NSEC: an NSEC zone */
  zone_hygiene_init(&h, "hyg.example");
  const char *nsec[] = {"hyg.example. 3600 IN SOA ns. h. 1 2 3 4 5",
                        "hyg.example. 3600 IN NSEC mx1.hyg.example. NS SOA MX RRSIG NSEC DNSKEY", NULL};
  pkt = packet(NULL, nsec);
  zone_hygiene_take_nsec3param(&h, pkt, DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  ldns_pkt_free(pkt);
  CHECK(h.denial == ZONE_DENIAL_NSEC);
  CHECK_STR(zone_denial_name(h.denial), "nsec");
  CHECK(h.flags == 0);

  /* no NSEC3PARAM but an NSEC3 in the authority section (parameters from it), iterations 0 no salt */
  zone_hygiene_init(&h, "hyg.example");
  const char *nsec3[] = {"k2ieq8bkmrmpu3hbhhs5lrs4dajlle4f.hyg.example. 3600 IN NSEC3 1 0 0 - "
                         "7bkrmb0m1n2s9ujhqu0q4o0ik0o1a5ut NS SOA RRSIG DNSKEY",
                         NULL};
  pkt = packet(NULL, nsec3);
  zone_hygiene_take_nsec3param(&h, pkt, DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  ldns_pkt_free(pkt);
  CHECK(h.denial == ZONE_DENIAL_NSEC3 && !h.nsec3_from_param);
  CHECK_INT(h.nsec3_iterations, 0);
  CHECK_INT(h.nsec3_salt_length, 0);
  CHECK(h.flags == 0);

  /* nothing: unknown */
  zone_hygiene_init(&h, "hyg.example");
  zone_hygiene_take_nsec3param(&h, NULL, DNSSEC_FAILED, -1);
  CHECK(h.denial == ZONE_DENIAL_UNKNOWN && zone_denial_name(h.denial) == NULL);
}

static void test_signer(void) {
  const char *answer[] = {
      "_25._tcp.mx1.hyg.example. 3600 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "_25._tcp.mx1.hyg.example. 3600 IN RRSIG TLSA 13 5 3600 20270101000000 20261201000000 1 HYG.example. AAAA",
      "_25._tcp.mx1.hyg.example. 3600 IN RRSIG TLSA 8 5 3600 20261215000000 20261201000000 2 hyg.example. AAAA", NULL};
  ldns_pkt *pkt = packet(answer, NULL);
  ldns_rdf *owner = ldns_dname_new_frm_str("_25._tcp.mx1.hyg.example.");
  char zone[256];
  int64_t expires = 0;
  CHECK_INT(zone_signer_of(pkt, owner, LDNS_RR_TYPE_TLSA, zone, sizeof zone, &expires), 0);
  CHECK_STR(zone, "hyg.example");
  CHECK_INT(expires, 1797292800); /* 2026-12-15 */
  CHECK_INT(zone_signer_of(pkt, owner, LDNS_RR_TYPE_MX, zone, sizeof zone, NULL), -1);
  ldns_rdf_deep_free(owner);
  ldns_pkt_free(pkt);
}

/* check's sentences: one fix per finding, with the remedy the issue names. */
static void test_explain(void) {
  struct zone_hygiene h;
  zone_hygiene_init(&h, "hyg.example");
  h.key_count = 1;
  h.keys[0] = (struct zone_key){.algorithm = 5, .flags = 257, .key_tag = 12088, .bits = 2048};
  h.ds_count = 1;
  h.ds[0] = (struct zone_ds){.key_tag = 12088, .algorithm = 5, .digest_type = 1};
  h.denial = ZONE_DENIAL_NSEC3;
  h.nsec3_iterations = 10;
  h.nsec3_salt_length = 4;
  h.flags = ZONE_FLAG_ALG_NOT_RECOMMENDED | ZONE_FLAG_DS_SHA1 | ZONE_FLAG_NSEC3_SALT | ZONE_FLAG_NSEC3_ITERATIONS;
  struct domain_result result;
  memset(&result, 0, sizeof result);
  result.zone_count = 1;
  result.zones[0] = (struct domain_zone){.zone = &h, .mx = true, .tlsa = true, .rrsig_expires = 1797292800};
  result.zones[0].flags = h.flags | ZONE_FLAG_RRSIG_EXPIRES_SOON;
  char *text = NULL, *fixes = NULL;
  size_t text_len = 0, fixes_len = 0;
  FILE *out = open_memstream(&text, &text_len), *fix = open_memstream(&fixes, &fixes_len);
  size_t count = explain_hygiene(&result, 1797292800 - 3 * 86400, out, fix);
  fclose(out);
  fclose(fix);
  CHECK_INT(count, 4);
  CHECK_HAS(text, "zone hyg.example (MX and TLSA records)");
  CHECK_HAS(text, "algorithm 5 RSASHA1, 2048 bits; RFC 8624 signing not-recommended, validation must");
  CHECK_HAS(text, "digest type 1 SHA-1; RFC 8624 delegation must-not");
  CHECK_HAS(text, "NSEC3, 10 iterations, salt of 4 bytes (from an NSEC3 record); RFC 9276: not-recommended");
  CHECK_HAS(text, "in 3 days");
  CHECK_HAS(fixes, "Re-sign with algorithm 13 (ECDSAP256SHA256) or 15 (ED25519)");
  CHECK_HAS(fixes, "Move to a SHA-256 DS (digest type 2)");
  CHECK_HAS(fixes, "nsec3-iterations, nsec3-salt");
  CHECK_HAS(fixes, "Re-sign with NSEC3 iterations 0, no salt");
  CHECK_HAS(fixes, "expire in 3 days (rrsig-expires-soon): re-sign the zone before the expiration");
  free(text);
  free(fixes);

  /* a clean zone: facts, no fix; no zone: nothing at all */
  memset(&h.flags, 0, sizeof h.flags);
  h.keys[0].algorithm = 13;
  result.zones[0].flags = 0;
  text = fixes = NULL;
  out = open_memstream(&text, &text_len);
  fix = open_memstream(&fixes, &fixes_len);
  CHECK_INT(explain_hygiene(&result, 0, out, fix), 0);
  result.zone_count = 0;
  CHECK_INT(explain_hygiene(&result, 0, out, fix), 0);
  fclose(out);
  fclose(fix);
  CHECK_HAS(text, "ECDSAP256SHA256");
  CHECK_INT(fixes_len, 0);
  free(text);
  free(fixes);
}

UNIT_MAIN(UNIT_TEST(test_rfc8624_tables), UNIT_TEST(test_rfc9276_verdict), UNIT_TEST(test_dnskey_and_ds),
          UNIT_TEST(test_denial), UNIT_TEST(test_signer), UNIT_TEST(test_explain))
