/* The MTA-STS part of the scan pipeline (pipeline/sts_stage.c inside
 * pipeline/scan.c): a scan with mta_sts on a scripted resolver and a fake
 * policy fetch (this file's, the only fake of the fetcher: the real one is
 * sts/sts_fetch.c). Checks the lookups made (only for domains with mail,
 * mta-sts.DOMAIN only after a valid record), the addresses the fetch gets,
 * every status the pipeline can reach without a probe, the host match, the
 * TLS-RPT record, and that without mta_sts nothing is looked up. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "fake_resolver.c"
#include "pipeline/scan.h"
#include "record/mta_sts_result.h"
#include "unit.h"

/* ---- the zone ---- */

struct zone_rr {
  const char *name; /* with trailing dot */
  ldns_rr_type type;
  const char *rr; /* presentation form; NULL: NXDOMAIN */
};

static const struct zone_rr zone[] = {
    {"none.test.", LDNS_RR_TYPE_MX, "none.test. 300 IN MX 10 mx.none.test."},
    {"recinv.test.", LDNS_RR_TYPE_MX, "recinv.test. 300 IN MX 10 mx.none.test."},
    {"_mta-sts.recinv.test.", LDNS_RR_TYPE_TXT, "_mta-sts.recinv.test. 300 IN TXT \"v=STSv1\""},
    {"unavail.test.", LDNS_RR_TYPE_MX, "unavail.test. 300 IN MX 10 mx.none.test."},
    {"_mta-sts.unavail.test.", LDNS_RR_TYPE_TXT, "_mta-sts.unavail.test. 300 IN TXT \"v=STSv1; id=1\""},
    {"polinv.test.", LDNS_RR_TYPE_MX, "polinv.test. 300 IN MX 10 mx.none.test."},
    {"_mta-sts.polinv.test.", LDNS_RR_TYPE_TXT, "_mta-sts.polinv.test. 300 IN TXT \"v=STSv1; id=1\""},
    {"mta-sts.polinv.test.", LDNS_RR_TYPE_A, "mta-sts.polinv.test. 300 IN A 192.0.2.10"},
    {"modenone.test.", LDNS_RR_TYPE_MX, "modenone.test. 300 IN MX 10 mx.none.test."},
    {"_mta-sts.modenone.test.", LDNS_RR_TYPE_TXT, "_mta-sts.modenone.test. 300 IN TXT \"v=STSv1; id=1\""},
    {"mta-sts.modenone.test.", LDNS_RR_TYPE_A, "mta-sts.modenone.test. 300 IN A 192.0.2.11"},
    {"mismatch.test.", LDNS_RR_TYPE_MX, "mismatch.test. 300 IN MX 10 mx.none.test."},
    {"mismatch.test.", LDNS_RR_TYPE_MX, "mismatch.test. 300 IN MX 20 mx1.valid.test."},
    {"_mta-sts.mismatch.test.", LDNS_RR_TYPE_TXT, "_mta-sts.mismatch.test. 300 IN TXT \"v=STSv1; id=1\""},
    {"mta-sts.mismatch.test.", LDNS_RR_TYPE_A, "mta-sts.mismatch.test. 300 IN A 192.0.2.12"},
    {"valid.test.", LDNS_RR_TYPE_MX, "valid.test. 300 IN MX 10 mx1.valid.test."},
    {"_mta-sts.valid.test.", LDNS_RR_TYPE_TXT, "_mta-sts.valid.test. 300 IN TXT \"v=spf1 -all\""},
    {"_mta-sts.valid.test.", LDNS_RR_TYPE_TXT, "_mta-sts.valid.test. 300 IN TXT \"v=STSv1; \" \"id=20240101\""},
    {"mta-sts.valid.test.", LDNS_RR_TYPE_A, "mta-sts.valid.test. 300 IN A 192.0.2.13"},
    {"mta-sts.valid.test.", LDNS_RR_TYPE_AAAA, "mta-sts.valid.test. 300 IN AAAA 2001:db8::13"},
    {"_smtp._tls.valid.test.", LDNS_RR_TYPE_TXT,
     "_smtp._tls.valid.test. 300 IN TXT \"v=TLSRPTv1; rua=mailto:tls@valid.test,https://r.valid.test/x\""},
    {"_smtp._tls.none.test.", LDNS_RR_TYPE_TXT, "_smtp._tls.none.test. 300 IN TXT \"v=TLSRPTv1; rua=ftp://x\""},
    {"nomail.test.", LDNS_RR_TYPE_MX, "nomail.test. 300 IN MX 0 ."},
    {"_mta-sts.nomail.test.", LDNS_RR_TYPE_TXT, "_mta-sts.nomail.test. 300 IN TXT \"v=STSv1; id=1\""},
    {"mx.none.test.", LDNS_RR_TYPE_A, "mx.none.test. 300 IN A 192.0.2.1"},
    {"mx1.valid.test.", LDNS_RR_TYPE_A, "mx1.valid.test. 300 IN A 192.0.2.2"},
};

