/* `danescan diff`: compares two scans by running reports/diff_domains.sql
 * and reports/diff_hosts.sql (where the order of statuses is defined) and
 * prints the changes for a person or a monitoring job. */
#include "cli/diff_cmd.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report/report_sql.h"

static const char usage[] =
    "usage: danescan diff --db URL [--fail-on-regression] [--reports DIR] FROM_SCAN TO_SCAN\n"
    "Lists domains and MX hosts whose status changed from FROM_SCAN to TO_SCAN, one per line:\n"
    "  domain|host <TAB> worse|better|changed <TAB> NAME <TAB> FROM <TAB> TO <TAB> REASON\n"
    "  --fail-on-regression   exit 1 when any domain or host got worse\n";

struct diff_counts {
  unsigned long worse;
  unsigned long better;
  unsigned long changed;
};

/* Prints the rows of one diff query; columns: direction, name, from_status,
 * to_status, [...], reason. */
static void print_rows(const PGresult *res, const char *kind, const char *name_column, struct diff_counts *counts) {
  int direction = PQfnumber(res, "direction");
  int name = PQfnumber(res, name_column);
  int from = PQfnumber(res, "from_status");
  int to = PQfnumber(res, "to_status");
  int reason = PQfnumber(res, "reason");
  for (int r = 0; r < PQntuples(res); r++) {
    const char *dir = PQgetvalue(res, r, direction);
    if (strcmp(dir, "worse") == 0) {
      counts->worse++;
    } else if (strcmp(dir, "better") == 0) {
      counts->better++;
    } else {
      counts->changed++;
    }
    printf("%s\t%s\t%s\t%s\t%s\t%s\n", kind, dir, PQgetvalue(res, r, name), PQgetvalue(res, r, from),
           PQgetvalue(res, r, to), reason >= 0 ? PQgetvalue(res, r, reason) : "");
  }
}

static int scans_exist(PGconn *conn, const char *from, const char *to) {
  const char *values[2] = {from, to};
  PGresult *res = PQexecParams(conn, "SELECT count(*) FILTER (WHERE id = $1), count(*) FILTER (WHERE id = $2) FROM scans",
                               2, NULL, values, NULL, NULL, 0);
  int rc = 0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    fprintf(stderr, "danescan diff: %s", PQresultErrorMessage(res));
    rc = -1;
  } else {
    for (int k = 0; k < 2; k++) {
      if (strcmp(PQgetvalue(res, 0, k), "0") == 0) {
        fprintf(stderr, "danescan diff: no scan '%s' in the database\n", values[k]);
        rc = -1;
      }
    }
  }
  PQclear(res);
  return rc;
}

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
      case 'd': db_url = optarg; break;
      case 'f': fail_on_regression = true; break;
      case 'r': reports_option = optarg; break;
      case 'h': fputs(usage, stdout); return 0;
      default: fputs(usage, stderr); return 2;
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
  int rc = 3;
  PGresult *domains = NULL;
  PGresult *hosts = NULL;
  const struct report_sql_variable vars[] = {{"from_scan", from}, {"to_scan", to}};
  if (scans_exist(conn, from, to) != 0) goto done;
  domains = report_sql_run(conn, reports_dir, "diff_domains", vars, 2, why, sizeof why);
  if (domains != NULL) hosts = report_sql_run(conn, reports_dir, "diff_hosts", vars, 2, why, sizeof why);
  if (domains == NULL || hosts == NULL) {
    fprintf(stderr, "danescan diff: %s\n", why);
    goto done;
  }
  struct diff_counts domain_counts = {0};
  struct diff_counts host_counts = {0};
  print_rows(domains, "domain", "domain", &domain_counts);
  print_rows(hosts, "host", "host", &host_counts);
  printf("# %s -> %s: domains %lu worse, %lu better, %lu changed; hosts %lu worse, %lu better, %lu changed\n",
         from, to, domain_counts.worse, domain_counts.better, domain_counts.changed, host_counts.worse,
         host_counts.better, host_counts.changed);
  rc = fail_on_regression && (domain_counts.worse > 0 || host_counts.worse > 0) ? 1 : 0;
  if (fflush(stdout) != 0) rc = 3;

done:
  PQclear(domains);
  PQclear(hosts);
  PQfinish(conn);
  return rc;
}
