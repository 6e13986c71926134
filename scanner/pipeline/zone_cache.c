/* The per-scan zone cache: one entry per zone, RESOLVING (DNSKEY, DS and
 * NSEC3PARAM in parallel) -> READY; waiters are called once when it is. */
#include "pipeline/zone_cache.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/name_cache.h"

struct zone_waiter {
  zone_ready_cb callback;
  void *arg;
  struct zone_waiter *next;
};

struct zone_entry {
  struct zone_hygiene zone; /* first member: a struct zone_hygiene * is its entry */
  struct name_cache_link link;
  struct zone_cache *cache;
  unsigned pending_lookups;
  struct zone_waiter *waiters;
};

struct zone_cache {
  struct dns_client *dns;
  struct name_cache names; /* zone_entry by zone.zone */
  struct zone_cache_stats stats;
};

static struct zone_entry *entry_of(struct name_cache_link *link) {
  return (struct zone_entry *)(void *)((char *)link - offsetof(struct zone_entry, link));
}

static void entry_free(struct name_cache_link *link, void *ctx) {
  struct zone_cache *cache = ctx;
  struct zone_entry *entry = entry_of(link);
  if (entry->pending_lookups > 0) dns_client_cancel(cache->dns, entry);
  struct zone_waiter *waiter = entry->waiters;
  while (waiter != NULL) {
    struct zone_waiter *next = waiter->next;
    free(waiter);
    waiter = next;
  }
  free(entry);
}

struct zone_cache *zone_cache_new(struct dns_client *dns, const struct zone_cache_config *config) {
  struct zone_cache *cache = calloc(1, sizeof *cache);
  if (cache == NULL) return NULL;
  cache->dns = dns;
  if (name_cache_init(&cache->names, config->max_cached_zones, entry_free, cache) != 0) {
    free(cache);
    return NULL;
  }
  return cache;
}

void zone_cache_free(struct zone_cache *cache) {
  if (cache == NULL) return;
  name_cache_destroy(&cache->names);
  free(cache);
}

static void lookup_done(struct zone_entry *entry) {
  if (--entry->pending_lookups > 0) return;
  struct zone_waiter *waiter = entry->waiters;
  entry->waiters = NULL;
  /* Each waiter holds the entry, so it outlives their calls; with none,
   * the entry may be evicted here. */
  name_cache_set_ready(&entry->cache->names, &entry->link);
  while (waiter != NULL) {
    struct zone_waiter *next = waiter->next;
    waiter->callback(&entry->zone, waiter->arg);
    free(waiter);
    waiter = next;
  }
}

static void on_dnskey(const struct dns_answer *answer, void *arg) {
  struct zone_entry *entry = arg;
  zone_hygiene_take_dnskey(&entry->zone, answer->packet, answer->state, answer->rcode);
  lookup_done(entry);
}

static void on_ds(const struct dns_answer *answer, void *arg) {
  struct zone_entry *entry = arg;
  zone_hygiene_take_ds(&entry->zone, answer->packet, answer->state, answer->rcode);
  lookup_done(entry);
}

static void on_nsec3param(const struct dns_answer *answer, void *arg) {
  struct zone_entry *entry = arg;
  zone_hygiene_take_nsec3param(&entry->zone, answer->packet, answer->state, answer->rcode);
  lookup_done(entry);
}

static void start_lookups(struct zone_cache *cache, struct zone_entry *entry) {
  static const struct {
    ldns_rr_type type;
    dns_answer_cb callback;
  } lookups[ZONE_CACHE_LOOKUPS_PER_ZONE] = {
      {LDNS_RR_TYPE_DNSKEY, on_dnskey},
      {LDNS_RR_TYPE_DS, on_ds},
      {LDNS_RR_TYPE_NSEC3PARAM, on_nsec3param},
  };
  entry->pending_lookups = 1; /* guard while starting them */
  for (size_t i = 0; i < ZONE_CACHE_LOOKUPS_PER_ZONE; i++) {
    if (dns_lookup(cache->dns, entry->zone.zone, lookups[i].type, -1, lookups[i].callback, entry) == 0) {
      entry->pending_lookups++;
      cache->stats.lookups++;
    }
  }
  cache->stats.resolved++;
  entry->pending_lookups--;
  /* The name cannot be encoded: nothing to learn. The caller holds it. */
  if (entry->pending_lookups == 0) name_cache_set_ready(&cache->names, &entry->link);
}

int zone_cache_hold(struct zone_cache *cache, const char *zone, zone_ready_cb callback, void *arg,
                    const struct zone_hygiene **out) {
  cache->stats.requests++;
  struct name_cache_link *link = name_cache_hold(&cache->names, zone);
  struct zone_entry *entry;
  if (link != NULL) {
    cache->stats.hits++;
    entry = entry_of(link);
  } else {
    entry = calloc(1, sizeof *entry);
    if (entry == NULL) return -1;
    zone_hygiene_init(&entry->zone, zone);
    entry->cache = cache;
    entry->link.name = entry->zone.zone;
    name_cache_add(&cache->names, &entry->link);
    start_lookups(cache, entry);
  }
  if (!entry->link.ready) {
    struct zone_waiter *waiter = malloc(sizeof *waiter);
    if (waiter == NULL) {
      name_cache_release(&cache->names, &entry->link); /* resolving: it stays, and is parked once ready */
      return -1;
    }
    waiter->callback = callback;
    waiter->arg = arg;
    waiter->next = entry->waiters;
    entry->waiters = waiter;
  }
  *out = &entry->zone;
  return entry->link.ready ? 1 : 0;
}

void zone_cache_release(struct zone_cache *cache, const struct zone_hygiene *zone) {
  struct zone_entry *entry = (struct zone_entry *)(void *)zone;
  name_cache_release(&cache->names, &entry->link);
}

void zone_cache_get_stats(const struct zone_cache *cache, struct zone_cache_stats *out) {
  *out = cache->stats;
  out->evicted = cache->names.evicted;
  out->cached = cache->names.entry_count;
}
