/* Reading a domain's NS RRset out of its NS answer (see ns_lookup.h). */
#include "pipeline/ns_lookup.h"

#include <string.h>

#include "pipeline/answer.h"

struct ns_collect {
  char *out;
  size_t out_len;
  size_t len;
};

/* Appends one target when it is a host name not yet in the set and fits. */
static void collect_ns(const ldns_rr *rr, void *arg) {
  struct ns_collect *collect = arg;
  if (ldns_rr_rd_count(rr) < 1) return;
  char name[256];
  if (answer_name_text(ldns_rr_rdf(rr, 0), name, sizeof name) != 0 || strcmp(name, ".") == 0) return;
  if (strchr(name, '\\') != NULL) return; /* escaped bytes: not a host name (the zone reader drops them too) */
  size_t len = strlen(name);
  for (size_t at = 0; at < collect->len;) {
    const char *space = memchr(collect->out + at, ' ', collect->len - at);
    size_t word = space != NULL ? (size_t)(space - (collect->out + at)) : collect->len - at;
    if (word == len && memcmp(collect->out + at, name, len) == 0) return;
    at += word + 1;
  }
  size_t need = (collect->len > 0 ? 1 : 0) + len;
  if (collect->len + need >= collect->out_len) return;
  if (collect->len > 0) collect->out[collect->len++] = ' ';
  memcpy(collect->out + collect->len, name, len + 1);
  collect->len += len;
}

enum ns_lookup_outcome ns_lookup_read(const struct dns_answer *answer, const char *name, char *out, size_t out_len) {
  if (out_len > 0) out[0] = '\0';
  if (answer->state == DNSSEC_BOGUS || answer->state == DNSSEC_FAILED || answer->packet == NULL)
    return NS_LOOKUP_FAILED;
  if (answer->rcode == LDNS_RCODE_NXDOMAIN) return NS_LOOKUP_NONE;
  if (answer->rcode != LDNS_RCODE_NOERROR) return NS_LOOKUP_FAILED;
  if (out_len == 0) return NS_LOOKUP_NONE;
  ldns_rdf *owner = ldns_dname_new_frm_str(name);
  if (owner == NULL) return NS_LOOKUP_FAILED;
  struct ns_collect collect = {.out = out, .out_len = out_len, .len = 0};
  /* The name's own records only: a CNAME's target is another name. */
  answer_each_rr(answer->packet, owner, LDNS_RR_TYPE_NS, collect_ns, &collect);
  ldns_rdf_deep_free(owner);
  return collect.len > 0 ? NS_LOOKUP_FOUND : NS_LOOKUP_NONE;
}

void ns_lookup_count(struct ns_lookup_stats *stats, enum ns_lookup_outcome outcome) {
  if (stats == NULL) return;
  if (outcome == NS_LOOKUP_FOUND) stats->found++;
  else if (outcome == NS_LOOKUP_NONE) stats->no_ns++;
  else stats->failed++;
}
