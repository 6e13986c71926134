/* WebPKI validation of a received chain (tls_pkix.h): X509_verify_cert with
 * the scanner's own store, the SSL server purpose, the check time given,
 * and the host name check of X509_VERIFY_PARAM_set1_host with RFC 6125
 * flags (SAN dNSName only, one-label wildcards, no partial wildcards). */
#include "tls/tls_pkix.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

X509_STORE *tls_pkix_store_new(const char *ca_file, char *why, size_t why_len) {
  X509_STORE *store = X509_STORE_new();
  if (store == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  if (ca_file != NULL) {
    if (X509_STORE_load_file(store, ca_file) != 1) {
      unsigned long err = ERR_get_error();
      ERR_clear_error();
      snprintf(why, why_len, "%s: cannot load a PEM certificate bundle (%s)", ca_file,
               err != 0 ? ERR_reason_error_string(err) : "no certificate");
      X509_STORE_free(store);
      return NULL;
    }
  } else if (X509_STORE_set_default_paths(store) != 1) {
    ERR_clear_error();
    snprintf(why, why_len, "cannot use the system trust store (OpenSSL default paths)");
    X509_STORE_free(store);
    return NULL;
  }
  return store;
}

static enum probe_pkix classify(int error) {
  switch (error) {
  case X509_V_OK:
    return PROBE_PKIX_VALID;
  case X509_V_ERR_HOSTNAME_MISMATCH:
    return PROBE_PKIX_NAME_MISMATCH;
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    return PROBE_PKIX_EXPIRED;
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_UNTRUSTED:
    return PROBE_PKIX_UNTRUSTED;
  default:
    return PROBE_PKIX_INVALID;
  }
}

enum probe_pkix tls_pkix_verify(X509_STORE *store, const uint8_t *const *der, const size_t *der_len, size_t count,
                                const char *host, time_t now, char *reason, size_t reason_len) {
  reason[0] = '\0';
  if (count == 0) {
    snprintf(reason, reason_len, "the server sent no certificate");
    return PROBE_PKIX_INVALID;
  }
  X509 *leaf = NULL;
  STACK_OF(X509) *untrusted = sk_X509_new_null();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  enum probe_pkix verdict = PROBE_PKIX_INVALID;
  if (untrusted == NULL || ctx == NULL) {
    snprintf(reason, reason_len, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    const unsigned char *p = der[i];
    X509 *cert = d2i_X509(NULL, &p, (long)der_len[i]);
    if (cert == NULL) {
      snprintf(reason, reason_len, "certificate %zu of the chain does not parse", i);
      goto done;
    }
    if (i == 0) {
      leaf = cert;
    } else if (sk_X509_push(untrusted, cert) == 0) {
      X509_free(cert);
      snprintf(reason, reason_len, "out of memory");
      goto done;
    }
  }
  if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
    snprintf(reason, reason_len, "out of memory");
    goto done;
  }
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_time(param, now);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
    snprintf(reason, reason_len, "host name \"%s\" cannot be checked", host);
    goto done;
  }
  int ok = X509_verify_cert(ctx);
  int error = X509_STORE_CTX_get_error(ctx);
  if (ok == 1) {
    verdict = PROBE_PKIX_VALID;
  } else {
    if (error == X509_V_OK) error = X509_V_ERR_UNSPECIFIED;
    verdict = classify(error);
    if (verdict == PROBE_PKIX_NAME_MISMATCH) {
      snprintf(reason, reason_len, "certificate not valid for %s (no matching subjectAltName dNSName)", host);
    } else {
      snprintf(reason, reason_len, "%s (depth %d)", X509_verify_cert_error_string(error),
               X509_STORE_CTX_get_error_depth(ctx));
    }
  }
done:
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_free(leaf);
  sk_X509_pop_free(untrusted, X509_free);
  return verdict;
}
