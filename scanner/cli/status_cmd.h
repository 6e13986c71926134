/* `danescan status --db URL --scan ID`: the progress of a queued scan as the
 * database has it: names done of total, rate over the last minute, ETA, and
 * every worker with its host, pid, last heartbeat and domains written. Reads
 * only. */
#ifndef DANESCAN_CLI_STATUS_CMD_H
#define DANESCAN_CLI_STATUS_CMD_H

/* argv[0] is "status". Returns 0, 1 when the scan cannot be read, 2 on
 * usage errors. */
int status_cmd_main(int argc, char **argv);

#endif