static char query_log[64][300];
static unsigned query_log_count;

static bool name_exists(const char *name) {
  for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++) {
    if (strcmp(zone[i].name, name) == 0) return true;
  }
  return false;
}

static void answer(struct fake_resolver *fake, const struct fake_query *query, void *arg) {
  (void)arg;
  if (query_log_count < 64) {
    snprintf(query_log[query_log_count++], sizeof query_log[0], "%s %s", query->name,
             query->type == LDNS_RR_TYPE_TXT      ? "TXT"
                 : query->type == LDNS_RR_TYPE_MX ? "MX"
                 : query->type == LDNS_RR_TYPE_A  ? "A"
                                                  : "other");
  }
  bool exists = name_exists(query->name);
  ldns_pkt *reply = fake_reply_new(query, exists ? LDNS_RCODE_NOERROR : LDNS_RCODE_NXDOMAIN, false);
  for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++) {
    if (strcmp(zone[i].name, query->name) == 0 && zone[i].type == query->type) {
      fake_reply_add_answer(reply, zone[i].rr);
    }
  }
  fake_resolver_reply(fake, query, reply);
}

static unsigned queries_for(const char *prefix) {
  unsigned n = 0;
  for (unsigned i = 0; i < query_log_count; i++) n += strncmp(query_log[i], prefix, strlen(prefix)) == 0;
  return n;
}

/* ---- the fake fetch: a policy per domain, from the event loop ---- */

struct pending_fetch {
  struct event *event;
  char domain[256];
  sts_fetch_done_cb done;
  void *arg;
  size_t n_addresses;
  struct sts_fetch_result result;
};

static struct event_base *base;
static struct pending_fetch fetches[16];
static size_t fetch_count;

static const char *policy_of(const char *domain) {
  if (strcmp(domain, "polinv.test") == 0) return "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n";
  if (strcmp(domain, "modenone.test") == 0) return "version: STSv1\nmode: none\nmax_age: 86400\n";
  if (strcmp(domain, "mismatch.test") == 0) return "version: STSv1\nmode: enforce\nmx: *.valid.test\nmax_age: 60\n";
  if (strcmp(domain, "valid.test") == 0)
    return "version: STSv1\r\nmode: testing\r\nmx: *.valid.test\r\nmax_age: 604800\r\n";
  return NULL;
}

static void deliver(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct pending_fetch *fetch = arg;
  fetch->done(&fetch->result, fetch->arg);
}

static int fake_fetch(void *ctx, const char *domain, const struct sockaddr_storage *addresses, size_t n_addresses,
                      sts_fetch_done_cb done, void *arg) {
  (void)ctx;
  (void)addresses;
  if (fetch_count == 16) return -1;
  struct pending_fetch *fetch = &fetches[fetch_count++];
  memset(fetch, 0, sizeof *fetch);
  snprintf(fetch->domain, sizeof fetch->domain, "%s", domain);
  fetch->done = done;
  fetch->arg = arg;
  fetch->n_addresses = n_addresses;
  const char *body = policy_of(domain);
  if (n_addresses == 0) {
    fetch->result.outcome = STS_FETCH_UNAVAILABLE;
    snprintf(fetch->result.failure, sizeof fetch->result.failure, "mta-sts.%s has no address", domain);
  } else if (body == NULL) {
    fetch->result.outcome = STS_FETCH_UNAVAILABLE;
    fetch->result.http_status = 404;
    snprintf(fetch->result.failure, sizeof fetch->result.failure, "HTTP status 404");
  } else {
    fetch->result.outcome = STS_FETCH_OK;
    fetch->result.http_status = 200;
    fetch->result.body = body;
    fetch->result.body_len = strlen(body);
  }
  fetch->event = evtimer_new(base, deliver, fetch);
  struct timeval soon = {0, 1000};
  evtimer_add(fetch->event, &soon);
  return 0;
}

static const struct pending_fetch *fetch_of(const char *domain) {
  for (size_t i = 0; i < fetch_count; i++) {
    if (strcmp(fetches[i].domain, domain) == 0) return &fetches[i];
  }
  return NULL;
}

