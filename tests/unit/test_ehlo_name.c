/* probe/ehlo_name.h: which EHLO names the scanner refuses, and the default. */
#include <string.h>
#include <unistd.h>

#include "probe/ehlo_name.h"
#include "unit.h"

static void test_refusals(void) {
  CHECK(ehlo_name_refusal("scanner.example.net") == NULL);
  CHECK(ehlo_name_refusal("dane-survey-1.example.org.") == NULL);
  CHECK_STR(ehlo_name_refusal("192.0.2.1"), "an address literal");
  CHECK_STR(ehlo_name_refusal("2001:db8::25"), "an address literal");
  CHECK_STR(ehlo_name_refusal("[192.0.2.1]"), "an address literal");
  CHECK_STR(ehlo_name_refusal("[IPv6:2001:db8::25]"), "an address literal");
  CHECK_STR(ehlo_name_refusal("localhost"), "localhost");
  CHECK_STR(ehlo_name_refusal("LocalHost."), "localhost");
  CHECK_STR(ehlo_name_refusal("mx.localhost"), "localhost");
  CHECK_STR(ehlo_name_refusal("scanner"), "not fully qualified (no dot)");
  CHECK_STR(ehlo_name_refusal("scanner."), "not fully qualified (no dot)");
  CHECK_STR(ehlo_name_refusal("bad name\r\nMAIL FROM:<>"), "not a host name");
  CHECK_STR(ehlo_name_refusal(""), "not a host name");
  CHECK_STR(ehlo_name_refusal("a..b"), "not a host name");
  char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  long_name[10] = '.';
  CHECK_STR(ehlo_name_refusal(long_name), "not a host name");
}

static void test_choose(void) {
  char out[EHLO_NAME_MAX_BYTES + 1], why[256] = "";
  CHECK_INT(ehlo_name_choose("scan.example.net", false, out, sizeof out, why, sizeof why), 0);
  CHECK_STR(out, "scan.example.net");
  /* a given name is checked whatever lab_ok says, and why names it */
  CHECK_INT(ehlo_name_choose("127.0.0.1", true, out, sizeof out, why, sizeof why), -1);
  CHECK(strstr(why, "\"127.0.0.1\": an address literal") != NULL);
  CHECK_INT(ehlo_name_choose("localhost", false, out, sizeof out, why, sizeof why), -1);
  CHECK(strstr(why, "--ehlo-name") != NULL);
  /* the default: this machine's name; refused without lab_ok exactly when
   * ehlo_name_refusal refuses it, and then why says what to set */
  int rc = ehlo_name_choose(NULL, false, out, sizeof out, why, sizeof why);
  if (rc == 0) {
    CHECK(ehlo_name_refusal(out) == NULL);
  } else {
    CHECK(strstr(why, "set --ehlo-name") != NULL);
  }
  char host[256] = "";
  gethostname(host, sizeof host);
  CHECK_INT(ehlo_name_choose(NULL, true, out, sizeof out, why, sizeof why), 0);
  CHECK(strncmp(out, host, strlen(host)) == 0); /* the host name, or its FQDN */
}

UNIT_MAIN(UNIT_TEST(test_refusals), UNIT_TEST(test_choose))
