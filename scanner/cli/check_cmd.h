/* `danescan check [options] DOMAIN`: the one-domain check for mail
 * operators. Resolves and probes one domain with the scan pipeline (same
 * options as `scan`, no database) and prints, host by host and address by
 * address, what was looked up, what was found and what to fix
 * (report/explain.h), or with --json the JSON record of docs/output.md. */
#ifndef DANESCAN_CLI_CHECK_CMD_H
#define DANESCAN_CLI_CHECK_CMD_H

/* argv[0] is "check". Returns the process exit code: 0 when the domain is
 * dane-valid, 1 when it is not (or the check could not finish), 2 for a
 * usage error, 3 when the resolver does not validate DNSSEC. */
int check_cmd_main(int argc, char **argv);

#endif
