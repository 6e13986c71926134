/* Reading what the pipeline needs out of a resolver's answer: the end of a
 * CNAME chain and the records of one type at that name. The resolver has
 * already followed the chain (RD); this only walks what it sent, bounded. */
#ifndef DANESCAN_PIPELINE_ANSWER_H
#define DANESCAN_PIPELINE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include <ldns/ldns.h>

#include "dns/dns_client.h"
#include "record/result.h"

#define ANSWER_MAX_CNAME_HOPS 16

/* Follows CNAME records in the answer section from qname. Returns a new
 * owner rdf for the final name (the caller frees with ldns_rdf_deep_free),
 * or NULL on allocation failure. *hops receives the number of CNAMEs. A
 * chain longer than ANSWER_MAX_CNAME_HOPS or a loop stops where it is. */
ldns_rdf *answer_final_name(const ldns_pkt *packet, const ldns_rdf *qname, unsigned *hops);

/* Calls visit for every RR of type in the answer section whose owner equals
 * owner (case-insensitive). Returns the number visited. */
size_t answer_each_rr(const ldns_pkt *packet, const ldns_rdf *owner, ldns_rr_type type,
                      void (*visit)(const ldns_rr *rr, void *arg), void *arg);

/* Writes a domain name rdf as lower case text without the trailing dot
 * ("." for the root) into out. Returns 0, or -1 if it does not fit. */
int answer_name_text(const ldns_rdf *name, char *out, size_t out_len);

/* Copies what danescan keeps of a lookup (state, rcode, EDE, attempts,
 * timing) from answer into fact and marks it done. */
void answer_fact(struct dns_fact *fact, const struct dns_answer *answer);

#endif
