/* The RESULTS.md decision rules: host status from DNS facts and probes,
 * domain status in the contract's order, rollover classes. */
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/rules.h"
#include "record/status.h"
#include "unit.h"

static struct dns_fact fact(enum dnssec_state state, int rcode) {
  struct dns_fact f;
  memset(&f, 0, sizeof f);
  f.done = true;
  f.state = state;
  f.rcode = rcode;
  return f;
}

static struct host_address v4 = {.family = 2, .bytes = {192, 0, 2, 1}, .text = "192.0.2.1"};

static void host_with(struct mx_host *host, enum dnssec_state a_state, int a_rcode, size_t addresses) {
  memset(host, 0, sizeof *host);
  host->name = "mx.example";
  host->a = fact(a_state, a_rcode);
  host->aaaa = fact(a_state, LDNS_RCODE_NOERROR);
  host->addresses = addresses ? &v4 : NULL;
  host->address_count = addresses;
}

static void test_host_address_rules(void) {
  struct mx_host host;
  host_with(&host, DNSSEC_SECURE, LDNS_RCODE_NOERROR, 0);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "no-address");

  host_with(&host, DNSSEC_INSECURE, LDNS_RCODE_NOERROR, 1);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "insecure");
  CHECK(!host.needs_probe);

  host_with(&host, DNSSEC_BOGUS, -1, 0);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "address-failed");

  /* A bogus, AAAA has an address: usable through AAAA, A failure flagged. */
  host_with(&host, DNSSEC_SECURE, LDNS_RCODE_NOERROR, 1);
  host.a = fact(DNSSEC_BOGUS, LDNS_RCODE_SERVFAIL);
  host.tlsa = fact(DNSSEC_SECURE, LDNS_RCODE_NXDOMAIN);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "no-tlsa");
  CHECK(host.flags & MX_FLAG_A_FAILED);

  /* A failed and AAAA empty: nothing usable. */
  host_with(&host, DNSSEC_SECURE, LDNS_RCODE_NOERROR, 0);
  host.a = fact(DNSSEC_FAILED, -1);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "address-failed");
}

static void test_host_tlsa_rules(void) {
  struct mx_host host;
  uint8_t digest[32] = {1};
  struct tlsa_record usable = {.usage = 3, .selector = 1, .matching_type = 1, .data_len = 32, .data = digest};
  struct tlsa_record pkix = {.usage = 1, .selector = 1, .matching_type = 1, .data_len = 32, .data = digest};
  tlsa_record_classify(&usable);
  tlsa_record_classify(&pkix);
  struct tlsa_record both[2] = {usable, pkix};

  host_with(&host, DNSSEC_SECURE, LDNS_RCODE_NOERROR, 1);
  CHECK(rules_host_wants_tlsa(&host));
  host.tlsa = fact(DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "no-tlsa");

  host.tlsa = fact(DNSSEC_BOGUS, LDNS_RCODE_SERVFAIL);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "tlsa-failed");

  host.tlsa = fact(DNSSEC_FAILED, -1);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "tlsa-failed");

  host.tlsa = fact(DNSSEC_SECURE, LDNS_RCODE_NOERROR);
  host.tlsa_records = &pkix;
  host.tlsa_count = 1;
  host.tlsa_usable_count = 0;
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "tlsa-unusable");
  CHECK(host.needs_probe);

  host.tlsa_records = both;
  host.tlsa_count = 2;
  host.tlsa_usable_count = 1;
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "dane-unprobed");
  CHECK(host.needs_probe);

  host.tlsa = fact(DNSSEC_INSECURE, LDNS_RCODE_NOERROR);
  rules_host_status_from_dns(&host);
  CHECK_STR(host_status_name(host.status), "no-tlsa");
  CHECK(host.flags & MX_FLAG_TLSA_INSECURE);

  /* Insecure addresses: no TLSA lookup wanted at all. */
  host_with(&host, DNSSEC_INSECURE, LDNS_RCODE_NOERROR, 1);
  CHECK(!rules_host_wants_tlsa(&host));
}

