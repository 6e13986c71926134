/* `danescan report --db URL --scan ID [--previous ID] --out DIR`: writes the
 * adoption report of one scan to DIR: report.html (self-contained), report.md
 * (same content) and one <table>.csv per table. Each table is the result of
 * one reports/<table>.sql file (see reports/README.md). Reads only. */
#ifndef DANESCAN_CLI_REPORT_CMD_H
#define DANESCAN_CLI_REPORT_CMD_H

/* argv[0] is "report". Returns the process exit code: 0 written, 1 database,
 * SQL or output error (reported on stderr), 2 usage error. */
int report_cmd_main(int argc, char **argv);

#endif
