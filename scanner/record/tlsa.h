/* TLSA records as danescan keeps them, and the RFC 7672 rules for which of
 * them an SMTP client may use. It does not match records against
 * certificates (that is tls/), and does not look them up (that is dns/). */
#ifndef DANESCAN_RECORD_TLSA_H
#define DANESCAN_RECORD_TLSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#define TLSA_DATA_MAX_BYTES 2048 /* a full certificate (matching type 0) may be large */

enum tlsa_usage { TLSA_USAGE_PKIX_TA = 0, TLSA_USAGE_PKIX_EE = 1, TLSA_USAGE_DANE_TA = 2, TLSA_USAGE_DANE_EE = 3 };
enum tlsa_selector { TLSA_SELECTOR_CERT = 0, TLSA_SELECTOR_SPKI = 1 };
enum tlsa_matching { TLSA_MATCHING_FULL = 0, TLSA_MATCHING_SHA256 = 1, TLSA_MATCHING_SHA512 = 2 };

struct tlsa_record {
  uint8_t usage;
  uint8_t selector;
  uint8_t matching_type;
  uint16_t data_len;
  uint8_t *data;               /* owned by the record */
  bool usable;                 /* RFC 7672 3.1: usable by an SMTP client */
  const char *unusable_reason; /* static text, NULL when usable */
};

/* Decides usability: usage 2 or 3, selector 0 or 1, matching type 0, 1 or 2,
 * and the data fitting the matching type: 32 bytes for SHA-256, 64 for
 * SHA-512; for full data, selector 0 a whole DER certificate and selector 1
 * a whole DER SubjectPublicKeyInfo (decoded with d2i_X509 / d2i_PUBKEY,
 * every byte consumed: what SSL_dane_tlsa_add accepts). Sets usable and
 * unusable_reason. */
void tlsa_record_classify(struct tlsa_record *record);

/* Copies a TLSA RR (ldns) into record and classifies it. Returns 0, or -1 if
 * the RR is not a well-formed TLSA RR (too few rdata fields). The caller
 * frees with tlsa_record_clear. */
int tlsa_record_from_rr(const ldns_rr *rr, struct tlsa_record *record);

void tlsa_record_clear(struct tlsa_record *record);

/* Deep copy; returns 0 or -1 (out of memory). */
int tlsa_record_copy(const struct tlsa_record *from, struct tlsa_record *to);

/* Writes the lower-case hex of the data into out (2*data_len+1 bytes). */
void tlsa_record_hex(const struct tlsa_record *record, char *out);

#endif
