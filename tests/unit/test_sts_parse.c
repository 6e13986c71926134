/* The MTA-STS and TLS-RPT parsers (sts/sts_txt.h, sts/sts_policy.h): the
 * examples of RFC 8461 and RFC 8460 and the edges of their grammars. */
#include <stdlib.h>
#include <string.h>

#include "sts/sts_policy.h"
#include "sts/sts_txt.h"
#include "unit.h"

static struct sts_txt txt(const char *text) {
  struct sts_txt t = {(const uint8_t *)text, strlen(text)};
  return t;
}

static enum sts_record_verdict record1(const char *text, struct sts_record *out, char *why) {
  struct sts_txt t = txt(text);
  return sts_record_parse(&t, 1, out, why, STS_TXT_WHY_MAX_BYTES);
}

static void test_sts_record_rfc_example(void) {
  struct sts_record record;
  char why[STS_TXT_WHY_MAX_BYTES];
  /* RFC 8461 3.1 */
  CHECK_INT(record1("v=STSv1; id=20160831085700Z;", &record, why), STS_RECORD_VALID);
  CHECK_STR(record.id, "20160831085700Z");
  CHECK_STR(why, "");
  CHECK_INT(record1("v=STSv1;id=abc", &record, why), STS_RECORD_VALID);
  CHECK_STR(record.id, "abc");
  CHECK_INT(record1("v=STSv1 ; id=abc ; ext.x-y_z=val:ue ;", &record, why), STS_RECORD_VALID);
  CHECK_STR(record.id, "abc");
  /* 32 characters: the longest id */
  CHECK_INT(record1("v=STSv1; id=0123456789abcdef0123456789ABCDEF", &record, why), STS_RECORD_VALID);
  CHECK_INT(strlen(record.id), 32);
}

static void test_sts_record_absent(void) {
  struct sts_record record;
  char why[STS_TXT_WHY_MAX_BYTES];
  CHECK_INT(sts_record_parse(NULL, 0, &record, why, sizeof why), STS_RECORD_ABSENT);
  struct sts_txt other[] = {txt("v=spf1 -all"), txt("v=STSv10; id=1"), txt("V=STSv1; id=1"), txt("")};
  CHECK_INT(sts_record_parse(other, 4, &record, why, sizeof why), STS_RECORD_ABSENT);
  /* others beside the one record are ignored (RFC 8461 3.1) */
  struct sts_txt mixed[] = {txt("v=spf1 -all"), txt("v=STSv1; id=x1")};
  CHECK_INT(sts_record_parse(mixed, 2, &record, why, sizeof why), STS_RECORD_VALID);
  CHECK_STR(record.id, "x1");
}

