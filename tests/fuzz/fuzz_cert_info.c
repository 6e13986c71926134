/* libFuzzer target: certificate facts from arbitrary DER (tls/cert_info.c),
 * as the scanner reads each certificate a server sent in its chain.
 *
 * OpenSSL is not instrumented, so mutated DER rarely gets past d2i_X509
 * and the fuzzer cannot see why. Byte 0 therefore picks the mode: even, the
 * rest is DER as a server sent it; odd, the rest describes a certificate
 * that OpenSSL then encodes: key type, subject and issuer attribute bytes,
 * validity times as raw ASN.1 time strings (any bytes, either time type),
 * and up to 40 subjectAltNames of any type and content (NULs, control
 * bytes, over-long names). Both feed the same cert_info_from_der.
 *
 * Checks (abort on a broken one): every text field is NUL-terminated inside
 * its array; san_count is within CERT_INFO_MAX_SAN; a refused input leaves
 * the documented "unknown" values; the same DER read twice gives the same
 * facts (nothing depends on uninitialised memory). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/cert_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *text, size_t size) {
  if (memchr(text, '\0', size) == NULL) abort();
}

static EVP_PKEY *keys[4]; /* subject keys: RSA 1024, P-256, P-384, Ed25519 */
static EVP_PKEY *signer;  /* Ed25519: signing is cheap, and nobody verifies */

struct reader {
  const uint8_t *data;
  size_t size, pos;
};

static uint8_t read_byte(struct reader *r) {
  return r->pos < r->size ? r->data[r->pos++] : 0;
}

/* A length byte, then up to that many bytes. */
static const uint8_t *read_field(struct reader *r, size_t *len) {
  size_t n = read_byte(r);
  if (n > r->size - r->pos) n = r->size - r->pos;
  const uint8_t *field = r->data + r->pos;
  r->pos += n;
  *len = n;
  return field;
}

static void set_time(ASN1_TIME *time, struct reader *r) {
  size_t len;
  uint8_t type = read_byte(r);
  const uint8_t *text = read_field(r, &len);
  ASN1_STRING_set(time, text, (int)len);
  time->type = (type & 1) ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME;
}

static void add_name_entry(X509_NAME *name, const char *field, struct reader *r) {
  size_t len;
  uint8_t type = read_byte(r);
  const uint8_t *bytes = read_field(r, &len);
  static const int types[] = {MBSTRING_UTF8, V_ASN1_UTF8STRING, V_ASN1_IA5STRING, V_ASN1_BMPSTRING};
  X509_NAME_add_entry_by_txt(name, field, types[type & 3], bytes, (int)len, -1, 0);
}

/* The DER of a certificate described by the rest of the input; NULL if
 * OpenSSL would not encode it. The caller frees with OPENSSL_free. */
static uint8_t *build_der(struct reader *r, int *der_len) {
  if (signer == NULL) {
    keys[0] = EVP_RSA_gen(1024);
    keys[1] = EVP_EC_gen("P-256");
    keys[2] = EVP_EC_gen("P-384");
    keys[3] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    signer = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (keys[0] == NULL || keys[1] == NULL || keys[2] == NULL || keys[3] == NULL || signer == NULL) abort();
  }
  X509 *cert = X509_new();
  if (cert == NULL) return NULL;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_set_pubkey(cert, keys[read_byte(r) & 3]);
  add_name_entry(X509_get_subject_name(cert), "CN", r);
  add_name_entry(X509_get_subject_name(cert), "O", r);
  add_name_entry(X509_get_issuer_name(cert), "CN", r);
  set_time(X509_getm_notBefore(cert), r);
  set_time(X509_getm_notAfter(cert), r);
  unsigned san_count = read_byte(r) % 41;
  GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
  for (unsigned i = 0; names != NULL && i < san_count; i++) {
    uint8_t type = read_byte(r);
    size_t len;
    const uint8_t *bytes = read_field(r, &len);
    GENERAL_NAME *name = GENERAL_NAME_new();
    ASN1_IA5STRING *text = ASN1_IA5STRING_new();
    if (name == NULL || text == NULL || !ASN1_STRING_set(text, bytes, (int)len)) {
      GENERAL_NAME_free(name);
      ASN1_IA5STRING_free(text);
      break;
    }
    static const int name_types[] = {GEN_DNS, GEN_DNS, GEN_EMAIL, GEN_URI};
    GENERAL_NAME_set0_value(name, name_types[type & 3], text);
    if (!sk_GENERAL_NAME_push(names, name)) {
      GENERAL_NAME_free(name);
      break;
    }
  }
  if (names != NULL) X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(names);
  uint8_t *der = NULL;
  *der_len = 0;
  if (X509_sign(cert, signer, NULL) > 0) *der_len = i2d_X509(cert, &der);
  X509_free(cert);
  if (*der_len <= 0) {
    OPENSSL_free(der);
    return NULL;
  }
  return der;
}

static void check(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    check(data + 1, size - 1);
    return 0;
  }
  struct reader r = {.data = data + 1, .size = size - 1};
  int der_len = 0;
  uint8_t *der = build_der(&r, &der_len);
  if (der != NULL) {
    check(der, (size_t)der_len);
  }
  OPENSSL_free(der);
  return 0;
}

static void check(const uint8_t *data, size_t size) {
  static struct cert_info info, again;
  int rc = cert_info_from_der(data, size, &info);
  if (rc != 0) {
    if (rc != -1 || info.san_count != 0 || info.key_bits != -1 || info.not_before != INT64_MIN ||
        info.not_after != INT64_MIN || info.subject[0] != '\0') {
      abort();
    }
    return;
  }
  check_text(info.subject, sizeof info.subject);
  check_text(info.issuer, sizeof info.issuer);
  check_text(info.key_type, sizeof info.key_type);
  if (info.san_count > CERT_INFO_MAX_SAN) abort();
  for (size_t i = 0; i < info.san_count; i++) check_text(info.san[i], sizeof info.san[i]);
  if (cert_info_from_der(data, size, &again) != 0) abort();
  if (strcmp(info.subject, again.subject) != 0 || strcmp(info.issuer, again.issuer) != 0 ||
      strcmp(info.key_type, again.key_type) != 0 || info.san_count != again.san_count ||
      info.not_before != again.not_before || info.not_after != again.not_after || info.key_bits != again.key_bits ||
      memcmp(info.spki_sha256, again.spki_sha256, sizeof info.spki_sha256) != 0) {
    abort();
  }
  for (size_t i = 0; i < info.san_count; i++) {
    if (strcmp(info.san[i], again.san[i]) != 0) abort();
  }
}
