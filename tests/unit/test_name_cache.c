/* util/name_cache.h: holders, the LRU order of eviction, the bound, entries
 * that become ready with nobody holding them, and table growth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/name_cache.h"

struct item {
  struct name_cache_link link; /* first member */
  char name[32];
};

struct freed {
  char names[8192][32];
  size_t count;
};

static void free_item(struct name_cache_link *link, void *ctx) {
  struct freed *freed = ctx;
  struct item *item = (struct item *)link;
  if (freed->count < sizeof freed->names / sizeof freed->names[0]) {
    snprintf(freed->names[freed->count], sizeof freed->names[0], "%s", item->name);
  }
  freed->count++;
  free(item);
}

/* A new item, held once, ready when ready is true. */
static struct item *add(struct name_cache *cache, const char *name, int ready) {
  struct item *item = calloc(1, sizeof *item);
  snprintf(item->name, sizeof item->name, "%s", name);
  item->link.name = item->name;
  name_cache_add(cache, &item->link);
  if (ready) name_cache_set_ready(cache, &item->link);
  return item;
}

static void test_lru_order_and_bound(void) {
  static struct freed freed;
  memset(&freed, 0, sizeof freed);
  struct name_cache cache;
  CHECK_INT(name_cache_init(&cache, 2, free_item, &freed), 0);
  struct item *a = add(&cache, "a.example", 1);
  struct item *b = add(&cache, "b.example", 1);
  struct item *c = add(&cache, "c.example", 1);
  CHECK_INT(cache.entry_count, 3); /* all held: nothing can go */
  name_cache_release(&cache, &a->link);
  CHECK_INT(freed.count, 1); /* 3 > 2: a, the only unheld one, goes */
  CHECK_STR(freed.names[0], "a.example");
  CHECK(name_cache_hold(&cache, "a.example") == NULL);
  name_cache_release(&cache, &b->link);
  name_cache_release(&cache, &c->link);
  CHECK_INT(cache.entry_count, 2);
  CHECK_INT(freed.count, 1);
  /* b was released before c, but holding b again makes c the older one. */
  CHECK(name_cache_hold(&cache, "b.example") == &b->link);
  CHECK_INT(b->link.holders, 1);
  name_cache_release(&cache, &b->link);
  add(&cache, "d.example", 1);
  CHECK_INT(cache.entry_count, 3); /* d is held */
  struct name_cache_link *d = name_cache_hold(&cache, "d.example");
  CHECK(d != NULL && d->holders == 2);
  name_cache_release(&cache, d);
  CHECK_INT(cache.entry_count, 3);
  name_cache_release(&cache, d);
  CHECK_INT(freed.count, 2);
  CHECK_STR(freed.names[1], "c.example");
  CHECK_INT(cache.evicted, 2);
  CHECK_INT(cache.entry_count, 2);
  name_cache_destroy(&cache);
  CHECK_INT(freed.count, 4); /* b and d, not counted as evicted */
}

static void test_not_ready_is_kept(void) {
  static struct freed freed;
  memset(&freed, 0, sizeof freed);
  struct name_cache cache;
  CHECK_INT(name_cache_init(&cache, 1, free_item, &freed), 0);
  struct item *slow = add(&cache, "slow.example", 0);
  struct item *fast = add(&cache, "fast.example", 1);
  /* The caller that made slow gives up before it is ready (its waiter could
   * not be allocated): slow is unheld but resolving, so it stays. */
  name_cache_release(&cache, &slow->link);
  CHECK_INT(freed.count, 0);
  CHECK(name_cache_hold(&cache, "slow.example") == &slow->link);
  name_cache_release(&cache, &slow->link);
  name_cache_release(&cache, &fast->link);
  CHECK_INT(freed.count, 1); /* 2 > 1: fast is the only parked entry */
  CHECK_STR(freed.names[0], "fast.example");
  /* Ready with nobody holding it: parked at once, and within the bound. */
  name_cache_set_ready(&cache, &slow->link);
  CHECK(slow->link.on_lru);
  CHECK_INT(cache.entry_count, 1);
  CHECK_INT(freed.count, 1);
  /* A new entry beyond the bound evicts it once the newcomer is released. */
  struct item *next = add(&cache, "next.example", 1);
  CHECK_INT(freed.count, 1);
  name_cache_release(&cache, &next->link);
  CHECK_INT(freed.count, 2);
  CHECK_STR(freed.names[1], "slow.example");
  name_cache_destroy(&cache);
  CHECK_INT(freed.count, 3);
}

static void test_growth(void) {
  static struct freed freed;
  memset(&freed, 0, sizeof freed);
  struct name_cache cache;
  CHECK_INT(name_cache_init(&cache, 100000, free_item, &freed), 0);
  char name[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "mx%d.example", i);
    struct item *item = add(&cache, name, 1);
    name_cache_release(&cache, &item->link);
  }
  CHECK(cache.bucket_count >= 5000);
  size_t found = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "mx%d.example", i);
    struct name_cache_link *link = name_cache_hold(&cache, name);
    if (link != NULL && strcmp(link->name, name) == 0) found++;
    if (link != NULL) name_cache_release(&cache, link);
  }
  CHECK_INT(found, 5000);
  CHECK(name_cache_hold(&cache, "mx5000.example") == NULL);
  CHECK_INT(cache.evicted, 0);
  name_cache_destroy(&cache);
  CHECK_INT(freed.count, 5000);
}

UNIT_MAIN(UNIT_TEST(test_lru_order_and_bound), UNIT_TEST(test_not_ready_is_kept), UNIT_TEST(test_growth))
