/* The MTA-STS status rule (sts/sts_status.h): every status of
 * shared/spec/MTA-STS.md from the inputs that make it, the order of the
 * checks, and the failure text; the words round-trip through their table. */
#include <string.h>

#include "sts/sts_status.h"
#include "unit.h"

static const struct sts_decision_address passed2[] = {{"192.0.2.1", STS_ADDRESS_PASSED, NULL},
                                                      {"2001:db8::1", STS_ADDRESS_PASSED, NULL}};
static const struct sts_decision_address passed1[] = {{NULL, STS_ADDRESS_PASSED, NULL}};

/* A domain whose record, fetch and policy are fine, with two matching hosts
 * whose addresses passed: valid. Each test spoils one thing. */
static struct sts_decision_host hosts[2];

static struct sts_decision good(void) {
  hosts[0] = (struct sts_decision_host){"mx1.example.com", true, passed2, 2};
  hosts[1] = (struct sts_decision_host){"mx2.example.com", true, passed1, 1};
  struct sts_decision d = {
      .record = STS_RECORD_VALID,
      .fetched = true,
      .fetch_outcome = STS_FETCH_OK,
      .policy = STS_POLICY_VALID,
      .mode = STS_MODE_ENFORCE,
      .hosts = hosts,
      .host_count = 2,
  };
  return d;
}

static char failure[STS_FAILURE_MAX_BYTES];

static void test_valid(void) {
  struct sts_decision d = good();
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_VALID);
  CHECK_STR(failure, "");
  d.mode = STS_MODE_TESTING;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_VALID);
  /* an address no session reached is no failure */
  static const struct sts_decision_address unchecked[] = {{"192.0.2.1", STS_ADDRESS_PASSED, NULL},
                                                          {"192.0.2.2", STS_ADDRESS_UNCHECKED, "timeout"}};
  hosts[0].addresses = unchecked;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_VALID);
}

static void test_none(void) {
  struct sts_decision d = good();
  d.record = STS_RECORD_ABSENT;
  d.fetch_outcome = STS_FETCH_UNAVAILABLE; /* what follows does not matter */
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_NONE);
  CHECK_STR(failure, "");
}

static void test_record_invalid(void) {
  struct sts_decision d = good();
  d.record = STS_RECORD_INVALID;
  d.record_why = "record 1: no id field (RFC 8461 3.1)";
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_RECORD_INVALID);
  CHECK_STR(failure, "_mta-sts TXT: record 1: no id field (RFC 8461 3.1)");
}

static void test_policy_unavailable(void) {
  struct sts_decision d = good();
  d.fetch_outcome = STS_FETCH_UNAVAILABLE;
  d.fetch_why = "HTTP status 404";
  d.policy = STS_POLICY_INVALID; /* a stale parse is not looked at */
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_POLICY_UNAVAILABLE);
  CHECK_STR(failure, "policy fetch: HTTP status 404");
  d.fetch_outcome = STS_FETCH_SKIPPED;
  d.fetch_why = "blocklisted address 192.0.2.7";
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_POLICY_UNAVAILABLE);
  CHECK_STR(failure, "policy fetch: blocklisted address 192.0.2.7");
  d = good();
  d.fetched = false;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_POLICY_UNAVAILABLE);
  CHECK_STR(failure, "policy fetch: not made");
}

static void test_policy_invalid(void) {
  struct sts_decision d = good();
  d.fetch_outcome = STS_FETCH_INVALID;
  d.fetch_why = "media type text/html, not text/plain";
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_POLICY_INVALID);
  CHECK_STR(failure, "policy: media type text/html, not text/plain");
  d = good();
  d.policy = STS_POLICY_INVALID;
  d.policy_why = "line 1: version \"STSv2\" is not STSv1";
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_POLICY_INVALID);
  CHECK_STR(failure, "policy: line 1: version \"STSv2\" is not STSv1");
  d.policy_why = NULL;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_POLICY_INVALID);
  CHECK_STR(failure, "policy: (no reason given)");
}

static void test_mode_none(void) {
  struct sts_decision d = good();
  d.mode = STS_MODE_NONE;
  hosts[0].match = false; /* mode none: nothing else is checked */
  static const struct sts_decision_address bad[] = {{NULL, STS_ADDRESS_FAILED, "untrusted"}};
  hosts[1].addresses = bad;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_MODE_NONE);
  CHECK_STR(failure, "");
}

static void test_mx_mismatch(void) {
  struct sts_decision d = good();
  hosts[1].match = false;
  static const struct sts_decision_address bad[] = {{NULL, STS_ADDRESS_FAILED, "expired"}};
  hosts[0].addresses = bad; /* the mismatch is reported first */
  hosts[0].address_count = 1;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_MX_MISMATCH);
  CHECK_STR(failure, "MX host mx2.example.com matches no mx pattern of the policy (RFC 8461 4.1)");
}

