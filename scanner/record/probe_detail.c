/* The probe detail's step names and its destructor (probe_detail.h). */
#include "record/probe_detail.h"

#include <stdlib.h>

const char *probe_step_name(enum probe_step step) {
  static const char *const names[] = {"none", "connect", "greeting", "ehlo", "starttls", "handshake", "quit", "done"};
  return (unsigned)step < sizeof names / sizeof names[0] ? names[step] : "?";
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
