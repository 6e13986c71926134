/* WebPKI (PKIX) validation of a TLS server's chain for MTA-STS (RFC 8461
 * 4.2): the chain must lead to a trust anchor of the WebPKI store (a PEM
 * bundle, --ca-file, or the system store), every certificate within its
 * dates, and the leaf valid for the expected host name by a subjectAltName
 * dNSName (RFC 6125 6.4; a "*." wildcard matches exactly one leftmost
 * label, no partial wildcards, the subject CN is never used).
 *
 * It checks a chain that was already received (the DER certificates a
 * handshake kept), with its own X509_STORE: the DANE verification of the
 * same handshake (tls_dane.h) owns the SSL's verify callback, so the PKIX
 * verdict is a second, separate X509_verify_cert on the same peer chain,
 * never a second connection. It does no I/O. */
#ifndef DANESCAN_TLS_PKIX_H
#define DANESCAN_TLS_PKIX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "record/probe_detail.h"

#define TLS_PKIX_REASON_MAX_BYTES 256

/* The trust store: ca_file (PEM bundle) or, when NULL, the system store
 * (OpenSSL's default paths: /etc/ssl/certs). Returns NULL with why set
 * (file missing, no certificate in it, out of memory). */
X509_STORE *tls_pkix_store_new(const char *ca_file, char *why, size_t why_len);

/* Verifies the chain (DER, leaf first, as sent; certificates after the
 * leaf are untrusted intermediates) for host at time now. Returns the
 * verdict: PROBE_PKIX_VALID, PROBE_PKIX_UNTRUSTED (no path to a trust
 * anchor, self-signed), PROBE_PKIX_EXPIRED (a certificate of the path out
 * of its dates), PROBE_PKIX_NAME_MISMATCH, PROBE_PKIX_INVALID (anything
 * else: bad signature, unparsable certificate, wrong purpose, empty chain).
 * reason gets OpenSSL's error text and depth ("" when valid). */
enum probe_pkix tls_pkix_verify(X509_STORE *store, const uint8_t *const *der, const size_t *der_len, size_t count,
                                const char *host, time_t now, char *reason, size_t reason_len);

#endif
