/* OpenSSL's own DANE test vectors (tests/data/openssl-dane/danetest.in, from
 * OpenSSL's test/danetest.in; README there) run through danescan's TLS/DANE
 * path without a network: each vector's TLSA records go through
 * tlsa_record_classify, then tls_session_new (the scanner's SSL: DANE
 * enabled, usable records only, DANE-EE name checks off, reference name
 * "example.com" as OpenSSL's test uses), then tls_dane_verify_chain verifies
 * the vector's chain the way the handshake would and classifies it. The
 * verdict is compared with the vector's expectation in danescan's words:
 *
 *   verify result 0 at depth D   -> authenticated, matched at depth D
 *   65 (X509_V_ERR_DANE_NO_MATCH) -> tlsa-mismatch
 *   62 (HOSTNAME_MISMATCH), DANE-TA at depth D -> name-mismatch at D
 *
 * and two documented differences, where RFC 7672 makes an SMTP client
 * decide otherwise than OpenSSL's generic test:
 *
 *   - only PKIX-TA/PKIX-EE records (usage 0/1): unusable for SMTP (RFC 7672
 *     3.1.3) -> unauthenticated-tls, whatever OpenSSL's PKIX store said;
 *   - DANE-EE with name checks on (<nonamechecks> 0) expecting 62: RFC 7672
 *     3.1.1 says DANE-EE ignores names, so danescan always sets
 *     DANE_FLAG_NO_DANE_EE_NAMECHECKS -> authenticated at depth 0.
 *
 * Also the digest-agility claim of issue 16 (RFC 7671 section 9), on the
 * vectors' example.com chain: a wrong SHA-512 record beside a right
 * SHA-256 one of the same usage and selector is tlsa-mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "record/tlsa.h"
#include "tls/tls_dane.h"
#include "unit.h"

#define MAX_VECTOR_TLSA 4
#define MAX_VECTOR_CERTS 4
#define MAX_VECTORS 64
#define LINE_MAX_BYTES 4096
#define BASE_DOMAIN "example.com" /* test/recipes/80-test_dane.t runs danetest with it */

struct vector {
  int number; /* 1-based, as the file's "# N" */
  int no_name_checks;
  long want_error;
  int want_depth;
  struct tlsa_record tlsa[MAX_VECTOR_TLSA];
  size_t tlsa_count;
  X509 *certs[MAX_VECTOR_CERTS];
  size_t cert_count;
};

static struct vector vectors[MAX_VECTORS];
static size_t vector_count;
static struct tls_client *client;

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* "U S M HEX" into record (data malloc'd), classified. Returns 0 or -1. */
static int parse_tlsa(const char *line, struct tlsa_record *record) {
  unsigned usage, selector, mtype;
  int used = 0;
  if (sscanf(line, "%u %u %u %n", &usage, &selector, &mtype, &used) != 3) return -1;
  const char *hex = line + used;
  size_t len = strcspn(hex, " \r\n");
  if (len % 2 != 0 || len / 2 > TLSA_DATA_MAX_BYTES) return -1;
  memset(record, 0, sizeof *record);
  record->usage = (uint8_t)usage;
  record->selector = (uint8_t)selector;
  record->matching_type = (uint8_t)mtype;
  record->data_len = (uint16_t)(len / 2);
  record->data = malloc(len / 2 + 1);
  for (size_t i = 0; i < len / 2; i++) {
    int high = hex_value(hex[2 * i]), low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return -1;
    record->data[i] = (uint8_t)(high << 4 | low);
  }
  tlsa_record_classify(record);
  return 0;
}

static int next_line(BIO *bio, char *line) {
  return BIO_gets(bio, line, LINE_MAX_BYTES) > 0;
}

/* Reads the file the way OpenSSL's danetest.c does: a header line, exactly
 * <TLSA-count> record lines, then <cert-count> PEM certificates (the PEM
 * reader skips any text before each; in vectors 39-42 that includes a
 * second record line the count does not cover, as in OpenSSL's test). */
static int load_vectors(const char *path) {
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) return -1;
  char line[LINE_MAX_BYTES];
  while (next_line(bio, line)) {
    if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
    if (vector_count == MAX_VECTORS) return -1;
    struct vector *v = &vectors[vector_count];
    int tlsa_count, cert_count;
    if (sscanf(line, "%d %d %d %ld %d", &tlsa_count, &cert_count, &v->no_name_checks, &v->want_error, &v->want_depth) !=
            5 ||
        tlsa_count < 1 || tlsa_count > MAX_VECTOR_TLSA || cert_count < 1 || cert_count > MAX_VECTOR_CERTS) {
      fprintf(stderr, "%s: bad header line: %s", path, line);
      return -1;
    }
    v->number = (int)vector_count + 1;
    for (int i = 0; i < tlsa_count; i++) {
      if (!next_line(bio, line) || parse_tlsa(line, &v->tlsa[i]) != 0) {
        fprintf(stderr, "%s: vector %d: bad TLSA line: %s", path, v->number, line);
        return -1;
      }
      v->tlsa_count++;
    }
    for (int i = 0; i < cert_count; i++) {
      v->certs[i] = PEM_read_bio_X509(bio, NULL, NULL, NULL);
      if (v->certs[i] == NULL) {
        fprintf(stderr, "%s: vector %d: certificate %d unreadable\n", path, v->number, i);
        return -1;
      }
      v->cert_count++;
    }
    vector_count++;
  }
  BIO_free(bio);
  ERR_clear_error();
  return 0;
}

