/* `danescan report`: parses the options and has report/report_page.h write
 * the report. */
#include "cli/report_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report_page.h"
#include "report/report_sql.h"


static const char usage[] =
    "usage: danescan report --db URL --scan ID [--previous ID] --out DIR [options]\n"
    "Writes DIR/report.html (self-contained), DIR/report.md and DIR/<table>.csv.\n"
    "  --db URL            libpq connection URL (read only)\n"
    "  --scan ID           the scan to report on\n"
    "  --previous ID       the scan to compare with (changes, previous counts)\n"
    "  --out DIR           output directory (created if missing)\n"
    "  --reports DIR       the SQL files (default: $DANESCAN_REPORTS, else the installed ones,\n"
    "                      else the source tree's reports/)\n"
    "  --max-changes N     status changes listed on the page (default 50; the CSV has all)\n";


struct report_cmd {
  const char *db_url;
  const char *reports_option;
  struct report_request request;
};

static int parse_args(int argc, char **argv, struct report_cmd *cmd) {
  static const struct option options[] = {
      {"db", required_argument, NULL, 'd'},       {"scan", required_argument, NULL, 's'},
      {"previous", required_argument, NULL, 'p'}, {"out", required_argument, NULL, 'o'},
      {"reports", required_argument, NULL, 'r'},  {"max-changes", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
  };
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'd':
      cmd->db_url = optarg;
      break;
    case 's':
      cmd->request.scan_id = optarg;
      break;
    case 'p':
      cmd->request.previous_id = optarg;
      break;
    case 'o':
      cmd->request.out_dir = optarg;
      break;
    case 'r':
      cmd->reports_option = optarg;
      break;
    case 'm': {
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(optarg, &end, 10);
      if (errno != 0 || end == optarg || *end != '\0' || n == 0 || n > 1000000) {
        fprintf(stderr, "danescan report: --max-changes wants a number from 1 to 1000000\n");
        return 2;
      }
      cmd->request.max_changes = (size_t)n;
      break;
    }
    case 'h':
      fputs(usage, stdout);
      return 0;
    default:
      fputs(usage, stderr);
      return 2;
    }
  }
  if (optind != argc || cmd->db_url == NULL || cmd->request.scan_id == NULL || cmd->request.out_dir == NULL) {
    fputs(usage, stderr);
    return 2;
  }
  return -1;
}

int report_cmd_main(int argc, char **argv) {
  struct report_cmd cmd = {.request = {.max_changes = REPORT_DEFAULT_MAX_CHANGES}};
  int rc = parse_args(argc, argv, &cmd);
  if (rc >= 0) return rc;
  char reports_dir[PATH_MAX];
  if (report_sql_find_dir(cmd.reports_option, reports_dir, sizeof reports_dir) != 0) {
    fprintf(stderr, "danescan report: no reports directory (set --reports or DANESCAN_REPORTS)\n");
    return 1;
  }
  char why[1024];
  PGconn *conn = report_sql_connect(cmd.db_url, why, sizeof why);
  if (conn == NULL) {
    fprintf(stderr, "danescan report: %s\n", why);
    return 1;
  }
  rc = report_write(conn, reports_dir, &cmd.request);
  PQfinish(conn);
  return rc;
}
