/* probe/name_list.h and the names of a blocklist file (probe_address.h):
 * which names cover which, and how a file mixes names and prefixes. */
#include <stdio.h>
#include <string.h>

#include "probe/name_list.h"
#include "probe/probe_address.h"
#include "unit.h"

static void test_covering(void) {
  struct name_list *list = name_list_new();
  CHECK(list != NULL);
  CHECK(name_list_covering(list, "example.org") == NULL);
  CHECK_INT(name_list_add(list, "Example.ORG."), 0);
  CHECK_INT(name_list_add(list, "mx.provider.net"), 0);
  CHECK_INT(name_list_add(list, "192.0.2.1"), -1); /* an address is no name */
  CHECK_INT(name_list_add(list, "a..b"), -1);
  CHECK_INT(name_list_add(list, ""), -1);
  CHECK_INT(name_list_count(list), 2);
  CHECK_STR(name_list_covering(list, "example.org"), "example.org");
  CHECK_STR(name_list_covering(list, "MX1.example.org."), "example.org");
  CHECK_STR(name_list_covering(list, "a.b.c.example.org"), "example.org");
  CHECK(name_list_covering(list, "notexample.org") == NULL); /* labels, not bytes */
  CHECK(name_list_covering(list, "org") == NULL);
  CHECK_STR(name_list_covering(list, "mx.provider.net"), "mx.provider.net");
  CHECK(name_list_covering(list, "mx2.provider.net") == NULL);
  CHECK(name_list_covering(list, "provider.net") == NULL);
  name_list_free(list);
  name_list_free(NULL);
}

static void test_blocklist_file(void) {
  static const char text[] = "# opt-outs\n"
                             "198.51.100.0/24\n"
                             "example.org   # the whole domain and its MX hosts\n"
                             "mx1.hoster.example\n"
                             "2001:db8::/32\n";
  FILE *stream = fmemopen((void *)text, sizeof text - 1, "r");
  struct probe_blocklist *list = probe_blocklist_new();
  char why[256] = "";
  CHECK_INT(probe_blocklist_read(list, stream, "block.txt", why, sizeof why), 0);
  fclose(stream);
  CHECK_INT(probe_blocklist_count(list), 4);
  CHECK_STR(probe_blocklist_covering_name(list, "mail.example.org"), "example.org");
  CHECK_STR(probe_blocklist_covering_name(list, "mx1.hoster.example"), "mx1.hoster.example");
  CHECK(probe_blocklist_covering_name(list, "mx2.hoster.example") == NULL);
  CHECK(probe_blocklist_covering_name(list, NULL) == NULL);
  /* a bad prefix is still an error naming file and line, not a name */
  static const char bad[] = "example.net\n10.0.0.1/8\n";
  stream = fmemopen((void *)bad, sizeof bad - 1, "r");
  CHECK_INT(probe_blocklist_read(list, stream, "bad.txt", why, sizeof why), -1);
  fclose(stream);
  CHECK(strstr(why, "bad.txt:2:") != NULL);
  static const char junk[] = "exa mple.org\n";
  stream = fmemopen((void *)junk, sizeof junk - 1, "r");
  CHECK_INT(probe_blocklist_read(list, stream, "junk.txt", why, sizeof why), -1);
  fclose(stream);
  CHECK(strstr(why, "junk.txt:1:") != NULL);
  probe_blocklist_free(list);
}

UNIT_MAIN(UNIT_TEST(test_covering), UNIT_TEST(test_blocklist_file))