/* ---- the sink: copies what the tests look at ---- */

struct seen {
  char domain[256];
  bool checked;
  enum mta_sts_status status;
  char failure[MTA_STS_FAILURE_MAX_BYTES];
  char id[MTA_STS_ID_MAX_BYTES];
  bool has_policy;
  enum mta_sts_mode mode;
  int64_t max_age;
  size_t pattern_count;
  bool match[2];
  size_t link_count;
  enum tlsrpt_record_status tlsrpt;
  char rua[MTA_STS_RUA_MAX_BYTES];
  bool record_lookup_done;
};

static struct seen seen[16];
static size_t seen_count;

static int sink_write(void *state, const struct domain_result *result, char *why, size_t why_len) {
  (void)state;
  (void)why;
  (void)why_len;
  if (seen_count == 16) return 0;
  struct seen *s = &seen[seen_count++];
  snprintf(s->domain, sizeof s->domain, "%s", result->name);
  s->link_count = result->link_count;
  const struct mta_sts_result *sts = result->mta_sts;
  s->checked = sts != NULL;
  if (sts == NULL) return 0;
  s->status = sts->status;
  snprintf(s->failure, sizeof s->failure, "%s", sts->failure);
  snprintf(s->id, sizeof s->id, "%s", sts->id);
  s->has_policy = sts->has_policy;
  s->mode = sts->mode;
  s->max_age = sts->max_age;
  s->pattern_count = sts->mx_pattern_count;
  for (size_t i = 0; i < 2 && i < result->link_count; i++) s->match[i] = sts->host_match[i];
  s->tlsrpt = sts->tlsrpt_status;
  snprintf(s->rua, sizeof s->rua, "%s", sts->tlsrpt_rua);
  s->record_lookup_done = sts->record_lookup.done;
  return 0;
}

static const struct seen *seen_of(const char *domain) {
  for (size_t i = 0; i < seen_count; i++) {
    if (strcmp(seen[i].domain, domain) == 0) return &seen[i];
  }
  return NULL;
}

/* ---- the names ---- */

static const char *const names[] = {"none.test",     "recinv.test",   "unavail.test", "polinv.test",
                                    "modenone.test", "mismatch.test", "valid.test",   "nomail.test"};
static size_t next_index;

static int next_name(void *state, struct input_name *out, char *why, size_t why_len) {
  (void)state;
  (void)why;
  (void)why_len;
  if (next_index == sizeof names / sizeof names[0]) return 0;
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", names[next_index]);
  out->seq = next_index++;
  out->rank = -1;
  return 1;
}

static void run_scan(bool mta_sts) {
  query_log_count = 0;
  seen_count = 0;
  next_index = 0;
  fetch_count = 0;
  base = event_base_new();
  struct fake_resolver *fake = fake_resolver_new(base, answer, NULL);
  struct dns_client_config dns_config;
  dns_client_config_defaults(&dns_config);
  dns_config.udp_socket_count = 2;
  char why[256] = "";
  CHECK(dns_client_config_add_resolver(&dns_config, fake_resolver_address(fake), why, sizeof why) == 0);
  struct dns_client *dns = dns_client_new(base, &dns_config, why, sizeof why);
  struct host_resolver_config host_config = {.max_cached_hosts = 100, .finisher = NULL};
  struct host_resolver *hosts = host_resolver_new(dns, &host_config);
  struct result_sink sink = {.name = "test", .write = sink_write};
  struct sts_policy_fetch policy_fetch = {NULL, fake_fetch};
  struct scan_config config;
  scan_config_defaults(&config);
  config.concurrency = 4;
  config.mta_sts = mta_sts;
  config.policy_fetch = &policy_fetch;
  struct scan *scan = scan_new(base, &config, dns, hosts, NULL, &sink, 1);
  struct scan_source source = {NULL, next_name, NULL};
  scan_set_source(scan, &source);
  CHECK_INT(scan_run(scan), 0);
  scan_free(scan);
  host_resolver_free(hosts);
  dns_client_free(dns);
  fake_resolver_free(fake);
  for (size_t i = 0; i < fetch_count; i++) {
    event_free(fetches[i].event);
  }
  event_base_free(base);
}

