/* report/explain_sts: the MTA-STS and TLS-RPT sentences of `danescan check`
 * for hand-built records, one per status that asks for a fix, and through
 * explain_domain (the section and its fixes in the whole explanation). */
#include <stdlib.h>
#include <string.h>

#include "record/mta_sts_result.h"
#include "report/explain.h"
#include "report/explain_sts.h"
#include "unit.h"

struct fixture {
  struct domain_result domain;
  struct mx_host hosts[2];
  struct mta_sts_result sts;
  char *patterns[1];
};

static void fixture_init(struct fixture *fx, enum mta_sts_status status) {
  memset(fx, 0, sizeof *fx);
  snprintf(fx->domain.name, sizeof fx->domain.name, "example.test");
  fx->domain.rank = -1;
  fx->domain.status = DOMAIN_INSECURE;
  fx->domain.mx.done = true;
  fx->domain.mx.state = DNSSEC_INSECURE;
  fx->hosts[0].name = "mx1.example.test";
  fx->hosts[1].name = "mx.elsewhere.test";
  fx->hosts[0].status = fx->hosts[1].status = HOST_INSECURE;
  fx->domain.links[0] = (struct mx_link){10, &fx->hosts[0]};
  fx->domain.links[1] = (struct mx_link){20, &fx->hosts[1]};
  fx->domain.link_count = 2;
  mta_sts_result_clear(&fx->sts);
  fx->sts.status = status;
  fx->sts.record_lookup.done = true;
  fx->sts.record_lookup.state = DNSSEC_INSECURE;
  fx->sts.tlsrpt_lookup.done = true;
  fx->sts.tlsrpt_lookup.state = DNSSEC_INSECURE;
  fx->sts.tlsrpt_lookup.rcode = 3;
  fx->domain.mta_sts = &fx->sts;
}

static void with_policy(struct fixture *fx, enum mta_sts_mode mode) {
  fx->sts.has_policy = true;
  fx->sts.mode = mode;
  fx->sts.max_age = 86400;
  fx->patterns[0] = "*.example.test";
  fx->sts.mx_patterns = fx->patterns;
  fx->sts.mx_pattern_count = 1;
  fx->sts.host_match[0] = true;
  fx->sts.host_match[1] = false;
  snprintf(fx->sts.id, sizeof fx->sts.id, "20240101");
  fx->sts.http_status = 200;
}

/* The section and the fixes of fx, as text; *fix_count set. */
static char *section(const struct fixture *fx, char **fixes, size_t *fix_count) {
  char *text = NULL;
  size_t text_len = 0, fixes_len = 0;
  FILE *out = open_memstream(&text, &text_len);
  FILE *fix = open_memstream(fixes, &fixes_len);
  *fix_count = explain_mta_sts(&fx->domain, out, fix);
  fclose(out);
  fclose(fix);
  return text;
}

static void check_has(const char *text, const char *part, int line) {
  unit_checks++;
  if (text == NULL || strstr(text, part) == NULL) {
    unit_failures++;
    fprintf(stderr, "%s:%d: \"%s\" not in:\n%s\n", __FILE__, line, part, text != NULL ? text : "(null)");
  }
}
#define CHECK_HAS(text, part) check_has((text), (part), __LINE__)

static void test_not_checked(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_NONE);
  fx.domain.mta_sts = NULL;
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 0);
  CHECK_STR(text, "");
  free(text);
  free(fixes);
}

static void test_none(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_NONE);
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 0);
  CHECK_HAS(text, "MTA-STS: none\n");
  CHECK_HAS(text, "_mta-sts.example.test TXT: insecure\n");
  CHECK_HAS(text, "TLS-RPT: none\n  _smtp._tls.example.test TXT: insecure (NXDOMAIN)\n");
  free(text);
  free(fixes);
}

static void test_record_invalid(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_RECORD_INVALID);
  snprintf(fx.sts.failure, sizeof fx.sts.failure, "_mta-sts TXT: record 1: no id field (RFC 8461 3.1)");
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 1);
  CHECK_HAS(text, "why: _mta-sts TXT: record 1: no id field");
  CHECK_HAS(fixes, "Publish exactly one TXT record at _mta-sts.example.test of the form \"v=STSv1; id=ID\"");
  free(text);
  free(fixes);
}

static void test_policy_unavailable(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_POLICY_UNAVAILABLE);
  snprintf(fx.sts.failure, sizeof fx.sts.failure, "policy fetch: mta-sts.example.test has no address");
  fx.sts.policy_host_a.done = fx.sts.policy_host_aaaa.done = true;
  fx.sts.policy_host_a.rcode = fx.sts.policy_host_aaaa.rcode = 3;
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 2);
  CHECK_HAS(fixes, "Publish an A or AAAA record for mta-sts.example.test");
  CHECK_HAS(fixes, "Serve the policy at https://mta-sts.example.test/.well-known/mta-sts.txt");
  CHECK_HAS(fixes, "has no address.");
  free(text);
  free(fixes);
  /* an address but a 404: no DNS fix */
  fx.sts.policy_host_a.rcode = 0;
  fx.sts.http_status = 404;
  text = section(&fx, &fixes, &count);
  CHECK_INT(count, 1);
  CHECK_HAS(text, "policy fetch: HTTP 404");
  free(text);
  free(fixes);
}

