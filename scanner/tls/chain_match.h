/* Which certificate of a presented chain a TLSA record describes, and
 * whether a certificate's issuer is in a WebPKI trust store. Used to judge
 * rollover readiness after a probe (pipeline/rollover.h): it does not decide
 * authentication (that is tls_dane.h, OpenSSL's DANE code) and does no I/O
 * except reading the trust store once in chain_store_new. */
#ifndef DANESCAN_TLS_CHAIN_MATCH_H
#define DANESCAN_TLS_CHAIN_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/tlsa.h"

/* True when record's selector/matching type/data describe the DER
 * certificate der (selector 0: the certificate, 1: its
 * SubjectPublicKeyInfo; matching 0: the bytes, 1: SHA-256, 2: SHA-512).
 * The usage is not looked at. False for anything not parseable. */
bool chain_match_der(const struct tlsa_record *record, const uint8_t *der, size_t der_len);

/* A trust store of public CAs (the WebPKI roots). */
struct chain_store;

/* Loads ca_file (PEM bundle), or the system store (OpenSSL's default paths)
 * when ca_file is NULL. Returns NULL with "FILE: reason" in why when the
 * file cannot be read or holds no certificate. Free with chain_store_free. */
struct chain_store *chain_store_new(const char *ca_file, char *why, size_t why_len);
void chain_store_free(struct chain_store *store); /* NULL ok */

/* True when der is a certificate that is not self-issued and whose issuer
 * is a certificate of store whose key verifies der's signature: an
 * intermediate (or leaf) issued by a public CA. */
bool chain_store_issued_by_public_ca(const struct chain_store *store, const uint8_t *der, size_t der_len);

#endif
