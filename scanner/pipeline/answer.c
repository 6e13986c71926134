/* Answer walking for the pipeline. The resolver returns the CNAME chain it
 * followed in the answer section; the AD bit covers the whole message, so a
 * secure answer means every step of the chain validated (RFC 7672 2.2.3
 * needs that before it uses the chain's target as TLSA base domain). */
#include "pipeline/answer.h"

#include <stdlib.h>
#include <string.h>

static const ldns_rr *find_cname(const ldns_rr_list *answer, const ldns_rdf *owner) {
  for (size_t i = 0; i < ldns_rr_list_rr_count(answer); i++) {
    const ldns_rr *rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) >= 1 &&
        ldns_dname_compare(ldns_rr_owner(rr), owner) == 0) {
      return rr;
    }
  }
  return NULL;
}

ldns_rdf *answer_final_name(const ldns_pkt *packet, const ldns_rdf *qname, unsigned *hops) {
  const ldns_rr_list *answer = ldns_pkt_answer(packet);
  const ldns_rdf *current = qname;
  unsigned count = 0;
  while (answer != NULL && count < ANSWER_MAX_CNAME_HOPS) {
    const ldns_rr *cname = find_cname(answer, current);
    if (cname == NULL) break;
    const ldns_rdf *target = ldns_rr_rdf(cname, 0);
    if (ldns_dname_compare(target, qname) == 0) break; /* loop back to the start */
    current = target;
    count++;
  }
  if (hops != NULL) *hops = count;
  return ldns_rdf_clone(current);
}

size_t answer_each_rr(const ldns_pkt *packet, const ldns_rdf *owner, ldns_rr_type type,
                      void (*visit)(const ldns_rr *rr, void *arg), void *arg) {
  const ldns_rr_list *answer = ldns_pkt_answer(packet);
  size_t visited = 0;
  if (answer == NULL) return 0;
  for (size_t i = 0; i < ldns_rr_list_rr_count(answer); i++) {
    const ldns_rr *rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) != type) continue;
    if (ldns_dname_compare(ldns_rr_owner(rr), owner) != 0) continue;
    visit(rr, arg);
    visited++;
  }
  return visited;
}

/* Same text as ldns_rdf2str() (escapes as ldns_rdf2buffer_str_dname: "\\."
 * for . ; ( ) \\, "\\DDD" for bytes that are not printable ASCII), lower
 * case, without the trailing dot, written straight from the wire form:
 * ldns formats one byte at a time through printf, which was ~15% of the
 * scanner's CPU in the resolution benchmark. */
int answer_name_text(const ldns_rdf *name, char *out, size_t out_len) {
  if (name == NULL || out_len == 0 || ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME) return -1;
  const uint8_t *data = ldns_rdf_data(name);
  size_t size = ldns_rdf_size(name);
  if (size == 0 || size > LDNS_MAX_DOMAINLEN) return -1;
  if (size == 1) {
    if (out_len < 2) return -1;
    out[0] = '.';
    out[1] = '\0';
    return 0;
  }
  size_t len = 0;
  size_t pos = 0;
  while (pos < size && data[pos] != 0) {
    size_t label = data[pos++];
    if (label > size - pos) return -1; /* malformed wire name */
    if (len > 0) {
      if (len + 1 >= out_len) return -1;
      out[len++] = '.';
    }
    for (size_t i = 0; i < label; i++) {
      unsigned char c = data[pos++];
      if (c == '.' || c == ';' || c == '(' || c == ')' || c == '\\') {
        if (len + 2 >= out_len) return -1;
        out[len++] = '\\';
        out[len++] = (char)c;
      } else if (c <= 0x20 || c >= 0x7f) { /* !(isascii(c) && isgraph(c)) */
        if (len + 4 >= out_len) return -1;
        out[len++] = '\\';
        out[len++] = (char)('0' + c / 100);
        out[len++] = (char)('0' + c / 10 % 10);
        out[len++] = (char)('0' + c % 10);
      } else {
        if (len + 1 >= out_len) return -1;
        out[len++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
      }
    }
  }
  out[len] = '\0';
  return 0;
}

void answer_fact(struct dns_fact *fact, const struct dns_answer *answer) {
  fact->done = true;
  fact->state = answer->state;
  fact->rcode = answer->rcode;
  fact->has_ede = answer->has_ede;
  fact->ede_code = answer->ede_code;
  free(fact->ede_text);
  fact->ede_text = NULL;
  if (answer->has_ede && answer->ede_text != NULL && answer->ede_text[0] != '\0') {
    /* Out of memory: the text is lost, the code is kept. */
    fact->ede_text = strndup(answer->ede_text, RESULT_EDE_TEXT_MAX_BYTES - 1);
  }
  fact->failure = answer->failure;
  fact->attempts = answer->attempts;
  fact->slow_retried = answer->slow_retried;
  fact->elapsed_ms = answer->elapsed_ms;
}
