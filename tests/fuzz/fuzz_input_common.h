/* Shared by the reader fuzz targets: drains a reader over the fuzz input and
 * checks the reader's promises on every name (abort on a broken one). */
#ifndef DANESCAN_FUZZ_INPUT_COMMON_H
#define DANESCAN_FUZZ_INPUT_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input/input.h"

static void fuzz_ignore_message(const char *message, void *arg) {
  (void)arg;
  if (strlen(message) == 0) {
    abort();
  }
}

/* The first byte picks buffer sizes, so lines straddle reads and the
 * long-line path runs with small inputs. */
static inline void fuzz_drain(const uint8_t *data, size_t size, enum input_format format) {
  if (size < 1) {
    return;
  }
  struct input_options options;
  input_options_defaults(&options);
  options.format = format;
  options.read_buffer_bytes = 1 + (data[0] & 0x1f);
  options.max_line_bytes = (data[0] & 0x80) ? 64 : 4096;
  options.dedup_memory_bytes = 64 << 10;
  options.max_reported_errors = 3;
  options.diagnostic = fuzz_ignore_message;
  char why[256];
  struct input_reader *reader = input_reader_open_memory(data + 1, size - 1, "fuzz", &options, why, sizeof why);
  if (reader == NULL) {
    return;
  }
  struct input_name name;
  uint64_t seq = 0;
  int rc;
  while ((rc = input_reader_next(reader, &name, why, sizeof why)) == 1) {
    if (name.seq != seq++ || memchr(name.name, '\0', sizeof name.name) == NULL) {
      abort();
    }
    if (!name.invalid) {
      /* A valid name is already normal: normalising it changes nothing. */
      char again[INPUT_NAME_MAX_BYTES];
      char reason[INPUT_REASON_MAX_BYTES];
      if (input_name_normalise(name.name, strlen(name.name), again, reason, sizeof reason) != 0 ||
          strcmp(again, name.name) != 0) {
        abort();
      }
    } else if (name.reason[0] == '\0') {
      abort();
    }
  }
  struct input_counts counts;
  input_reader_get_counts(reader, &counts);
  if (counts.names != seq || counts.invalid > counts.names || counts.bytes_read > (1u << 30)) {
    abort();
  }
  if (rc == 0 && input_reader_checksum(reader, 0) == NULL) {
    abort();
  }
  input_reader_free(reader);
}

#endif
