/* OpenSSL side of a probe. The verify callback always returns 1 so that the
 * handshake completes whatever the verdict (a measurement wants the chain and
 * the parameters of failing servers too); it records each error, and the
 * verdict is taken afterwards from OpenSSL's DANE state
 * (SSL_get0_dane_tlsa: which record matched at which depth) together with
 * the recorded errors. No PKIX trust store is loaded: usages 0/1 are not
 * usable for SMTP (RFC 7672 3.1.3) and never reach OpenSSL. */
#include "tls/tls_dane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* One SSL_CTX per key-type restriction, made once per engine: the
 * signature algorithm and cipher lists are parsed here, not per session
 * (SSL_new copies them from the context). */
struct tls_client {
  SSL_CTX *ctx[TLS_KEYS_ECDSA + 1]; /* indexed by enum tls_key_restriction */
  int log_index;                    /* SSL ex_data slot of the tls_verify_log */
  EVP_MD *sha256;                   /* fetched once: chain fingerprints */
};

static int verify_callback(int preverify_ok, X509_STORE_CTX *store) {
  if (preverify_ok) return 1;
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  if (ssl == NULL) return 1;
  struct tls_client *client = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  struct tls_verify_log *log = client != NULL ? SSL_get_ex_data(ssl, client->log_index) : NULL;
  if (log == NULL) return 1;
  int error = X509_STORE_CTX_get_error(store);
  switch (error) {
  case X509_V_ERR_HOSTNAME_MISMATCH:
    log->name_error = true;
    break;
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
    log->time_error = true;
    break;
  default:
    if (!log->other_error) {
      log->first_other_error = error;
      log->first_other_depth = X509_STORE_CTX_get_error_depth(store);
    }
    log->other_error = true;
    break;
  }
  return 1; /* finish the handshake; the verdict is made afterwards */
}

static void openssl_error_text(const char *what, char *why, size_t why_len) {
  unsigned long code = ERR_get_error();
  char text[200] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  snprintf(why, why_len, "%s: %s", what, text);
  ERR_clear_error();
}

/* Signature algorithms (TLS 1.3 and 1.2) and TLS 1.2 suites per key type. */
static const char rsa_sigalgs[] = "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
                                  "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
                                  "RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA1";
static const char ecdsa_sigalgs[] = "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512:ECDSA+SHA1";

static int restrict_keys(SSL_CTX *ctx, enum tls_key_restriction keys) {
  if (keys == TLS_KEYS_ANY) return 0;
  const char *sigalgs = keys == TLS_KEYS_RSA ? rsa_sigalgs : ecdsa_sigalgs;
  const char *ciphers = keys == TLS_KEYS_RSA ? "aRSA:!aNULL:!eNULL" : "aECDSA:!aNULL:!eNULL";
  if (SSL_CTX_set1_sigalgs_list(ctx, sigalgs) != 1) return -1;
  if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) return -1;
  return 0;
}

