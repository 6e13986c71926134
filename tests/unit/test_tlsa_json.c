/* TLSA usability (RFC 7672 3.1, RFC 7671 8.2), the JSON writer's escaping
 * of hostile bytes and the records' start times. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/result.h"
#include "record/tlsa.h"
#include "store/jsonl.h"
#include "util/json.h"
#include "unit.h"

static struct tlsa_record make(uint8_t usage, uint8_t selector, uint8_t matching, uint16_t len) {
  static uint8_t data[128];
  memset(data, 0xab, sizeof data);
  data[0] = 0x30;
  struct tlsa_record record = {
      .usage = usage, .selector = selector, .matching_type = matching, .data_len = len, .data = data};
  tlsa_record_classify(&record);
  return record;
}

static void test_usability(void) {
  CHECK(make(3, 1, 1, 32).usable);
  CHECK(make(3, 0, 1, 32).usable);
  CHECK(make(2, 0, 2, 64).usable);
  /* 0x30 and filler is not a SubjectPublicKeyInfo (issue 16: it used to
   * count as usable, then SSL_dane_tlsa_add refused it);
   * test_tlsa_records.c has the full-data cases. */
  CHECK(!make(3, 1, 0, 91).usable);
  CHECK(!make(3, 1, 1, 31).usable);
  CHECK(!make(3, 1, 1, 33).usable);
  CHECK(!make(3, 1, 2, 32).usable);
  CHECK(!make(0, 0, 1, 32).usable);
  CHECK(!make(1, 1, 1, 32).usable);
  CHECK(!make(4, 1, 1, 32).usable);
  CHECK(!make(3, 2, 1, 32).usable);
  CHECK(!make(3, 1, 3, 32).usable);
  CHECK(make(1, 1, 1, 32).unusable_reason != NULL);
  CHECK(make(3, 1, 1, 32).unusable_reason == NULL);
  struct tlsa_record full_not_der = make(3, 1, 0, 40);
  full_not_der.data = (uint8_t *)"\x04zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
  tlsa_record_classify(&full_not_der);
  CHECK(!full_not_der.usable);
}

static void test_from_rr_and_hex(void) {
  ldns_rr *rr = NULL;
  ldns_status status = ldns_rr_new_frm_str(&rr,
                                           "_25._tcp.mx.example. 300 IN TLSA 3 1 1 "
                                           "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
                                           0, NULL, NULL);
  CHECK(status == LDNS_STATUS_OK);
  struct tlsa_record record;
  CHECK(tlsa_record_from_rr(rr, &record) == 0);
  CHECK(record.usable);
  CHECK_INT(record.data_len, 32);
  char hex[2 * 32 + 1];
  tlsa_record_hex(&record, hex);
  CHECK_STR(hex, "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
  struct tlsa_record copy;
  CHECK(tlsa_record_copy(&record, &copy) == 0);
  CHECK(copy.data != record.data && memcmp(copy.data, record.data, 32) == 0);
  tlsa_record_clear(&copy);
  tlsa_record_clear(&record);
  ldns_rr_free(rr);
}

static void test_json_escaping(void) {
  struct json_buf buf;
  json_buf_init(&buf);
  json_object_begin(&buf);
  json_key(&buf, "banner");
  json_string_len(&buf, "220 \"hi\"\\\n\x01\xff\xc3\xa9\0x", 16);
  json_key(&buf, "n");
  json_int(&buf, -5);
  json_key(&buf, "big");
  json_uint(&buf, 18446744073709551615ull);
  json_key(&buf, "min");
  json_int(&buf, INT64_MIN);
  json_key(&buf, "zero");
  json_uint(&buf, 0);
  json_key(&buf, "list");
  json_array_begin(&buf);
  json_bool(&buf, true);
  json_null(&buf);
  json_hex(&buf, (const uint8_t *)"\x01\xab", 2);
  json_array_end(&buf);
  json_object_end(&buf);
  CHECK(!json_buf_failed(&buf));
  CHECK_STR(buf.data,
            "{\"banner\":\"220 "
            "\\\"hi\\\"\\\\\\n\\u0001\\u00ff\xc3\xa9\\u0000x\",\"n\":-5,\"big\":18446744073709551615,\"min\":-"
            "9223372036854775808,\"zero\":0,"
            "\"list\":[true,null,\"01ab\"]}");
  /* Truncated UTF-8 at the end is escaped, not copied. */
  json_buf_reset(&buf);
  json_string_len(&buf, "\xe2\x82", 2);
  CHECK_STR(buf.data, "\"\\u00e2\\u0082\"");
  json_buf_free(&buf);
}

/* "started" is formatted by hand (no gmtime_r/strftime per record): UTC,
 * milliseconds, leap days. */
static void test_record_start_time(void) {
  static const struct {
    int64_t unix_ms;
    const char *text;
  } cases[] = {
      {0, "\"started\":\"1970-01-01T00:00:00.000Z\""},
      {1709164800123, "\"started\":\"2024-02-29T00:00:00.123Z\""},
      {1796625095575, "\"started\":\"2026-12-07T06:31:35.575Z\""},
      {4102444799999, "\"started\":\"2099-12-31T23:59:59.999Z\""},
  };
  struct domain_result *result = calloc(1, sizeof *result);
  snprintf(result->name, sizeof result->name, "bad..name");
  result->status = DOMAIN_INVALID_NAME;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct json_buf buf;
    json_buf_init(&buf);
    result->started_unix_ms = cases[i].unix_ms;
    jsonl_format_domain(&buf, result, "scan");
    CHECK(!json_buf_failed(&buf) && strstr(buf.data, cases[i].text) != NULL);
    json_buf_free(&buf);
  }
  free(result);
}

UNIT_MAIN(UNIT_TEST(test_usability), UNIT_TEST(test_from_rr_and_hex), UNIT_TEST(test_json_escaping),
          UNIT_TEST(test_record_start_time))
