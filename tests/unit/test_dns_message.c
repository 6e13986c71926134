/* Unit tests of dns_message: query layout (against ldns), on-wire reply
 * pre-check, EDE extraction and the DNSSEC state of an answer. */
#include <stdlib.h>
#include <string.h>

#include "dns/dns_message.h"
#include "unit.h"

static void test_encode_name(void) {
  uint8_t wire[DNS_NAME_MAX_BYTES];
  size_t len = dns_message_encode_name("Example.COM", wire);
  CHECK_INT(len, 13);
  CHECK(memcmp(wire, "\7Example\3COM\0", 13) == 0);
  CHECK_INT(dns_message_encode_name("example.com.", wire), 13);
  CHECK_INT(dns_message_encode_name(".", wire), 1);
  CHECK_INT(wire[0], 0);
  CHECK_INT(dns_message_encode_name("", wire), 0);
  CHECK_INT(dns_message_encode_name("a..b", wire), 0);
  char long_label[80];
  memset(long_label, 'a', 64);
  strcpy(long_label + 64, ".com");
  CHECK_INT(dns_message_encode_name(long_label, wire), 0);
  char long_name[300];
  for (int i = 0; i < 60; i++) {
    memcpy(long_name + i * 5, "abcd.", 5);
  }
  long_name[300 - 1] = '\0';
  CHECK_INT(dns_message_encode_name(long_name, wire), 0);
}

static void test_build_query_matches_ldns(void) {
  uint8_t qname[DNS_NAME_MAX_BYTES];
  size_t qname_len = dns_message_encode_name("_25._tcp.mx.example.org", qname);
  for (int cd = 0; cd <= 1; cd++) {
    uint8_t ours[DNS_QUERY_MAX_BYTES];
    size_t len = dns_message_build_query(ours, 0xbeef, qname, qname_len, LDNS_RR_TYPE_TLSA, cd == 1, 1232);
    ldns_pkt *pkt = NULL;
    CHECK(ldns_pkt_query_new_frm_str(&pkt, "_25._tcp.mx.example.org.", LDNS_RR_TYPE_TLSA, LDNS_RR_CLASS_IN, LDNS_RD) ==
          LDNS_STATUS_OK);
    ldns_pkt_set_id(pkt, 0xbeef);
    ldns_pkt_set_cd(pkt, cd == 1);
    ldns_pkt_set_edns_udp_size(pkt, 1232);
    ldns_pkt_set_edns_do(pkt, true);
    uint8_t *theirs = NULL;
    size_t theirs_len = 0;
    CHECK(ldns_pkt2wire(&theirs, pkt, &theirs_len) == LDNS_STATUS_OK);
    CHECK_INT(len, theirs_len);
    CHECK(len == theirs_len && memcmp(ours, theirs, len) == 0);
    free(theirs);
    ldns_pkt_free(pkt);

    /* And what ldns reads back from our bytes. */
    ldns_pkt *parsed = NULL;
    CHECK(ldns_wire2pkt(&parsed, ours, len) == LDNS_STATUS_OK);
    if (parsed != NULL) {
      CHECK_INT(ldns_pkt_id(parsed), 0xbeef);
      CHECK(ldns_pkt_rd(parsed));
      CHECK(!ldns_pkt_qr(parsed));
      CHECK(ldns_pkt_cd(parsed) == (cd == 1));
      CHECK(ldns_pkt_edns_do(parsed));
      CHECK_INT(ldns_pkt_edns_udp_size(parsed), 1232);
      CHECK_INT(ldns_pkt_qdcount(parsed), 1);
      ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(parsed), 0);
      CHECK_INT(ldns_rr_get_type(q), LDNS_RR_TYPE_TLSA);
      CHECK_INT(ldns_rr_get_class(q), LDNS_RR_CLASS_IN);
      char *name = ldns_rdf2str(ldns_rr_owner(q));
      CHECK_STR(name, "_25._tcp.mx.example.org.");
      free(name);
      ldns_pkt_free(parsed);
    }
  }
}

static size_t make_reply(uint8_t *out, const char *name, uint16_t type, uint16_t id) {
  uint8_t qname[DNS_NAME_MAX_BYTES];
  size_t qname_len = dns_message_encode_name(name, qname);
  size_t len = dns_message_build_query(out, id, qname, qname_len, type, false, 1232);
  out[2] |= DNS_FLAG2_QR;
  return len;
}

static void test_reply_matches(void) {
  uint8_t qname[DNS_NAME_MAX_BYTES];
  size_t qname_len = dns_message_encode_name("mx.Example.org", qname);
  uint8_t reply[DNS_QUERY_MAX_BYTES];
  size_t len = make_reply(reply, "MX.EXAMPLE.ORG", LDNS_RR_TYPE_A, 7);
  CHECK(dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
  CHECK_INT(dns_message_id(reply), 7);
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_AAAA));
  CHECK(!dns_message_reply_matches(reply, 20, qname, qname_len, LDNS_RR_TYPE_A));
  len = make_reply(reply, "mx.example.net", LDNS_RR_TYPE_A, 7);
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
  len = make_reply(reply, "mx.example.org.x", LDNS_RR_TYPE_A, 7);
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
  len = make_reply(reply, "mx.example.org", LDNS_RR_TYPE_A, 7);
  reply[2] &= (uint8_t)~DNS_FLAG2_QR; /* a query, not a response */
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
  len = make_reply(reply, "mx.example.org", LDNS_RR_TYPE_A, 7);
  reply[5] = 2; /* two questions */
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
  len = make_reply(reply, "mx.example.org", LDNS_RR_TYPE_A, 7);
  reply[DNS_HEADER_BYTES + qname_len + 3] = 3; /* class CH */
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
  len = make_reply(reply, "mx.example.org", LDNS_RR_TYPE_A, 7);
  reply[2] |= 0x08; /* opcode IQUERY */
  CHECK(!dns_message_reply_matches(reply, len, qname, qname_len, LDNS_RR_TYPE_A));
}

