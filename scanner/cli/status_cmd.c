/* `danescan status` (see status_cmd.h). */
#include "cli/status_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "queue/queue_status.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan status --db URL --scan ID [--json]\n"
          "  progress of a scan with workers: done/total, rate, ETA, workers and heartbeats\n"
          "  --json    one JSON object (for monitoring)\n");
}

int status_cmd_main(int argc, char **argv) {
  const char *db_url = getenv("DANESCAN_DB");
  const char *scan_id = NULL;
  enum queue_status_format format = QUEUE_STATUS_TEXT;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db_url = argv[++i];
    else if (strcmp(argv[i], "--scan") == 0 && i + 1 < argc) scan_id = argv[++i];
    else if (strcmp(argv[i], "--json") == 0) format = QUEUE_STATUS_JSON;
    else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "danescan status: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (scan_id == NULL) {
    usage(stderr);
    return 2;
  }
  char why[512];
  PGconn *conn = db_connect(db_url, NULL, why, sizeof why);
  if (conn == NULL) {
    fprintf(stderr, "danescan status: %s\n", why);
    return 1;
  }
  int rc = queue_status_print(conn, scan_id, format, stdout, why, sizeof why);
  if (rc != 0) fprintf(stderr, "danescan status: %s\n", why);
  PQfinish(conn);
  return rc == 0 ? 0 : 1;
}
