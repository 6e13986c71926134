/* The duplicate filter behind "each name once": a set of 63-bit hashes of
 * normalised names, bounded by --dedup-memory. Exact up to hash collisions:
 * with n names the chance that any two distinct names share a 63-bit hash is
 * about n^2 / 2^64 (5 million names: 1.4e-6). Linear probing in one flat
 * array keeps a lookup to one or two cache lines.
 *
 * The array starts at 64 KiB and grows in place (mremap, then a rehash in
 * the same memory) whenever it is half full, up to the budget, where it
 * takes keys up to 7/8 load. A table of the whole budget from the start had
 * the hash spread a few names over every 4 KiB page: a 20,000-name list
 * touched most of the 48 MiB default, and its ~12,000 page faults were a
 * sixth of a DNS-only scan's CPU (issue 15). */
#include <stdlib.h>
#include <sys/mman.h>

#include "input/input_internal.h"

#define DEDUP_INITIAL_BYTES ((size_t)64 << 10)
/* A stored slot is the key's 63 bits plus, in the top bit, the table's
 * generation (flipped at every growth: during the rehash, a slot whose top
 * bit is the new generation is already in its new place). 0 = empty; key 0
 * is stored as 1. */
#define DEDUP_KEY_MASK (~(uint64_t)0 >> 1)
#define DEDUP_GENERATION_BIT ((uint64_t)1 << 63)

struct input_dedup {
  uint64_t *slots; /* mmap'ed: grows with mremap, new pages read as zero */
  size_t slot_count;
  size_t max_slot_count; /* the budget */
  size_t used;
  size_t grow_at;      /* used count at which the table grows (or, at the budget, is full) */
  uint64_t generation; /* 0 or DEDUP_GENERATION_BIT */
};

static void set_limit(struct input_dedup *dedup) {
  dedup->grow_at = dedup->slot_count < dedup->max_slot_count ? dedup->slot_count / 2 : dedup->slot_count / 8 * 7;
}

struct input_dedup *input_dedup_new(size_t budget_bytes) {
  struct input_dedup *dedup = calloc(1, sizeof *dedup);
  if (dedup == NULL) {
    return NULL;
  }
  dedup->max_slot_count = budget_bytes / sizeof(uint64_t);
  if (dedup->max_slot_count < 1024) {
    dedup->max_slot_count = 1024;
  }
  dedup->slot_count = DEDUP_INITIAL_BYTES / sizeof(uint64_t);
  if (dedup->slot_count > dedup->max_slot_count) {
    dedup->slot_count = dedup->max_slot_count;
  }
  void *slots = mmap(NULL, dedup->slot_count * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  if (slots == MAP_FAILED) {
    free(dedup);
    return NULL;
  }
  dedup->slots = slots;
  set_limit(dedup);
  return dedup;
}

void input_dedup_free(struct input_dedup *dedup) {
  if (dedup == NULL) {
    return;
  }
  munmap(dedup->slots, dedup->slot_count * sizeof(uint64_t));
  free(dedup);
}

static uint64_t stored_key(uint64_t key) {
  key &= DEDUP_KEY_MASK;
  return key == 0 ? 1 : key;
}

/* Range reduction by multiply-shift (the slot count need not be a power of
 * two, so the whole budget is usable). */
static size_t first_slot(size_t slot_count, uint64_t key) {
  return (size_t)(((unsigned __int128)key * slot_count) >> 63);
}

void input_dedup_prefetch(const struct input_dedup *dedup, uint64_t key) {
  __builtin_prefetch(&dedup->slots[first_slot(dedup->slot_count, stored_key(key))], 1, 0);
}

/* Puts every key of the first old_count slots in its place for the current
 * slot_count, in place. A key taken out of its old slot goes to the first
 * slot from its new home that is empty or holds a key not yet moved (the
 * new generation marks moved keys); such a key is taken out in turn. A
 * moved key never moves again, and everything between its home and its slot
 * is moved keys, so a lookup finds it once all are moved. */
static void rehash(struct input_dedup *dedup, size_t old_count) {
  uint64_t moved = dedup->generation;
  for (size_t i = 0; i < old_count; i++) {
    uint64_t slot = dedup->slots[i];
    if (slot == 0 || (slot & DEDUP_GENERATION_BIT) == moved) {
      continue;
    }
    dedup->slots[i] = 0;
    uint64_t key = slot & DEDUP_KEY_MASK;
    for (;;) {
      size_t index = first_slot(dedup->slot_count, key);
      while (dedup->slots[index] != 0 && (dedup->slots[index] & DEDUP_GENERATION_BIT) == moved) {
        index = index + 1 == dedup->slot_count ? 0 : index + 1;
      }
      uint64_t evicted = dedup->slots[index];
      dedup->slots[index] = key | moved;
      if (evicted == 0) {
        break;
      }
      key = evicted & DEDUP_KEY_MASK;
    }
  }
}

/* Lookups land anywhere in the table: with 4 KiB pages nearly each one also
 * misses the TLB (a page walk; in a virtual machine a nested one), which
 * made the prefetch a sixth of zone reading's time. Transparent huge pages
 * (2 MiB) cover a 48 MiB table with 24 TLB entries. Only asked for tables of
 * at least 2 MiB (a table is touched all over by its rehash anyway, so
 * this costs no memory); a hint: where THP is off nothing changes. */
static void advise_huge_pages(struct input_dedup *dedup) {
#ifdef MADV_HUGEPAGE
  size_t bytes = dedup->slot_count * sizeof(uint64_t);
  if (bytes >= ((size_t)2 << 20)) {
    (void)madvise(dedup->slots, bytes, MADV_HUGEPAGE);
  }
#else
  (void)dedup;
#endif
}

/* Doubles the table, or grows it to the budget; on failure the table stays
 * as it is and becomes full at 7/8 load. */
static void grow(struct input_dedup *dedup) {
  size_t old_count = dedup->slot_count;
  size_t new_count = old_count * 2 < dedup->max_slot_count ? old_count * 2 : dedup->max_slot_count;
  void *slots = mremap(dedup->slots, old_count * sizeof(uint64_t), new_count * sizeof(uint64_t), MREMAP_MAYMOVE);
  if (slots == MAP_FAILED) {
    dedup->max_slot_count = old_count;
    set_limit(dedup);
    return;
  }
  dedup->slots = slots;
  dedup->slot_count = new_count;
  advise_huge_pages(dedup);
  dedup->generation ^= DEDUP_GENERATION_BIT;
  rehash(dedup, old_count);
  set_limit(dedup);
}

int input_dedup_check_insert(struct input_dedup *dedup, uint64_t key) {
  key = stored_key(key);
  size_t index = first_slot(dedup->slot_count, key);
  for (;;) {
    uint64_t slot = dedup->slots[index];
    if (slot == 0) {
      break;
    }
    if ((slot & DEDUP_KEY_MASK) == key) {
      return 1;
    }
    index = index + 1 == dedup->slot_count ? 0 : index + 1;
  }
  if (dedup->used >= dedup->grow_at) {
    if (dedup->slot_count == dedup->max_slot_count) {
      return -1;
    }
    grow(dedup);
    if (dedup->used >= dedup->grow_at) {
      return -1; /* could not grow: full */
    }
    index = first_slot(dedup->slot_count, key);
    while (dedup->slots[index] != 0) {
      index = index + 1 == dedup->slot_count ? 0 : index + 1;
    }
  }
  dedup->slots[index] = key | dedup->generation;
  dedup->used++;
  return 0;
}
