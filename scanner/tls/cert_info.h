/* What danescan records about one certificate, read from its DER with
 * OpenSSL: subject, issuer, DNS subjectAltNames, validity, key type and
 * size, and the SHA-256 of its SubjectPublicKeyInfo (the data of a
 * "3 1 1" TLSA record). Pure: no I/O. */
#ifndef DANESCAN_TLS_CERT_INFO_H
#define DANESCAN_TLS_CERT_INFO_H

#include <stddef.h>
#include <stdint.h>

#define CERT_INFO_NAME_MAX_BYTES 256
#define CERT_INFO_MAX_SAN 16 /* DNS names kept; more are not */

struct cert_info {
  char subject[CERT_INFO_NAME_MAX_BYTES]; /* RFC 2253 form, capped */
  char issuer[CERT_INFO_NAME_MAX_BYTES];
  char san[CERT_INFO_MAX_SAN][CERT_INFO_NAME_MAX_BYTES]; /* dNSNames; NUL, control bytes, bytes
                                                            over 127 and '\' as "\XX" (hex), capped */
  size_t san_count;
  int64_t not_before, not_after; /* Unix seconds, INT64_MIN unknown */
  char key_type[32];             /* "rsa", "ec", "ed25519", ... */
  int key_bits;                  /* -1 unknown */
  uint8_t spki_sha256[32];
};

/* Returns 0 and fills out, or -1 when der is not a certificate. */
int cert_info_from_der(const uint8_t *der, size_t der_len, struct cert_info *out);

#endif
