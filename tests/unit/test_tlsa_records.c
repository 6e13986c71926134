/* TLSA record classification against what OpenSSL's DANE code accepts
 * (issue 16): full data (matching type 0) must be a whole DER certificate
 * for selector 0 and a whole DER SubjectPublicKeyInfo for selector 1, or
 * SSL_dane_tlsa_add refuses the record at probe time. Every record here is
 * also handed to SSL_dane_tlsa_add, so "usable" and "OpenSSL accepts it"
 * must agree. And when they do not (a record forced usable), the refusal
 * must surface in the session's log and the outcome, never as a silent
 * no-usable-record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "record/tlsa.h"
#include "tls/tls_dane.h"
#include "unit.h"

static unsigned char *cert_der;
static int cert_der_len;
static unsigned char *spki_der;
static int spki_der_len;

/* A self-signed P-256 certificate, its DER and its key's DER SPKI. */
static void make_certificate(void) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x509 = X509_new();
  X509_set_version(x509, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC, (const unsigned char *)"tlsa-test", -1,
                             -1, 0);
  X509_set_issuer_name(x509, X509_get_subject_name(x509));
  X509_gmtime_adj(X509_getm_notBefore(x509), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509), 86400);
  X509_set_pubkey(x509, key);
  X509_sign(x509, key, EVP_sha256());
  cert_der_len = i2d_X509(x509, &cert_der);
  spki_der_len = i2d_PUBKEY(key, &spki_der);
  X509_free(x509);
  EVP_PKEY_free(key);
}

static struct tlsa_record record_of(uint8_t usage, uint8_t selector, uint8_t matching, const unsigned char *data,
                                    size_t len) {
  struct tlsa_record record = {.usage = usage,
                               .selector = selector,
                               .matching_type = matching,
                               .data_len = (uint16_t)len,
                               .data = (uint8_t *)data};
  tlsa_record_classify(&record);
  return record;
}

/* 1 if OpenSSL's SSL_dane_tlsa_add accepts the record, 0 if it refuses it. */
static int openssl_accepts(const struct tlsa_record *record) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_dane_enable(ctx);
  SSL *ssl = SSL_new(ctx);
  SSL_dane_enable(ssl, "mx.example");
  int added = SSL_dane_tlsa_add(ssl, record->usage, record->selector, record->matching_type, record->data,
                                record->data_len);
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return added > 0 ? 1 : 0;
}

/* Classifies and checks usability, the reason, and agreement with OpenSSL. */
static void check_record(uint8_t usage, uint8_t selector, uint8_t matching, const unsigned char *data, size_t len,
                         bool want_usable, const char *reason_part) {
  struct tlsa_record record = record_of(usage, selector, matching, data, len);
  CHECK_INT(record.usable, want_usable);
  CHECK_INT(openssl_accepts(&record), want_usable);
  if (reason_part != NULL) {
    CHECK(record.unusable_reason != NULL && strstr(record.unusable_reason, reason_part) != NULL);
  } else {
    CHECK(record.unusable_reason == NULL);
  }
}

static void test_full_data_good(void) {
  check_record(3, 0, 0, cert_der, (size_t)cert_der_len, true, NULL);
  check_record(3, 1, 0, spki_der, (size_t)spki_der_len, true, NULL);
  check_record(2, 0, 0, cert_der, (size_t)cert_der_len, true, NULL);
  check_record(2, 1, 0, spki_der, (size_t)spki_der_len, true, NULL);
}

/* Issue 16's minimal cases: the selector mix-up and a bare SEQUENCE. */
static void test_full_data_malformed(void) {
  static const unsigned char bare_sequence[] = {0x30, 0x03, 0x02, 0x01, 0x00};
  check_record(3, 1, 0, cert_der, (size_t)cert_der_len, false, "SubjectPublicKeyInfo");
  check_record(3, 0, 0, spki_der, (size_t)spki_der_len, false, "certificate");
  check_record(3, 0, 0, bare_sequence, sizeof bare_sequence, false, "certificate");
  check_record(3, 1, 0, bare_sequence, sizeof bare_sequence, false, "SubjectPublicKeyInfo");
  check_record(2, 1, 0, cert_der, (size_t)cert_der_len, false, "SubjectPublicKeyInfo");
  check_record(3, 0, 0, bare_sequence, 0, false, "empty");
}

/* The whole data must be consumed: a trailing byte or a truncated object
 * makes the record unusable (OpenSSL checks p - data == dlen). */
