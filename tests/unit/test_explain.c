/* report/explain: the sentences `danescan check` prints for hand-built result
 * records: lookups with their DNSSEC state and EDE, TLSA records (usable or
 * why not), the matched record, per-address probe results and the fixes. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/probe_stage.h"
#include "record/result.h"
#include "report/explain.h"
#include "unit.h"

static const struct explain_options OPTIONS = {.now_unix = 1700000000, .smtp_port = 25};

/* One domain, one host, one address: the fixture the tests vary. */
struct fixture {
  struct domain_result domain;
  struct mx_host host;
  struct host_address address;
  struct tlsa_record records[2];
  uint8_t record_data[2][32];
  struct probe_detail detail;
  uint8_t chain[2][32];
};

static void fact(struct dns_fact *f, enum dnssec_state state, int rcode) {
  memset(f, 0, sizeof *f);
  f->done = true;
  f->state = state;
  f->rcode = rcode;
  f->attempts = 1;
}

static void fixture_init(struct fixture *fx, size_t record_count) {
  memset(fx, 0, sizeof *fx);
  snprintf(fx->domain.name, sizeof fx->domain.name, "example");
  fact(&fx->domain.mx, DNSSEC_SECURE, 0);
  fx->domain.mx_dnssec = DNSSEC_SECURE;
  fx->domain.rank = -1;
  fx->domain.links[0].preference = 10;
  fx->domain.links[0].host = &fx->host;
  fx->domain.link_count = 1;

  fx->host.name = "mx.example";
  fx->host.tlsa_base = "mx.example";
  fact(&fx->host.a, DNSSEC_SECURE, 0);
  fact(&fx->host.aaaa, DNSSEC_SECURE, 0);
  fact(&fx->host.tlsa, DNSSEC_SECURE, 0);
  fx->host.address_dnssec = DNSSEC_SECURE;
  fx->address.family = AF_INET;
  inet_pton(AF_INET, "192.0.2.1", fx->address.bytes);
  snprintf(fx->address.text, sizeof fx->address.text, "192.0.2.1");
  fx->host.addresses = &fx->address;
  fx->host.address_count = 1;

  for (size_t i = 0; i < record_count; i++) {
    memset(fx->record_data[i], 0xa0 + (int)i, 32);
    fx->records[i] = (struct tlsa_record){
        .usage = 3, .selector = 1, .matching_type = 1, .data_len = 32, .data = fx->record_data[i], .usable = true};
  }
  fx->host.tlsa_records = fx->records;
  fx->host.tlsa_count = record_count;
  fx->host.tlsa_usable_count = record_count;
  fx->host.rollover = record_count == 1 ? ROLLOVER_SINGLE : record_count == 2 ? ROLLOVER_CURRENT_NEXT : ROLLOVER_NONE;

  memset(fx->chain[0], 0x11, 32);
  memset(fx->chain[1], 0x22, 32);
  fx->detail.chain_sha256 = fx->chain;
  fx->detail.chain_count = 2;
  fx->detail.tls_up = true;
  snprintf(fx->detail.tls_version, sizeof fx->detail.tls_version, "TLSv1.3");
  snprintf(fx->detail.tls_cipher, sizeof fx->detail.tls_cipher, "TLS_AES_256_GCM_SHA384");
  fx->detail.matched_tlsa_index = -1;
  fx->detail.match_depth = -1;
  for (int k = 0; k < PROBE_KEY_KIND_COUNT; k++) fx->detail.key_types[k].matched_tlsa_index = -1;
  fx->address.probe = &fx->detail;
}

static void set_probe(struct fixture *fx, enum probe_result result, const char *reason) {
  fx->address.probe_result = result;
  fx->detail.result = result;
  fx->address.probe_reason = reason;
}

static char *explain(const struct fixture *fx) {
  char *text = explain_domain(&fx->domain, &OPTIONS);
  CHECK(text != NULL);
  return text;
}

#define CHECK_HAS(text, needle)                                                                                     \
  do {                                                                                                              \
    unit_checks++;                                                                                                  \
    if ((text) == NULL || strstr((text), (needle)) == NULL) {                                                       \
      unit_failures++;                                                                                              \
      fprintf(stderr, "%s:%d: text lacks \"%s\":\n%s\n", __FILE__, __LINE__, (needle), (text) ? (text) : "(null)"); \
    }                                                                                                               \
  } while (0)