static void test_sts_record_invalid(void) {
  struct sts_record record;
  char why[STS_TXT_WHY_MAX_BYTES];
  struct sts_txt two[] = {txt("v=STSv1; id=a"), txt("v=STSv1; id=b")};
  CHECK_INT(sts_record_parse(two, 2, &record, why, sizeof why), STS_RECORD_INVALID);
  CHECK(strstr(why, "2 TXT records") != NULL);
  CHECK_STR(record.id, "");
  CHECK_INT(record1("v=STSv1", &record, why), STS_RECORD_INVALID);
  CHECK(strstr(why, "no id") != NULL);
  CHECK_INT(record1("v=STSv1;", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=0123456789abcdef0123456789ABCDEFx", &record, why), STS_RECORD_INVALID);
  CHECK(strstr(why, "1 to 32") != NULL);
  CHECK_INT(record1("v=STSv1; id=2016-08-31", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=abc def", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=a; id=b", &record, why), STS_RECORD_INVALID);
  CHECK(strstr(why, "second id") != NULL);
  CHECK_STR(record.id, ""); /* fuzz_sts_txt found the first id kept */
  CHECK_INT(record1("v=STSv1; id=a; id=b!", &record, why), STS_RECORD_INVALID);
  CHECK_STR(record.id, "");
  CHECK_INT(record1("v=STSv1; id=a; x=a b", &record, why), STS_RECORD_INVALID);
  CHECK_STR(record.id, "");
  CHECK_INT(record1("v=STSv1 id=a", &record, why), STS_RECORD_INVALID);
  CHECK(strstr(why, "expected ';'") != NULL);
  CHECK_INT(record1("v=STSv1; ID=abc", &record, why), STS_RECORD_INVALID); /* %s"id=": case matters */
  CHECK_INT(record1("v=STSv1; id=abc; =x", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=abc; x=", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=abc; -x=1", &record, why), STS_RECORD_INVALID);
  CHECK_INT(record1("v=STSv1; id=abc;; ", &record, why), STS_RECORD_INVALID);
  CHECK_STR(record.id, "");
  /* bytes outside ASCII are quoted, never copied raw into the message */
  struct sts_txt binary = {(const uint8_t *)"v=STSv1; id=a\xff\x01", 15};
  CHECK_INT(sts_record_parse(&binary, 1, &record, why, sizeof why), STS_RECORD_INVALID);
  CHECK(strstr(why, "\\xff\\x01") != NULL);
  struct sts_txt nul = {(const uint8_t *)"v=STSv1; id=ab\0cd", 17};
  CHECK_INT(sts_record_parse(&nul, 1, &record, why, sizeof why), STS_RECORD_INVALID);
}

static const char rfc_policy[] = "version: STSv1\r\n"
                                 "mode: enforce\r\n"
                                 "mx: mail.example.com\r\n"
                                 "mx: *.example.net\r\n"
                                 "mx: backupmx.example.com\r\n"
                                 "max_age: 604800\r\n";

static enum sts_policy_verdict policy(const char *text, struct sts_policy *out, char *why) {
  return sts_policy_parse(text, strlen(text), out, why, STS_POLICY_WHY_MAX_BYTES);
}

static void test_policy_rfc_example(void) {
  struct sts_policy p;
  char why[STS_POLICY_WHY_MAX_BYTES];
  CHECK_INT(policy(rfc_policy, &p, why), STS_POLICY_VALID);
  CHECK_INT(p.mode, STS_MODE_ENFORCE);
  CHECK_INT(p.max_age, 604800);
  CHECK_INT(p.mx_count, 3);
  if (p.mx_count == 3) {
    CHECK_STR(p.mx[0], "mail.example.com");
    CHECK_STR(p.mx[1], "*.example.net");
    CHECK_STR(p.mx[2], "backupmx.example.com");
  }
  CHECK(sts_policy_matches(&p, "mail.example.com"));
  CHECK(sts_policy_matches(&p, "mx1.example.net"));
  CHECK(!sts_policy_matches(&p, "example.net"));
  CHECK(!sts_policy_matches(&p, "a.mx1.example.net"));
  CHECK(!sts_policy_matches(&p, "mail.example.org"));
  sts_policy_clear(&p);
  CHECK(p.mx == NULL && p.mx_count == 0);
  sts_policy_clear(&p); /* twice is harmless */
}

static void test_policy_line_endings_and_unknown(void) {
  struct sts_policy p;
  char why[STS_POLICY_WHY_MAX_BYTES];
  /* LF only, no final newline, spaces, unknown fields, blank lines */
  CHECK_INT(
      policy("version: STSv1\nmode:testing\n\nfoo: bar baz\nnocolon\nmx:   MX.Example.COM  \nmax_age: 0", &p, why),
      STS_POLICY_VALID);
  CHECK_INT(p.mode, STS_MODE_TESTING);
  CHECK_INT(p.max_age, 0);
  CHECK_INT(p.mx_count, 1);
  if (p.mx_count == 1) CHECK_STR(p.mx[0], "mx.example.com");
  sts_policy_clear(&p);
  /* mode none needs no mx */
  CHECK_INT(policy("version: STSv1\nmode: none\nmax_age: 31557600\n", &p, why), STS_POLICY_VALID);
  CHECK_INT(p.mode, STS_MODE_NONE);
  CHECK_INT(p.max_age, 31557600);
  CHECK_INT(p.mx_count, 0);
  sts_policy_clear(&p);
}

static void check_invalid(const char *text, const char *why_part) {
  struct sts_policy p;
  char why[STS_POLICY_WHY_MAX_BYTES];
  enum sts_policy_verdict verdict = policy(text, &p, why);
  CHECK_INT(verdict, STS_POLICY_INVALID);
  if (strstr(why, why_part) == NULL) {
    unit_failures++;
    fprintf(stderr, "policy %s: why \"%s\" lacks \"%s\"\n", text, why, why_part);
  }
  CHECK(p.mx == NULL && p.mx_count == 0);
}

static void test_policy_invalid(void) {
  check_invalid("", "no version");
  check_invalid("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version");
  check_invalid("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "line 1: version \"STSv2\"");
  check_invalid("version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", "version");
  check_invalid("version: STSv1\nmx: a.example\nmax_age: 1\n", "no mode");
  check_invalid("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", "line 2: mode");
  check_invalid("version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age");
  check_invalid("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "line 4: max_age");
  check_invalid("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "max_age");
  check_invalid("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", "max_age");
  check_invalid("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1 day\n", "max_age");
  check_invalid("version: STSv1\nmode: enforce\nmax_age: 86400\n", "no mx field while mode is enforce");
  check_invalid("version: STSv1\nmode: testing\nmax_age: 86400\n", "no mx field while mode is testing");
  check_invalid("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", "line 3: mx");
  check_invalid("version: STSv1\nmode: enforce\nmx: mx .example\nmax_age: 1\n", "mx");
  check_invalid("version: STSv1\nmode: enforce\nmx: -mx.example\nmax_age: 1\n", "mx");
  check_invalid("version: STSv1\nmode: enforce\nmx: mx.example.\nmax_age: 1\n", "mx");
  check_invalid("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n", "mx");
  check_invalid("version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 1\n", "second mode");
  check_invalid("version: STSv1\nversion: STSv1\nmode: none\nmax_age: 1\n", "second version");
  check_invalid("version: STSv1\nmode: none\nmax_age: 1\nmax_age: 2\n", "second max_age");
  check_invalid("<html><body>Not found</body></html>", "no version");
  /* a key with a space before ':' is an unknown field */
  check_invalid("version: STSv1\nmode : enforce\nmx: a.example\nmax_age: 1\n", "no mode");
  /* a 64-byte label */
  check_invalid("version: STSv1\nmode: enforce\n"
                "mx: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\nmax_age: 1\n",
                "mx");
  /* bytes that are not text are quoted */
  check_invalid("version: STSv1\nmode: \xff\x01\n", "\\xff\\x01");
}

static void test_mx_match(void) {
  /* RFC 8461 4.1 */
  CHECK(sts_mx_match("mail.example.com", "mail.example.com"));
  CHECK(sts_mx_match("mail.example.com", "MAIL.Example.COM"));
  CHECK(sts_mx_match("mail.example.com", "mail.example.com."));
  CHECK(!sts_mx_match("mail.example.com", "mail.example.co"));
  CHECK(!sts_mx_match("mail.example.com", "xmail.example.com"));
  CHECK(sts_mx_match("*.example.com", "mx1.example.com"));
  CHECK(sts_mx_match("*.example.com", "MX1.EXAMPLE.COM."));
  CHECK(!sts_mx_match("*.example.com", "example.com"));
  CHECK(!sts_mx_match("*.example.com", "mx1.mail.example.com")); /* exactly one label */
  CHECK(!sts_mx_match("*.example.com", ".example.com"));
  CHECK(!sts_mx_match("*.example.com", "mx1.example.com.evil"));
  CHECK(!sts_mx_match("*.example.com", "mx1xexample.com"));
  CHECK(!sts_mx_match("mail.example.com", ""));
  CHECK(!sts_mx_match("", "mail.example.com"));
  CHECK(!sts_mx_match(NULL, "mail.example.com"));
}

static struct tlsrpt_record tlsrpt;

static enum tlsrpt_record_status rpt1(const char *text, char *why) {
  struct sts_txt t = txt(text);
  return tlsrpt_record_parse(&t, 1, &tlsrpt, why, STS_TXT_WHY_MAX_BYTES);
}

static void test_tlsrpt_rfc_examples(void) {
  char why[STS_TXT_WHY_MAX_BYTES];
  /* RFC 8460 3.1 */
  CHECK_INT(rpt1("v=TLSRPTv1;rua=mailto:reports@example.com", why), TLSRPT_RECORD_VALID);
  CHECK_STR(tlsrpt.rua, "mailto:reports@example.com");
  CHECK_INT(tlsrpt.rua_count, 1);
  CHECK_STR(why, "");
  CHECK_INT(rpt1("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", why), TLSRPT_RECORD_VALID);
  CHECK_STR(tlsrpt.rua, "https://reporting.example.com/v1/tlsrpt");
  CHECK_INT(rpt1("v=TLSRPTv1; rua=mailto:reports@example.com , https://r.example.net/x?a=b; ext=1;", why),
            TLSRPT_RECORD_VALID);
  CHECK_STR(tlsrpt.rua, "mailto:reports@example.com,https://r.example.net/x?a=b");
  CHECK_INT(tlsrpt.rua_count, 2);
  CHECK_INT(tlsrpt.rua_ignored, 0);
  /* one bad URI beside a good one: valid, the bad one counted and named */
  CHECK_INT(rpt1("v=TLSRPTv1; rua=http://r.example.net/,MAILTO:tls@example.org", why), TLSRPT_RECORD_VALID);
  CHECK_STR(tlsrpt.rua, "MAILTO:tls@example.org");
  CHECK_INT(tlsrpt.rua_ignored, 1);
  CHECK(strstr(why, "http://r.example.net/") != NULL);
}

static void test_tlsrpt_none_and_invalid(void) {
  char why[STS_TXT_WHY_MAX_BYTES];
  CHECK_INT(tlsrpt_record_parse(NULL, 0, &tlsrpt, why, sizeof why), TLSRPT_RECORD_NONE);
  struct sts_txt other[] = {txt("v=spf1 -all"), txt("v=TLSRPTv10; rua=mailto:a@b")};
  CHECK_INT(tlsrpt_record_parse(other, 2, &tlsrpt, why, sizeof why), TLSRPT_RECORD_NONE);
  struct sts_txt two[] = {txt("v=TLSRPTv1; rua=mailto:a@b.example"), txt("v=TLSRPTv1; rua=mailto:c@d.example")};
  CHECK_INT(tlsrpt_record_parse(two, 2, &tlsrpt, why, sizeof why), TLSRPT_RECORD_INVALID);
  CHECK(strstr(why, "2 TXT records") != NULL);
  CHECK_STR(tlsrpt.rua, "");
  CHECK_INT(rpt1("v=TLSRPTv1", why), TLSRPT_RECORD_INVALID);
  CHECK(strstr(why, "no rua") != NULL);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=reports@example.com", why), TLSRPT_RECORD_INVALID);
  CHECK(strstr(why, "not a mailto: or https: URI") != NULL);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=mailto:", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=mailto:@example.com", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=https://", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=https:///path", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=ftp://r.example.net/", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example", why), TLSRPT_RECORD_INVALID);
  CHECK(strstr(why, "second rua") != NULL);
  CHECK_INT(rpt1("v=TLSRPTv1 rua=mailto:a@b.example", why), TLSRPT_RECORD_INVALID);
  CHECK_INT(rpt1("v=TLSRPTv1; rua=mailto:a@b.example; x=a b", why), TLSRPT_RECORD_INVALID);
  CHECK_STR(tlsrpt.rua, "");
}

UNIT_MAIN(UNIT_TEST(test_sts_record_rfc_example), UNIT_TEST(test_sts_record_absent), UNIT_TEST(test_sts_record_invalid),
          UNIT_TEST(test_policy_rfc_example), UNIT_TEST(test_policy_line_endings_and_unknown),
          UNIT_TEST(test_policy_invalid), UNIT_TEST(test_mx_match), UNIT_TEST(test_tlsrpt_rfc_examples),
          UNIT_TEST(test_tlsrpt_none_and_invalid))
