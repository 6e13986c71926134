/* Chained hash table (FNV-1a 64, load factor at most 1, doubled as it
 * fills) with an intrusive LRU list of the ready, unheld entries. */
#include "util/name_cache.h"

#include <stdlib.h>
#include <string.h>

#define NAME_CACHE_FIRST_BUCKETS 1024

static uint64_t name_hash(const char *name) {
  uint64_t hash = 1469598103934665603ull; /* FNV-1a 64 */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    hash ^= *p;
    hash *= 1099511628211ull;
  }
  return hash;
}

int name_cache_init(struct name_cache *cache, size_t max_entries,
                    void (*free_entry)(struct name_cache_link *link, void *ctx), void *ctx) {
  memset(cache, 0, sizeof *cache);
  cache->buckets = calloc(NAME_CACHE_FIRST_BUCKETS, sizeof *cache->buckets);
  if (cache->buckets == NULL) return -1;
  cache->bucket_count = NAME_CACHE_FIRST_BUCKETS;
  cache->max_entries = max_entries > 0 ? max_entries : 1;
  cache->free_entry = free_entry;
  cache->ctx = ctx;
  return 0;
}

void name_cache_destroy(struct name_cache *cache) {
  for (size_t i = 0; i < cache->bucket_count; i++) {
    struct name_cache_link *link = cache->buckets[i];
    while (link != NULL) {
      struct name_cache_link *next = link->bucket_next;
      cache->free_entry(link, cache->ctx);
      link = next;
    }
  }
  free(cache->buckets);
  memset(cache, 0, sizeof *cache);
}

static void lru_remove(struct name_cache *cache, struct name_cache_link *link) {
  if (!link->on_lru) return;
  if (link->lru_prev != NULL) link->lru_prev->lru_next = link->lru_next;
  else cache->lru_head = link->lru_next;
  if (link->lru_next != NULL) link->lru_next->lru_prev = link->lru_prev;
  else cache->lru_tail = link->lru_prev;
  link->lru_prev = link->lru_next = NULL;
  link->on_lru = false;
}

static void bucket_remove(struct name_cache *cache, struct name_cache_link *link) {
  struct name_cache_link **slot = &cache->buckets[link->hash & (cache->bucket_count - 1)];
  while (*slot != NULL && *slot != link) slot = &(*slot)->bucket_next;
  if (*slot == link) *slot = link->bucket_next;
  cache->entry_count--;
}

static void grow_buckets(struct name_cache *cache) {
  size_t count = cache->bucket_count * 2;
  struct name_cache_link **buckets = calloc(count, sizeof *buckets);
  if (buckets == NULL) return; /* longer chains: slower, still correct */
  for (size_t i = 0; i < cache->bucket_count; i++) {
    struct name_cache_link *link = cache->buckets[i];
    while (link != NULL) {
      struct name_cache_link *next = link->bucket_next;
      size_t slot = link->hash & (count - 1);
      link->bucket_next = buckets[slot];
      buckets[slot] = link;
      link = next;
    }
  }
  free(cache->buckets);
  cache->buckets = buckets;
  cache->bucket_count = count;
}

struct name_cache_link *name_cache_hold(struct name_cache *cache, const char *name) {
  uint64_t hash = name_hash(name);
  struct name_cache_link *link = cache->buckets[hash & (cache->bucket_count - 1)];
  while (link != NULL && !(link->hash == hash && strcmp(link->name, name) == 0)) link = link->bucket_next;
  if (link == NULL) return NULL;
  lru_remove(cache, link);
  link->holders++;
  return link;
}

void name_cache_add(struct name_cache *cache, struct name_cache_link *link) {
  link->hash = name_hash(link->name);
  link->holders = 1;
  link->ready = false;
  link->on_lru = false;
  link->lru_prev = link->lru_next = NULL;
  if (cache->entry_count + 1 > cache->bucket_count) grow_buckets(cache);
  size_t slot = link->hash & (cache->bucket_count - 1);
  link->bucket_next = cache->buckets[slot];
  cache->buckets[slot] = link;
  cache->entry_count++;
}

/* Nobody holds the ready entry: most recently released first; evict from
 * the tail beyond the bound (possibly this entry, with max_entries 1). */
static void park(struct name_cache *cache, struct name_cache_link *link) {
  link->lru_prev = NULL;
  link->lru_next = cache->lru_head;
  if (cache->lru_head != NULL) cache->lru_head->lru_prev = link;
  cache->lru_head = link;
  if (cache->lru_tail == NULL) cache->lru_tail = link;
  link->on_lru = true;
  while (cache->entry_count > cache->max_entries && cache->lru_tail != NULL) {
    struct name_cache_link *victim = cache->lru_tail;
    lru_remove(cache, victim);
    bucket_remove(cache, victim);
    cache->evicted++;
    cache->free_entry(victim, cache->ctx);
  }
}

void name_cache_set_ready(struct name_cache *cache, struct name_cache_link *link) {
  link->ready = true;
  if (link->holders == 0 && !link->on_lru) park(cache, link);
}

void name_cache_release(struct name_cache *cache, struct name_cache_link *link) {
  if (link->holders > 0) link->holders--;
  if (link->holders == 0 && link->ready && !link->on_lru) park(cache, link);
}
