/* Unit tests of tls/chain_match.h on certificates built in memory: a TLSA
 * record matches the certificate or key it describes with every selector
 * and matching type and nothing else; a public-CA store says "issued by a
 * public CA" for an intermediate its root signed, not for the root itself,
 * not for a certificate of another CA with the same issuer name, and not
 * without a store; a CA file without certificates is refused with its name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/chain_match.h"
#include "unit.h"

struct cert {
  EVP_PKEY *key;
  X509 *x509;
  unsigned char *der;
  int der_len;
};

/* A certificate named cn, signed by issuer (NULL: self-signed). */
static void make_cert(struct cert *out, const char *cn, const struct cert *issuer) {
  out->key = EVP_EC_gen("P-256");
  out->x509 = X509_new();
  X509_set_version(out->x509, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out->x509), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(out->x509), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                             0);
  X509_set_issuer_name(out->x509, X509_get_subject_name(issuer != NULL ? issuer->x509 : out->x509));
  X509_gmtime_adj(X509_getm_notBefore(out->x509), 0);
  X509_gmtime_adj(X509_getm_notAfter(out->x509), 86400);
  X509_set_pubkey(out->x509, out->key);
  X509_sign(out->x509, issuer != NULL ? issuer->key : out->key, EVP_sha256());
  out->der = NULL;
  out->der_len = i2d_X509(out->x509, &out->der);
}

static void free_cert(struct cert *c) {
  OPENSSL_free(c->der);
  X509_free(c->x509);
  EVP_PKEY_free(c->key);
}

/* A record (usage 3) of c with selector and matching type; data in buf. */
static struct tlsa_record record_of(const struct cert *c, uint8_t selector, uint8_t matching, uint8_t *buf) {
  struct tlsa_record r = {.usage = 3, .selector = selector, .matching_type = matching, .data = buf};
  unsigned char *spki = NULL;
  int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->x509), &spki);
  const unsigned char *data = selector == 0 ? c->der : spki;
  size_t len = selector == 0 ? (size_t)c->der_len : (size_t)spki_len;
  unsigned int digest_len = 0;
  if (matching == 0) {
    memcpy(buf, data, len);
    r.data_len = (uint16_t)len;
  } else {
    EVP_Digest(data, len, buf, &digest_len, matching == 1 ? EVP_sha256() : EVP_sha512(), NULL);
    r.data_len = (uint16_t)digest_len;
  }
  OPENSSL_free(spki);
  return r;
}

static void test_match_every_selector_and_type(void) {
  struct cert a, b;
  make_cert(&a, "a.example", NULL);
  make_cert(&b, "b.example", NULL);
  uint8_t buf[TLSA_DATA_MAX_BYTES];
  for (uint8_t selector = 0; selector <= 1; selector++) {
    for (uint8_t matching = 0; matching <= 2; matching++) {
      struct tlsa_record r = record_of(&a, selector, matching, buf);
      CHECK(chain_match_der(&r, a.der, (size_t)a.der_len));
      CHECK(!chain_match_der(&r, b.der, (size_t)b.der_len));
      buf[r.data_len - 1] ^= 1;
      CHECK(!chain_match_der(&r, a.der, (size_t)a.der_len));
    }
  }
  struct tlsa_record r = record_of(&a, 1, 1, buf);
  CHECK(!chain_match_der(&r, (const uint8_t *)"not a certificate", 17));
  r.matching_type = 7;
  CHECK(!chain_match_der(&r, a.der, (size_t)a.der_len));
  free_cert(&a);
  free_cert(&b);
}

static void test_public_issuer(void) {
  struct cert root, intermediate, other_root, impostor;
  make_cert(&root, "public root", NULL);
  make_cert(&intermediate, "public intermediate", &root);
  /* Another key under the same name as the public root. */
  make_cert(&other_root, "public root", NULL);
  make_cert(&impostor, "impostor intermediate", &other_root);

  char path[] = "/tmp/danescan-chain-match-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *file = fdopen(fd, "w");
  PEM_write_X509(file, root.x509);
  fclose(file);
  char why[256] = "";
  struct chain_store *store = chain_store_new(path, why, sizeof why);
  CHECK(store != NULL);
  CHECK(chain_store_issued_by_public_ca(store, intermediate.der, (size_t)intermediate.der_len));
  CHECK(!chain_store_issued_by_public_ca(store, root.der, (size_t)root.der_len));
  CHECK(!chain_store_issued_by_public_ca(store, impostor.der, (size_t)impostor.der_len));
  CHECK(!chain_store_issued_by_public_ca(NULL, intermediate.der, (size_t)intermediate.der_len));
  chain_store_free(store);

  file = fopen(path, "w");
  fputs("no certificate here\n", file);
  fclose(file);
  CHECK(chain_store_new(path, why, sizeof why) == NULL);
  CHECK(strstr(why, path) != NULL && strstr(why, "no PEM certificate") != NULL);
  unlink(path);
  CHECK(chain_store_new(path, why, sizeof why) == NULL);
  CHECK(strstr(why, "cannot open") != NULL);
  free_cert(&root);
  free_cert(&intermediate);
  free_cert(&other_root);
  free_cert(&impostor);
}

UNIT_MAIN(UNIT_TEST(test_match_every_selector_and_type), UNIT_TEST(test_public_issuer))
