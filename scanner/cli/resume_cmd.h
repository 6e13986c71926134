/* `danescan resume SCAN_ID [--db URL] [scan options...]`: continues a scan
 * stored in PostgreSQL. Loads the scan's command line and working directory
 * from the scans table and runs `scan` again with it, plus `--scan-id ID
 * --resume --db URL` (and any extra options given here, e.g. a new
 * --output). The stored --output is dropped: rerunning it would truncate the
 * first run's JSON Lines file. Names already committed are skipped (their
 * input ordinals are in scan_batches), so the finished scan has exactly the
 * rows of an uninterrupted one. */
#ifndef DANESCAN_CLI_RESUME_CMD_H
#define DANESCAN_CLI_RESUME_CMD_H

/* argv[0] is "resume". Returns scan_cmd_main's exit code, 2 on usage
 * errors, 1 when the scan cannot be loaded. */
int resume_cmd_main(int argc, char **argv);

#endif