#define CHECK_LACKS(text, needle)                                                             \
  do {                                                                                        \
    unit_checks++;                                                                            \
    if ((text) != NULL && strstr((text), (needle)) != NULL) {                                 \
      unit_failures++;                                                                        \
      fprintf(stderr, "%s:%d: text has \"%s\":\n%s\n", __FILE__, __LINE__, (needle), (text)); \
    }                                                                                         \
  } while (0)

static void test_dane_valid_single_record(void) {
  struct fixture fx;
  fixture_init(&fx, 1);
  set_probe(&fx, PROBE_AUTHENTICATED, NULL);
  fx.detail.matched_tlsa_index = 0;
  fx.detail.match_depth = 0;
  fx.host.status = HOST_DANE_VALID;
  fx.domain.status = DOMAIN_DANE_VALID;
  char *text = explain(&fx);
  CHECK(strncmp(text, "example: dane-valid\n", 20) == 0);
  CHECK_HAS(text, "DANE works for example");
  CHECK_HAS(text, "example MX: secure (NOERROR)");
  CHECK_HAS(text, "_25._tcp.mx.example TLSA: secure (NOERROR)");
  CHECK_HAS(text, "[0] TLSA 3 1 1 a0a0a0a0");
  CHECK_HAS(text, "192.0.2.1: authenticated");
  CHECK_HAS(text, "matched TLSA [0] 3 1 1 at depth 0 (the server certificate)");
  /* One record: the RFC 7671 rollover advice. */
  CHECK_HAS(text, "publishes TLSA records for the key it serves now and for nothing else");
  CHECK_HAS(text, "current+next");
  CHECK_HAS(text, "current+issuer");
  CHECK_LACKS(text, "Nothing to fix");
  free(text);

  /* Two records (current+next): nothing to fix. */
  fixture_init(&fx, 2);
  set_probe(&fx, PROBE_AUTHENTICATED, NULL);
  fx.detail.matched_tlsa_index = 1;
  fx.detail.match_depth = 0;
  fx.host.status = HOST_DANE_VALID;
  fx.domain.status = DOMAIN_DANE_VALID;
  text = explain(&fx);
  CHECK_HAS(text, "matched TLSA [1] 3 1 1 at depth 0");
  CHECK_HAS(text, "rollover current+next");
  CHECK_HAS(text, "Nothing to fix.");
  CHECK_LACKS(text, "single-key");
  free(text);
}

