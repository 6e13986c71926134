/* Unit tests of the probe engine's pure parts: special-purpose addresses,
 * the CIDR blocklist, rollover classes, TLS-RPT mapping and config checks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "pipeline/rules.h"
#include "probe/probe.h"
#include "probe/probe_address.h"
#include "unit.h"

static struct sockaddr_storage addr(const char *text) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  } else {
    fprintf(stderr, "bad test address %s\n", text);
    abort();
  }
  return ss;
}

static const char *reserved(const char *text) {
  struct sockaddr_storage ss = addr(text);
  return probe_address_reserved((const struct sockaddr *)&ss);
}

static void test_reserved_v4(void) {
  const char *special[] = {"0.1.2.3",        "10.0.0.1",    "10.255.255.255", "100.64.0.1",      "100.127.255.255",
                           "127.0.0.1",      "169.254.1.1", "172.16.0.1",     "172.31.255.255",  "192.0.0.8",
                           "192.0.2.55",     "192.88.99.1", "192.168.1.1",    "198.18.0.1",      "198.19.255.255",
                           "198.51.100.7",   "203.0.113.9", "224.0.0.1",      "239.255.255.255", "240.0.0.1",
                           "255.255.255.255"};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
    if (reserved(special[i]) == NULL) fprintf(stderr, "not reserved: %s\n", special[i]);
    CHECK(reserved(special[i]) != NULL);
  }
  const char *global[] = {"1.1.1.1",    "8.8.8.8",     "100.63.255.255",  "100.128.0.0", "172.15.255.255",
                          "172.32.0.0", "192.0.1.1",   "192.0.3.1",       "192.169.0.1", "198.17.255.255",
                          "198.20.0.0", "203.0.114.1", "223.255.255.255", "11.0.0.1"};
  for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
    if (reserved(global[i]) != NULL) fprintf(stderr, "reserved: %s\n", global[i]);
    CHECK(reserved(global[i]) == NULL);
  }
  CHECK_STR(reserved("127.0.0.1"), "loopback 127.0.0.0/8 (RFC 1122)");
}

static void test_reserved_v6(void) {
  const char *special[] = {"::",      "::1",     "::ffff:8.8.8.8",   "64:ff9b::808:808", "64:ff9b:1::1",
                           "100::1",  "2001::1", "2001:1ff:ffff::1", "2001:db8::1",      "2002:808:808::1",
                           "3fff::1", "fc00::1", "fd12:3456::1",     "fe80::1",          "febf::1",
                           "ff02::1", "1234::1", "4000::1",          "e000::1"};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
    if (reserved(special[i]) == NULL) fprintf(stderr, "not reserved: %s\n", special[i]);
    CHECK(reserved(special[i]) != NULL);
  }
  const char *global[] = {"2001:200::1", "2001:4860:4860::8888", "2a00:1450::1", "2600::1", "3ffe::1", "2003::1"};
  for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
    if (reserved(global[i]) != NULL) fprintf(stderr, "reserved: %s -> %s\n", global[i], reserved(global[i]));
    CHECK(reserved(global[i]) == NULL);
  }
  CHECK_STR(reserved("::ffff:127.0.0.1"), "IPv4-mapped ::ffff:0:0/96 (RFC 4291)");
  CHECK_STR(reserved("2001:db8::1"), "documentation 2001:db8::/32 (RFC 3849)");
}

static bool blocked(const struct probe_blocklist *list, const char *text) {
  struct sockaddr_storage ss = addr(text);
  return probe_blocklist_contains(list, (const struct sockaddr *)&ss);
}

static void test_blocklist(void) {
  struct probe_blocklist *list = probe_blocklist_new();
  const char *why = NULL;
  CHECK_INT(probe_blocklist_add_text(list, "198.51.100.0/24", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "8.8.8.8", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "2001:db8:1::/48", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "0.0.0.0/0", &why) == 0 ? 1 : 0, 1);
  CHECK_INT(probe_blocklist_count(list), 4);
  probe_blocklist_free(list);

  list = probe_blocklist_new();
  CHECK_INT(probe_blocklist_add_text(list, "198.51.100.0/24", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "8.8.8.8", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "2001:db8:1::/48", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "2a00::/12", &why), 0);
  CHECK(blocked(list, "198.51.100.0"));
  CHECK(blocked(list, "198.51.100.255"));
  CHECK(!blocked(list, "198.51.101.0"));
  CHECK(!blocked(list, "198.51.99.255"));
  CHECK(blocked(list, "8.8.8.8"));
  CHECK(!blocked(list, "8.8.8.9"));
  CHECK(blocked(list, "2001:db8:1:ffff::1"));
  CHECK(!blocked(list, "2001:db8:2::1"));
  CHECK(blocked(list, "2a0f:ffff::1"));
  CHECK(!blocked(list, "2a10::1"));
  /* families are kept apart: an IPv4 prefix never matches IPv6 */
  CHECK(!blocked(list, "::c633:6401"));
  /* bad prefixes */
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.1/8", &why), -1);
  CHECK_STR(why, "host bits set beyond the prefix length");
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.0/33", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "2001:db8::/129", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "example.com", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.0/", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.0/8x", &why), -1);
  CHECK_INT(probe_blocklist_count(list), 4);
  probe_blocklist_free(list);
  probe_blocklist_free(NULL);
}

