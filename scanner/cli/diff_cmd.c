/* `danescan diff`: parses the options and has report/report_diff.h compare
 * the two scans. */
#include "cli/diff_cmd.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report/report_diff.h"
#include "report/report_sql.h"

static const char usage[] = "usage: danescan diff --db URL [--fail-on-regression] [--reports DIR] FROM_SCAN TO_SCAN\n"
                            "Lists domains and MX hosts whose status changed from FROM_SCAN to TO_SCAN, one per line:\n"
                            "  domain|host <TAB> worse|better|changed <TAB> NAME <TAB> FROM <TAB> TO <TAB> REASON\n"
                            "  --fail-on-regression   exit 1 when any domain or host got worse\n";

int diff_cmd_main(int argc, char **argv) {
  static const struct option options[] = {
      {"db", required_argument, NULL, 'd'},
      {"fail-on-regression", no_argument, NULL, 'f'},
      {"reports", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *db_url = NULL;
  const char *reports_option = NULL;
  bool fail_on_regression = false;
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'd':
      db_url = optarg;
      break;
    case 'f':
      fail_on_regression = true;
      break;
    case 'r':
      reports_option = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    default:
      fputs(usage, stderr);
      return 2;
    }
  }
  if (db_url == NULL || argc - optind != 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *from = argv[optind];
  const char *to = argv[optind + 1];
  char reports_dir[PATH_MAX];
  if (report_sql_find_dir(reports_option, reports_dir, sizeof reports_dir) != 0) {
    fprintf(stderr, "danescan diff: no reports directory (set --reports or DANESCAN_REPORTS)\n");
    return 3;
  }
  char why[1024];
  PGconn *conn = report_sql_connect(db_url, why, sizeof why);
  if (conn == NULL) {
    fprintf(stderr, "danescan diff: %s\n", why);
    return 3;
  }
  int rc = report_diff(conn, reports_dir, from, to, fail_on_regression, stdout);
  PQfinish(conn);
  return rc;
}
