/* libFuzzer target: the domain-name rule. An accepted name must come out
 * lower case, LDH labels of 1..63 bytes joined by dots, at most 253 bytes,
 * and normalising it again must give the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[INPUT_NAME_MAX_BYTES];
  char reason[INPUT_REASON_MAX_BYTES];
  reason[0] = '\0';
  if (input_name_normalise((const char *)data, size, out, reason, sizeof reason) != 0) {
    if (reason[0] == '\0' || memchr(reason, '\0', sizeof reason) == NULL) {
      abort();
    }
    return 0;
  }
  size_t len = strlen(out);
  if (len == 0 || len > 253) {
    abort();
  }
  size_t label = 0;
  for (size_t i = 0; i <= len; i++) {
    char c = out[i];
    if (c == '.' || c == '\0') {
      if (label == 0 || label > 63 || out[i - 1] == '-' || out[i - label] == '-') {
        abort();
      }
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      abort();
    }
    label++;
  }
  char again[INPUT_NAME_MAX_BYTES];
  if (input_name_normalise(out, len, again, reason, sizeof reason) != 0 || strcmp(again, out)) {
    abort();
  }
  return 0;
}