static SSL_CTX *client_context(struct tls_client *client, enum tls_key_restriction keys, char *why, size_t why_len) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) {
    openssl_error_text("SSL_CTX_new", why, why_len);
    return NULL;
  }
  SSL_CTX_set_app_data(ctx, client);
  /* A scanner measures what servers offer: security level 1 lets servers
   * with 1024-bit RSA keys or SHA-1 chains complete and be recorded instead
   * of failing as tls-failed (Debian's default is level 2). */
  SSL_CTX_set_security_level(ctx, 1);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 || SSL_CTX_dane_enable(ctx) <= 0 ||
      restrict_keys(ctx, keys) != 0) {
    openssl_error_text("TLS client context setup", why, why_len);
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
  /* Every probe is a full handshake: no session cache, no tickets. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_max_cert_list(ctx, TLS_MAX_CERT_LIST_BYTES);
  return ctx;
}

struct tls_client *tls_client_new(char *why, size_t why_len) {
  struct tls_client *client = calloc(1, sizeof *client);
  if (client == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  client->log_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  client->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (client->sha256 == NULL) {
    openssl_error_text("EVP_MD_fetch SHA256", why, why_len);
    tls_client_free(client);
    return NULL;
  }
  for (int keys = TLS_KEYS_ANY; keys <= TLS_KEYS_ECDSA; keys++) {
    client->ctx[keys] = client_context(client, (enum tls_key_restriction)keys, why, why_len);
    if (client->ctx[keys] == NULL) {
      tls_client_free(client);
      return NULL;
    }
  }
  return client;
}

void tls_client_free(struct tls_client *client) {
  if (client == NULL) return;
  for (int keys = TLS_KEYS_ANY; keys <= TLS_KEYS_ECDSA; keys++) SSL_CTX_free(client->ctx[keys]);
  EVP_MD_free(client->sha256);
  free(client);
}

SSL *tls_session_new(struct tls_client *client, const struct tls_dane_input *input, struct tls_verify_log *log,
                     char *why, size_t why_len) {
  memset(log, 0, sizeof *log);
  log->first_refused_index = -1;
  if ((unsigned)input->keys > TLS_KEYS_ECDSA) {
    snprintf(why, why_len, "bad key-type restriction %d", (int)input->keys);
    return NULL;
  }
  SSL *ssl = SSL_new(client->ctx[input->keys]);
  if (ssl == NULL) {
    openssl_error_text("SSL_new", why, why_len);
    return NULL;
  }
  if (SSL_set_ex_data(ssl, client->log_index, log) != 1 || SSL_set_tlsext_host_name(ssl, input->sni) != 1) {
    openssl_error_text("TLS session setup", why, why_len);
    SSL_free(ssl);
    return NULL;
  }
  size_t usable = 0;
  for (size_t i = 0; i < input->tlsa_count; i++) {
    if (input->tlsa[i].usable) usable++;
  }
  if (usable == 0) return ssl; /* no DANE: unauthenticated TLS, chain still recorded */
  /* SSL_dane_enable makes the base domain the first reference identifier;
   * RFC 7672 3.2.2 adds the MX host name (and the other lookup names). */
  if (SSL_dane_enable(ssl, input->sni) <= 0) {
    openssl_error_text("SSL_dane_enable", why, why_len);
    SSL_free(ssl);
    return NULL;
  }
  /* RFC 7672 3.1.1: DANE-EE matches ignore names (and OpenSSL skips date
   * checks for a depth-0 DANE-EE match by itself). */
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  /* RFC 7672 3.2.3: a wildcard is only a whole leftmost label. */
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (size_t i = 0; i < input->reference_count; i++) {
    if (input->reference_names[i] == NULL || strcmp(input->reference_names[i], input->sni) == 0) {
      continue;
    }
    if (SSL_add1_host(ssl, input->reference_names[i]) != 1) {
      openssl_error_text("SSL_add1_host", why, why_len);
      SSL_free(ssl);
      return NULL;
    }
  }
  for (size_t i = 0; i < input->tlsa_count; i++) {
    const struct tlsa_record *record = &input->tlsa[i];
    if (!record->usable) continue;
    int added = SSL_dane_tlsa_add(ssl, record->usage, record->selector, record->matching_type, record->data,
                                  record->data_len);
    if (added > 0) {
      log->usable_added++;
    } else if (added < 0) {
      openssl_error_text("SSL_dane_tlsa_add", why, why_len);
      SSL_free(ssl);
      return NULL;
    } else {
      /* 0: OpenSSL finds unusable a record tlsa_record_classify called
       * usable. The classification mirrors SSL_dane_tlsa_add, so this is a
       * disagreement to report, never to lose: it is counted here and named
       * in the outcome's reason. */
      if (log->usable_refused++ == 0) {
        log->first_refused_index = (int)i;
        openssl_error_text("SSL_dane_tlsa_add", log->first_refused_error, sizeof log->first_refused_error);
      }
    }
    ERR_clear_error();
  }
  return ssl;
}

