/* `danescan scan`: option parsing, wiring of resolver check, input, DNS
 * client, host resolver, sinks and the scan driver; the summary and the
 * metadata file. main.c dispatches here. */
#ifndef DANESCAN_CLI_SCAN_CMD_H
#define DANESCAN_CLI_SCAN_CMD_H

/* Returns the process exit code: 0 when every name was scanned, 1 when the
 * scan stopped early, 2 for usage errors, 3 when the resolver check refused. */
int scan_cmd_main(int argc, char **argv);

#endif