static void test_tlsa_mismatch(void) {
  struct fixture fx;
  fixture_init(&fx, 1);
  set_probe(&fx, PROBE_TLSA_MISMATCH, "no TLSA record matched");
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  char *text = explain(&fx);
  CHECK(strncmp(text, "example: dane-failed\n", 21) == 0);
  CHECK_HAS(text, "192.0.2.1: tlsa-mismatch (no TLSA record matched)");
  CHECK_HAS(text, "TLSA 3 1 1 ([0]) does not match the key/certificate served on 192.0.2.1");
  CHECK_HAS(text, "Publish `_25._tcp.mx.example. IN TLSA 3 1 1 <sha256 of the served SPKI>`");
  CHECK_HAS(text,
            "`_25._tcp.mx.example. IN TLSA 3 0 1 1111111111111111111111111111111111111111111111111111111111111111`");
  CHECK_HAS(text, "openssl s_client -starttls smtp -connect 192.0.2.1:25 -servername mx.example");
  CHECK_HAS(text, "or deploy the key that matches");
  CHECK_HAS(text, "DANE senders defer mail");
  free(text);

  /* The served key's digest is known: the exact 3 1 1 record, no recipe. */
  fixture_init(&fx, 1);
  set_probe(&fx, PROBE_TLSA_MISMATCH, "no TLSA record matched");
  fx.detail.has_leaf_spki_sha256 = true;
  memset(fx.detail.leaf_spki_sha256, 0x5a, 32);
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  text = explain(&fx);
  CHECK_HAS(text,
            "Publish `_25._tcp.mx.example. IN TLSA 3 1 1 "
            "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a` (this key;");
  CHECK_HAS(text,
            "`_25._tcp.mx.example. IN TLSA 3 0 1 1111111111111111111111111111111111111111111111111111111111111111`");
  CHECK_LACKS(text, "<sha256 of the served SPKI>");
  CHECK_LACKS(text, "openssl s_client");
  free(text);

  /* The certificate digest published under selector 1: say so. */
  fixture_init(&fx, 1);
  memset(fx.record_data[0], 0x11, 32);
  set_probe(&fx, PROBE_TLSA_MISMATCH, NULL);
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  text = explain(&fx);
  CHECK_HAS(text, "holds the SHA-256 of the whole certificate at depth 0 served on 192.0.2.1 but says selector 1");
  free(text);

  /* DANE-EE pointing at the issuer: suggest DANE-TA. */
  fixture_init(&fx, 1);
  fx.records[0].selector = 0;
  memset(fx.record_data[0], 0x22, 32);
  set_probe(&fx, PROBE_TLSA_MISMATCH, NULL);
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  text = explain(&fx);
  CHECK_HAS(text, "matches the issuer certificate at depth 1");
  CHECK_HAS(text, "IN TLSA 2 0 1 ...");
  free(text);

  /* Issue 16: a right 3 1 1 beside a wrong 3 1 2 is tlsa-mismatch by
   * digest agility (RFC 7671 9): say the SHA-256 record is never tried. */
  fixture_init(&fx, 2);
  fx.records[1].matching_type = 2;
  uint8_t sha512[64];
  memset(sha512, 0x77, sizeof sha512);
  fx.records[1].data = sha512;
  fx.records[1].data_len = 64;
  set_probe(&fx, PROBE_TLSA_MISMATCH, NULL);
  fx.detail.has_leaf_spki_sha256 = true;
  memset(fx.detail.leaf_spki_sha256, 0xa0, 32); /* record [0]'s data */
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  text = explain(&fx);
  CHECK_HAS(text,
            "TLSA record [0] of _25._tcp.mx.example (3 1 1, SHA-256) matches the server's key/certificate but "
            "is never tried: record [1] (3 1 2, SHA-512)");
  CHECK_HAS(text, "RFC 7671 section 9, digest agility");
  free(text);

  /* Different selectors: no digest-agility advice. */
  fixture_init(&fx, 2);
  fx.records[1].matching_type = 2;
  fx.records[1].selector = 0;
  fx.records[1].data = sha512;
  fx.records[1].data_len = 64;
  set_probe(&fx, PROBE_TLSA_MISMATCH, NULL);
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  text = explain(&fx);
  CHECK_LACKS(text, "digest agility");
  free(text);
}

static void test_ipv6_endpoint_and_other_failures(void) {
  struct fixture fx;
  fixture_init(&fx, 2);
  fx.address.family = AF_INET6;
  snprintf(fx.address.text, sizeof fx.address.text, "2001:db8::1");
  set_probe(&fx, PROBE_NO_STARTTLS, NULL);
  fx.detail.tls_up = false;
  fx.detail.chain_count = 0;
  fx.host.status = HOST_DANE_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  char *text = explain(&fx);
  CHECK_HAS(text, "The server on [2001:db8::1]:25 does not offer STARTTLS");
  CHECK_LACKS(text, "TLS: TLSv1.3");
  free(text);

  set_probe(&fx, PROBE_NAME_MISMATCH, NULL);
  fx.records[0].usage = 2;
  text = explain(&fx);
  CHECK_HAS(text, "server certificate does not name mx.example:");
  CHECK_HAS(text, "subjectAltName");
  free(text);

  set_probe(&fx, PROBE_CERT_EXPIRED, NULL);
  fx.detail.leaf_not_after = OPTIONS.now_unix - 10 * 86400;
  text = explain(&fx);
  CHECK_HAS(text, "expired 10 days ago");
  CHECK_HAS(text, "renew the certificate");
  free(text);

  set_probe(&fx, PROBE_TIMEOUT, "greeting");
  fx.host.status = HOST_DANE_UNREACHABLE;
  fx.domain.status = DOMAIN_DANE_UNREACHABLE;
  text = explain(&fx);
  CHECK_HAS(text, "[2001:db8::1]:25 timed out");
  CHECK_HAS(text, "no DANE host could be reached");
  free(text);
}