static void test_host_probe_rules(void) {
  struct host_address addresses[3];
  memset(addresses, 0, sizeof addresses);
  struct mx_host host;
  memset(&host, 0, sizeof host);
  host.addresses = addresses;
  host.address_count = 3;
  addresses[0].probe_result = PROBE_AUTHENTICATED;
  addresses[1].probe_result = PROBE_TIMEOUT;
  addresses[2].probe_result = PROBE_AUTHENTICATED;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "dane-valid");
  addresses[1].probe_result = PROBE_TLSA_MISMATCH;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "dane-failed");
  addresses[0].probe_result = PROBE_CONNECT_FAILED;
  addresses[1].probe_result = PROBE_SMTP_FAILED;
  addresses[2].probe_result = PROBE_TIMEOUT;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "dane-unreachable");
  addresses[0].probe_result = PROBE_NO_STARTTLS;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "dane-failed");
  for (int i = 0; i < 3; i++) addresses[i].probe_result = PROBE_SKIPPED;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "dane-unprobed");
  /* Issue 16: OpenSSL refused every record danescan called usable, so the
   * probe ended unauthenticated-tls: the host is tlsa-unusable (it was
   * probed; never dane-unprobed), whatever the other addresses did. */
  addresses[0].probe_result = PROBE_UNAUTHENTICATED_TLS;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "tlsa-unusable");
  addresses[1].probe_result = PROBE_TLSA_MISMATCH;
  addresses[2].probe_result = PROBE_TIMEOUT;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "tlsa-unusable");
  for (int i = 0; i < 3; i++) addresses[i].probe_result = PROBE_UNAUTHENTICATED_TLS;
  CHECK_STR(host_status_name(rules_host_status_from_probes(&host)), "tlsa-unusable");
}

/* Builds a domain with hosts of the given statuses. */
static struct mx_host hosts[8];
static void domain_with(struct domain_result *result, enum dnssec_state mx_state, size_t count,
                        const enum host_status *statuses) {
  memset(result, 0, sizeof *result);
  memset(hosts, 0, sizeof hosts);
  snprintf(result->name, sizeof result->name, "example.org");
  result->mx = fact(mx_state, LDNS_RCODE_NOERROR);
  result->mx_dnssec = mx_state;
  result->link_count = count;
  for (size_t i = 0; i < count; i++) {
    hosts[i].status = statuses[i];
    result->links[i].host = &hosts[i];
    result->links[i].preference = (uint16_t)(10 * i);
  }
}

#define DOMAIN(mx, want, ...)                                                     \
  do {                                                                            \
    enum host_status statuses_[] = {__VA_ARGS__};                                 \
    struct domain_result result_;                                                 \
    domain_with(&result_, mx, sizeof statuses_ / sizeof statuses_[0], statuses_); \
    CHECK_STR(domain_status_name(rules_domain_status(&result_)), want);           \
  } while (0)

static void test_domain_rules(void) {
  struct domain_result result;
  enum host_status valid = HOST_DANE_VALID;
  domain_with(&result, DNSSEC_SECURE, 1, &valid);
  snprintf(result.invalid_reason, sizeof result.invalid_reason, "label too long");
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "invalid-name");
  /* an invalid name is invalid-name even when a blocklist covers it */
  snprintf(result.skip_reason, sizeof result.skip_reason, "blocklist");
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "invalid-name");
  /* opted out (issue 20): skipped before anything a lookup decides */
  domain_with(&result, DNSSEC_FAILED, 0, NULL);
  snprintf(result.skip_reason, sizeof result.skip_reason, "blocklist");
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "skipped");

  domain_with(&result, DNSSEC_FAILED, 0, NULL);
  result.mx.rcode = -1;
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "lookup-failed");
  domain_with(&result, DNSSEC_BOGUS, 0, NULL);
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "dnssec-bogus");
  domain_with(&result, DNSSEC_SECURE, 0, NULL);
  result.mx.rcode = LDNS_RCODE_NXDOMAIN;
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "nxdomain");
  domain_with(&result, DNSSEC_INSECURE, 0, NULL);
  result.mx.rcode = LDNS_RCODE_NXDOMAIN;
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "nxdomain");
  domain_with(&result, DNSSEC_SECURE, 0, NULL);
  result.status = DOMAIN_NULL_MX;
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "null-mx");

  enum host_status no_address = HOST_NO_ADDRESS;
  domain_with(&result, DNSSEC_SECURE, 1, &no_address);
  result.implicit_mx = true;
  CHECK_STR(domain_status_name(rules_domain_status(&result)), "no-mail");

  DOMAIN(DNSSEC_INSECURE, "insecure", HOST_INSECURE);
  DOMAIN(DNSSEC_INSECURE, "insecure", HOST_NO_TLSA, HOST_INSECURE);
  /* RFC 7672 2.2.1: an insecure MX RRset with a provider host with TLSA. */
  DOMAIN(DNSSEC_INSECURE, "dane-valid", HOST_DANE_VALID);
  DOMAIN(DNSSEC_INSECURE, "dane-unprobed", HOST_DANE_UNPROBED);
  DOMAIN(DNSSEC_INSECURE, "tlsa-unusable", HOST_TLSA_UNUSABLE);
  DOMAIN(DNSSEC_SECURE, "dane-failed", HOST_DANE_VALID, HOST_DANE_FAILED);
  DOMAIN(DNSSEC_SECURE, "dane-failed", HOST_DANE_VALID, HOST_TLSA_FAILED);
  DOMAIN(DNSSEC_SECURE, "dane-failed", HOST_TLSA_FAILED, HOST_NO_TLSA);
  DOMAIN(DNSSEC_SECURE, "dane-unprobed", HOST_DANE_UNPROBED, HOST_NO_TLSA);
  DOMAIN(DNSSEC_SECURE, "dane-failed", HOST_DANE_UNPROBED, HOST_TLSA_FAILED);
  DOMAIN(DNSSEC_SECURE, "dane-unreachable", HOST_DANE_UNREACHABLE);
  DOMAIN(DNSSEC_SECURE, "dane-unreachable", HOST_DANE_UNREACHABLE, HOST_NO_TLSA);
  DOMAIN(DNSSEC_SECURE, "dane-valid", HOST_DANE_VALID, HOST_DANE_VALID);
  DOMAIN(DNSSEC_SECURE, "dane-partial", HOST_DANE_VALID, HOST_NO_TLSA);
  DOMAIN(DNSSEC_SECURE, "dane-partial", HOST_DANE_VALID, HOST_INSECURE);
  DOMAIN(DNSSEC_SECURE, "dane-partial", HOST_DANE_VALID, HOST_DANE_UNREACHABLE);
  DOMAIN(DNSSEC_SECURE, "dane-partial", HOST_DANE_VALID, HOST_TLSA_UNUSABLE);
  DOMAIN(DNSSEC_SECURE, "dane-partial", HOST_DANE_VALID, HOST_NO_ADDRESS);
  DOMAIN(DNSSEC_SECURE, "tlsa-unusable", HOST_TLSA_UNUSABLE, HOST_NO_TLSA);
  DOMAIN(DNSSEC_SECURE, "dane-unreachable", HOST_TLSA_UNUSABLE, HOST_DANE_UNREACHABLE);
  DOMAIN(DNSSEC_SECURE, "no-dane", HOST_NO_TLSA);
  DOMAIN(DNSSEC_SECURE, "no-dane", HOST_NO_TLSA, HOST_INSECURE, HOST_ADDRESS_FAILED);
  DOMAIN(DNSSEC_SECURE, "no-dane", HOST_NO_ADDRESS);
  DOMAIN(DNSSEC_INSECURE, "insecure", HOST_TLSA_FAILED);
}