void tls_key_type_name(EVP_PKEY *key, char *out, size_t out_len, enum tls_key_kind *kind) {
  *kind = TLS_KEY_OTHER;
  if (key == NULL) {
    snprintf(out, out_len, "unknown");
    return;
  }
  int id = EVP_PKEY_get_base_id(key);
  int bits = EVP_PKEY_get_bits(key);
  if (id == EVP_PKEY_RSA) {
    *kind = TLS_KEY_RSA;
    snprintf(out, out_len, "rsa%d", bits);
  } else if (id == EVP_PKEY_RSA_PSS) {
    *kind = TLS_KEY_RSA;
    snprintf(out, out_len, "rsa-pss%d", bits);
  } else if (id == EVP_PKEY_EC) {
    *kind = TLS_KEY_ECDSA;
    char group[64] = "";
    size_t group_len = 0;
    EVP_PKEY_get_group_name(key, group, sizeof group, &group_len);
    const char *curve = group;
    if (strcmp(group, "prime256v1") == 0) curve = "p256";
    else if (strcmp(group, "secp384r1") == 0) curve = "p384";
    else if (strcmp(group, "secp521r1") == 0) curve = "p521";
    snprintf(out, out_len, "ecdsa-%s", curve[0] != '\0' ? curve : "unknown");
  } else if (id == EVP_PKEY_ED25519) {
    snprintf(out, out_len, "ed25519");
  } else if (id == EVP_PKEY_ED448) {
    snprintf(out, out_len, "ed448");
  } else {
    const char *name = OBJ_nid2sn(id);
    snprintf(out, out_len, "%s%d", name != NULL ? name : "unknown", bits);
  }
}

static time_t asn1_time_to_time(const ASN1_TIME *when) {
  struct tm tm;
  if (when == NULL || ASN1_TIME_to_tm(when, &tm) != 1) return 0;
  return timegm(&tm);
}

static const char *hash_name(int nid) {
  switch (nid) {
  case NID_sha1:
    return "sha1";
  case NID_sha224:
    return "sha224";
  case NID_sha256:
    return "sha256";
  case NID_sha384:
    return "sha384";
  case NID_sha512:
    return "sha512";
  default:
    return "unknown";
  }
}

/* The TLS SignatureScheme name (RFC 8446 4.2.3) of the server's signature. */
static void signature_name(SSL *ssl, const char *leaf_key_type, char *out, size_t out_len) {
  int type = NID_undef, hash = NID_undef;
  out[0] = '\0';
  if (SSL_get_peer_signature_type_nid(ssl, &type) != 1) return;
  SSL_get_peer_signature_nid(ssl, &hash);
  const char *h = hash_name(hash);
  switch (type) {
  case EVP_PKEY_RSA_PSS:
    snprintf(out, out_len, "rsa_pss_%s_%s", strncmp(leaf_key_type, "rsa-pss", 7) == 0 ? "pss" : "rsae", h);
    break;
  case EVP_PKEY_RSA:
    snprintf(out, out_len, "rsa_pkcs1_%s", h);
    break;
  case EVP_PKEY_EC:
    if (strcmp(leaf_key_type, "ecdsa-p256") == 0 && hash == NID_sha256) {
      snprintf(out, out_len, "ecdsa_secp256r1_sha256");
    } else if (strcmp(leaf_key_type, "ecdsa-p384") == 0 && hash == NID_sha384) {
      snprintf(out, out_len, "ecdsa_secp384r1_sha384");
    } else if (strcmp(leaf_key_type, "ecdsa-p521") == 0 && hash == NID_sha512) {
      snprintf(out, out_len, "ecdsa_secp521r1_sha512");
    } else {
      snprintf(out, out_len, "ecdsa_%s", h);
    }
    break;
  case EVP_PKEY_ED25519:
    snprintf(out, out_len, "ed25519");
    break;
  case EVP_PKEY_ED448:
    snprintf(out, out_len, "ed448");
    break;
  default:
    snprintf(out, out_len, "%s_%s", OBJ_nid2sn(type) != NULL ? OBJ_nid2sn(type) : "unknown", h);
    break;
  }
}