static void test_dnssec_bogus_mx_with_ede(void) {
  struct fixture fx;
  fixture_init(&fx, 0);
  fact(&fx.domain.mx, DNSSEC_BOGUS, 2);
  fx.domain.mx.has_ede = true;
  fx.domain.mx.ede_code = 6;
  static char bogus_text[] = "DNSSEC Bogus";
  fx.domain.mx.ede_text = bogus_text;
  fx.domain.status = DOMAIN_DNSSEC_BOGUS;
  fx.domain.link_count = 0;
  char *text = explain(&fx);
  CHECK(strncmp(text, "example: dnssec-bogus\n", 22) == 0);
  CHECK_HAS(text, "example MX: bogus (SERVFAIL), EDE 6 \"DNSSEC Bogus\"");
  CHECK_HAS(text, "example MX does not validate (DNSSEC bogus, EDE 6 DNSSEC Bogus)");
  CHECK_HAS(text, "Fix the zone's signatures");
  CHECK_HAS(text, "DS record at the parent");
  free(text);
}

static void test_tlsa_failed_and_ancestor(void) {
  struct fixture fx;
  fixture_init(&fx, 0);
  fact(&fx.host.tlsa, DNSSEC_FAILED, 2);
  fx.host.tlsa.failure = "servfail";
  fx.host.flags = MX_FLAG_ANCESTOR_NXDOMAIN;
  fx.address.probe = NULL;
  fx.address.probe_result = PROBE_SKIPPED;
  fx.host.status = HOST_TLSA_FAILED;
  fx.domain.status = DOMAIN_DANE_FAILED;
  char *text = explain(&fx);
  CHECK_HAS(text, "_25._tcp.mx.example TLSA: failed (SERVFAIL, servfail)");
  CHECK_HAS(text, "TLSA lookup failing means DANE senders defer mail");
  CHECK_HAS(text, "must defer mail to this host");
  CHECK_HAS(text, "_tcp.mx.example answers NXDOMAIN");
  CHECK_HAS(text, "flags: ancestor-nxdomain");
  free(text);
}

static void test_insecure_and_no_tlsa(void) {
  struct fixture fx;
  fixture_init(&fx, 0);
  fx.domain.mx.state = DNSSEC_INSECURE;
  fx.domain.mx_dnssec = DNSSEC_INSECURE;
  fx.host.a.state = DNSSEC_INSECURE;
  fx.host.aaaa.state = DNSSEC_INSECURE;
  fx.host.address_dnssec = DNSSEC_INSECURE;
  fx.host.tlsa.done = false;
  fx.address.probe = NULL;
  fx.host.status = HOST_INSECURE;
  fx.domain.status = DOMAIN_INSECURE;
  char *text = explain(&fx);
  CHECK_HAS(text, "example: insecure");
  CHECK_HAS(text, "DANE does not apply");
  CHECK_HAS(text, "Sign the zone example");
  CHECK_HAS(text, "The zone of MX host mx.example is not signed");
  CHECK_HAS(text, "TLSA: not looked up");
  free(text);

  fixture_init(&fx, 0);
  fact(&fx.host.tlsa, DNSSEC_SECURE, 3);
  fx.address.probe = NULL;
  fx.host.status = HOST_NO_TLSA;
  fx.domain.status = DOMAIN_NO_DANE;
  text = explain(&fx);
  CHECK_HAS(text, "_25._tcp.mx.example TLSA: secure (NXDOMAIN)");
  CHECK_HAS(text, "no MX host publishes TLSA records");
  CHECK_HAS(text, "publish `_25._tcp.mx.example. IN TLSA 3 1 1");
  free(text);
}

