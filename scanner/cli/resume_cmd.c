/* `danescan resume` (see resume_cmd.h): the stored command line, rebuilt
 * by run/scan_rerun.h, run as `scan`. */
#include "cli/resume_cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/scan_cmd.h"

#define RESUME_MAX_ARGS 512

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan resume SCAN_ID [--db URL] [scan options...]\n"
          "  continues SCAN_ID as stored in the database: names already stored are skipped\n"
          "  (URL default: $DANESCAN_DB, else the PG* environment)\n");
}

int resume_cmd_main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  if (argc < 2 || argv[1][0] == '-') {
    usage(stderr);
    return 2;
  }
  const char *scan_id = argv[1];
  const char *db_url = getenv("DANESCAN_DB");
  char *extra[RESUME_MAX_ARGS];
  int extra_count = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_url = argv[++i];
    } else if (strncmp(argv[i], "--db=", 5) == 0) {
      db_url = argv[i] + 5;
    } else if (extra_count < RESUME_MAX_ARGS) {
      extra[extra_count++] = argv[i];
    }
  }
  return scan_cmd_rerun(scan_id, db_url, extra, extra_count, false);
}