static void negotiated_group(SSL *ssl, char *out, size_t out_len) {
  out[0] = '\0';
  int group = SSL_get_negotiated_group(ssl);
  const char *name = group > 0 ? SSL_group_to_name(ssl, group) : NULL;
  if (name != NULL) {
    snprintf(out, out_len, "%s", name);
    return;
  }
  EVP_PKEY *key = NULL;
  if (SSL_get_peer_tmp_key(ssl, &key) == 1 && key != NULL) {
    char group_name[64] = "";
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group_name, sizeof group_name, &len) == 1) {
      snprintf(out, out_len, "%s", group_name);
    } else {
      const char *sn = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
      snprintf(out, out_len, "%s", sn != NULL ? sn : "");
    }
    EVP_PKEY_free(key);
  }
}

static void collect_chain(SSL *ssl, struct tls_outcome *out) {
  const struct tls_client *client = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  const EVP_MD *sha256 = client != NULL && client->sha256 != NULL ? client->sha256 : EVP_sha256();
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
  int count = chain != NULL ? sk_X509_num(chain) : 0;
  out->chain_not_after = 0;
  out->chain_sent = count > 0 ? (size_t)count : 0;
  for (int i = 0; i < count; i++) {
    X509 *cert = sk_X509_value(chain, i);
    time_t not_after = asn1_time_to_time(X509_get0_notAfter(cert));
    if (out->chain_not_after == 0 || (not_after != 0 && not_after < out->chain_not_after)) {
      out->chain_not_after = not_after;
    }
    if (out->chain_count >= TLS_MAX_CHAIN_CERTS) continue;
    struct tls_cert *slot = &out->chain[out->chain_count];
    int der_len = i2d_X509(cert, NULL);
    if (der_len <= 0) continue;
    slot->der = malloc((size_t)der_len);
    if (slot->der == NULL) continue;
    unsigned char *end = slot->der;
    if (i2d_X509(cert, &end) != der_len) {
      free(slot->der);
      slot->der = NULL;
      continue;
    }
    slot->der_len = (size_t)der_len;
    unsigned int digest_len = 0;
    if (EVP_Digest(slot->der, slot->der_len, slot->sha256, &digest_len, sha256, NULL) != 1) {
      free(slot->der);
      slot->der = NULL;
      continue;
    }
    out->chain_count++;
  }
  /* The leaf's key digest from the certificate OpenSSL already decoded: a
   * second d2i_X509 would cost as much as the handshake's own decoding. */
  if (count > 0) {
    unsigned char *spki = NULL;
    int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(sk_X509_value(chain, 0)), &spki);
    unsigned int digest_len = 0;
    out->has_leaf_spki_sha256 = spki_len > 0 &&
        EVP_Digest(spki, (size_t)spki_len, out->leaf_spki_sha256, &digest_len, sha256, NULL) == 1;
    OPENSSL_free(spki);
  }
}

/* Index of the usable record OpenSSL reports as matched. */
static int matched_index(const struct tls_dane_input *input, uint8_t usage, uint8_t selector, uint8_t mtype,
                         const unsigned char *data, size_t data_len) {
  for (size_t i = 0; i < input->tlsa_count; i++) {
    const struct tlsa_record *record = &input->tlsa[i];
    if (record->usable && record->usage == usage && record->selector == selector && record->matching_type == mtype &&
        record->data_len == data_len && memcmp(record->data, data, data_len) == 0) {
      return (int)i;
    }
  }
  return -1;
}

/* Earliest notAfter of the verified chain from the leaf up to depth. */
static time_t verified_not_after(SSL *ssl, int depth) {
  STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
  time_t earliest = 0;
  int count = chain != NULL ? sk_X509_num(chain) : 0;
  for (int i = 0; i < count && i <= depth; i++) {
    time_t not_after = asn1_time_to_time(X509_get0_notAfter(sk_X509_value(chain, i)));
    if (earliest == 0 || (not_after != 0 && not_after < earliest)) earliest = not_after;
  }
  return earliest;
}

static void decide(SSL *ssl, const struct tls_dane_input *input, const struct tls_verify_log *log, bool have_leaf,
                   time_t now, unsigned warn_days, struct tls_outcome *out);