static void test_tlsa_unusable_and_insecure_mx_note(void) {
  struct fixture fx;
  fixture_init(&fx, 1);
  fx.records[0].usage = 1;
  fx.records[0].usable = false;
  fx.records[0].unusable_reason = "usage 0/1 (PKIX) is not usable for SMTP (RFC 7672 3.1.3)";
  fx.host.tlsa_usable_count = 0;
  fx.host.rollover = ROLLOVER_NONE;
  set_probe(&fx, PROBE_UNAUTHENTICATED_TLS, NULL);
  fx.host.status = HOST_TLSA_UNUSABLE;
  fx.domain.status = DOMAIN_TLSA_UNUSABLE;
  fx.domain.mx_dnssec = DNSSEC_INSECURE;
  fx.domain.mx.state = DNSSEC_INSECURE;
  char *text = explain(&fx);
  CHECK_HAS(text, "[0] TLSA 1 1 1");
  CHECK_HAS(text, "NOT usable: usage 0/1 (PKIX)");
  CHECK_HAS(text, "none is usable for SMTP");
  CHECK_HAS(text, "replace them with `_25._tcp.mx.example. IN TLSA 3 1 1");
  CHECK_HAS(text, "Note: the MX records of example are not signed");
  CHECK_LACKS(text, "single-key");
  free(text);
}

static void test_simple_domain_statuses(void) {
  struct fixture fx;
  fixture_init(&fx, 0);
  fx.domain.link_count = 0;
  fx.domain.status = DOMAIN_NULL_MX;
  char *text = explain(&fx);
  CHECK_HAS(text, "null MX (RFC 7505)");
  free(text);

  fx.domain.status = DOMAIN_NXDOMAIN;
  fx.domain.mx.rcode = 3;
  text = explain(&fx);
  CHECK_HAS(text, "does not exist (NXDOMAIN)");
  free(text);

  fx.domain.status = DOMAIN_LOOKUP_FAILED;
  fact(&fx.domain.mx, DNSSEC_FAILED, -1);
  fx.domain.mx.failure = "timeout";
  text = explain(&fx);
  CHECK_HAS(text, "example MX: failed (no answer, timeout)");
  CHECK_HAS(text, "every name server of the zone answers");
  free(text);

  fx.domain.status = DOMAIN_INVALID_NAME;
  snprintf(fx.domain.invalid_reason, sizeof fx.domain.invalid_reason, "label longer than 63 bytes");
  text = explain(&fx);
  CHECK_HAS(text, "is not a valid domain name: label longer than 63 bytes");
  CHECK_LACKS(text, "Lookups:");
  free(text);
}

/* check --ns-lookup: the NS lookup, its targets grouped by DNS operator
 * (registrable domain, as domain_dns_operators), in the order of their first
 * target; no operator for a public suffix or without NS records; nothing of
 * it when no NS lookup was made. */
static void test_ns_lookup(void) {
  struct fixture fx;
  fixture_init(&fx, 1);
  fx.domain.status = DOMAIN_DANE_VALID;
  char *text = explain(&fx);
  CHECK_LACKS(text, " NS:");
  CHECK_LACKS(text, "DNS operator");
  free(text);

  struct provider_list *providers = provider_list_new();
  CHECK(providers != NULL);
  struct explain_options options = OPTIONS;
  options.providers = providers;
  fact(&fx.domain.ns_lookup, DNSSEC_INSECURE, 0);
  snprintf(fx.domain.ns, sizeof fx.domain.ns, "ns1.dns.opa.net ns.opb.co.uk ns2.opa.net co.uk");
  fx.domain.ns_source = NS_SOURCE_LOOKUP;
  text = explain_domain(&fx.domain, &options);
  CHECK_HAS(text,
            "Lookups:\n  example MX: secure (NOERROR)\n  example NS: insecure (NOERROR)\n"
            "    DNS operator opa.net: ns1.dns.opa.net ns2.opa.net\n"
            "    DNS operator opb.co.uk: ns.opb.co.uk\n"
            "    no DNS operator (a public suffix): co.uk\n");
  free(text);

  /* Without a provider list (a caller that does not ask): the targets. */
  text = explain(&fx);
  CHECK_HAS(text, "  example NS: insecure (NOERROR)\n    NS: ns1.dns.opa.net ns.opb.co.uk ns2.opa.net co.uk\n");
  CHECK_LACKS(text, "DNS operator");
  free(text);

  fx.domain.ns[0] = '\0';
  fx.domain.ns_source = NS_SOURCE_NONE;
  text = explain_domain(&fx.domain, &options);
  CHECK_HAS(text,
            "  example NS: insecure (NOERROR)\n"
            "    no NS records at example (not a zone apex, or no such name): no DNS operator\n");
  free(text);

  fact(&fx.domain.ns_lookup, DNSSEC_BOGUS, 0);
  text = explain_domain(&fx.domain, &options);
  CHECK_HAS(text, "  example NS: bogus (NOERROR)\n    no NS targets: the lookup failed");
  free(text);
  provider_list_free(providers);
}

