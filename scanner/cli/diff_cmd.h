/* `danescan diff --db URL FROM_SCAN TO_SCAN [--fail-on-regression]`: lists
 * the domains and MX hosts present in both scans whose status changed, each
 * marked worse, better or changed (the order of statuses is documented in
 * reports/diff_domains.sql and reports/diff_hosts.sql), with the reason.
 * One line per change, tab-separated: KIND DIRECTION NAME FROM TO REASON,
 * then a summary line. Reads only. */
#ifndef DANESCAN_CLI_DIFF_CMD_H
#define DANESCAN_CLI_DIFF_CMD_H

/* argv[0] is "diff". Returns the process exit code: 0 done (or no
 * regression with --fail-on-regression), 1 with --fail-on-regression when a
 * domain or host got worse, 2 usage error, 3 database or SQL error (unknown
 * scan id included). */
int diff_cmd_main(int argc, char **argv);

#endif