static void test_policy_invalid(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_POLICY_INVALID);
  snprintf(fx.sts.failure, sizeof fx.sts.failure, "policy: line 1: version \"STSv2\" is not STSv1");
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 1);
  CHECK_HAS(fixes, "Correct the policy at https://mta-sts.example.test/.well-known/mta-sts.txt");
  CHECK_HAS(fixes, "then change the id of _mta-sts.example.test: policy: line 1");
  free(text);
  free(fixes);
}

static void test_mode_none_and_valid(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_MODE_NONE);
  with_policy(&fx, STS_MODE_NONE);
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 0);
  CHECK_HAS(text, "opts out of MTA-STS (mode: none)");
  CHECK(strstr(text, "matches no pattern") == NULL); /* mode none: no match shown */
  free(text);
  free(fixes);
  fixture_init(&fx, MTA_STS_VALID);
  with_policy(&fx, STS_MODE_TESTING);
  fx.sts.host_match[1] = true;
  text = section(&fx, &fixes, &count);
  CHECK_INT(count, 0);
  CHECK_HAS(text, "policy: mode testing, max_age 86400 s, 1 mx pattern\n    mx: *.example.test\n");
  CHECK_HAS(text, "record id: 20240101");
  CHECK_HAS(text, "mode testing: senders report failures but still deliver");
  free(text);
  free(fixes);
}

static void test_mx_mismatch(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_MX_MISMATCH);
  with_policy(&fx, STS_MODE_ENFORCE);
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 1);
  CHECK_HAS(text, "MX host mx1.example.test: matches a pattern\n  MX host mx.elsewhere.test: matches no pattern");
  CHECK_HAS(fixes, "Add \"mx: mx.elsewhere.test\" to the MTA-STS policy of example.test");
  CHECK(strstr(fixes, "mx1.example.test") == NULL);
  free(text);
  free(fixes);
}

static void test_cert_invalid_and_tlsrpt(void) {
  struct fixture fx;
  fixture_init(&fx, MTA_STS_CERT_INVALID);
  with_policy(&fx, STS_MODE_ENFORCE);
  fx.sts.host_match[1] = true;
  snprintf(fx.sts.failure, sizeof fx.sts.failure, "MX host mx1.example.test (192.0.2.1): untrusted (RFC 8461 4.2)");
  fx.sts.tlsrpt_status = TLSRPT_RECORD_INVALID;
  snprintf(fx.sts.tlsrpt_failure, sizeof fx.sts.tlsrpt_failure, "record 1: no rua field (RFC 8460 3)");
  char *fixes;
  size_t count;
  char *text = section(&fx, &fixes, &count);
  CHECK_INT(count, 2);
  CHECK_HAS(fixes, "Offer STARTTLS with TLS 1.2 or later and a certificate chain valid under the public WebPKI");
  CHECK_HAS(fixes, "(192.0.2.1): untrusted");
  CHECK_HAS(fixes, "Publish exactly one TXT record at _smtp._tls.example.test");
  CHECK_HAS(text, "TLS-RPT: invalid");
  free(text);
  free(fixes);
  /* the whole explanation carries the section and counts its fixes */
  struct explain_options options = {.now_unix = 0, .smtp_port = 25};
  text = explain_domain(&fx.domain, &options);
  CHECK_HAS(text, "\nMTA-STS: cert-invalid\n");
  CHECK_HAS(text, "What to fix:\n");
  CHECK_HAS(text, "Publish exactly one TXT record at _smtp._tls.example.test");
  free(text);
  fx.sts.tlsrpt_status = TLSRPT_RECORD_VALID;
  fx.sts.tlsrpt_failure[0] = '\0';
  snprintf(fx.sts.tlsrpt_rua, sizeof fx.sts.tlsrpt_rua, "mailto:tls@example.test");
  text = section(&fx, &fixes, &count);
  CHECK_INT(count, 1);
  CHECK_HAS(text, "reports go to: mailto:tls@example.test");
  free(text);
  free(fixes);
}

UNIT_MAIN(UNIT_TEST(test_not_checked), UNIT_TEST(test_none), UNIT_TEST(test_record_invalid),
          UNIT_TEST(test_policy_unavailable), UNIT_TEST(test_policy_invalid), UNIT_TEST(test_mode_none_and_valid),
          UNIT_TEST(test_mx_mismatch), UNIT_TEST(test_cert_invalid_and_tlsrpt))
