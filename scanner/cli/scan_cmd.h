/* `danescan scan`: parses the options (run/scan_options.h) and runs the scan
 * (run/scan_run.h); main.c dispatches here. Also the rerun of a stored scan
 * that `resume` and `worker` share. */
#ifndef DANESCAN_CLI_SCAN_CMD_H
#define DANESCAN_CLI_SCAN_CMD_H

#include <stdbool.h>

/* Returns the process exit code: 0 when every name was scanned, 1 when the
 * scan stopped early, 2 for usage errors, 3 when the resolver check refused. */
int scan_cmd_main(int argc, char **argv);

/* Runs scan_id again as `scan` with the command line stored in the
 * database (run/scan_rerun.h) plus extra: continued (join false) or joined
 * by this machine's workers (join true). Returns scan_cmd_main's exit code,
 * or 1 when the scan cannot be loaded (reported). */
int scan_cmd_rerun(const char *scan_id, const char *db_url, char **extra, int extra_count, bool join);

#endif
