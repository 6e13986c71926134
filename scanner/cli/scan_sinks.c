/* Sink selection for `scan`. */
#include "cli/scan_sinks.h"

#include <stdio.h>

#include "store/jsonl.h"

int scan_sinks_open(const struct scan_options *options, const char *scan_id, int argc, char **argv,
                    struct input_reader *input, struct result_sink *sinks, size_t *count,
                    struct scan_config *scan_config, char *why, size_t why_len) {
  (void)argc;
  (void)argv;
  (void)input;
  (void)scan_config;
  *count = 0;
  if (options->db_url != NULL) {
    snprintf(why, why_len, "--db: the PostgreSQL store is not built into this version yet");
    return -1;
  }
  if (jsonl_sink_open(&sinks[0], options->output, scan_id, why, why_len) != 0) return -1;
  *count = 1;
  return 0;
}
