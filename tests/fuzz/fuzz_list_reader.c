/* libFuzzer target: the list and CSV readers and format detection (second
 * byte mod 3 picks list, CSV or detection). */
#include "fuzz_input_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const enum input_format formats[] = {INPUT_FORMAT_LIST, INPUT_FORMAT_CSV, INPUT_FORMAT_AUTO};
  if (size < 2) {
    return 0;
  }
  uint8_t first = data[0];
  enum input_format format = formats[data[1] % 3];
  /* Drop the format byte but keep the sizes byte in front. */
  uint8_t *copy = malloc(size - 1);
  if (copy == NULL) {
    return 0;
  }
  copy[0] = first;
  memcpy(copy + 1, data + 2, size - 2);
  fuzz_drain(copy, size - 1, format);
  free(copy);
  return 0;
}
