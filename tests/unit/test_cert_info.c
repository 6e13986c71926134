/* Unit tests of cert_info (tls/cert_info.h) on hostile certificates built
 * in memory with OpenSSL: subjectAltName dNSNames holding a NUL, control
 * bytes, bytes over 127 or a backslash must be recorded escaped, never cut
 * short at the NUL (the database would otherwise show "mx.lab.example" for a
 * certificate that names "mx.lab.example\0.evil.example", the classic NUL
 * prefix attack on name checks); plain names are kept as they are. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/cert_info.h"
#include "unit.h"

/* DER of a self-signed certificate whose SAN holds the given dNSNames
 * (bytes, lengths); *der_len set; the caller frees the result. */
static unsigned char *cert_with_sans(const char *const *names, const size_t *lengths, size_t count, int *der_len) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x509 = X509_new();
  GENERAL_NAMES *sans = GENERAL_NAMES_new();
  for (size_t i = 0; i < count; i++) {
    ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
    ASN1_STRING_set(dns, names[i], (int)lengths[i]);
    GENERAL_NAME *name = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(name, GEN_DNS, dns);
    sk_GENERAL_NAME_push(sans, name);
  }
  X509_set_version(x509, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC, (const unsigned char *)"cert-info-test",
                             -1, -1, 0);
  X509_set_issuer_name(x509, X509_get_subject_name(x509));
  X509_gmtime_adj(X509_getm_notBefore(x509), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509), 86400);
  X509_set_pubkey(x509, key);
  X509_add1_ext_i2d(x509, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT);
  X509_sign(x509, key, EVP_sha256());
  unsigned char *der = NULL;
  *der_len = i2d_X509(x509, &der);
  GENERAL_NAMES_free(sans);
  X509_free(x509);
  EVP_PKEY_free(key);
  return der;
}

static void test_plain_names_kept(void) {
  const char *names[] = {"mx.lab.example", "*.lab.example"};
  size_t lengths[] = {14, 13};
  int len = 0;
  unsigned char *der = cert_with_sans(names, lengths, 2, &len);
  struct cert_info info;
  CHECK_INT(cert_info_from_der(der, (size_t)len, &info), 0);
  CHECK_INT(info.san_count, 2);
  CHECK_STR(info.san[0], "mx.lab.example");
  CHECK_STR(info.san[1], "*.lab.example");
  CHECK_STR(info.subject, "CN=cert-info-test");
  OPENSSL_free(der);
}

static void test_nul_is_escaped_not_truncated(void) {
  static const char nul_name[] = "mx.lab.example\0.evil.example";
  const char *names[] = {nul_name};
  size_t lengths[] = {sizeof nul_name - 1};
  int len = 0;
  unsigned char *der = cert_with_sans(names, lengths, 1, &len);
  struct cert_info info;
  CHECK_INT(cert_info_from_der(der, (size_t)len, &info), 0);
  CHECK_INT(info.san_count, 1);
  CHECK_STR(info.san[0], "mx.lab.example\\00.evil.example");
  OPENSSL_free(der);
}

static void test_control_high_and_backslash_escaped(void) {
  static const char odd[] = "a\x01\x7f\xff\\b.lab";
  const char *names[] = {odd};
  size_t lengths[] = {sizeof odd - 1};
  int len = 0;
  unsigned char *der = cert_with_sans(names, lengths, 1, &len);
  struct cert_info info;
  CHECK_INT(cert_info_from_der(der, (size_t)len, &info), 0);
  CHECK_STR(info.san[0], "a\\01\\7F\\FF\\5Cb.lab");
  OPENSSL_free(der);
}

/* A name longer than the record keeps whole escapes and stays terminated. */
static void test_long_escaped_name_capped(void) {
  char name[600];
  for (size_t i = 0; i < sizeof name; i++) name[i] = i % 2 == 0 ? 'a' : '\0';
  const char *names[] = {name};
  size_t lengths[] = {sizeof name};
  int len = 0;
  unsigned char *der = cert_with_sans(names, lengths, 1, &len);
  struct cert_info info;
  CHECK_INT(cert_info_from_der(der, (size_t)len, &info), 0);
  size_t kept = strlen(info.san[0]);
  CHECK(kept < CERT_INFO_NAME_MAX_BYTES);
  CHECK(kept >= CERT_INFO_NAME_MAX_BYTES - 4);
  CHECK(strncmp(info.san[0], "a\\00a\\00", 8) == 0);
  const char *last_escape = strrchr(info.san[0], '\\');
  CHECK(last_escape != NULL && last_escape + 3 <= info.san[0] + kept); /* never cut inside "\00" */
  OPENSSL_free(der);
}

UNIT_MAIN(UNIT_TEST(test_plain_names_kept), UNIT_TEST(test_nul_is_escaped_not_truncated),
          UNIT_TEST(test_control_high_and_backslash_escaped), UNIT_TEST(test_long_escaped_name_capped))