static void test_statuses(void) {
  run_scan(true);
  CHECK_INT(seen_count, 8);
  const struct seen *s = seen_of("none.test");
  CHECK(s != NULL && s->checked && s->status == MTA_STS_NONE && s->failure[0] == '\0' && s->record_lookup_done);
  CHECK(s != NULL && s->tlsrpt == TLSRPT_RECORD_INVALID && s->rua[0] == '\0');
  s = seen_of("recinv.test");
  CHECK(s != NULL && s->status == MTA_STS_RECORD_INVALID && strstr(s->failure, "no id") != NULL);
  CHECK(s != NULL && s->tlsrpt == TLSRPT_RECORD_NONE);
  s = seen_of("unavail.test");
  CHECK(s != NULL && s->status == MTA_STS_POLICY_UNAVAILABLE);
  if (s != NULL) CHECK_STR(s->failure, "policy fetch: mta-sts.unavail.test has no address");
  CHECK(fetch_of("unavail.test") != NULL && fetch_of("unavail.test")->n_addresses == 0);
  s = seen_of("polinv.test");
  CHECK(s != NULL && s->status == MTA_STS_POLICY_INVALID && strstr(s->failure, "STSv2") != NULL && !s->has_policy);
  s = seen_of("modenone.test");
  CHECK(s != NULL && s->status == MTA_STS_MODE_NONE && s->has_policy && s->mode == STS_MODE_NONE &&
        s->max_age == 86400 && s->failure[0] == '\0');
  s = seen_of("mismatch.test");
  CHECK(s != NULL && s->status == MTA_STS_MX_MISMATCH && s->link_count == 2);
  if (s != NULL) {
    CHECK(!s->match[0] && s->match[1]); /* mx.none.test, mx1.valid.test */
    CHECK(strstr(s->failure, "mx.none.test") != NULL);
  }
  s = seen_of("valid.test");
  /* no probe ran (DNS only): no certificate was seen, so the policy is
   * cert-unchecked, never valid; the rest holds */
  CHECK(s != NULL && s->status == MTA_STS_CERT_UNCHECKED && s->has_policy && s->mode == STS_MODE_TESTING &&
        s->max_age == 604800 && s->pattern_count == 1 && s->match[0]);
  if (s != NULL) {
    CHECK_STR(s->id, "20240101"); /* the strings of the TXT RR concatenated */
    CHECK_INT(s->tlsrpt, TLSRPT_RECORD_VALID);
    CHECK_STR(s->rua, "mailto:tls@valid.test,https://r.valid.test/x");
  }
  CHECK(fetch_of("valid.test") != NULL && fetch_of("valid.test")->n_addresses == 2);
  s = seen_of("nomail.test");
  CHECK(s != NULL && !s->checked); /* null MX: no mail, no MTA-STS */
  CHECK_INT(queries_for("_mta-sts.nomail.test."), 0);
  /* mta-sts.DOMAIN only after a valid record: not for none and recinv */
  CHECK_INT(queries_for("mta-sts.none.test."), 0);
  CHECK_INT(queries_for("mta-sts.recinv.test."), 0);
  CHECK_INT(queries_for("mta-sts.valid.test."), 2);
  CHECK_INT(queries_for("_smtp._tls.valid.test. TXT"), 1);
  CHECK_INT(fetch_count, 5); /* unavail, polinv, modenone, mismatch, valid */
}

static void test_off(void) {
  run_scan(false);
  CHECK_INT(seen_count, 8);
  for (size_t i = 0; i < seen_count; i++) CHECK(!seen[i].checked);
  CHECK_INT(queries_for("_mta-sts."), 0);
  CHECK_INT(queries_for("_smtp._tls."), 0);
  CHECK_INT(fetch_count, 0);
}

static void test_address_check(void) {
  struct host_address address = {.family = AF_INET, .text = "192.0.2.1"};
  char reason[128];
  address.probe_result = PROBE_NO_STARTTLS;
  CHECK_INT(sts_stage_address_check(&address, reason, sizeof reason), STS_ADDRESS_FAILED);
  CHECK_STR(reason, "no-starttls");
  address.probe_result = PROBE_TLS_FAILED;
  address.probe_reason = "handshake failure";
  CHECK_INT(sts_stage_address_check(&address, reason, sizeof reason), STS_ADDRESS_FAILED);
  CHECK_STR(reason, "tls-failed: handshake failure");
  address.probe_result = PROBE_TIMEOUT;
  CHECK_INT(sts_stage_address_check(&address, reason, sizeof reason), STS_ADDRESS_UNCHECKED);
  address.probe_result = PROBE_SKIPPED;
  CHECK_INT(sts_stage_address_check(&address, reason, sizeof reason), STS_ADDRESS_UNCHECKED);
}

UNIT_MAIN(UNIT_TEST(test_statuses), UNIT_TEST(test_off), UNIT_TEST(test_address_check))
