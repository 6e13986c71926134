/* libFuzzer target: the zone-file reader (input bytes after the first, which
 * picks buffer sizes; gzip'd input is inflated as in real use). */
#include "fuzz_input_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_drain(data, size, INPUT_FORMAT_ZONE);
  return 0;
}