static void test_ede_options(void) {
  struct dns_ede ede;
  /* padding option, then EDE 22 "no auth", then EDE 6 with a control byte */
  const uint8_t options[] = {0,   12,  0,   2,   0, 0,  0, 15, 0, 9, 0,   22,   'n',  'o', ' ',
                             'a', 'u', 't', 'h', 0, 15, 0, 6,  0, 6, 'b', '\n', 0xc3, 0};
  dns_message_extract_ede_options(options, sizeof options, &ede);
  CHECK(ede.present);
  CHECK_INT(ede.code, 6); /* the DNSSEC one wins */
  CHECK_STR(ede.text, "b??");
  dns_message_extract_ede_options(options, 19, &ede);
  CHECK(ede.present);
  CHECK_INT(ede.code, 22);
  CHECK_STR(ede.text, "no auth");
  /* truncated option: ignored */
  const uint8_t cut[] = {0, 15, 0, 9, 0, 6, 'x'};
  dns_message_extract_ede_options(cut, sizeof cut, &ede);
  CHECK(!ede.present);
  /* long text is capped */
  uint8_t big[4 + 2 + 1000];
  big[0] = 0;
  big[1] = 15;
  big[2] = (uint8_t)(1002 >> 8);
  big[3] = (uint8_t)(1002 & 0xff);
  big[4] = 0;
  big[5] = 9;
  memset(big + 6, 'y', 1000);
  dns_message_extract_ede_options(big, sizeof big, &ede);
  CHECK(ede.present);
  CHECK_INT(strlen(ede.text), DNS_EDE_TEXT_MAX_BYTES - 1);
}

static void test_ede_from_packet(void) {
  ldns_pkt *pkt = NULL;
  ldns_pkt_query_new_frm_str(&pkt, "dnssec-failed.org.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_qr(pkt, true);
  ldns_pkt_set_rcode(pkt, LDNS_RCODE_SERVFAIL);
  ldns_pkt_set_edns_udp_size(pkt, 1232);
  const uint8_t option[] = {0, 15, 0, 14, 0, 9, 'n', 'o', ' ', 'S', 'E', 'P', ' ', 'm', 'a', 't', 'c', 'h'};
  uint8_t *data = malloc(sizeof option);
  memcpy(data, option, sizeof option);
  ldns_pkt_set_edns_data(pkt, ldns_rdf_new(LDNS_RDF_TYPE_UNKNOWN, sizeof option, data));
  uint8_t *wire = NULL;
  size_t len = 0;
  CHECK(ldns_pkt2wire(&wire, pkt, &len) == LDNS_STATUS_OK);
  ldns_pkt *parsed = NULL;
  CHECK(ldns_wire2pkt(&parsed, wire, len) == LDNS_STATUS_OK);
  struct dns_ede ede;
  dns_message_extract_ede(parsed, &ede);
  CHECK(ede.present);
  CHECK_INT(ede.code, 9);
  CHECK_STR(ede.text, "no SEP match");
  dns_message_extract_ede(NULL, &ede);
  CHECK(!ede.present);
  free(wire);
  ldns_pkt_free(parsed);
  ldns_pkt_free(pkt);
}

static void test_answer_state(void) {
  struct dns_ede none = {.present = false};
  struct dns_ede bogus = {.present = true, .code = 6};
  struct dns_ede algorithm = {.present = true, .code = 1};
  struct dns_ede stale = {.present = true, .code = 3};
  CHECK_INT(dns_message_answer_state(true, &none), DNSSEC_SECURE);
  CHECK_INT(dns_message_answer_state(true, &bogus), DNSSEC_SECURE);
  CHECK_INT(dns_message_answer_state(false, &none), DNSSEC_INSECURE);
  CHECK_INT(dns_message_answer_state(false, &bogus), DNSSEC_BOGUS);
  CHECK_INT(dns_message_answer_state(false, &algorithm), DNSSEC_INSECURE);
  CHECK_INT(dns_message_answer_state(false, &stale), DNSSEC_INSECURE);
  CHECK(dns_ede_is_dnssec_failure(1));
  CHECK(dns_ede_is_dnssec_failure(12));
  CHECK(!dns_ede_is_dnssec_failure(3));
  CHECK(!dns_ede_is_dnssec_failure(13));
  CHECK(!dns_ede_is_dnssec_failure(22));
}

UNIT_MAIN(UNIT_TEST(test_encode_name), UNIT_TEST(test_build_query_matches_ldns), UNIT_TEST(test_reply_matches),
          UNIT_TEST(test_ede_options), UNIT_TEST(test_ede_from_packet), UNIT_TEST(test_answer_state))