/* Runs records against a chain (leaf first) through the scanner's path. */
static void verify(const struct tlsa_record *records, size_t count, X509 *const *certs, size_t cert_count,
                   struct tls_outcome *out) {
  const char *names[] = {BASE_DOMAIN};
  struct tls_dane_input input = {
      .sni = BASE_DOMAIN, .reference_names = names, .reference_count = 1, .tlsa = records, .tlsa_count = count};
  struct tls_verify_log log;
  char why[256] = "";
  SSL *ssl = tls_session_new(client, &input, &log, why, sizeof why);
  CHECK(ssl != NULL);
  if (ssl == NULL) {
    memset(out, 0, sizeof *out);
    return;
  }
  STACK_OF(X509) *untrusted = sk_X509_new_null();
  for (size_t i = 1; i < cert_count; i++) sk_X509_push(untrusted, certs[i]);
  CHECK_INT(tls_dane_verify_chain(ssl, certs[0], untrusted, &input, &log, time(NULL), out), 0);
  CHECK_INT(out->tlsa_refused, 0); /* every record danescan calls usable, OpenSSL accepts */
  sk_X509_free(untrusted);
  SSL_free(ssl);
}

/* danescan's expected verdict for a vector; *documented set when it is one
 * of the two RFC 7672 differences. */
static enum probe_result expected(const struct vector *v, int *depth, const char **documented) {
  *documented = NULL;
  *depth = v->want_depth;
  bool any_usable = false;
  for (size_t i = 0; i < v->tlsa_count; i++) any_usable |= v->tlsa[i].usable;
  if (!any_usable) {
    *documented = "PKIX usages only: unusable for SMTP (RFC 7672 3.1.3)";
    *depth = -1;
    return PROBE_UNAUTHENTICATED_TLS;
  }
  if (v->want_error == 0) return PROBE_AUTHENTICATED;
  if (v->want_error == X509_V_ERR_DANE_NO_MATCH) {
    *depth = -1;
    return PROBE_TLSA_MISMATCH;
  }
  if (v->want_error == X509_V_ERR_HOSTNAME_MISMATCH && v->want_depth == 0 && !v->no_name_checks) {
    *documented = "DANE-EE name check: RFC 7672 3.1.1 ignores names for DANE-EE";
    return PROBE_AUTHENTICATED;
  }
  if (v->want_error == X509_V_ERR_HOSTNAME_MISMATCH) return PROBE_NAME_MISMATCH;
  *documented = "unmapped";
  return PROBE_RESULT_COUNT;
}

static void test_openssl_vectors(void) {
  CHECK_INT(vector_count, 50);
  size_t agreed = 0, documented_count = 0;
  for (size_t i = 0; i < vector_count; i++) {
    const struct vector *v = &vectors[i];
    int want_depth;
    const char *documented;
    enum probe_result want = expected(v, &want_depth, &documented);
    struct tls_outcome out;
    verify(v->tlsa, v->tlsa_count, v->certs, v->cert_count, &out);
    bool ok = out.result == want && (want_depth < 0 || out.match_depth == want_depth);
    CHECK(ok);
    if (!ok) {
      fprintf(stderr, "vector %d: danescan %s depth %d (%s), want %s depth %d\n", v->number,
              probe_result_name(out.result), out.match_depth, out.reason,
              want < PROBE_RESULT_COUNT ? probe_result_name(want) : "?", want_depth);
      continue;
    }
    if (documented != NULL) documented_count++;
    else agreed++;
  }
  printf("OpenSSL DANE vectors: %zu, %zu as OpenSSL expects, %zu documented RFC 7672 differences\n", vector_count,
         agreed, documented_count);
  CHECK_INT(agreed + documented_count, vector_count);
}

