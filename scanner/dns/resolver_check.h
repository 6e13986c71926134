/* Resolver validation check, run before a scan: every DNSSEC state the scan
 * records trusts the resolver's AD bit, so each configured resolver must
 * prove that it validates. Per resolver (lookups pinned to it), a signed name
 * must come back secure (AD set), and a deliberately broken name must come
 * back bogus (or SERVFAIL that the client could not prove bogus, e.g. when
 * the resolver cannot reach the Internet for the CD=1 repeat either). It
 * does not check the resolver's cache, speed or EDE support. */
#ifndef DANESCAN_DNS_RESOLVER_CHECK_H
#define DANESCAN_DNS_RESOLVER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "dns/dns_client.h"

#define RESOLVER_CHECK_MESSAGE_MAX_BYTES 512

struct resolver_check_config {
  const char *signed_name;  /* must validate (AD); default "." */
  ldns_rr_type signed_type; /* default SOA */
  const char *bogus_name;   /* must fail validation; default "dnssec-failed.org" */
  ldns_rr_type bogus_type;  /* default A */
};

/* Fills the defaults above. */
void resolver_check_config_defaults(struct resolver_check_config *config);

/* Verdict for one resolver. */
struct resolver_verdict {
  size_t resolver_index;
  bool validates;                                 /* both names behaved */
  enum dnssec_state signed_state;                 /* what the signed name got */
  enum dnssec_state bogus_state;                  /* what the broken name got */
  char message[RESOLVER_CHECK_MESSAGE_MAX_BYTES]; /* one line, no newline:
                                                     "resolver 127.0.0.1:53 validates DNSSEC" or "resolver 127.0.0.1:53 does
                                                     not validate DNSSEC: 'dnssec-failed.org' answered NOERROR without AD;
                                                     refusing to run DANE checks (use --insecure-resolver-ok to debug)" */
};

/* Called once from the event loop with one verdict per resolver (index i is
 * resolver i); all_validate is true when every verdict validates. verdicts
 * is valid during the call only. The check frees itself after the call. */
typedef void (*resolver_check_cb)(const struct resolver_verdict *verdicts, size_t count, bool all_validate, void *arg);

struct resolver_check;

/* Starts the check on client (not owned). Returns the check, or NULL with a
 * message in why (bad name, out of memory; nothing is called back then). */
struct resolver_check *resolver_check_start(struct dns_client *client, const struct resolver_check_config *config,
                                            resolver_check_cb callback, void *arg, char *why, size_t why_len);

/* Cancels a check whose callback has not run yet: its lookups are dropped
 * from the client without calling back, and the check is freed. Also the
 * way to free a check after dns_client_free (which calls nothing back).
 * resolver_check_cancel(NULL) is a no-op. */
void resolver_check_cancel(struct resolver_check *check, struct dns_client *client);

/* Convenience for start-up, before the scan: runs the check and the event
 * loop on base until it is done; with log_verdicts, logs one line per
 * resolver (util/log.h: notice when it validates, error when it does not)
 * and the reason when the check cannot run. Must not be called from inside
 * the loop.
 * Returns 0 if every resolver validates, -1 otherwise (or on error). */
int resolver_check_run(struct event_base *base, struct dns_client *client, const struct resolver_check_config *config,
                       bool log_verdicts);

#endif
