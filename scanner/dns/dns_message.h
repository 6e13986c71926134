/* DNS messages for the stub client: encodes query names (through ldns, which
 * knows presentation-format escapes), lays out the fixed query (RD, EDNS0,
 * DO, optional CD), checks a reply against its query on the wire before any
 * full parse (so spoofed or stray datagrams cost a few compares), extracts
 * RFC 8914 extended errors from a parsed reply and decides the DNSSEC state
 * of an answer (RESULTS.md). It sends nothing and keeps no state. */
#ifndef DANESCAN_DNS_MESSAGE_H
#define DANESCAN_DNS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "dns/dns_client.h"

#define DNS_HEADER_BYTES 12
#define DNS_NAME_MAX_BYTES 255 /* RFC 1035 2.3.4, wire form */
/* Header + question + OPT RR without options. */
#define DNS_QUERY_MAX_BYTES (DNS_HEADER_BYTES + DNS_NAME_MAX_BYTES + 4 + 11)

/* Wire-format flag bits in byte 2 and 3 of the header. */
#define DNS_FLAG2_QR 0x80u
#define DNS_FLAG2_TC 0x02u
#define DNS_FLAG2_RD 0x01u
#define DNS_FLAG3_AD 0x20u
#define DNS_FLAG3_CD 0x10u

/* Encodes a presentation-format name (with or without the trailing dot) into
 * uncompressed wire form in out (at least DNS_NAME_MAX_BYTES). Returns the
 * wire length (>= 1), or 0 if the name is not a valid domain name (empty
 * label, label over 63 bytes, name over 255 bytes, bad escape). */
size_t dns_message_encode_name(const char *name, uint8_t *out);

/* Writes the query into out (at least DNS_QUERY_MAX_BYTES): ID, RD, CD when
 * checking_disabled, one question of class IN, and an OPT RR advertising
 * edns_buffer_bytes with DO set. Returns its length. The layout is the one
 * ldns_pkt2wire produces for the same packet (a unit test compares them). */
size_t dns_message_build_query(uint8_t *out, uint16_t id, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                               bool checking_disabled, uint16_t edns_buffer_bytes);

/* The ID of a message of at least DNS_HEADER_BYTES. */
static inline uint16_t dns_message_id(const uint8_t *wire) {
  return (uint16_t)((wire[0] << 8) | wire[1]);
}

/* True if wire (len bytes) is a standard-query response (QR=1, opcode 0)
 * with exactly one question equal to qname (ASCII case-insensitively), qtype
 * and class IN. The ID and sender are not checked here. No allocation. */
bool dns_message_reply_matches(const uint8_t *wire, size_t len, const uint8_t *qname, size_t qname_len, uint16_t qtype);

/* The first RFC 8914 extended error of a parsed reply, preferring one that
 * reports a DNSSEC failure when several are present. */
struct dns_ede {
  bool present;
  uint16_t code;
  char text[DNS_EDE_TEXT_MAX_BYTES]; /* printable ASCII only, NUL-terminated */
};

/* Fills out from pkt's OPT RR; out->present is false when there is none or
 * the option data is malformed. */
void dns_message_extract_ede(const ldns_pkt *pkt, struct dns_ede *out);

/* Same from raw EDNS option data (code, length, value triples). */
void dns_message_extract_ede_options(const uint8_t *options, size_t len, struct dns_ede *out);

/* True for the EDE codes that report a DNSSEC validation failure (RFC 8914
 * section 4): 1, 2, 5, 6, 7, 8, 9, 10, 11, 12. */
bool dns_ede_is_dnssec_failure(uint16_t code);

/* DNSSEC state of a NOERROR/NXDOMAIN reply to a CD=0 query: secure when the
 * validating resolver set AD; bogus when it did not, but says through EDE
 * that validation failed (codes 5-12; a resolver in permissive mode answers
 * such data); otherwise insecure. EDE 1 and 2 (unsupported algorithm or
 * digest) stay insecure: RFC 4035 5.2 treats such zones as unsigned. */
enum dnssec_state dns_message_answer_state(bool ad, const struct dns_ede *ede);

#endif
