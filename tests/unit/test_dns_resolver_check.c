/* Unit tests of the resolver validation check against scripted resolvers:
 * a validating one, one that does not validate at all, one that validates
 * the signed name but serves the broken one, and a dead one. */
#include <stdlib.h>
#include <string.h>

#include "dns/resolver_check.h"
#include "fake_resolver.c"
#include "unit.h"

/* Validating: "." SOA with AD; dnssec-failed.org SERVFAIL, data with CD=1. */
static void handle_validating(struct fake_resolver *fake, const struct fake_query *q, void *arg) {
  (void)arg;
  if (strcmp(q->name, ".") == 0 || strcmp(q->name, "signed.example.") == 0) {
    ldns_pkt *reply = fake_reply_new(q, LDNS_RCODE_NOERROR, true);
    fake_reply_add_answer(reply,
                          ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. "
                          "2024010100 1800 900 604800 86400");
    fake_resolver_reply(fake, q, reply);
  } else if (q->checking_disabled) {
    fake_resolver_reply(fake, q, fake_reply_new(q, LDNS_RCODE_NOERROR, false));
  } else {
    fake_resolver_reply(fake, q, fake_reply_new(q, LDNS_RCODE_SERVFAIL, false));
  }
}

/* Not validating: everything NOERROR without AD. */
static void handle_plain(struct fake_resolver *fake, const struct fake_query *q, void *arg) {
  (void)arg;
  fake_resolver_reply(fake, q, fake_reply_new(q, LDNS_RCODE_NOERROR, false));
}

/* Half: AD for ".", but serves the broken name without AD. */
static void handle_half(struct fake_resolver *fake, const struct fake_query *q, void *arg) {
  (void)arg;
  fake_resolver_reply(fake, q, fake_reply_new(q, LDNS_RCODE_NOERROR, strcmp(q->name, ".") == 0));
}

static void handle_dead(struct fake_resolver *fake, const struct fake_query *q, void *arg) {
  (void)fake;
  (void)q;
  (void)arg;
}

struct outcome {
  int calls;
  bool all;
  size_t count;
  bool validates[2];
  char message[2][RESOLVER_CHECK_MESSAGE_MAX_BYTES];
  struct event_base *base;
};

static void on_done(const struct resolver_verdict *verdicts, size_t count, bool all, void *arg) {
  struct outcome *outcome = arg;
  outcome->calls++;
  outcome->all = all;
  outcome->count = count;
  for (size_t i = 0; i < count && i < 2; i++) {
    CHECK_INT(verdicts[i].resolver_index, i);
    outcome->validates[i] = verdicts[i].validates;
    snprintf(outcome->message[i], sizeof outcome->message[i], "%s", verdicts[i].message);
  }
  event_base_loopbreak(outcome->base);
}

/* Runs a check on one or two scripted resolvers. */
static void run_check(fake_handler first, fake_handler second, const struct resolver_check_config *config,
                      struct outcome *outcome, char addresses[2][64]) {
  memset(outcome, 0, sizeof *outcome);
  struct event_base *base = event_base_new();
  outcome->base = base;
  struct fake_resolver *fakes[2] = {fake_resolver_new(base, first, NULL),
                                    second ? fake_resolver_new(base, second, NULL) : NULL};
  struct dns_client_config dns;
  dns_client_config_defaults(&dns);
  dns.query_timeout_ms = 50;
  dns.max_query_timeout_ms = 100;
  dns.max_attempts = 2;
  dns.slow_retry_delay_ms = 20;
  dns.slow_retry_rounds = 1;
  dns.udp_socket_count = 2;
  char why[128];
  for (int i = 0; i < 2; i++) {
    if (fakes[i] != NULL) {
      snprintf(addresses[i], 64, "%s", fake_resolver_address(fakes[i]));
      dns_client_config_add_resolver(&dns, addresses[i], why, sizeof why);
    }
  }
  struct dns_client *client = dns_client_new(base, &dns, why, sizeof why);
  CHECK(client != NULL);
  struct resolver_check *check = resolver_check_start(client, config, on_done, outcome, why, sizeof why);
  CHECK(check != NULL);
  struct timeval deadline = {5, 0};
  event_base_loopexit(base, &deadline);
  event_base_dispatch(base);
  dns_client_free(client);
  fake_resolver_free(fakes[0]);
  fake_resolver_free(fakes[1]);
  event_base_free(base);
}

static void test_validating_resolver_passes(void) {
  struct resolver_check_config config;
  resolver_check_config_defaults(&config);
  CHECK_STR(config.signed_name, ".");
  CHECK_STR(config.bogus_name, "dnssec-failed.org");
  struct outcome outcome;
  char addresses[2][64];
  run_check(handle_validating, NULL, &config, &outcome, addresses);
  CHECK_INT(outcome.calls, 1);
  CHECK(outcome.all);
  CHECK_INT(outcome.count, 1);
  CHECK(outcome.validates[0]);
  char want[256];
  snprintf(want, sizeof want, "resolver %s validates DNSSEC", addresses[0]);
  CHECK(strncmp(outcome.message[0], want, strlen(want)) == 0);
}

