/* TLSA usability for SMTP (RFC 7672 section 3.1): only DANE-TA(2) and
 * DANE-EE(3) are usable; PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP
 * because there is no agreed set of public CAs for MTAs; unknown selectors
 * and matching types, and digests of the wrong length, are unusable too
 * (RFC 7671 section 8.2 asks clients to ignore such records). */
#include "record/tlsa.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Full data (matching type 0) must be exactly what OpenSSL's
 * SSL_dane_tlsa_add accepts: selector 0 a DER certificate with a public key,
 * selector 1 a DER SubjectPublicKeyInfo, each consuming every byte. Anything
 * else (a whole certificate published as "3 1 0", a bare SEQUENCE) cannot
 * match and would be refused at probe time. Returns NULL or the reason. */
static const char *full_data_problem(const struct tlsa_record *record) {
  const unsigned char *start = record->data;
  const unsigned char *p = start;
  const char *problem = NULL;
  if (record->data_len == 0) return "full data is empty";
  if (record->selector == TLSA_SELECTOR_CERT) {
    X509 *cert = d2i_X509(NULL, &p, (long)record->data_len);
    if (cert == NULL || (size_t)(p - start) != record->data_len || X509_get0_pubkey(cert) == NULL) {
      problem = "full data (selector 0) is not a DER certificate";
    }
    X509_free(cert);
  } else {
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)record->data_len);
    if (key == NULL || (size_t)(p - start) != record->data_len) {
      problem = "full data (selector 1) is not a DER SubjectPublicKeyInfo";
    }
    EVP_PKEY_free(key);
  }
  ERR_clear_error(); /* a failed decode leaves errors on this thread's queue */
  return problem;
}

void tlsa_record_classify(struct tlsa_record *record) {
  record->usable = false;
  if (record->usage == TLSA_USAGE_PKIX_TA || record->usage == TLSA_USAGE_PKIX_EE) {
    record->unusable_reason = "usage 0/1 (PKIX) is not usable for SMTP (RFC 7672 3.1.3)";
    return;
  }
  if (record->usage != TLSA_USAGE_DANE_TA && record->usage != TLSA_USAGE_DANE_EE) {
    record->unusable_reason = "unknown certificate usage";
    return;
  }
  if (record->selector != TLSA_SELECTOR_CERT && record->selector != TLSA_SELECTOR_SPKI) {
    record->unusable_reason = "unknown selector";
    return;
  }
  switch (record->matching_type) {
  case TLSA_MATCHING_SHA256:
    if (record->data_len != 32) {
      record->unusable_reason = "SHA-256 digest is not 32 bytes";
      return;
    }
    break;
  case TLSA_MATCHING_SHA512:
    if (record->data_len != 64) {
      record->unusable_reason = "SHA-512 digest is not 64 bytes";
      return;
    }
    break;
  case TLSA_MATCHING_FULL: {
    const char *problem = full_data_problem(record);
    if (problem != NULL) {
      record->unusable_reason = problem;
      return;
    }
    break;
  }
  default:
    record->unusable_reason = "unknown matching type";
    return;
  }
  record->usable = true;
  record->unusable_reason = NULL;
}

static int rdf_uint8(const ldns_rdf *rdf, uint8_t *out) {
  if (rdf == NULL || ldns_rdf_size(rdf) != 1) return -1;
  *out = ldns_rdf_data(rdf)[0];
  return 0;
}

int tlsa_record_from_rr(const ldns_rr *rr, struct tlsa_record *record) {
  memset(record, 0, sizeof *record);
  if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TLSA || ldns_rr_rd_count(rr) < 4) return -1;
  if (rdf_uint8(ldns_rr_rdf(rr, 0), &record->usage) != 0 || rdf_uint8(ldns_rr_rdf(rr, 1), &record->selector) != 0 ||
      rdf_uint8(ldns_rr_rdf(rr, 2), &record->matching_type) != 0) {
    return -1;
  }
  const ldns_rdf *data = ldns_rr_rdf(rr, 3);
  size_t len = ldns_rdf_size(data);
  if (len > TLSA_DATA_MAX_BYTES) len = TLSA_DATA_MAX_BYTES;
  record->data = malloc(len > 0 ? len : 1);
  if (record->data == NULL) return -1;
  memcpy(record->data, ldns_rdf_data(data), len);
  record->data_len = (uint16_t)len;
  tlsa_record_classify(record);
  if (ldns_rdf_size(data) > TLSA_DATA_MAX_BYTES) {
    record->usable = false;
    record->unusable_reason = "association data longer than danescan keeps";
  }
  return 0;
}

void tlsa_record_clear(struct tlsa_record *record) {
  if (record == NULL) return;
  free(record->data);
  memset(record, 0, sizeof *record);
}

int tlsa_record_copy(const struct tlsa_record *from, struct tlsa_record *to) {
  *to = *from;
  to->data = malloc(from->data_len > 0 ? from->data_len : 1);
  if (to->data == NULL) return -1;
  memcpy(to->data, from->data, from->data_len);
  return 0;
}

void tlsa_record_hex(const struct tlsa_record *record, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < record->data_len; i++) {
    out[2 * i] = digits[record->data[i] >> 4];
    out[2 * i + 1] = digits[record->data[i] & 15];
  }
  out[2 * (size_t)record->data_len] = '\0';
}
