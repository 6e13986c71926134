/* libFuzzer target: one DNS reply on the wire, through everything the
 * scanner does to a reply it accepted. The input is the datagram the
 * resolver sent. It runs the wire pre-check (dns_message_reply_matches), the
 * ldns parse the client makes (dns_client.c), the EDE extraction and DNSSEC
 * state (dns_message.c), the answer record of a lookup (answer_fact), and the
 * answer walking of the pipeline (answer.c): the CNAME chain from the
 * question name, then the MX, A/AAAA and TLSA records at its end, read as
 * scan.c (collect_mx), host_resolver.c (collect_address, collect_tlsa) and
 * tlsa.c do. Those visitors are static in their modules, so the few lines
 * of glue are repeated here; every parser they call is the scanner's own.
 *
 * Checks (abort on a broken one): EDE text is printable ASCII and
 * NUL-terminated; a parsed standard reply with one IN question passes the
 * wire pre-check for its own question; the chain stops within
 * ANSWER_MAX_CNAME_HOPS; answer_name_text writes exactly what ldns_rdf2str
 * writes (lower case, no trailing dot); a usable TLSA record obeys the
 * RFC 7672 rules of tlsa.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/dns_message.h"
#include "pipeline/answer.h"
#include "record/result.h"
#include "record/tlsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ede(const struct dns_ede *ede) {
  if (memchr(ede->text, '\0', sizeof ede->text) == NULL) abort();
  for (const char *p = ede->text; *p; p++) {
    if (*p < 0x20 || *p > 0x7e) abort();
  }
  if (!ede->present && (ede->code != 0 || ede->text[0] != '\0')) abort();
}

/* answer_name_text promises ldns_rdf2str's text, lower case, without the
 * trailing dot ("." for the root). */
static void check_name_text(const ldns_rdf *name) {
  if (name == NULL) return;
  char text[256];
  int rc = answer_name_text(name, text, sizeof text);
  if (ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME) {
    if (rc == 0) abort();
    return;
  }
  if (rc != 0) return; /* does not fit: the caller drops the name */
  if (memchr(text, '\0', sizeof text) == NULL) abort();
  char *expect = ldns_rdf2str(name);
  if (expect == NULL) return;
  size_t len = strlen(expect);
  if (len > 1 && expect[len - 1] == '.') expect[--len] = '\0';
  for (size_t i = 0; i < len; i++) expect[i] = (char)tolower((unsigned char)expect[i]);
  if (strcmp(expect, text) != 0) abort();
  free(expect);
}

/* scan.c collect_mx: preference and target text of each MX. */
static void visit_mx(const ldns_rr *rr, void *arg) {
  size_t *count = arg;
  if (ldns_rr_rd_count(rr) < 2) return;
  (*count)++;
  volatile uint16_t preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
  (void)preference;
  check_name_text(ldns_rr_rdf(rr, 1));
}

/* host_resolver.c collect_address. */
static void visit_address(const ldns_rr *rr, void *arg) {
  (void)arg;
  const ldns_rdf *rdf = ldns_rr_rdf(rr, 0);
  if (rdf == NULL) return;
  size_t size = ldns_rdf_size(rdf);
  int family;
  if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && size == 4) family = AF_INET;
  else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && size == 16) family = AF_INET6;
  else return;
  uint8_t bytes[16];
  char text[INET6_ADDRSTRLEN];
  memcpy(bytes, ldns_rdf_data(rdf), size);
  if (inet_ntop(family, bytes, text, sizeof text) == NULL) abort();
}

static void check_tlsa(const struct tlsa_record *record) {
  if (record->usable) {
    if (record->unusable_reason != NULL) abort();
    if (record->usage != 2 && record->usage != 3) abort();
    if (record->selector > 1 || record->matching_type > 2) abort();
    if (record->matching_type == 1 && record->data_len != 32) abort();
    if (record->matching_type == 2 && record->data_len != 64) abort();
    if (record->matching_type == 0 && (record->data_len < 2 || record->data[0] != 0x30)) abort();
  } else if (record->unusable_reason == NULL || record->unusable_reason[0] == '\0') {
    abort();
  }
  if (record->data_len > TLSA_DATA_MAX_BYTES) abort();
}

/* host_resolver.c collect_tlsa, then what the probe and the store do with a
 * record (copy for the TLS input, hex for the row). */
static void visit_tlsa(const ldns_rr *rr, void *arg) {
  (void)arg;
  struct tlsa_record record;
  if (tlsa_record_from_rr(rr, &record) != 0) return;
  check_tlsa(&record);
  struct tlsa_record copy;
  if (tlsa_record_copy(&record, &copy) == 0) {
    if (copy.data_len != record.data_len || memcmp(copy.data, record.data, copy.data_len) != 0) abort();
    char *hex = malloc(2 * (size_t)copy.data_len + 1);
    if (hex != NULL) {
      tlsa_record_hex(&copy, hex);
      if (strlen(hex) != 2 * (size_t)copy.data_len) abort();
      free(hex);
    }
  }
  tlsa_record_clear(&copy);
  tlsa_record_clear(&record);
}