static void test_plain_resolver_refused(void) {
  struct resolver_check_config config;
  resolver_check_config_defaults(&config);
  struct outcome outcome;
  char addresses[2][64];
  run_check(handle_plain, NULL, &config, &outcome, addresses);
  CHECK_INT(outcome.calls, 1);
  CHECK(!outcome.all);
  CHECK(!outcome.validates[0]);
  char want[512];
  snprintf(want, sizeof want,
           "resolver %s does not validate DNSSEC: '.' SOA answered NOERROR without AD; refusing "
           "to run DANE checks (use --insecure-resolver-ok to debug)",
           addresses[0]);
  CHECK_STR(outcome.message[0], want);
}

static void test_half_validating_resolver_refused(void) {
  struct resolver_check_config config;
  resolver_check_config_defaults(&config);
  struct outcome outcome;
  char addresses[2][64];
  run_check(handle_half, NULL, &config, &outcome, addresses);
  CHECK(!outcome.all);
  char want[512];
  snprintf(want, sizeof want,
           "resolver %s does not validate DNSSEC: 'dnssec-failed.org' answered NOERROR without "
           "AD; refusing to run DANE checks (use --insecure-resolver-ok to debug)",
           addresses[0]);
  CHECK_STR(outcome.message[0], want);
}

static void test_one_good_one_dead(void) {
  struct resolver_check_config config;
  resolver_check_config_defaults(&config);
  config.signed_name = "signed.example";
  config.bogus_name = "broken.example";
  struct outcome outcome;
  char addresses[2][64];
  run_check(handle_validating, handle_dead, &config, &outcome, addresses);
  CHECK_INT(outcome.calls, 1);
  CHECK_INT(outcome.count, 2);
  CHECK(!outcome.all);
  CHECK(outcome.validates[0]);
  CHECK(!outcome.validates[1]);
  CHECK(strstr(outcome.message[0], "'broken.example' bogus") != NULL);
  CHECK(strstr(outcome.message[1], addresses[1]) != NULL);
  CHECK(strstr(outcome.message[1], "'signed.example' SOA got no usable answer (timeout)") != NULL);
}

static void test_run_convenience(void) {
  struct event_base *base = event_base_new();
  struct fake_resolver *fake = fake_resolver_new(base, handle_validating, NULL);
  struct dns_client_config dns;
  dns_client_config_defaults(&dns);
  dns.query_timeout_ms = 50;
  char why[128];
  dns_client_config_add_resolver(&dns, fake_resolver_address(fake), why, sizeof why);
  struct dns_client *client = dns_client_new(base, &dns, why, sizeof why);
  struct resolver_check_config config;
  resolver_check_config_defaults(&config);
  CHECK_INT(resolver_check_run(base, client, &config, false), 0);
  config.bogus_name = "bad..name";
  CHECK_INT(resolver_check_run(base, client, &config, false), -1);
  dns_client_free(client);
  fake_resolver_free(fake);
  event_base_free(base);
}

static void never_called(const struct resolver_verdict *verdicts, size_t count, bool all, void *arg) {
  (void)verdicts;
  (void)count;
  (void)all;
  int *calls = arg;
  (*calls)++;
}

static void test_cancel(void) {
  struct event_base *base = event_base_new();
  struct fake_resolver *fake = fake_resolver_new(base, handle_validating, NULL);
  struct dns_client_config dns;
  dns_client_config_defaults(&dns);
  char why[128];
  dns_client_config_add_resolver(&dns, fake_resolver_address(fake), why, sizeof why);
  struct dns_client *client = dns_client_new(base, &dns, why, sizeof why);
  struct resolver_check_config config;
  resolver_check_config_defaults(&config);
  int calls = 0;
  struct resolver_check *check = resolver_check_start(client, &config, never_called, &calls, why, sizeof why);
  CHECK(check != NULL);
  resolver_check_cancel(check, client);
  struct timeval wait = {0, 100000};
  event_base_loopexit(base, &wait);
  event_base_dispatch(base);
  CHECK_INT(calls, 0);
  struct dns_client_stats stats;
  dns_client_get_stats(client, &stats);
  CHECK_INT(stats.cancelled, 2);
  dns_client_free(client);
  fake_resolver_free(fake);
  event_base_free(base);
}

UNIT_MAIN(UNIT_TEST(test_validating_resolver_passes), UNIT_TEST(test_plain_resolver_refused),
          UNIT_TEST(test_half_validating_resolver_refused), UNIT_TEST(test_one_good_one_dead),
          UNIT_TEST(test_run_convenience), UNIT_TEST(test_cancel))
