/* The zones that matter, once per scan (issue 19): a domain's MX RRset zone
 * and each TLSA host's zone, named by the signer of the RRSIGs the resolver
 * already sent. Each distinct zone gets three lookups at its apex through the
 * DNS client (RD, DO): DNSKEY, DS and NSEC3PARAM, read by
 * record/zone_hygiene.h; every domain of the scan that names the zone shares
 * the one entry. Entries that no domain holds sit on an LRU list and are
 * evicted beyond max_cached_zones, as in the host cache. */
#ifndef DANESCAN_PIPELINE_ZONE_CACHE_H
#define DANESCAN_PIPELINE_ZONE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns_client.h"
#include "record/zone_hygiene.h"

#define ZONE_CACHE_LOOKUPS_PER_ZONE 3 /* DNSKEY, DS, NSEC3PARAM */

struct zone_cache;

struct zone_cache_config {
  size_t max_cached_zones; /* entries not held by a domain */
};

typedef void (*zone_ready_cb)(const struct zone_hygiene *zone, void *arg);

/* Borrows dns (it must outlive the cache). NULL on allocation failure. */
struct zone_cache *zone_cache_new(struct dns_client *dns, const struct zone_cache_config *config);

/* Frees every entry and cancels the lookups still out (without callbacks). */
void zone_cache_free(struct zone_cache *cache);

/* Holds the zone named zone (lower case, no trailing dot) and stores its
 * entry in *out. Returns 1 if it is ready now (no callback follows), 0 if
 * callback(zone, arg) runs once from the event loop when it is, -1 on
 * allocation failure. Pair every success with zone_cache_release. */
int zone_cache_hold(struct zone_cache *cache, const char *zone, zone_ready_cb callback, void *arg,
                    const struct zone_hygiene **out);

void zone_cache_release(struct zone_cache *cache, const struct zone_hygiene *zone);

struct zone_cache_stats {
  uint64_t requests; /* zone_cache_hold calls */
  uint64_t hits;     /* answered by a ready or resolving entry */
  uint64_t resolved; /* zones looked up */
  uint64_t lookups;  /* DNS lookups started (3 per zone resolved) */
  uint64_t evicted;
  size_t cached;
};
void zone_cache_get_stats(const struct zone_cache *cache, struct zone_cache_stats *out);

#endif
