#ifndef DANESCAN_CLI_WORKER_CMD_H
#define DANESCAN_CLI_WORKER_CMD_H

/* `danescan worker --db URL --scan SCAN_ID [--workers N] [scan options...]`:
 * joins a running queued scan from any machine: the stored command line
 * (without its --output, --metadata, --certs and --workers, which name the
 * first machine's files and cores) plus the options given here, run as
 * `scan --join`: N workers, no loading. argv[0] is "worker". */
int worker_cmd_main(int argc, char **argv);

#endif