static void test_every_combination_has_a_status(void) {
  /* Every pair of host statuses under both MX states maps to a word. */
  for (int mx = DNSSEC_SECURE; mx <= DNSSEC_INSECURE; mx++) {
    for (int a = 0; a < HOST_STATUS_COUNT; a++) {
      for (int b = 0; b < HOST_STATUS_COUNT; b++) {
        enum host_status statuses[2] = {(enum host_status)a, (enum host_status)b};
        struct domain_result result;
        domain_with(&result, (enum dnssec_state)mx, 2, statuses);
        enum domain_status status = rules_domain_status(&result);
        CHECK(status > DOMAIN_NULL_MX && status < DOMAIN_STATUS_COUNT);
        /* dane-valid only when every host is. */
        if (status == DOMAIN_DANE_VALID) CHECK(a == HOST_DANE_VALID && b == HOST_DANE_VALID);
        /* A failed host always fails the domain, unless DANE does not apply. */
        if (a == HOST_DANE_FAILED || b == HOST_DANE_FAILED) CHECK(status == DOMAIN_DANE_FAILED);
      }
    }
  }
}

static void test_rollover(void) {
  uint8_t digest[32] = {0};
  struct tlsa_record ee = {.usage = 3, .selector = 1, .matching_type = 1, .data_len = 32, .data = digest};
  struct tlsa_record ta = {.usage = 2, .selector = 0, .matching_type = 1, .data_len = 32, .data = digest};
  struct tlsa_record bad = {.usage = 3, .selector = 1, .matching_type = 1, .data_len = 20, .data = digest};
  tlsa_record_classify(&ee);
  tlsa_record_classify(&ta);
  tlsa_record_classify(&bad);
  CHECK(!bad.usable);
  struct tlsa_record set[3];
  CHECK_STR(rollover_class_name(rules_rollover_class(NULL, 0)), "none");
  set[0] = ee;
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 1)), "single");
  set[1] = bad;
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 2)), "single");
  set[1] = ee;
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 2)), "current+next");
  set[2] = ta;
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 3)), "current+issuer");
  set[0] = ta;
  set[1] = ta;
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 2)), "issuer");
}

/* Issue 19: the class from where each usable record matched the presented
 * chain, including the known false-rollover shapes. */
