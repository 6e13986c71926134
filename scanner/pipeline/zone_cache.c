/* The per-scan zone cache: one entry per zone, RESOLVING (DNSKEY, DS and
 * NSEC3PARAM in parallel) -> READY; waiters are called once when it is. */
#include "pipeline/zone_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct zone_waiter {
  zone_ready_cb callback;
  void *arg;
  struct zone_waiter *next;
};

struct zone_entry {
  struct zone_hygiene zone; /* first member: a struct zone_hygiene * is its entry */
  struct zone_cache *cache;
  bool ready;
  unsigned holders;
  unsigned pending_lookups;
  uint64_t hash;
  struct zone_waiter *waiters;
  struct zone_entry *bucket_next;
  struct zone_entry *lru_prev, *lru_next;
  bool on_lru;
};

struct zone_cache {
  struct dns_client *dns;
  struct zone_cache_config config;
  struct zone_entry **buckets;
  size_t bucket_count; /* power of two */
  size_t entry_count;
  struct zone_entry *lru_head, *lru_tail; /* head: most recently released */
  struct zone_cache_stats stats;
};

static uint64_t name_hash(const char *name) {
  uint64_t hash = 1469598103934665603ull; /* FNV-1a 64 */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    hash ^= *p;
    hash *= 1099511628211ull;
  }
  return hash;
}

struct zone_cache *zone_cache_new(struct dns_client *dns, const struct zone_cache_config *config) {
  struct zone_cache *cache = calloc(1, sizeof *cache);
  if (cache == NULL) return NULL;
  cache->dns = dns;
  cache->config = *config;
  if (cache->config.max_cached_zones == 0) cache->config.max_cached_zones = 1;
  cache->bucket_count = 1024;
  cache->buckets = calloc(cache->bucket_count, sizeof *cache->buckets);
  if (cache->buckets == NULL) {
    free(cache);
    return NULL;
  }
  return cache;
}

static void entry_free(struct zone_cache *cache, struct zone_entry *entry) {
  if (entry->pending_lookups > 0) dns_client_cancel(cache->dns, entry);
  struct zone_waiter *waiter = entry->waiters;
  while (waiter != NULL) {
    struct zone_waiter *next = waiter->next;
    free(waiter);
    waiter = next;
  }
  free(entry);
}

void zone_cache_free(struct zone_cache *cache) {
  if (cache == NULL) return;
  for (size_t i = 0; i < cache->bucket_count; i++) {
    struct zone_entry *entry = cache->buckets[i];
    while (entry != NULL) {
      struct zone_entry *next = entry->bucket_next;
      entry_free(cache, entry);
      entry = next;
    }
  }
  free(cache->buckets);
  free(cache);
}

static void lru_remove(struct zone_cache *cache, struct zone_entry *entry) {
  if (!entry->on_lru) return;
  if (entry->lru_prev != NULL) entry->lru_prev->lru_next = entry->lru_next;
  else cache->lru_head = entry->lru_next;
  if (entry->lru_next != NULL) entry->lru_next->lru_prev = entry->lru_prev;
  else cache->lru_tail = entry->lru_prev;
  entry->lru_prev = entry->lru_next = NULL;
  entry->on_lru = false;
}

static void bucket_remove(struct zone_cache *cache, struct zone_entry *entry) {
  struct zone_entry **link = &cache->buckets[entry->hash & (cache->bucket_count - 1)];
  while (*link != NULL && *link != entry) link = &(*link)->bucket_next;
  if (*link == entry) *link = entry->bucket_next;
  cache->entry_count--;
}

static void grow_buckets(struct zone_cache *cache) {
  size_t count = cache->bucket_count * 2;
  struct zone_entry **buckets = calloc(count, sizeof *buckets);
  if (buckets == NULL) return; /* longer chains, still correct */
  for (size_t i = 0; i < cache->bucket_count; i++) {
    struct zone_entry *entry = cache->buckets[i];
    while (entry != NULL) {
      struct zone_entry *next = entry->bucket_next;
      size_t b = entry->hash & (count - 1);
      entry->bucket_next = buckets[b];
      buckets[b] = entry;
      entry = next;
    }
  }
  free(cache->buckets);
  cache->buckets = buckets;
  cache->bucket_count = count;
}

static void lookup_done(struct zone_entry *entry) {
  if (--entry->pending_lookups > 0) return;
  entry->ready = true;
  struct zone_waiter *waiter = entry->waiters;
  entry->waiters = NULL;
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
  if (entry->pending_lookups == 0) entry->ready = true; /* the name cannot be encoded: nothing to learn */
}

int zone_cache_hold(struct zone_cache *cache, const char *zone, zone_ready_cb callback, void *arg,
                    const struct zone_hygiene **out) {
  cache->stats.requests++;
  uint64_t hash = name_hash(zone);
  struct zone_entry *entry = cache->buckets[hash & (cache->bucket_count - 1)];
  while (entry != NULL && !(entry->hash == hash && strcmp(entry->zone.zone, zone) == 0)) entry = entry->bucket_next;
  if (entry != NULL) {
    cache->stats.hits++;
    lru_remove(cache, entry);
  } else {
    entry = calloc(1, sizeof *entry);
    if (entry == NULL) return -1;
    zone_hygiene_init(&entry->zone, zone);
    entry->cache = cache;
    entry->hash = hash;
    if (cache->entry_count + 1 > cache->bucket_count * 2) grow_buckets(cache);
    size_t b = hash & (cache->bucket_count - 1);
    entry->bucket_next = cache->buckets[b];
    cache->buckets[b] = entry;
    cache->entry_count++;
    start_lookups(cache, entry);
  }
  if (!entry->ready) {
    struct zone_waiter *waiter = malloc(sizeof *waiter);
    if (waiter == NULL) return -1; /* a new entry stays cached, unheld, until the cache is freed */
    waiter->callback = callback;
    waiter->arg = arg;
    waiter->next = entry->waiters;
    entry->waiters = waiter;
  }
  entry->holders++;
  *out = &entry->zone;
  return entry->ready ? 1 : 0;
}

void zone_cache_release(struct zone_cache *cache, const struct zone_hygiene *zone) {
  struct zone_entry *entry = (struct zone_entry *)(void *)zone;
  if (entry->holders > 0) entry->holders--;
  if (entry->holders > 0 || !entry->ready) return;
  /* Most recently released first; evict from the tail beyond the bound. */
  entry->lru_prev = NULL;
  entry->lru_next = cache->lru_head;
  if (cache->lru_head != NULL) cache->lru_head->lru_prev = entry;
  cache->lru_head = entry;
  if (cache->lru_tail == NULL) cache->lru_tail = entry;
  entry->on_lru = true;
  while (cache->lru_tail != NULL && cache->entry_count > cache->config.max_cached_zones) {
    struct zone_entry *victim = cache->lru_tail;
    lru_remove(cache, victim);
    bucket_remove(cache, victim);
    entry_free(cache, victim);
    cache->stats.evicted++;
  }
}

void zone_cache_get_stats(const struct zone_cache *cache, struct zone_cache_stats *out) {
  *out = cache->stats;
  out->cached = cache->entry_count;
}
