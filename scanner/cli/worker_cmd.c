/* `danescan worker` (see worker_cmd.h): the stored command line of a
 * running queued scan, rebuilt by run/scan_rerun.h, run as `scan --join`. */
#include "cli/worker_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/scan_cmd.h"

#define WORKER_MAX_ARGS 512

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan worker --db URL --scan SCAN_ID [--workers N] [scan options...]\n"
          "  joins the running queued scan SCAN_ID with N worker processes on this machine\n"
          "  (default: the number of cores), with the scan's stored options; options given\n"
          "  here override them (e.g. --resolver for this machine's resolver). Workers may\n"
          "  be added or killed at any time; a killed worker's chunks are taken over.\n");
}

int worker_cmd_main(int argc, char **argv) {
  const char *scan_id = NULL;
  const char *db_url = getenv("DANESCAN_DB");
  char *extra[WORKER_MAX_ARGS];
  int extra_count = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--scan") == 0 && i + 1 < argc) {
      scan_id = argv[++i];
    } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_url = argv[++i];
    } else if (strncmp(argv[i], "--db=", 5) == 0) {
      db_url = argv[i] + 5;
    } else if (extra_count < WORKER_MAX_ARGS) {
      extra[extra_count++] = argv[i];
    }
  }
  if (scan_id == NULL) {
    usage(stderr);
    return 2;
  }
  return scan_cmd_rerun(scan_id, db_url, extra, extra_count, true);
}
