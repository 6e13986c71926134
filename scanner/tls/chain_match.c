/* TLSA-record-to-certificate matching and public-issuer lookups with
 * OpenSSL, for the rollover judgement. */
#include "tls/chain_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

struct chain_store {
  X509_STORE *store;
};

static X509 *parse_der(const uint8_t *der, size_t der_len) {
  if (der == NULL || der_len == 0 || der_len > (size_t)0x7fffffff) return NULL;
  const unsigned char *p = der;
  X509 *cert = d2i_X509(NULL, &p, (long)der_len);
  return cert;
}

static bool match_bytes(const struct tlsa_record *record, const unsigned char *data, size_t len) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  switch (record->matching_type) {
  case TLSA_MATCHING_FULL:
    return record->data_len == len && memcmp(record->data, data, len) == 0;
  case TLSA_MATCHING_SHA256:
    if (EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL) != 1) return false;
    break;
  case TLSA_MATCHING_SHA512:
    if (EVP_Digest(data, len, digest, &digest_len, EVP_sha512(), NULL) != 1) return false;
    break;
  default:
    return false;
  }
  return record->data_len == digest_len && memcmp(record->data, digest, digest_len) == 0;
}

bool chain_match_der(const struct tlsa_record *record, const uint8_t *der, size_t der_len) {
  if (record->data == NULL || der == NULL || der_len == 0) return false;
  if (record->selector == TLSA_SELECTOR_CERT) return match_bytes(record, der, der_len);
  if (record->selector != TLSA_SELECTOR_SPKI) return false;
  X509 *cert = parse_der(der, der_len);
  if (cert == NULL) return false;
  unsigned char *spki = NULL;
  int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
  bool matched = spki_len > 0 && match_bytes(record, spki, (size_t)spki_len);
  OPENSSL_free(spki);
  X509_free(cert);
  return matched;
}

struct chain_store *chain_store_new(const char *ca_file, char *why, size_t why_len) {
  struct chain_store *store = calloc(1, sizeof *store);
  if (store == NULL || (store->store = X509_STORE_new()) == NULL) {
    snprintf(why, why_len, "out of memory");
    free(store);
    return NULL;
  }
  if (ca_file == NULL) {
    if (X509_STORE_set_default_paths(store->store) != 1) {
      snprintf(why, why_len, "the system trust store cannot be loaded");
      chain_store_free(store);
      return NULL;
    }
    ERR_clear_error();
    return store;
  }
  FILE *file = fopen(ca_file, "r");
  if (file == NULL) {
    snprintf(why, why_len, "%s: cannot open the CA file", ca_file);
    chain_store_free(store);
    return NULL;
  }
  size_t added = 0;
  X509 *cert;
  while ((cert = PEM_read_X509(file, NULL, NULL, NULL)) != NULL) {
    if (X509_STORE_add_cert(store->store, cert) == 1) added++;
    X509_free(cert);
  }
  fclose(file);
  ERR_clear_error();
  if (added == 0) {
    snprintf(why, why_len, "%s: no PEM certificate in the CA file", ca_file);
    chain_store_free(store);
    return NULL;
  }
  return store;
}

void chain_store_free(struct chain_store *store) {
  if (store == NULL) return;
  X509_STORE_free(store->store);
  free(store);
}

bool chain_store_issued_by_public_ca(const struct chain_store *store, const uint8_t *der, size_t der_len) {
  if (store == NULL) return false;
  X509 *cert = parse_der(der, der_len);
  if (cert == NULL) return false;
  bool issued = false;
  /* Self-issued: a root itself, not an intermediate under one. */
  if (X509_check_issued(cert, cert) != X509_V_OK) {
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *issuer = NULL;
    if (ctx != NULL && X509_STORE_CTX_init(ctx, store->store, cert, NULL) == 1 &&
        X509_STORE_CTX_get1_issuer(&issuer, ctx, cert) == 1 && issuer != NULL) {
      EVP_PKEY *key = X509_get0_pubkey(issuer);
      issued = key != NULL && X509_verify(cert, key) == 1;
    }
    X509_free(issuer);
    X509_STORE_CTX_free(ctx);
  }
  X509_free(cert);
  ERR_clear_error();
  return issued;
}
