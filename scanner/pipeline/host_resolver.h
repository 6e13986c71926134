/* Resolves MX hosts: A and AAAA, the CNAME target, the TLSA RRset at the
 * RFC 7672 2.2.3 base domain (only for secure address records), the
 * ancestor-nxdomain check, and the host's DNS-decided status. Each distinct
 * host name is resolved once per scan and shared by every domain that names
 * it: results live in a bounded cache (least recently used entries that no
 * domain holds are evicted). A host that needs a STARTTLS probe goes through
 * the finisher (the probe stage) before it is ready. */
#ifndef DANESCAN_PIPELINE_HOST_RESOLVER_H
#define DANESCAN_PIPELINE_HOST_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "dns/dns_client.h"
#include "record/result.h"

struct host_resolver;

/* The stage that finishes hosts after DNS (the STARTTLS probes). start is
 * called once per host that needs it; it must call done(host, done_arg)
 * exactly once, later, from the event loop, after setting each address's
 * probe result and the host's final status. */
struct host_finisher {
  bool (*wants)(void *ctx, const struct mx_host *host);
  void (*start)(void *ctx, struct mx_host *host, void (*done)(struct mx_host *host, void *done_arg), void *done_arg);
  void (*release)(void *ctx, struct mx_host *host); /* frees probe details of a host */
  void *ctx;
};

struct host_resolver_config {
  size_t max_cached_hosts;              /* cache bound (entries not held by a domain) */
  const struct host_finisher *finisher; /* NULL: DNS only */
  unsigned rrsig_warn_days;             /* rrsig-expires-soon: a TLSA RRSIG expiring within this many
                                           days (--expiry-warn-days) */
};

typedef void (*host_ready_cb)(struct mx_host *host, void *arg);

struct host_resolver *host_resolver_new(struct dns_client *dns, const struct host_resolver_config *config);

/* Frees every cached host. Hosts still held or resolving are freed too:
 * call only when no domain is in flight. */
void host_resolver_free(struct host_resolver *resolver);

/* Holds the host named name (normalised: lower case, no trailing dot) for
 * the caller and stores it in *out. Returns 1 if it is ready now (no
 * callback follows), 0 if callback(host, arg) will run once from the event
 * loop when it is ready, -1 on allocation failure. Every successful call must
 * be paired with host_resolver_release once the caller is done with *out. */
int host_resolver_hold(struct host_resolver *resolver, const char *name, host_ready_cb callback, void *arg,
                       struct mx_host **out);

void host_resolver_release(struct host_resolver *resolver, struct mx_host *host);

struct host_resolver_stats {
  uint64_t requests; /* host_resolver_hold calls */
  uint64_t hits;     /* answered from a ready or resolving entry */
  uint64_t resolved; /* hosts resolved */
  uint64_t evicted;
  size_t cached; /* entries now */
};
void host_resolver_get_stats(const struct host_resolver *resolver, struct host_resolver_stats *out);

#endif
