/* The probe detail's step names and its destructor (probe_detail.h). */
#include "record/probe_detail.h"

#include <stdlib.h>

const char *probe_step_name(enum probe_step step) {
  static const char *const names[] = {"none", "connect", "greeting", "ehlo", "starttls", "handshake", "quit", "done"};
  return (unsigned)step < sizeof names / sizeof names[0] ? names[step] : "?";
}

const char *probe_pkix_name(enum probe_pkix pkix) {
  static const char *const names[] = {"not-checked", "valid",   "no-tls",        "tls-version",
                                      "untrusted",   "expired", "name-mismatch", "invalid"};
  _Static_assert(sizeof names / sizeof names[0] == PROBE_PKIX_COUNT, "pkix names");
  return (unsigned)pkix < PROBE_PKIX_COUNT ? names[pkix] : "?";
}

void probe_detail_free(struct probe_detail *detail) {
  if (detail == NULL) return;
  free(detail->reason);
  free(detail->first_reason);
  free(detail->pkix_reason);
  free(detail->banner);
  for (size_t i = 0; i < detail->ehlo_keyword_count; i++) free(detail->ehlo_keywords[i]);
  free(detail->ehlo_keywords);
  for (size_t i = 0; detail->chain_der != NULL && i < detail->chain_count; i++) free(detail->chain_der[i]);
  free(detail->chain_der);
  free(detail->chain_der_len);
  free(detail->chain_sha256);
  free(detail);
}