static void test_cert_invalid(void) {
  static const char *const reasons[] = {"no-tls: no-starttls", "tls-version: TLSv1.1", "untrusted", "expired",
                                        "name-mismatch"};
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
    struct sts_decision d = good();
    struct sts_decision_address second[] = {{"192.0.2.1", STS_ADDRESS_PASSED, NULL},
                                            {"2001:db8::1", STS_ADDRESS_FAILED, reasons[i]}};
    hosts[0].addresses = second;
    CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_CERT_INVALID);
    char want[STS_FAILURE_MAX_BYTES];
    snprintf(want, sizeof want, "MX host mx1.example.com (2001:db8::1): %s (RFC 8461 4.2)", reasons[i]);
    CHECK_STR(failure, want);
  }
  struct sts_decision d = good();
  static const struct sts_decision_address bad[] = {{NULL, STS_ADDRESS_FAILED, NULL}};
  hosts[1].addresses = bad;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_CERT_INVALID);
  CHECK_STR(failure, "MX host mx2.example.com: not a WebPKI-valid STARTTLS session (RFC 8461 4.2)");
  /* a failure buffer too small is cut, not overrun */
  char small[8];
  CHECK_INT(sts_status_decide(&d, small, sizeof small), MTA_STS_CERT_INVALID);
  CHECK_INT(strlen(small), 7);
}

/* A policy no certificate was seen for is never valid: every address
 * unchecked (unreachable, skipped, or hosts not probed), or hosts with no
 * address at all, is cert-unchecked; one passed address is enough for
 * valid when none failed (test_valid). */
static void test_cert_unchecked(void) {
  struct sts_decision d = good();
  static const struct sts_decision_address unreachable[] = {{"192.0.2.1", STS_ADDRESS_UNCHECKED, "timeout"}};
  hosts[0].addresses = unreachable;
  hosts[0].address_count = 1;
  hosts[1].addresses = unreachable;
  hosts[1].address_count = 1;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_CERT_UNCHECKED);
  CHECK(strstr(failure, "no MX address was checked") != NULL);
  d = good();
  hosts[0].addresses = NULL;
  hosts[0].address_count = 0;
  hosts[1].addresses = NULL;
  hosts[1].address_count = 0;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_CERT_UNCHECKED);
  /* a failed address still decides cert-invalid before anything else */
  d = good();
  static const struct sts_decision_address bad[] = {{"192.0.2.9", STS_ADDRESS_FAILED, "untrusted"}};
  hosts[0].addresses = unreachable;
  hosts[0].address_count = 1;
  hosts[1].addresses = bad;
  hosts[1].address_count = 1;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_CERT_INVALID);
  /* mode none and mx-mismatch come first, as the spec orders them */
  d = good();
  hosts[0].addresses = unreachable;
  hosts[1].addresses = unreachable;
  hosts[1].match = false;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_MX_MISMATCH);
  d = good();
  hosts[0].addresses = unreachable;
  d.mode = STS_MODE_NONE;
  CHECK_INT(sts_status_decide(&d, failure, sizeof failure), MTA_STS_MODE_NONE);
}

static void test_words_round_trip(void) {
  for (int i = 0; i < MTA_STS_STATUS_COUNT; i++) {
    enum mta_sts_status parsed;
    CHECK(mta_sts_status_parse(mta_sts_status_name((enum mta_sts_status)i), &parsed) == 0 && (int)parsed == i);
  }
  for (int i = 0; i < STS_MODE_COUNT; i++) {
    enum mta_sts_mode parsed;
    CHECK(mta_sts_mode_parse(mta_sts_mode_name((enum mta_sts_mode)i), &parsed) == 0 && (int)parsed == i);
  }
  for (int i = 0; i < TLSRPT_RECORD_STATUS_COUNT; i++) {
    enum tlsrpt_record_status parsed;
    CHECK(tlsrpt_record_status_parse(tlsrpt_record_status_name((enum tlsrpt_record_status)i), &parsed) == 0 &&
          (int)parsed == i);
  }
  CHECK_STR(mta_sts_status_name(MTA_STS_POLICY_UNAVAILABLE), "policy-unavailable");
  CHECK_STR(mta_sts_status_name(MTA_STS_STATUS_COUNT), "?");
  enum mta_sts_status parsed;
  CHECK(mta_sts_status_parse("dane-valid", &parsed) == -1);
}

UNIT_MAIN(UNIT_TEST(test_valid), UNIT_TEST(test_none), UNIT_TEST(test_record_invalid),
          UNIT_TEST(test_policy_unavailable), UNIT_TEST(test_policy_invalid), UNIT_TEST(test_mode_none),
          UNIT_TEST(test_mx_mismatch), UNIT_TEST(test_cert_invalid), UNIT_TEST(test_cert_unchecked),
          UNIT_TEST(test_words_round_trip))
