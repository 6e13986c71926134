/* Unit tests of MX host provider attribution by the Public Suffix List
 * (record/provider.h): registrable domains under multi-label public suffixes,
 * names that are themselves public suffixes, unknown TLDs (the lab's), the
 * private section, trailing dots and short buffers. */
#include <string.h>

#include "record/provider.h"
#include "unit.h"

static struct provider_list *list;

static const char *provider(const char *host) {
  static char out[256];
  if (provider_of(list, host, out, sizeof out) < 0) return "(too long)";
  return out;
}

static void test_multi_label_suffix(void) {
  /* The example: one provider, not "co.uk". */
  CHECK_STR(provider("mx1.example.co.uk"), "example.co.uk");
  CHECK_STR(provider("mx2.example.co.uk"), "example.co.uk");
  CHECK_STR(provider("mail.protection.outlook.com"), "outlook.com");
  CHECK_STR(provider("mx01.one.com"), "one.com");
  CHECK_STR(provider("example.com"), "example.com");
}

static void test_public_suffix_is_no_provider(void) {
  char out[64] = "x";
  CHECK_INT(provider_of(list, "co.uk", out, sizeof out), 0);
  CHECK_STR(out, "");
  CHECK_INT(provider_of(list, "uk", out, sizeof out), 0);
  CHECK_INT(provider_of(list, "com", out, sizeof out), 0);
  CHECK_INT(provider_of(list, "", out, sizeof out), 0);
  CHECK_INT(provider_of(list, ".", out, sizeof out), 0);
}

static void test_unknown_tld(void) {
  /* The PSL's default rule "*": an unlisted TLD is a public suffix, so lab
   * hosts group by their second-level name. */
  CHECK_STR(provider("mx.a.lab"), "a.lab");
  CHECK_STR(provider("mx1.dane-host.test"), "dane-host.test");
  char out[64];
  CHECK_INT(provider_of(list, "lab", out, sizeof out), 0);
}

static void test_private_section(void) {
  /* Private-section suffixes (names below them belong to different
   * parties) are honoured: two customers are two providers. */
  CHECK_STR(provider("mx.alice.dyndns.org"), "alice.dyndns.org");
  CHECK_STR(provider("mx.bob.dyndns.org"), "bob.dyndns.org");
}

static void test_trailing_dot_and_limits(void) {
  CHECK_STR(provider("mx1.example.co.uk."), "example.co.uk");
  char small[8] = "x";
  CHECK_INT(provider_of(list, "mx1.example.co.uk", small, sizeof small), -1);
  CHECK_STR(small, "");
  char out[64] = "x";
  CHECK_INT(provider_of(NULL, "mx1.example.co.uk", out, sizeof out), 0);
  CHECK_STR(out, "");
  char name[400];
  memset(name, 'a', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  CHECK_INT(provider_of(list, name, out, sizeof out), 0);
  provider_list_free(NULL);
}

static void test_all(void) {
  list = provider_list_new();
  CHECK(list != NULL);
  if (list == NULL) return;
  test_multi_label_suffix();
  test_public_suffix_is_no_provider();
  test_unknown_tld();
  test_private_section();
  test_trailing_dot_and_limits();
  provider_list_free(list);
  list = NULL;
}

UNIT_MAIN(UNIT_TEST(test_all))