static void test_full_data_length(void) {
  size_t cert_len = (size_t)cert_der_len, spki_len = (size_t)spki_der_len;
  unsigned char *longer = malloc(cert_len + 1);
  memcpy(longer, cert_der, cert_len);
  longer[cert_len] = 0;
  check_record(3, 0, 0, longer, cert_len + 1, false, "certificate");
  check_record(3, 0, 0, cert_der, cert_len - 1, false, "certificate");
  memcpy(longer, spki_der, spki_len);
  longer[spki_len] = 0;
  check_record(3, 1, 0, longer, spki_len + 1, false, "SubjectPublicKeyInfo");
  check_record(3, 1, 0, spki_der, spki_len - 1, false, "SubjectPublicKeyInfo");
  free(longer);
}

static void test_digests_agree_with_openssl(void) {
  unsigned char digest[64];
  memset(digest, 0x5a, sizeof digest);
  check_record(3, 1, 1, digest, 32, true, NULL);
  check_record(3, 0, 2, digest, 64, true, NULL);
  check_record(3, 1, 1, digest, 31, false, "32 bytes");
  check_record(3, 1, 2, digest, 32, false, "64 bytes");
}

static struct tls_client *client;

/* A record forced usable that OpenSSL refuses: counted in the log, named in
 * the outcome (unauthenticated-tls with "OpenSSL refused"), never lost. */
static void test_refusal_surfaces(void) {
  static const unsigned char bare_sequence[] = {0x30, 0x03, 0x02, 0x01, 0x00};
  struct tlsa_record bad = record_of(3, 1, 0, cert_der, (size_t)cert_der_len);
  CHECK(!bad.usable);
  bad.usable = true; /* as the classification before issue 16 had it */
  bad.unusable_reason = NULL;
  const char *names[] = {"mx.example"};
  struct tls_dane_input input = {
      .sni = "mx.example", .reference_names = names, .reference_count = 1, .tlsa = &bad, .tlsa_count = 1};
  struct tls_verify_log log;
  char why[256] = "";
  SSL *ssl = tls_session_new(client, &input, &log, why, sizeof why);
  CHECK(ssl != NULL);
  CHECK_INT(log.usable_added, 0);
  CHECK_INT(log.usable_refused, 1);
  CHECK_INT(log.first_refused_index, 0);
  CHECK(strstr(log.first_refused_error, "SSL_dane_tlsa_add") != NULL);
  const unsigned char *p = cert_der;
  X509 *leaf = d2i_X509(NULL, &p, cert_der_len);
  struct tls_outcome outcome;
  CHECK_INT(tls_dane_verify_chain(ssl, leaf, NULL, &input, &log, time(NULL), &outcome), 0);
  CHECK_STR(probe_result_name(outcome.result), "unauthenticated-tls");
  CHECK(strstr(outcome.reason, "OpenSSL refused all 1 usable TLSA records") != NULL);
  CHECK_INT(outcome.tlsa_refused, 1);
  tls_outcome_clear(&outcome);
  SSL_free(ssl);

  /* One refused beside one accepted: DANE goes on with the accepted one
   * (here a digest of another key: a mismatch), the refusal is counted and
   * named in the mismatch's reason. */
  static const unsigned char other_key[32] = {1};
  struct tlsa_record two[2];
  two[0] = record_of(3, 0, 0, bare_sequence, sizeof bare_sequence);
  two[0].usable = true;
  two[1] = record_of(3, 1, 1, other_key, sizeof other_key);
  CHECK(two[1].usable);
  input.tlsa = two;
  input.tlsa_count = 2;
  ssl = tls_session_new(client, &input, &log, why, sizeof why);
  CHECK(ssl != NULL);
  CHECK_INT(log.usable_added, 1);
  CHECK_INT(log.usable_refused, 1);
  CHECK_INT(tls_dane_verify_chain(ssl, leaf, NULL, &input, &log, time(NULL), &outcome), 0);
  CHECK_INT(outcome.tlsa_refused, 1);
  CHECK_STR(probe_result_name(outcome.result), "tlsa-mismatch");
  CHECK(strstr(outcome.reason, "OpenSSL refused 1 usable TLSA record(s)") != NULL);
  tls_outcome_clear(&outcome);
  SSL_free(ssl);
  X509_free(leaf);
}

int main(void) {
  make_certificate();
  char why[256] = "";
  client = tls_client_new(why, sizeof why);
  if (client == NULL) {
    fprintf(stderr, "tls_client_new: %s\n", why);
    return 1;
  }
  static const struct unit_test tests[] = {
      UNIT_TEST(test_full_data_good),   UNIT_TEST(test_full_data_malformed),
      UNIT_TEST(test_full_data_length), UNIT_TEST(test_digests_agree_with_openssl),
      UNIT_TEST(test_refusal_surfaces),
  };
  int rc = unit_run(tests, sizeof tests / sizeof tests[0]);
  tls_client_free(client);
  OPENSSL_free(cert_der);
  OPENSSL_free(spki_der);
  return rc;
}