static void test_blocklist_file(void) {
  struct probe_blocklist *list = probe_blocklist_new();
  char why[256];
  FILE *good = tmpfile();
  fputs("# comment\n\n  192.0.2.0/24   # doc\n2001:db8::/32\n\t10.1.2.3\n", good);
  rewind(good);
  CHECK_INT(probe_blocklist_read(list, good, "good.txt", why, sizeof why), 0);
  fclose(good);
  CHECK_INT(probe_blocklist_count(list), 3);
  CHECK(blocked(list, "10.1.2.3"));
  FILE *bad = tmpfile();
  fputs("172.16.0.0/12\n172.16.0.0/99\n", bad);
  rewind(bad);
  CHECK_INT(probe_blocklist_read(list, bad, "bad.txt", why, sizeof why), -1);
  fclose(bad);
  CHECK(strncmp(why, "bad.txt:2: IPv4 prefix length over 32", 37) == 0);
  /* nothing of a bad file is added */
  CHECK_INT(probe_blocklist_count(list), 3);
  CHECK(!blocked(list, "172.16.0.1"));
  probe_blocklist_free(list);
}

static struct tlsa_record record(uint8_t usage) {
  static uint8_t digest[32];
  struct tlsa_record r = {usage, 1, 1, 32, digest, false, NULL};
  tlsa_record_classify(&r);
  return r;
}

static void test_rollover(void) {
  struct tlsa_record set[4];
  memset(set, 0, sizeof set);
  CHECK_INT(rules_rollover_class(set, 0), ROLLOVER_NONE);
  set[0] = record(3);
  CHECK_INT(rules_rollover_class(set, 1), ROLLOVER_SINGLE);
  set[0] = record(2);
  CHECK_INT(rules_rollover_class(set, 1), ROLLOVER_SINGLE);
  set[0] = record(3);
  set[1] = record(3);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_CURRENT_NEXT);
  set[1] = record(2);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_CURRENT_ISSUER);
  set[0] = record(2);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_ISSUER);
  /* unusable records do not count */
  set[0] = record(1);
  set[1] = record(0);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_NONE);
  set[2] = record(3);
  CHECK_INT(rules_rollover_class(set, 3), ROLLOVER_SINGLE);
  set[3] = record(3);
  set[3].data_len = 31; /* digest of the wrong length */
  tlsa_record_classify(&set[3]);
  CHECK_INT(rules_rollover_class(set, 4), ROLLOVER_SINGLE);
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 2)), "none");
}

