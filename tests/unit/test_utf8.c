/* Unit tests of the shared UTF-8 validator (util/utf8.h), and that the JSON
 * and COPY writers both apply it. */
#include <stdlib.h>
#include <string.h>

#include "db/pg_copy.h"
#include "util/json.h"
#include "util/utf8.h"
#include "unit.h"

static size_t len_of(const char *bytes, size_t n) {
  return utf8_sequence_length((const unsigned char *)bytes, n);
}

static void test_valid_sequences(void) {
  CHECK_INT(len_of("a", 1), 1);
  CHECK_INT(len_of("\xc3\xa9", 2), 2);         /* U+00E9 */
  CHECK_INT(len_of("\xc2\x80", 2), 2);         /* U+0080, the lowest 2-byte */
  CHECK_INT(len_of("\xe2\x82\xac", 3), 3);     /* U+20AC */
  CHECK_INT(len_of("\xe0\xa0\x80", 3), 3);     /* U+0800, the lowest 3-byte */
  CHECK_INT(len_of("\xef\xbf\xbd", 3), 3);     /* U+FFFD */
  CHECK_INT(len_of("\xf0\x9f\x98\x80", 4), 4); /* U+1F600 */
  CHECK_INT(len_of("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF, the highest */
}

static void test_invalid_sequences(void) {
  CHECK_INT(len_of("\x80", 1), 0);             /* stray continuation */
  CHECK_INT(len_of("\xc0\x80", 2), 0);         /* overlong NUL */
  CHECK_INT(len_of("\xc1\xbf", 2), 0);         /* overlong */
  CHECK_INT(len_of("\xe0\x9f\xbf", 3), 0);     /* overlong 3-byte (U+07FF) */
  CHECK_INT(len_of("\xf0\x8f\xbf\xbf", 4), 0); /* overlong 4-byte (U+FFFF) */
  CHECK_INT(len_of("\xed\xa0\x80", 3), 0);     /* surrogate U+D800 */
  CHECK_INT(len_of("\xed\xbf\xbf", 3), 0);     /* surrogate U+DFFF */
  CHECK_INT(len_of("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
  CHECK_INT(len_of("\xf5\x80\x80\x80", 4), 0); /* lead byte out of range */
  CHECK_INT(len_of("\xff", 1), 0);
  CHECK_INT(len_of("\xe2\x82", 2), 0);     /* truncated by the buffer end */
  CHECK_INT(len_of("\xe2\x82\xac", 2), 0); /* left says 2: the third byte is not readable */
  CHECK_INT(len_of("\xe2\x28\xac", 3), 0); /* second byte not a continuation */
}

/* Both writers keep a valid sequence and escape an invalid one. */
static void test_writers_agree(void) {
  static const char text[] = "ok \xc3\xa9 \xed\xa0\x80 \xc0\x80";
  struct json_buf json;
  json_buf_init(&json);
  json_string_len(&json, text, sizeof text - 1);
  CHECK(json.data != NULL && memmem(json.data, json.len, "\xc3\xa9", strlen("\xc3\xa9")) != NULL);
  CHECK(json.data != NULL && memmem(json.data, json.len, "\\u00ed", strlen("\\u00ed")) != NULL);
  CHECK(json.data != NULL && memmem(json.data, json.len, "\\u00c0", strlen("\\u00c0")) != NULL);
  json_buf_free(&json);

  struct pg_buf copy;
  pg_buf_init(&copy);
  pg_field_text(&copy, text, 1000);
  pg_row_end(&copy);
  CHECK(copy.data != NULL && memmem(copy.data, copy.len, "\xc3\xa9", 2) != NULL);
  CHECK(copy.data != NULL && memmem(copy.data, copy.len, "\\\\xed", 5) != NULL);
  CHECK(copy.data != NULL && memmem(copy.data, copy.len, "\\\\xc0", 5) != NULL);
  pg_buf_free(&copy);
}

UNIT_MAIN(UNIT_TEST(test_valid_sequences), UNIT_TEST(test_invalid_sequences), UNIT_TEST(test_writers_agree))
