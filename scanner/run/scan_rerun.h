/* A stored scan run again: `resume` continues it, `worker` joins it from any
 * machine. Both rebuild a `scan` command line from the one stored in the
 * scans row (db/scan_row.h): the stored options, minus those the rerun
 * replaces (--scan-id, --db, --output, --resume; joining also --workers,
 * --metadata and --certs, which name the first machine's files and cores),
 * plus the options given now and `--scan-id ID --resume|--join --db URL`,
 * all before the inputs' "--" if the stored line had one. Resuming enters
 * the scan's stored working directory, so relative input paths still name
 * the same files; a worker joining reads no input and stays where it is. */
#ifndef DANESCAN_RUN_SCAN_RERUN_H
#define DANESCAN_RUN_SCAN_RERUN_H

#include <stdbool.h>
#include <stddef.h>

/* The rebuilt command line: argv[0] is "scan", argv[argc] NULL. Owns every
 * string (scan_rerun_free). */
struct scan_rerun {
  int argc;
  char **argv;
  char **stored; /* the stored command line the argv points into */
  int stored_count;
  char *cwd;
};

/* Builds the command line of scan_id from the database at db_url (NULL:
 * the PG* environment), with extra[0..extra_count) added. Returns 0, 1 when
 * there is no such scan, -1 with why. With join false it has also entered
 * the scan's working directory. */
int scan_rerun_build(struct scan_rerun *out, const char *scan_id, const char *db_url, char *const *extra,
                     int extra_count, bool join, char *why, size_t why_len);

void scan_rerun_free(struct scan_rerun *rerun);

#endif