static void test_tlsrpt(void) {
  CHECK_INT(probe_result_tlsrpt(PROBE_AUTHENTICATED), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_NAME_MISMATCH), TLSRPT_CERTIFICATE_HOST_MISMATCH);
  CHECK_INT(probe_result_tlsrpt(PROBE_CERT_EXPIRED), TLSRPT_CERTIFICATE_EXPIRED);
  CHECK_INT(probe_result_tlsrpt(PROBE_NO_STARTTLS), TLSRPT_STARTTLS_NOT_SUPPORTED);
  CHECK_INT(probe_result_tlsrpt(PROBE_STARTTLS_REFUSED), TLSRPT_STARTTLS_NOT_SUPPORTED);
  CHECK_INT(probe_result_tlsrpt(PROBE_TLSA_MISMATCH), TLSRPT_VALIDATION_FAILURE);
  CHECK_INT(probe_result_tlsrpt(PROBE_TLS_FAILED), TLSRPT_VALIDATION_FAILURE);
  CHECK_INT(probe_result_tlsrpt(PROBE_CONNECT_FAILED), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_TIMEOUT), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_UNAUTHENTICATED_TLS), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_SKIPPED), TLSRPT_NONE);
}

struct collected {
  int calls;
  enum probe_result result;
  char reason[128];
};

static void collect(const struct probe_report *report, void *arg) {
  struct collected *c = arg;
  c->calls++;
  c->result = report->result;
  snprintf(c->reason, sizeof c->reason, "%s", report->reason);
}

static void test_engine_skips(void) {
  struct event_base *base = event_base_new();
  struct probe_config config;
  probe_config_defaults(&config);
  CHECK_INT(config.smtp_port, 25);
  CHECK_INT(config.per_ip, 1);
  CHECK(config.greeting_timeout_ms >= 30000);
  char why[256];
  struct probe_engine *engine = probe_engine_new(base, &config, why, sizeof why);
  CHECK(engine != NULL);
  struct probe_request request;
  memset(&request, 0, sizeof request);
  request.host_name = "mx.example";
  request.address = addr("10.1.2.3");
  request.address_len = sizeof(struct sockaddr_in);
  struct collected c = {0, PROBE_AUTHENTICATED, ""};
  CHECK_INT(probe_engine_submit(engine, &request, collect, &c), 0);
  CHECK_INT(c.calls, 0); /* never from inside submit */
  CHECK_INT(probe_engine_pending(engine), 1);
  event_base_dispatch(base);
  CHECK_INT(c.calls, 1);
  CHECK_INT(c.result, PROBE_SKIPPED);
  CHECK_STR(c.reason, "private-use 10.0.0.0/8 (RFC 1918)");
  CHECK_INT(probe_engine_pending(engine), 0);
  /* an invalid request: no callback, -1 */
  request.address.ss_family = AF_UNIX;
  CHECK_INT(probe_engine_submit(engine, &request, collect, &c), -1);
  struct probe_stats stats;
  probe_engine_get_stats(engine, &stats);
  CHECK_INT(stats.submitted, 1);
  CHECK_INT(stats.skipped, 1);
  CHECK_INT(stats.connections, 0);
  /* free with a probe still queued: no callback */
  request.address = addr("10.1.2.4");
  CHECK_INT(probe_engine_submit(engine, &request, collect, &c), 0);
  probe_engine_free(engine);
  CHECK_INT(c.calls, 1);
  probe_engine_free(NULL);
  /* a bad EHLO name and a zero limit are refused */
  config.ehlo_name = "bad name\r\nMAIL FROM:<>";
  CHECK(probe_engine_new(base, &config, why, sizeof why) == NULL);
  config.ehlo_name = NULL;
  config.max_concurrent = 0;
  CHECK(probe_engine_new(base, &config, why, sizeof why) == NULL);
  event_base_free(base);
}

UNIT_MAIN(UNIT_TEST(test_reserved_v4), UNIT_TEST(test_reserved_v6), UNIT_TEST(test_blocklist),
          UNIT_TEST(test_blocklist_file), UNIT_TEST(test_rollover), UNIT_TEST(test_tlsrpt),
          UNIT_TEST(test_engine_skips))
