/* The bookkeeping shared by the scan's per-name caches (pipeline/
 * host_resolver.c: one entry per MX host; pipeline/zone_cache.c: one per
 * zone): a hash table of entries keyed by a name, a holder count per entry,
 * and the list of ready entries that nobody holds, most recently released
 * first, from whose tail entries are evicted while the cache has more than
 * max_entries. Memory is so bounded by max_entries plus the entries that are
 * held or not yet ready.
 *
 * Entries are the callers' structs with a struct name_cache_link embedded;
 * the cache never allocates or frees one: it hands an evicted entry, and
 * every entry at name_cache_destroy, to free_entry. What an entry holds
 * beyond its link, and the waiters that want it ready, are the caller's.
 * Single-threaded; no call blocks. */
#ifndef DANESCAN_UTIL_NAME_CACHE_H
#define DANESCAN_UTIL_NAME_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct name_cache_link {
  const char *name; /* the key: owned by the entry, set before name_cache_add */
  uint64_t hash;
  unsigned holders;
  bool ready;
  bool on_lru;
  struct name_cache_link *bucket_next, *lru_prev, *lru_next;
};

struct name_cache {
  struct name_cache_link **buckets;
  size_t bucket_count; /* power of two */
  size_t entry_count;
  size_t max_entries;                          /* at least 1 */
  struct name_cache_link *lru_head, *lru_tail; /* head: most recently released */
  uint64_t evicted;
  void (*free_entry)(struct name_cache_link *link, void *ctx);
  void *ctx;
};

/* Returns 0, or -1 when the table cannot be allocated. max_entries 0 is 1. */
int name_cache_init(struct name_cache *cache, size_t max_entries,
                    void (*free_entry)(struct name_cache_link *link, void *ctx), void *ctx);

/* Hands every entry, held or not, to free_entry (not counted as evicted) and
 * frees the table. Call when no holder will use an entry again. */
void name_cache_destroy(struct name_cache *cache);

/* The entry keyed name, now held once more by the caller (and off the LRU
 * list), or NULL when there is none. */
struct name_cache_link *name_cache_hold(struct name_cache *cache, const char *name);

/* Adds a new entry (link zeroed but for name, which no entry has yet), not
 * ready, held once by the caller. */
void name_cache_add(struct name_cache *cache, struct name_cache_link *link);

/* The entry is ready. When nobody holds it, it joins the LRU list at once
 * and may be evicted (freed) before this returns: a caller with waiters to
 * call holds it through them, so take them off the entry first. */
void name_cache_set_ready(struct name_cache *cache, struct name_cache_link *link);

/* Ends one hold. A ready entry nobody holds joins the LRU list, and the
 * least recently released entries are evicted while the cache has more than
 * max_entries: the caller must not use link afterwards. */
void name_cache_release(struct name_cache *cache, struct name_cache_link *link);

#endif
