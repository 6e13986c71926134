/* `danescan inputs [options] FILE...`: prints the names a scan of the same
 * inputs and options would scan, one per line, lower case, no trailing dot
 * (invalid names and bad lines go to standard error as diagnostics), or with
 * --count only the counts. Options are parsed here; main.c dispatches. */
#ifndef DANESCAN_CLI_INPUTS_CMD_H
#define DANESCAN_CLI_INPUTS_CMD_H

/* argv[0] is the subcommand name ("inputs"). Returns the process exit code:
 * 0 done (even with bad lines, which are reported), 1 an input could not be
 * opened or read to the end (truncated gzip, read error), 2 usage error. */
int inputs_cmd_main(int argc, char **argv);

#endif