static void collect_outcome(SSL *ssl, const struct tls_dane_input *input, const struct tls_verify_log *log,
                            unsigned warn_days, time_t now, struct tls_outcome *out) {
  memset(out, 0, sizeof *out);
  out->matched_tlsa_index = -1;
  out->match_depth = -1;
  snprintf(out->version, sizeof out->version, "%s", SSL_get_version(ssl));
  const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
  const char *cipher_name = cipher != NULL ? SSL_CIPHER_standard_name(cipher) : NULL;
  if (cipher_name == NULL && cipher != NULL) cipher_name = SSL_CIPHER_get_name(cipher);
  snprintf(out->cipher, sizeof out->cipher, "%s", cipher_name != NULL ? cipher_name : "");
  negotiated_group(ssl, out->group, sizeof out->group);

  X509 *leaf = SSL_get0_peer_certificate(ssl);
  tls_key_type_name(leaf != NULL ? X509_get0_pubkey(leaf) : NULL, out->leaf_key_type, sizeof out->leaf_key_type,
                    &out->leaf_kind);
  signature_name(ssl, out->leaf_key_type, out->peer_signature_algorithm, sizeof out->peer_signature_algorithm);
  if (leaf != NULL) {
    out->leaf_not_before = asn1_time_to_time(X509_get0_notBefore(leaf));
    out->leaf_not_after = asn1_time_to_time(X509_get0_notAfter(leaf));
  }
  collect_chain(ssl, out);
  out->verify_error = SSL_get_verify_result(ssl);
  decide(ssl, input, log, leaf != NULL, now, warn_days, out);
}

/* The verdict from OpenSSL's DANE state and the verify log; out already
 * holds verify_error and the leaf's dates. */
static void decide(SSL *ssl, const struct tls_dane_input *input, const struct tls_verify_log *log, bool have_leaf,
                   time_t now, unsigned warn_days, struct tls_outcome *out) {
  out->tlsa_refused = log->usable_refused;

  if (log->usable_added == 0 && log->usable_refused > 0) {
    const struct tlsa_record *first = &input->tlsa[log->first_refused_index];
    out->result = PROBE_UNAUTHENTICATED_TLS;
    snprintf(out->reason, sizeof out->reason,
             "OpenSSL refused all %u usable TLSA records (first: record %d, %u %u %u: %s)", log->usable_refused,
             log->first_refused_index, first->usage, first->selector, first->matching_type, log->first_refused_error);
    return;
  }
  if (log->usable_added == 0) {
    out->result = PROBE_UNAUTHENTICATED_TLS;
    snprintf(out->reason, sizeof out->reason, "%s",
             input->tlsa_count == 0 ? "no TLSA records: DANE does not apply" : "no usable TLSA record");
    return;
  }
  if (!have_leaf) {
    out->result = PROBE_TLSA_MISMATCH;
    snprintf(out->reason, sizeof out->reason, "server sent no certificate");
    return;
  }
  uint8_t usage = 0, selector = 0, mtype = 0;
  const unsigned char *data = NULL;
  size_t data_len = 0;
  /* SSL_get0_dane_tlsa answers only while the verify result is X509_V_OK,
   * but OpenSSL records the match (depth and record) when it is found,
   * before the name and date checks. To tell name-mismatch and cert-expired
   * from a mismatch, ask with the result set to OK, then restore it. */
  SSL_set_verify_result(ssl, X509_V_OK);
  int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &data_len);
  SSL_set_verify_result(ssl, out->verify_error);
  if (depth < 0) {
    out->result = PROBE_TLSA_MISMATCH;
    snprintf(out->reason, sizeof out->reason, "no usable TLSA record matched the chain (%s)",
             X509_verify_cert_error_string(out->verify_error));
    return;
  }
  out->match_depth = depth;
  out->matched_tlsa_index = matched_index(input, usage, selector, mtype, data, data_len);
  bool errors = log->name_error || log->time_error || log->other_error || out->verify_error != X509_V_OK;
  if (usage == TLSA_USAGE_DANE_EE) {
    /* RFC 7672 3.1.1; OpenSSL returns success for a depth-0 DANE-EE match
     * without looking at names or dates. A leaf out of its dates is worth
     * telling the operator (RESULTS.md expires_soon). */
    out->expires_soon = (out->leaf_not_before != 0 && now < out->leaf_not_before) ||
        (out->leaf_not_after != 0 && now > out->leaf_not_after);
  } else {
    time_t not_after = verified_not_after(ssl, depth);
    out->expires_soon = not_after != 0 && not_after < now + (time_t)warn_days * 86400;
  }
  if (!errors) {
    out->result = PROBE_AUTHENTICATED;
    out->reason[0] = '\0';
    return;
  }
  if (usage == TLSA_USAGE_DANE_TA && log->name_error && !log->other_error) {
    out->result = PROBE_NAME_MISMATCH;
    snprintf(out->reason, sizeof out->reason,
             "DANE-TA matched at depth %d but the certificate names none of the reference identifiers", depth);
  } else if (usage == TLSA_USAGE_DANE_TA && log->time_error && !log->other_error) {
    out->result = PROBE_CERT_EXPIRED;
    snprintf(out->reason, sizeof out->reason,
             "DANE-TA matched at depth %d but a certificate is expired or not yet valid", depth);
  } else {
    long error = log->other_error ? log->first_other_error : out->verify_error;
    out->result = PROBE_TLSA_MISMATCH;
    snprintf(out->reason, sizeof out->reason, "TLSA matched at depth %d but verification failed: %s", depth,
             X509_verify_cert_error_string(error));
  }
}

