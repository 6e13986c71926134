/* answer_name_text: the same text as ldns_rdf2str (lower case, no trailing
 * dot), escapes included, and -1 when the buffer is too small. */
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/answer.h"
#include "unit.h"

/* Reference: the previous implementation, through ldns_rdf2str. */
static int reference(const ldns_rdf *name, char *out, size_t out_len) {
  char *text = ldns_rdf2str(name);
  if (text == NULL) return -1;
  size_t len = strlen(text);
  if (len > 1 && text[len - 1] == '.') len--;
  if (len + 1 > out_len) {
    free(text);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  out[len] = '\0';
  free(text);
  return 0;
}

static ldns_rdf *wire_name(const uint8_t *wire, size_t len) {
  return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, wire);
}

static void same_as_ldns(ldns_rdf *name) {
  char got[1100], want[1100];
  CHECK_INT(answer_name_text(name, got, sizeof got), reference(name, want, sizeof want));
  CHECK_STR(got, want);
  ldns_rdf_deep_free(name);
}

static void test_plain_names(void) {
  const char *names[] = {".", "Example.COM.", "mx1.provider.lab", "a.b.c.d.e.f", "_25._tcp.MX.x.test."};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    same_as_ldns(ldns_dname_new_frm_str(names[i]));
  }
  char out[64];
  ldns_rdf *n = ldns_dname_new_frm_str("Mail.Example.ORG.");
  CHECK_INT(answer_name_text(n, out, sizeof out), 0);
  CHECK_STR(out, "mail.example.org");
  ldns_rdf_deep_free(n);
  n = ldns_dname_new_frm_str(".");
  CHECK_INT(answer_name_text(n, out, sizeof out), 0);
  CHECK_STR(out, ".");
  ldns_rdf_deep_free(n);
}

static void test_escapes(void) {
  /* every byte value once, in labels of 7 bytes */
  for (int start = 0; start < 256; start += 7) {
    uint8_t wire[16] = {7};
    for (int i = 0; i < 7; i++) wire[1 + i] = (uint8_t)((start + i) & 0xff);
    memcpy(wire + 8, "\x01x\x00", 3);
    same_as_ldns(wire_name(wire, 11));
  }
  char out[64];
  const uint8_t dot[] = {3, 'a', '.', 'B', 0};
  ldns_rdf *n = wire_name(dot, sizeof dot);
  CHECK_INT(answer_name_text(n, out, sizeof out), 0);
  CHECK_STR(out, "a\\.b");
  ldns_rdf_deep_free(n);
}

static void test_limits(void) {
  ldns_rdf *n = ldns_dname_new_frm_str("abc.example.");
  char out[16];
  CHECK_INT(answer_name_text(n, out, 11), -1); /* "abc.example" needs 12 */
  CHECK_INT(answer_name_text(n, out, 12), 0);
  CHECK_STR(out, "abc.example");
  ldns_rdf_deep_free(n);
  const uint8_t bad[] = {9, 'a', 'b', 0}; /* label longer than the name */
  n = wire_name(bad, sizeof bad);
  CHECK_INT(answer_name_text(n, out, sizeof out), -1);
  ldns_rdf_deep_free(n);
  /* a long name of 63-byte labels: same as ldns */
  char text[300] = "";
  for (int i = 0; i < 3; i++) strcat(text, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc.");
  same_as_ldns(ldns_dname_new_frm_str(text));
}

UNIT_MAIN(UNIT_TEST(test_plain_names), UNIT_TEST(test_escapes), UNIT_TEST(test_limits))
