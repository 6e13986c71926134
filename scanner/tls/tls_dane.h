/* TLS client side of a probe with OpenSSL's DANE verification (RFC 7672):
 * one SSL_CTX per engine, one SSL per handshake set up with SNI, the usable
 * TLSA records, the reference identifiers and a verify callback that lets
 * the handshake finish whatever the verdict, then the classification of the
 * finished handshake into a probe result and the details a report carries
 * (version, cipher, group, signature algorithm, chain, matched record).
 * It does no I/O (bufferevent_openssl drives the SSL) and no SMTP. */
#ifndef DANESCAN_TLS_DANE_H
#define DANESCAN_TLS_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "record/status.h"
#include "record/tlsa.h"

#define TLS_MAX_CHAIN_CERTS 16
#define TLS_NAME_MAX_BYTES 64
#define TLS_REASON_MAX_BYTES 256
#define TLS_MAX_CERT_LIST_BYTES (100 * 1024) /* peer chain size OpenSSL accepts */

/* Which server key type a handshake offers to accept (signature algorithms
 * and TLS 1.2 cipher suites restricted accordingly). */
enum tls_key_restriction { TLS_KEYS_ANY = 0, TLS_KEYS_RSA, TLS_KEYS_ECDSA };

enum tls_key_kind { TLS_KEY_OTHER = 0, TLS_KEY_RSA, TLS_KEY_ECDSA };

struct tls_client;

/* Creates the client context: TLS 1.2 and 1.3, DANE enabled, no session
 * cache, peer verification through a callback that records errors and
 * continues. Returns NULL with a message in why. */
struct tls_client *tls_client_new(char *why, size_t why_len);
void tls_client_free(struct tls_client *client); /* NULL ok */

/* What a handshake is checked against; not copied, must outlive the SSL. */
struct tls_dane_input {
  const char *sni;                    /* TLSA base domain */
  const char *const *reference_names; /* DANE-TA name checks */
  size_t reference_count;
  const struct tlsa_record *tlsa;
  size_t tlsa_count;
  enum tls_key_restriction keys;
};

/* Verification errors seen by the callback of one handshake. */
struct tls_verify_log {
  bool name_error;        /* X509_V_ERR_HOSTNAME_MISMATCH */
  bool time_error;        /* CERT_HAS_EXPIRED / NOT_YET_VALID (any depth) */
  bool other_error;       /* anything else (no match, bad signature, ...) */
  long first_other_error; /* X509_V_ERR_* of the first other error */
  int first_other_depth;
  unsigned usable_added;         /* TLSA records OpenSSL accepted */
  unsigned usable_refused;       /* records danescan called usable that SSL_dane_tlsa_add refused */
  int first_refused_index;       /* index into input->tlsa of the first of them, -1 if none */
  char first_refused_error[128]; /* OpenSSL's error text for it */
};

/* Creates an SSL for one handshake. log must stay valid as long as the SSL
 * (the verify callback writes to it). Returns NULL with why on failure. The
 * caller owns the SSL (bufferevent_openssl frees it with BEV_OPT_CLOSE_ON_FREE
 * or the caller SSL_free()s it). */
SSL *tls_session_new(struct tls_client *client, const struct tls_dane_input *input, struct tls_verify_log *log,
                     char *why, size_t why_len);

struct tls_cert {
  uint8_t sha256[32];
  uint8_t *der; /* owned by the outcome */
  size_t der_len;
};

/* Verdict and details of one finished handshake. */
struct tls_outcome {
  enum probe_result result; /* authenticated, tlsa-mismatch, name-mismatch,
                               cert-expired or unauthenticated-tls */
  char reason[TLS_REASON_MAX_BYTES];
  char version[TLS_NAME_MAX_BYTES];
  char cipher[TLS_NAME_MAX_BYTES];
  char group[TLS_NAME_MAX_BYTES];
  char peer_signature_algorithm[TLS_NAME_MAX_BYTES];
  char leaf_key_type[TLS_NAME_MAX_BYTES];
  enum tls_key_kind leaf_kind;
  long verify_error;
  int matched_tlsa_index; /* index into input->tlsa, -1 if none */
  int match_depth;        /* -1 if none */
  unsigned tlsa_refused;  /* usable records OpenSSL refused (tls_verify_log.usable_refused) */
  struct tls_cert chain[TLS_MAX_CHAIN_CERTS];
  size_t chain_count; /* entries kept in chain: the first TLS_MAX_CHAIN_CERTS sent */
  size_t chain_sent;  /* certificates the server sent (may exceed chain_count) */
  bool has_leaf_spki_sha256;
  uint8_t leaf_spki_sha256[32]; /* SHA-256 of the leaf's SubjectPublicKeyInfo ("3 1 1") */
  time_t leaf_not_before, leaf_not_after, chain_not_after;
  bool expires_soon;
};

/* Classifies a completed handshake (RFC 7672 3.1/3.2, RESULTS.md):
 * - no usable TLSA record: unauthenticated-tls;
 * - usable records, but SSL_dane_tlsa_add refused every one of them:
 *   unauthenticated-tls with a reason naming the first refused record (the
 *   pipeline turns this into a tlsa-unusable host, never a silent
 *   no-usable-record); tlsa_refused counts refusals in every case;
 * - a record matched and the chain verified: authenticated (a DANE-EE match
 *   at depth 0 ignores names and dates: OpenSSL skips both for it);
 * - a DANE-TA record matched but the name check failed: name-mismatch, else
 *   a certificate out of its dates: cert-expired; any other verification
 *   error: tlsa-mismatch;
 * - no record matched: tlsa-mismatch.
 * now and warn_days decide expires_soon. Fills out; release with
 * tls_outcome_clear. */
void tls_outcome_collect(SSL *ssl, const struct tls_dane_input *input, const struct tls_verify_log *log,
                         unsigned warn_days, time_t now, struct tls_outcome *out);
void tls_outcome_clear(struct tls_outcome *outcome);

/* Verifies a chain without a handshake, the way the handshake of ssl would
 * (the SSL from tls_session_new: its DANE records, reference names, flags,
 * security level and the scanner's verify callback writing to log), and
 * classifies it as tls_outcome_collect does. leaf is the server's
 * certificate, untrusted the rest of the chain it sent (may be NULL); both
 * stay the caller's. Fills verify_error, the verdict, reason, match and
 * leaf dates of out (no TLS parameters, no chain copy). For tests: OpenSSL's
 * own DANE test vectors run through it. Returns 0, or -1 when OpenSSL could
 * not set up the verification (out of memory). */
int tls_dane_verify_chain(SSL *ssl, X509 *leaf, STACK_OF(X509) * untrusted, const struct tls_dane_input *input,
                          struct tls_verify_log *log, time_t now, struct tls_outcome *out);

/* "rsa2048", "ecdsa-p256", "ed25519", ... for a public key; kind set too. */
void tls_key_type_name(EVP_PKEY *key, char *out, size_t out_len, enum tls_key_kind *kind);

#endif