/* Some usable records refused, others checked: the verdict stands on the
 * accepted ones, and a failure's reason says what OpenSSL left out. */
static void note_partial_refusal(const struct tls_verify_log *log, struct tls_outcome *out) {
  if (log->usable_refused > 0 && log->usable_added > 0 && out->result != PROBE_AUTHENTICATED) {
    size_t used = strlen(out->reason);
    snprintf(out->reason + used, sizeof out->reason - used, "; OpenSSL refused %u usable TLSA record(s) (first: %d)",
             log->usable_refused, log->first_refused_index);
  }
}

void tls_outcome_collect(SSL *ssl, const struct tls_dane_input *input, const struct tls_verify_log *log,
                         unsigned warn_days, time_t now, struct tls_outcome *out) {
  collect_outcome(ssl, input, log, warn_days, now, out);
  note_partial_refusal(log, out);
}

int tls_dane_verify_chain(SSL *ssl, X509 *leaf, STACK_OF(X509) * untrusted, const struct tls_dane_input *input,
                          struct tls_verify_log *log, time_t now, struct tls_outcome *out) {
  memset(out, 0, sizeof *out);
  out->matched_tlsa_index = -1;
  out->match_depth = -1;
  out->leaf_not_before = asn1_time_to_time(X509_get0_notBefore(leaf));
  out->leaf_not_after = asn1_time_to_time(X509_get0_notAfter(leaf));
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int rc = -1;
  /* What ssl_verify_cert_chain does for a client's handshake: the SSL's
   * verify parameters and DANE state, its security level, and the
   * scanner's verify callback (which records errors and goes on). */
  if (store != NULL && ctx != NULL && X509_STORE_CTX_init(ctx, store, leaf, untrusted) == 1 &&
      X509_STORE_CTX_set_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx(), ssl) == 1 &&
      X509_STORE_CTX_set_default(ctx, "ssl_server") == 1 &&
      X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(ssl)) == 1) {
    X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), SSL_get_security_level(ssl));
    X509_STORE_CTX_set0_dane(ctx, SSL_get0_dane(ssl));
    X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
    X509_verify_cert(ctx);
    out->verify_error = X509_STORE_CTX_get_error(ctx);
    SSL_set_verify_result(ssl, out->verify_error);
    decide(ssl, input, log, true, now, 14 /* RESULTS.md default expires_soon window */, out);
    note_partial_refusal(log, out);
    rc = 0;
  }
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return rc;
}

void tls_outcome_clear(struct tls_outcome *outcome) {
  for (size_t i = 0; i < outcome->chain_count; i++) free(outcome->chain[i].der);
  outcome->chain_count = 0;
}