static void test_rollover_truth(void) {
  uint8_t digest[32] = {0};
  struct tlsa_record ee = {.usage = 3, .selector = 1, .matching_type = 1, .data_len = 32, .data = digest};
  struct tlsa_record ta = {.usage = 2, .selector = 0, .matching_type = 1, .data_len = 32, .data = digest};
  struct tlsa_record bad = {.usage = 3, .selector = 1, .matching_type = 1, .data_len = 20, .data = digest};
  tlsa_record_classify(&ee);
  tlsa_record_classify(&ta);
  tlsa_record_classify(&bad);
  struct tlsa_record set[3] = {ee, ee, ta};
  enum rules_record_match m[3];
#define TRUTH(n, a, b, c)                                                  \
  (m[0] = RULES_MATCH_##a, m[1] = RULES_MATCH_##b, m[2] = RULES_MATCH_##c, \
   rollover_class_name(rules_rollover_truth(set, m, (n))))
  /* One EE on the leaf plus one on a key not presented: current+next. */
  CHECK_STR(TRUTH(2, LEAF, NONE, NONE), "current+next");
  /* Duplicates (3 1 1 and 3 1 2 of one key): both on the leaf, no next. */
  CHECK_STR(TRUTH(2, LEAF, LEAF, NONE), "single");
  /* EE plus a DANE-TA above the leaf. */
  CHECK_STR(TRUTH(3, LEAF, NONE, ABOVE), "current+issuer");
  CHECK_STR(TRUTH(3, LEAF, LEAF, ABOVE), "current+issuer");
  /* 3 x x plus 2 x x on the same (leaf) certificate: no issuer. */
  CHECK_STR(TRUTH(3, LEAF, LEAF, LEAF), "single");
  /* 3 x x plus a 2 x x matching nothing presented: the TA record is a next. */
  CHECK_STR(TRUTH(3, LEAF, LEAF, NONE), "current+next");
  /* Nothing presented matches. */
  CHECK_STR(TRUTH(3, NONE, NONE, NONE), "unmatched");
  set[0] = ta;
  set[1] = ta;
  CHECK_STR(TRUTH(2, ABOVE, NONE, NONE), "issuer");
  CHECK_STR(TRUTH(2, ABOVE, ABOVE, NONE), "issuer");
  /* Unusable records never count, matched or not. */
  set[0] = ee;
  set[1] = bad;
  CHECK_STR(TRUTH(2, LEAF, NONE, NONE), "single");
  set[0] = bad;
  CHECK_STR(TRUTH(2, NONE, NONE, NONE), "none");
  /* Digest agility: a 3 1 1 that matches beside a 3 1 2 that does not is
   * never tried by OpenSSL; beside a matching 3 1 2 it is a duplicate. */
  uint8_t digest64[64] = {0};
  struct tlsa_record ee512 = {.usage = 3, .selector = 1, .matching_type = 2, .data_len = 64, .data = digest64};
  tlsa_record_classify(&ee512);
  set[0] = ee;
  set[1] = ee512;
  CHECK_STR(TRUTH(2, LEAF, NONE, NONE), "unmatched");
  CHECK_STR(TRUTH(2, LEAF, LEAF, NONE), "single");
  CHECK_STR(TRUTH(2, NONE, LEAF, NONE), "single");
#undef TRUTH
}

static void test_status_words_round_trip(void) {
  for (int i = 0; i < DOMAIN_STATUS_COUNT; i++) {
    enum domain_status parsed;
    CHECK(domain_status_parse(domain_status_name((enum domain_status)i), &parsed) == 0);
    CHECK_INT(parsed, i);
  }
  for (int i = 0; i < HOST_STATUS_COUNT; i++) {
    enum host_status parsed;
    CHECK(host_status_parse(host_status_name((enum host_status)i), &parsed) == 0);
    CHECK_INT(parsed, i);
  }
  for (int i = 0; i < PROBE_RESULT_COUNT; i++) {
    enum probe_result parsed;
    CHECK(probe_result_parse(probe_result_name((enum probe_result)i), &parsed) == 0);
    CHECK_INT(parsed, i);
  }
  enum dnssec_state state;
  CHECK(dnssec_state_parse("bogus", &state) == 0 && state == DNSSEC_BOGUS);
  CHECK(dnssec_state_parse("Bogus", &state) == -1);
  CHECK_STR(dnssec_state_name(dnssec_state_worst(DNSSEC_SECURE, DNSSEC_INSECURE)), "insecure");
  CHECK_STR(domain_status_name((enum domain_status)99), "?");
}

UNIT_MAIN(UNIT_TEST(test_host_address_rules), UNIT_TEST(test_host_tlsa_rules), UNIT_TEST(test_host_probe_rules),
          UNIT_TEST(test_domain_rules), UNIT_TEST(test_every_combination_has_a_status), UNIT_TEST(test_rollover),
          UNIT_TEST(test_rollover_truth), UNIT_TEST(test_status_words_round_trip))
