/* libFuzzer target: certificate facts from arbitrary DER (tls/cert_info.c),
 * as the scanner reads each certificate a server sent in its chain.
 *
 * Checks (abort on a broken one): every text field is NUL-terminated inside
 * its array; san_count is within CERT_INFO_MAX_SAN; a refused input leaves
 * the documented "unknown" values; the same DER read twice gives the same
 * facts (nothing depends on uninitialised memory). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/cert_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *text, size_t size) {
  if (memchr(text, '\0', size) == NULL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct cert_info info, again;
  int rc = cert_info_from_der(data, size, &info);
  if (rc != 0) {
    if (rc != -1 || info.san_count != 0 || info.key_bits != -1 || info.not_before != INT64_MIN ||
        info.not_after != INT64_MIN || info.subject[0] != '\0') {
      abort();
    }
    return 0;
  }
  check_text(info.subject, sizeof info.subject);
  check_text(info.issuer, sizeof info.issuer);
  check_text(info.key_type, sizeof info.key_type);
  if (info.san_count > CERT_INFO_MAX_SAN) abort();
  for (size_t i = 0; i < info.san_count; i++) check_text(info.san[i], sizeof info.san[i]);
  if (cert_info_from_der(data, size, &again) != 0) abort();
  if (strcmp(info.subject, again.subject) != 0 || strcmp(info.issuer, again.issuer) != 0 ||
      strcmp(info.key_type, again.key_type) != 0 || info.san_count != again.san_count ||
      info.not_before != again.not_before || info.not_after != again.not_after ||
      info.key_bits != again.key_bits ||
      memcmp(info.spki_sha256, again.spki_sha256, sizeof info.spki_sha256) != 0) {
    abort();
  }
  for (size_t i = 0; i < info.san_count; i++) {
    if (strcmp(info.san[i], again.san[i]) != 0) abort();
  }
  return 0;
}
