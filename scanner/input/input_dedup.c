/* The duplicate filter behind "each name once": a set of 64-bit hashes of
 * normalised names, bounded by --dedup-memory. Exact up to hash collisions:
 * with n names the chance that any two distinct names share a 64-bit hash is
 * about n^2 / 2^65 (5 million names: 7e-7). Linear probing in one flat array
 * keeps a lookup to one or two cache lines at the 7/8 maximum load. */
#include <stdlib.h>

#include "input/input_internal.h"

struct input_dedup {
  uint64_t *slots; /* 0 = empty; key 0 is stored as 1 */
  size_t slot_count;
  size_t used;
  size_t max_used;
};

struct input_dedup *input_dedup_new(size_t budget_bytes) {
  struct input_dedup *dedup = calloc(1, sizeof *dedup);
  if (dedup == NULL) {
    return NULL;
  }
  dedup->slot_count = budget_bytes / sizeof(uint64_t);
  if (dedup->slot_count < 1024) {
    dedup->slot_count = 1024;
  }
  /* A large calloc is fresh zero pages from mmap, touched as slots fill; but
   * the hash spreads keys over the whole array, so a list of a few names per
   * 4 KiB page (about 20,000 names at the 48 MiB default) already touches
   * most of it. The budget is the bound, not the typical cost. */
  dedup->slots = calloc(dedup->slot_count, sizeof(uint64_t));
  if (dedup->slots == NULL) {
    free(dedup);
    return NULL;
  }
  dedup->max_used = dedup->slot_count / 8 * 7;
  return dedup;
}

void input_dedup_free(struct input_dedup *dedup) {
  if (dedup == NULL) {
    return;
  }
  free(dedup->slots);
  free(dedup);
}

/* Range reduction by multiply-shift (the slot count need not be a power of
 * two, so the whole budget is usable). */
static size_t first_slot(const struct input_dedup *dedup, uint64_t key) {
  return (size_t)(((unsigned __int128)key * dedup->slot_count) >> 64);
}

void input_dedup_prefetch(const struct input_dedup *dedup, uint64_t key) {
  __builtin_prefetch(&dedup->slots[first_slot(dedup, key == 0 ? 1 : key)], 1, 0);
}

int input_dedup_check_insert(struct input_dedup *dedup, uint64_t key) {
  if (key == 0) {
    key = 1;
  }
  size_t index = first_slot(dedup, key);
  for (;;) {
    uint64_t slot = dedup->slots[index];
    if (slot == key) {
      return 1;
    }
    if (slot == 0) {
      break;
    }
    index++;
    if (index == dedup->slot_count) {
      index = 0;
    }
  }
  if (dedup->used >= dedup->max_used) {
    return -1;
  }
  dedup->slots[index] = key;
  dedup->used++;
  return 0;
}
