/* What danescan keeps of one STARTTLS probe of one address: the record the
 * probe stage copies out of the engine's report, hangs on the address
 * (host_address.probe) and every sink reads. Also the small vocabulary the
 * record shares with the probe engine (steps, key kinds). It holds data
 * only; the engine (probe/) fills it, the pipeline owns it. */
#ifndef DANESCAN_RECORD_PROBE_DETAIL_H
#define DANESCAN_RECORD_PROBE_DETAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/status.h"

#define PROBE_NAME_MAX_BYTES 64 /* TLS version/cipher/group/sigalg/key type strings */

/* How far a session got; the step that failed or timed out. */
enum probe_step {
  PROBE_STEP_NONE = 0, /* not started (skipped) */
  PROBE_STEP_CONNECT,
  PROBE_STEP_GREETING,
  PROBE_STEP_EHLO,
  PROBE_STEP_STARTTLS,
  PROBE_STEP_HANDSHAKE,
  PROBE_STEP_QUIT,
  PROBE_STEP_DONE
};
const char *probe_step_name(enum probe_step step);

enum probe_key_kind { PROBE_KEY_RSA = 0, PROBE_KEY_ECDSA, PROBE_KEY_KIND_COUNT };

/* Outcome of one key type when probe_each_key_type is set. */
struct probe_key_type_result {
  bool probed;              /* a handshake offering this key type was made */
  bool present;             /* the server presented a leaf with this key type */
  enum probe_result result; /* that handshake's verdict (when present) */
  int matched_tlsa_index;   /* index into the request's tlsa, -1 if none */
  int match_depth;          /* chain depth of the match, -1 if none */
  char leaf_key_type[PROBE_NAME_MAX_BYTES];
  uint8_t leaf_sha256[32];
  bool has_leaf_spki_sha256;
  uint8_t leaf_spki_sha256[32]; /* what a "3 1 1" record of this leaf's key holds */
};

/* The WebPKI (PKIX) validation of the probe's TLS session for MTA-STS
 * (MTA-STS.md: per probed address `pkix`, "valid" or the reason it is
 * not). Computed only when the probe request asks for it. */
enum probe_pkix {
  PROBE_PKIX_NOT_CHECKED = 0, /* "not-checked": the request did not ask */
  PROBE_PKIX_VALID,           /* "valid": chain to the WebPKI store, dates, MX name, TLS >= 1.2 */
  PROBE_PKIX_NO_TLS,          /* "no-tls": no TLS session (skipped, unreachable, no STARTTLS, failed handshake) */
  PROBE_PKIX_TLS_VERSION,     /* "tls-version": the session is below TLS 1.2 */
  PROBE_PKIX_UNTRUSTED,       /* "untrusted": no path to a trust anchor (self-signed, unknown CA) */
  PROBE_PKIX_EXPIRED,         /* "expired": a certificate of the path is past (or before) its dates */
  PROBE_PKIX_NAME_MISMATCH,   /* "name-mismatch": no SAN dNSName matches the MX host name */
  PROBE_PKIX_INVALID,         /* "invalid": any other verification error (signature, purpose, parse) */
  PROBE_PKIX_COUNT
};
const char *probe_pkix_name(enum probe_pkix pkix);

/* The first session of a probe that got a second one (probe_config
 * retry_transient): what the second attempt replaced. */
struct probe_first_attempt {
  enum probe_result result; /* timeout, connect-failed, or smtp-failed (closed or reset before TLS) */
  enum probe_step step;     /* the step that failed */
  int32_t elapsed_ms;       /* that session, from its start to its end */
  int32_t pause_ms;         /* its end to the second session's start: the retry delay plus any politeness wait */
};

/* What danescan keeps of one probe (copied out of the probe_report). */
struct probe_detail {
  enum probe_result result;
  char *reason;
  enum tlsrpt_result tlsrpt;
  enum probe_step last_step;
  int smtp_code;
  char *banner; /* raw bytes, banner_len long (plus a NUL) */
  size_t banner_len;
  char **ehlo_keywords;
  size_t ehlo_keyword_count;
  bool starttls_offered;
  int32_t connect_ms, banner_ms, ehlo_ms, starttls_ms, handshake_ms;
  bool tls_up;
  char tls_version[PROBE_NAME_MAX_BYTES];
  char tls_cipher[PROBE_NAME_MAX_BYTES];
  char tls_group[PROBE_NAME_MAX_BYTES];
  char peer_signature_algorithm[PROBE_NAME_MAX_BYTES];
  char leaf_key_type[PROBE_NAME_MAX_BYTES];
  long verify_error;
  int matched_tlsa_index; /* index into the host's tlsa_records, -1 if none */
  int match_depth;
  unsigned tlsa_refused;       /* usable TLSA records SSL_dane_tlsa_add refused (host flag tlsa-refused) */
  uint8_t (*chain_sha256)[32]; /* leaf first */
  uint8_t **chain_der;         /* DER of each chain certificate (store, check) */
  size_t *chain_der_len;
  size_t chain_count;
  size_t chain_sent; /* certificates the server sent (more than chain_count when capped) */
  bool has_leaf_spki_sha256;
  uint8_t leaf_spki_sha256[32];                             /* what a "3 1 1" record of the served key holds */
  int64_t leaf_not_before, leaf_not_after, chain_not_after; /* Unix seconds */
  bool expires_soon;
  struct probe_key_type_result key_types[PROBE_KEY_KIND_COUNT];
  bool partial_algorithm_coverage;
  unsigned attempts;                /* sessions of the (unrestricted) probe: 0 not probed, 1, or 2 after
                                       a transient first failure; the key-type session is not counted */
  struct probe_first_attempt first; /* valid when attempts == 2 */
  char *first_reason;               /* the first session's reason when attempts == 2, else NULL */
  enum probe_pkix pkix;             /* MTA-STS WebPKI verdict of the (last unrestricted) session */
  char *pkix_reason;                /* its detail (OpenSSL's error), NULL when valid or not checked */
};

/* Frees the detail and everything it owns; NULL is a no-op. */
void probe_detail_free(struct probe_detail *detail);

#endif
