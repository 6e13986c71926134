/* The MTA-STS and TLS-RPT part of a domain's journey (shared/spec/
 * MTA-STS.md), run beside the MX hosts once the MX lookup says the domain
 * takes mail: the TXT lookups of _mta-sts.DOMAIN and _smtp._tls.DOMAIN,
 * for a valid _mta-sts record the A and AAAA lookups of mta-sts.DOMAIN and
 * the policy fetch (through the policy_fetch hook, sts/sts_fetch.h's
 * sts_fetcher_fetch in a scan), then, once the hosts are ready too, the
 * pattern match of each MX host and the status (sts/sts_status.h). Every
 * lookup goes through the scan's DNS client, so its DNSSEC state is kept
 * like any other. */
#ifndef DANESCAN_PIPELINE_STS_STAGE_H
#define DANESCAN_PIPELINE_STS_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dns/dns_client.h"
#include "record/mta_sts_result.h"
#include "record/result.h"
#include "sts/sts_fetch.h"
#include "sts/sts_policy.h"
#include "sts/sts_status.h"
#include "sts/sts_txt.h"

#define STS_STAGE_MAX_TXT_RECORDS 32     /* TXT RRs read per name; more are not looked at */
#define STS_STAGE_MAX_TXT_BYTES 4096     /* bytes kept of one TXT RR (its strings concatenated) */
#define STS_STAGE_MAX_POLICY_ADDRESSES 8 /* addresses of mta-sts.DOMAIN handed to the fetch */

/* The policy fetch, as sts_fetcher_fetch (sts/sts_fetch.h) does it: the
 * same contract (done_cb exactly once, never from inside the call; 0 or -1
 * with no callback). */
struct sts_policy_fetch {
  void *ctx;
  int (*fetch)(void *ctx, const char *domain, const struct sockaddr_storage *addresses, size_t n_addresses,
               sts_fetch_done_cb done_cb, void *arg);
};

/* One domain's MTA-STS work, embedded in the domain task. */
struct sts_domain {
  struct mta_sts_result result;
  struct dns_client *dns;
  const struct sts_policy_fetch *fetch; /* borrowed */
  char domain[256];
  void (*done)(void *arg); /* when every lookup and the fetch are back */
  void *done_arg;
  unsigned pending;
  /* what the decision needs */
  enum sts_record_verdict record;
  char record_why[STS_TXT_WHY_MAX_BYTES];
  bool fetched;
  enum sts_fetch_outcome fetch_outcome;
  char fetch_why[STS_FETCH_FAILURE_MAX_BYTES];
  enum sts_policy_verdict policy_verdict;
  char policy_why[STS_POLICY_WHY_MAX_BYTES];
  struct sts_policy policy;
  struct sockaddr_storage addresses[STS_STAGE_MAX_POLICY_ADDRESSES];
  size_t address_count;
  unsigned address_lookups; /* A and AAAA of mta-sts.DOMAIN still out */
};

/* Starts the lookups for domain (normalised name). fetch may be NULL: the
 * policy of a valid record is then not fetched and the domain is
 * policy-unavailable ("not made"). done(done_arg) runs once, from the event
 * loop, after everything came back; it is never called from inside this
 * call. Returns 0, or -1 when no lookup could be started (the name cannot
 * be encoded; done will not run, the result says so). */
int sts_domain_start(struct sts_domain *sts, struct dns_client *dns, const struct sts_policy_fetch *fetch,
                     const char *domain, void (*done)(void *arg), void *done_arg);

/* The pipeline's view of one probed address for MTA-STS (sts_status.h).
 * reason (reason_len bytes) says why for STS_ADDRESS_FAILED. */
enum sts_address_check sts_stage_address_check(const struct host_address *address, char *reason, size_t reason_len);

/* With the hosts of the domain ready: fills sts->result (match per link,
 * status, failure, policy fields) from what came back. */
void sts_domain_decide(struct sts_domain *sts, const struct domain_result *domain);

/* Frees what the domain's MTA-STS work holds; leaves it zeroed. */
void sts_domain_clear(struct sts_domain *sts);

#endif
