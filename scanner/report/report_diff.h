/* Compares two scans by running reports/diff_domains.sql,
 * reports/diff_hosts.sql and reports/diff_mta_sts.sql (where the order of
 * statuses is defined) and prints the changes for a person or a monitoring
 * job, one per line:
 *   domain|host|mta-sts|tlsrpt <TAB> worse|better|changed <TAB> NAME <TAB> FROM <TAB> TO <TAB> REASON
 * then a "# FROM -> TO: mta-sts ..." count line and, last, the
 * "# FROM -> TO: domains ..." count line. Reads only. */
#ifndef DANESCAN_REPORT_REPORT_DIFF_H
#define DANESCAN_REPORT_REPORT_DIFF_H

#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

/* Prints the diff of from -> to to out. Returns the exit code of `danescan
 * diff`: 0, 1 when fail_on_regression and something got worse, 3 on an
 * error (no such scan, SQL, output; reported on stderr). */
int report_diff(PGconn *conn, const char *reports_dir, const char *from, const char *to, bool fail_on_regression,
                FILE *out);

#endif
