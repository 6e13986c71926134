/* Growth of the append-only byte buffers (util/json.h json_buf,
 * db/pg_copy.h pg_buf): one policy, doubling from a first size. */
#ifndef DANESCAN_UTIL_GROWBUF_H
#define DANESCAN_UTIL_GROWBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* Makes *data (malloc'd or NULL, *cap bytes) hold at least need bytes,
 * doubling from first_cap. Returns false once *failed is set, or sets it
 * when realloc fails (the old buffer and *cap are kept): a failed buffer
 * stays failed until its owner resets it. */
static inline bool growbuf_reserve(char **data, size_t *cap, size_t need, size_t first_cap, bool *failed) {
  if (*failed) return false;
  if (need <= *cap) return true;
  size_t grown = *cap ? *cap : first_cap;
  while (grown < need) grown *= 2;
  char *bigger = realloc(*data, grown);
  if (bigger == NULL) {
    *failed = true;
    return false;
  }
  *data = bigger;
  *cap = grown;
  return true;
}

#endif