static void check_names(const ldns_rr_list *list) {
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
    check_name_text(ldns_rr_owner(ldns_rr_list_rr(list, i)));
  }
}

/* A walk as the pipeline makes it, from qname for type. */
static void walk(const ldns_pkt *packet, const ldns_rdf *qname, ldns_rr_type type) {
  unsigned hops = 99;
  ldns_rdf *final_name = answer_final_name(packet, qname, &hops);
  if (final_name == NULL) return; /* out of memory only */
  if (hops > ANSWER_MAX_CNAME_HOPS) abort();
  if (hops == 0 && ldns_dname_compare(final_name, qname) != 0) abort();
  check_name_text(final_name);
  size_t mx_count = 0;
  switch (type) {
  case LDNS_RR_TYPE_MX:
    answer_each_rr(packet, final_name, type, visit_mx, &mx_count);
    break;
  case LDNS_RR_TYPE_A:
  case LDNS_RR_TYPE_AAAA:
    answer_each_rr(packet, final_name, type, visit_address, NULL);
    break;
  case LDNS_RR_TYPE_TLSA:
    answer_each_rr(packet, final_name, type, visit_tlsa, NULL);
    break;
  default:
    break;
  }
  ldns_rdf_deep_free(final_name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65535) return 0; /* no DNS message is longer */
  struct dns_ede ede;
  /* The same bytes as raw EDNS options: the option walker on its own. */
  dns_message_extract_ede_options(data, size, &ede);
  check_ede(&ede);

  /* The pre-check against a name the reply was not asked for. */
  static const uint8_t other[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  (void)dns_message_reply_matches(data, size, other, sizeof other, LDNS_RR_TYPE_MX);

  ldns_pkt *packet = NULL;
  if (ldns_wire2pkt(&packet, data, size) != LDNS_STATUS_OK || packet == NULL) return 0;

  dns_message_extract_ede(packet, &ede);
  check_ede(&ede);
  enum dnssec_state state = dns_message_answer_state(ldns_pkt_ad(packet), &ede);
  if (ldns_pkt_ad(packet) && state != DNSSEC_SECURE) abort();

  /* The answer the client hands to the pipeline, and the fact kept of it. */
  struct dns_answer answer = {
      .state = state,
      .rcode = (int)ldns_pkt_get_rcode(packet),
      .packet = packet,
      .has_ede = ede.present,
      .ede_code = ede.code,
      .ede_text = ede.text,
      .attempts = 1,
  };
  struct dns_fact fact;
  memset(&fact, 0, sizeof fact);
  answer_fact(&fact, &answer);
  if (fact.ede_text != NULL && strlen(fact.ede_text) >= RESULT_EDE_TEXT_MAX_BYTES) abort();
  dns_fact_clear(&fact);

  const ldns_rr_list *question = ldns_pkt_question(packet);
  const ldns_rr *q = ldns_rr_list_rr_count(question) > 0 ? ldns_rr_list_rr(question, 0) : NULL;
  const ldns_rdf *qname = q != NULL ? ldns_rr_owner(q) : NULL;
  if (qname != NULL && ldns_rdf_size(qname) <= DNS_NAME_MAX_BYTES) {
    /* The question as it is on the wire: no compression pointer in it
     * (ldns follows even forward pointers), so its bytes are the name's. */
    size_t qlen = ldns_rdf_size(qname);
    bool uncompressed = size >= DNS_HEADER_BYTES + qlen;
    for (size_t i = 0; uncompressed && i < qlen; i++) {
      uncompressed = tolower(data[DNS_HEADER_BYTES + i]) == tolower(ldns_rdf_data(qname)[i]);
    }
    bool standard = uncompressed && (data[2] & 0xf8u) == DNS_FLAG2_QR && ldns_pkt_qdcount(packet) == 1 &&
        ldns_rr_get_class(q) == LDNS_RR_CLASS_IN;
    bool matches = dns_message_reply_matches(data, size, ldns_rdf_data(qname), ldns_rdf_size(qname),
                                             ldns_rr_get_type(q));
    if (standard && !matches) abort();
  }
  check_names(ldns_pkt_question(packet));
  check_names(ldns_pkt_answer(packet));
  check_names(ldns_pkt_authority(packet));

  if (qname != NULL) {
    /* The answer read for each type the pipeline asks, whatever was asked. */
    walk(packet, qname, LDNS_RR_TYPE_MX);
    walk(packet, qname, LDNS_RR_TYPE_A);
    walk(packet, qname, LDNS_RR_TYPE_AAAA);
    walk(packet, qname, LDNS_RR_TYPE_TLSA);
  }
  ldns_pkt_free(packet);
  return 0;
}