/* The example.com chain of the vectors and its record data (the comment
 * block at the top of danetest.in). */
static const char spki_sha256[] = "3 1 1 3111668338043DE264D0256A702248696C9484B6221A42740F920187B4C61838";
static const char spki_sha512[] =
    "3 1 2 CB861AF6DDED185EE04472A9092052CCC735120C34785E72C996C94B122EBA6F329BE630B1B4C6E"
    "2756E7A75392C21E253C6AEACC31FD45FF4595DED375FAF62";
static const char cert_sha512[] =
    "3 0 2 F756CCD61F3CA50D017653911701CA0052AF0B29E273DD263DD23643D86D4369D03686BD1369EF5"
    "4BB2DC2DAE3CE4F05AF39D54648F94D54AA86B259AEAD9923";
static const char root_spki_sha512[] =
    "2 1 2 5F414D4D7BFDF22E39952D9F46C51370FDD050F10C55B4CDB42E40FA98611FDE23EEE9B23315"
    "EE1ECDB198C7419E9A2D6742860E4806AF45164507799C3B452E";

/* A record line with its last hex digit changed: the same shape, wrong. */
static void spoil(struct tlsa_record *record) {
  record->data[record->data_len - 1] ^= 0x01;
}

static enum probe_result pair_verdict(const char *good, const char *bad, int *depth) {
  const struct vector *chain = &vectors[9]; /* vector 10: example.com, Issuer CA, Root CA */
  struct tlsa_record records[2];
  CHECK_INT(parse_tlsa(good, &records[0]), 0);
  CHECK_INT(parse_tlsa(bad, &records[1]), 0);
  spoil(&records[1]);
  CHECK(records[0].usable && records[1].usable);
  struct tls_outcome out;
  verify(records, 2, chain->certs, chain->cert_count, &out);
  *depth = out.match_depth;
  tlsa_record_clear(&records[0]);
  tlsa_record_clear(&records[1]);
  return out.result;
}

/* RFC 7671 section 9: for one usage and selector, OpenSSL uses only the
 * records of the strongest digest present (SHA-512 over SHA-256), so a
 * wrong SHA-512 hides a right SHA-256. Other usage/selector pairs are
 * checked on their own. */
static void test_digest_agility(void) {
  int depth;
  /* right 3 1 1 + wrong 3 1 2: mismatch. */
  CHECK_STR(probe_result_name(pair_verdict(spki_sha256, spki_sha512, &depth)), "tlsa-mismatch");
  /* right 3 1 2 + wrong 3 1 1: the SHA-512 decides, authenticated. */
  CHECK_STR(probe_result_name(pair_verdict(spki_sha512, spki_sha256, &depth)), "authenticated");
  CHECK_INT(depth, 0);
  /* right 3 1 1 + wrong 3 0 2 (other selector): authenticated. */
  CHECK_STR(probe_result_name(pair_verdict(spki_sha256, cert_sha512, &depth)), "authenticated");
  CHECK_INT(depth, 0);
  /* right 3 1 1 + wrong 2 1 2 (other usage): authenticated. */
  CHECK_STR(probe_result_name(pair_verdict(spki_sha256, root_spki_sha512, &depth)), "authenticated");
  CHECK_INT(depth, 0);
}

int main(void) {
  const char *data = getenv("DANESCAN_TEST_DATA");
  char path[1024];
  snprintf(path, sizeof path, "%s/openssl-dane/danetest.in", data != NULL ? data : "tests/data");
  char why[256] = "";
  client = tls_client_new(why, sizeof why);
  if (client == NULL || load_vectors(path) != 0) {
    fprintf(stderr, "setup failed: %s %s\n", why, path);
    return 1;
  }
  static const struct unit_test tests[] = {UNIT_TEST(test_openssl_vectors), UNIT_TEST(test_digest_agility)};
  int rc = unit_run(tests, sizeof tests / sizeof tests[0]);
  for (size_t i = 0; i < vector_count; i++) {
    for (size_t k = 0; k < vectors[i].tlsa_count; k++) tlsa_record_clear(&vectors[i].tlsa[k]);
    for (size_t k = 0; k < vectors[i].cert_count; k++) X509_free(vectors[i].certs[k]);
  }
  tls_client_free(client);
  return rc;
}
