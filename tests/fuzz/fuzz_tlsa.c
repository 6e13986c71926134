/* libFuzzer target: the TLSA record reader and classifier (record/tlsa.c).
 *
 * Byte 0 picks how the rest becomes a record:
 *   even: the rest is the RDATA of a TLSA RR on the wire, parsed by ldns
 *         (ldns_wire2rr, as in a reply) and read by tlsa_record_from_rr;
 *   odd:  the rest describes an RR ldns would not build from the wire: a
 *         type byte, then rdata fields as (length byte, bytes), any count
 *         and sizes, read by tlsa_record_from_rr (malformed rdfs must be
 *         refused, not read past).
 * Every record read is classified again on its own, copied, printed as hex
 * and cleared.
 *
 * Checks (abort on a broken one): a usable record is usage 2/3, selector
 * 0/1, matching type 0/1/2 with the data length the matching type needs; an
 * unusable one has a reason; classification of the copy agrees with the
 * original; the data kept never exceeds TLSA_DATA_MAX_BYTES and equals the
 * RR's (up to that cap); hex is 2 characters per byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "record/tlsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rules(const struct tlsa_record *record) {
  if (record->data_len > TLSA_DATA_MAX_BYTES) abort();
  if (record->usable) {
    if (record->unusable_reason != NULL) abort();
    if (record->usage != 2 && record->usage != 3) abort();
    if (record->selector > 1) abort();
    switch (record->matching_type) {
    case 0:
      if (record->data_len < 2 || record->data[0] != 0x30) abort();
      break;
    case 1:
      if (record->data_len != 32) abort();
      break;
    case 2:
      if (record->data_len != 64) abort();
      break;
    default:
      abort();
    }
  } else if (record->unusable_reason == NULL || record->unusable_reason[0] == '\0') {
    abort();
  }
}

static void check_record(const ldns_rr *rr, struct tlsa_record *record) {
  check_rules(record);
  const ldns_rdf *rdata = ldns_rr_rdf(rr, 3);
  size_t expect = ldns_rdf_size(rdata);
  if (expect > TLSA_DATA_MAX_BYTES) {
    expect = TLSA_DATA_MAX_BYTES;
    if (record->usable) abort(); /* data danescan cut cannot be used */
  }
  if (record->data_len != expect || memcmp(record->data, ldns_rdf_data(rdata), expect) != 0) abort();

  struct tlsa_record copy;
  if (tlsa_record_copy(record, &copy) != 0) return;
  bool usable = copy.usable;
  tlsa_record_classify(&copy);
  /* A record cut to the cap stays unusable; otherwise the same verdict. */
  if (copy.usable != usable && ldns_rdf_size(rdata) <= TLSA_DATA_MAX_BYTES) abort();
  char *hex = malloc(2 * (size_t)copy.data_len + 1);
  if (hex != NULL) {
    tlsa_record_hex(&copy, hex);
    if (strlen(hex) != 2 * (size_t)copy.data_len) abort();
    free(hex);
  }
  tlsa_record_clear(&copy);
  if (copy.data != NULL || copy.data_len != 0) abort();
}

static void read_rr(const ldns_rr *rr) {
  struct tlsa_record record;
  if (tlsa_record_from_rr(rr, &record) == 0) {
    check_record(rr, &record);
  } else if (record.data != NULL) {
    abort(); /* a refused RR leaves nothing to free */
  }
  tlsa_record_clear(&record);
}

static void from_wire(const uint8_t *rdata, size_t len) {
  if (len > 65535) return;
  size_t wire_len = 11 + len;
  uint8_t *wire = malloc(wire_len);
  if (wire == NULL) return;
  /* root owner, TLSA, IN, TTL 300, RDLENGTH, RDATA */
  const uint8_t head[9] = {0, 0, 52, 0, 1, 0, 0, 1, 44};
  memcpy(wire, head, sizeof head);
  wire[9] = (uint8_t)(len >> 8);
  wire[10] = (uint8_t)len;
  memcpy(wire + 11, rdata, len);
  ldns_rr *rr = NULL;
  size_t pos = 0;
  if (ldns_wire2rr(&rr, wire, wire_len, &pos, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK && rr != NULL) {
    read_rr(rr);
  }
  ldns_rr_free(rr);
  free(wire);
}

static void from_fields(const uint8_t *data, size_t len) {
  if (len < 1) return;
  ldns_rr *rr = ldns_rr_new();
  if (rr == NULL) return;
  /* Mostly TLSA; sometimes another type, which must be refused. */
  ldns_rr_set_type(rr, data[0] < 0xf0 ? LDNS_RR_TYPE_TLSA : (ldns_rr_type)data[0]);
  size_t pos = 1;
  for (int field = 0; field < 6 && pos < len; field++) {
    size_t n = data[pos++];
    if (n > len - pos) n = len - pos;
    ldns_rdf *rdf = ldns_rdf_new_frm_data(field < 3 ? LDNS_RDF_TYPE_INT8 : LDNS_RDF_TYPE_HEX, n, data + pos);
    pos += n;
    if (rdf == NULL) break;
    if (!ldns_rr_push_rdf(rr, rdf)) {
      ldns_rdf_deep_free(rdf);
      break;
    }
  }
  read_rr(rr);
  ldns_rr_free(rr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    from_wire(data + 1, size - 1);
  } else {
    from_fields(data + 1, size - 1);
  }
  return 0;
}