/* Issue 19: each rollover hazard gets its explanation and fix; none of them
 * without its flag. */
static void test_rollover_hazards(void) {
  struct fixture fx;
  fixture_init(&fx, 2);
  set_probe(&fx, PROBE_AUTHENTICATED, NULL);
  fx.detail.matched_tlsa_index = 0;
  fx.detail.match_depth = 0;
  fx.host.status = HOST_DANE_VALID;
  fx.domain.status = DOMAIN_DANE_VALID;
  fx.host.rollover = ROLLOVER_CURRENT_NEXT;
  char *text = explain(&fx);
  CHECK_HAS(text, "Nothing to fix.");
  CHECK_LACKS(text, "ee-selector-0");
  CHECK_LACKS(text, "ta-public-intermediate");
  CHECK_LACKS(text, "leaf-expires-soon");
  CHECK_LACKS(text, "single-key");
  free(text);

  fx.host.flags = MX_FLAG_EE_SELECTOR_0 | MX_FLAG_TA_PUBLIC_INTERMEDIATE | MX_FLAG_LEAF_EXPIRES_SOON;
  text = explain(&fx);
  CHECK_HAS(text, "flags: ee-selector-0 ta-public-intermediate leaf-expires-soon");
  CHECK_HAS(text, "(`3 0 x`, ee-selector-0): every certificate renewal breaks it");
  CHECK_HAS(text, "Publish `3 1 1` (the SHA-256 of the public key) instead");
  CHECK_HAS(text, "intermediate certificate of a public CA (ta-public-intermediate)");
  CHECK_HAS(text, "Prefer `3 1 1` of your own key over `2 x x` on a public intermediate");
  CHECK_HAS(text, "expires soon (leaf-expires-soon)");
  CHECK_LACKS(text, "Nothing to fix.");
  CHECK_LACKS(text, "single-key");
  free(text);

  fx.host.flags = MX_FLAG_RRSIG_EXPIRES_SOON;
  fx.host.tlsa_rrsig_expires = OPTIONS.now_unix + 3 * 86400 + 600;
  text = explain(&fx);
  CHECK_HAS(text, "flags: rrsig-expires-soon");
  CHECK_HAS(text, "TLSA records of _25._tcp.mx.example expire in 3 days (rrsig-expires-soon)");
  CHECK_LACKS(text, "leaf-expires-soon");
  free(text);

  fx.host.flags = MX_FLAG_SINGLE_KEY;
  fx.host.rollover = ROLLOVER_SINGLE;
  text = explain(&fx);
  CHECK_HAS(text, "rollover single");
  CHECK_HAS(text, "(single-key;");
  CHECK_HAS(text, "Publish `3 1 1` of the next key beside the current one");
  free(text);

  fx.host.flags = 0;
  fx.host.rollover = ROLLOVER_UNMATCHED;
  fx.host.status = HOST_DANE_FAILED;
  text = explain(&fx);
  CHECK_HAS(text, "rollover unmatched");
  CHECK_HAS(text, "no usable record matches a certificate the server presented");
  free(text);
}

UNIT_MAIN(UNIT_TEST(test_dane_valid_single_record), UNIT_TEST(test_rollover_hazards), UNIT_TEST(test_tlsa_mismatch),
          UNIT_TEST(test_ipv6_endpoint_and_other_failures), UNIT_TEST(test_dnssec_bogus_mx_with_ede),
          UNIT_TEST(test_tlsa_failed_and_ancestor), UNIT_TEST(test_insecure_and_no_tlsa),
          UNIT_TEST(test_tlsa_unusable_and_insecure_mx_note), UNIT_TEST(test_simple_domain_statuses),
          UNIT_TEST(test_ns_lookup))
