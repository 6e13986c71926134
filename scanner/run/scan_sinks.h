/* Opens the output sinks a scan's options ask for: JSON Lines (--output,
 * default standard output unless --db is given) and PostgreSQL (--db). With
 * --resume the database sink also installs the scan's skip hook so names
 * already stored are not scanned again. */
#ifndef DANESCAN_RUN_SCAN_SINKS_H
#define DANESCAN_RUN_SCAN_SINKS_H

#include <stddef.h>

#include "run/scan_options.h"
#include "input/input.h"
#include "record/sink.h"

/* Fills sinks[0..*count) (at most SCAN_MAX_SINKS). argv is the scan's
 * command line (stored with the scan). Returns 0, or -1 with why; on failure
 * every sink opened so far is closed and *count is 0. */
int scan_sinks_open(const struct scan_options *options, const char *scan_id, int argc, char **argv,
                    struct input_reader *input, struct result_sink *sinks, size_t *count,
                    struct scan_config *scan_config, char *why, size_t why_len);

/* The scans.parameters JSON of a scan's options (probe mode, concurrency,
 * ...). Returns a string the caller frees, or NULL (out of memory). */
char *scan_sinks_parameters_json(const struct scan_options *options);

#endif
