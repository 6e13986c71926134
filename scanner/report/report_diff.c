/* Compares two scans (see report_diff.h). */
#include "report/report_diff.h"

#include <stdbool.h>
#include <string.h>

#include "db/db.h"
#include "report/report_sql.h"

struct diff_counts {
  unsigned long worse;
  unsigned long better;
  unsigned long changed;
};

/* Prints the rows of one diff query; columns: direction, name, from_status,
 * to_status, [...], reason. */
static void print_rows(FILE *out, const PGresult *res, const char *kind, const char *name_column,
                       struct diff_counts *counts) {
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
    fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", kind, dir, PQgetvalue(res, r, name), PQgetvalue(res, r, from),
            PQgetvalue(res, r, to), reason >= 0 ? PQgetvalue(res, r, reason) : "");
  }
}

/* The rows of diff_mta_sts: the kind ("mta-sts", "tlsrpt") is a column. */
static void print_mta_sts_rows(FILE *out, const PGresult *res, struct diff_counts *mta_sts,
                               struct diff_counts *tlsrpt) {
  int kind = PQfnumber(res, "kind");
  for (int r = 0; r < PQntuples(res) && kind >= 0; r++) {
    const char *k = PQgetvalue(res, r, kind);
    struct diff_counts *counts = strcmp(k, "tlsrpt") == 0 ? tlsrpt : mta_sts;
    const char *dir = PQgetvalue(res, r, PQfnumber(res, "direction"));
    if (strcmp(dir, "worse") == 0) counts->worse++;
    else if (strcmp(dir, "better") == 0) counts->better++;
    else counts->changed++;
    fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", k, dir, PQgetvalue(res, r, PQfnumber(res, "domain")),
            PQgetvalue(res, r, PQfnumber(res, "from_status")), PQgetvalue(res, r, PQfnumber(res, "to_status")),
            PQgetvalue(res, r, PQfnumber(res, "reason")));
  }
}

static int scans_exist(PGconn *conn, const char *from, const char *to) {
  const char *values[2] = {from, to};
  PGresult *res;
  char why[512];
  if (db_query(conn, "SELECT count(*) FILTER (WHERE id = $1), count(*) FILTER (WHERE id = $2) FROM scans", 2, values,
               PGRES_TUPLES_OK, "reading the scans", &res, why, sizeof why) != DB_OK) {
    fprintf(stderr, "danescan diff: %s\n", why);
    return -1;
  }
  int rc = 0;
  for (int k = 0; k < 2; k++) {
    if (strcmp(PQgetvalue(res, 0, k), "0") == 0) {
      fprintf(stderr, "danescan diff: no scan '%s' in the database\n", values[k]);
      rc = -1;
    }
  }
  PQclear(res);
  return rc;
}

int report_diff(PGconn *conn, const char *reports_dir, const char *from, const char *to, bool fail_on_regression,
                FILE *out) {
  int rc = 3;
  char why[1024];
  PGresult *domains = NULL;
  PGresult *hosts = NULL;
  PGresult *mta_sts = NULL;
  const struct report_sql_variable vars[] = {{"from_scan", from}, {"to_scan", to}};
  if (scans_exist(conn, from, to) != 0) goto done;
  /* The pair summary (migration 018) read by diff_domains; without it (a
   * standby, say) the file computes the same rows from the raw rows. */
  if (report_sql_prepare_pair(conn, to, from, why, sizeof why) != DB_OK)
    fprintf(stderr, "danescan diff: pair summary not stored (%s); computed from the raw rows\n", why);
  domains = report_sql_run(conn, reports_dir, "diff_domains", vars, 2, why, sizeof why);
  if (domains != NULL) hosts = report_sql_run(conn, reports_dir, "diff_hosts", vars, 2, why, sizeof why);
  if (hosts != NULL) mta_sts = report_sql_run(conn, reports_dir, "diff_mta_sts", vars, 2, why, sizeof why);
  if (domains == NULL || hosts == NULL || mta_sts == NULL) {
    fprintf(stderr, "danescan diff: %s\n", why);
    goto done;
  }
  struct diff_counts domain_counts = {0};
  struct diff_counts host_counts = {0};
  print_rows(out, domains, "domain", "domain", &domain_counts);
  print_rows(out, hosts, "host", "host", &host_counts);
  struct diff_counts mta_sts_counts = {0};
  struct diff_counts tlsrpt_counts = {0};
  print_mta_sts_rows(out, mta_sts, &mta_sts_counts, &tlsrpt_counts);
  /* before the last line, which stays the DANE summary scripts read */
  fprintf(out, "# %s -> %s: mta-sts %lu worse, %lu better, %lu changed; tlsrpt %lu worse, %lu better, %lu changed\n",
          from, to, mta_sts_counts.worse, mta_sts_counts.better, mta_sts_counts.changed, tlsrpt_counts.worse,
          tlsrpt_counts.better, tlsrpt_counts.changed);
  fprintf(out, "# %s -> %s: domains %lu worse, %lu better, %lu changed; hosts %lu worse, %lu better, %lu changed\n",
          from, to, domain_counts.worse, domain_counts.better, domain_counts.changed, host_counts.worse,
          host_counts.better, host_counts.changed);
  rc = fail_on_regression &&
          (domain_counts.worse > 0 || host_counts.worse > 0 || mta_sts_counts.worse > 0 || tlsrpt_counts.worse > 0)
      ? 1
      : 0;
  if (fflush(out) != 0) rc = 3;

done:
  PQclear(domains);
  PQclear(hosts);
  PQclear(mta_sts);
  return rc;
}
