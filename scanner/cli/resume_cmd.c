/* `danescan resume` (see resume_cmd.h): rebuilds the scan's command line
 * from the database and hands it to scan_cmd_main. */
#include "cli/resume_cmd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli/scan_cmd.h"

#define RESUME_MAX_ARGS 512

static void usage(FILE *out, bool join) {
  if (join) {
    fprintf(out, "usage: danescan worker --db URL --scan SCAN_ID [--workers N] [scan options...]\n"
                 "  joins the running queued scan SCAN_ID with N worker processes on this machine\n"
                 "  (default: the number of cores), with the scan's stored options; options given\n"
                 "  here override them (e.g. --resolver for this machine's resolver). Workers may\n"
                 "  be added or killed at any time; a killed worker's chunks are taken over.\n");
    return;
  }
  fprintf(out, "usage: danescan resume SCAN_ID [--db URL] [scan options...]\n"
               "  continues SCAN_ID as stored in the database: names already stored are skipped\n"
               "  (URL default: $DANESCAN_DB, else the PG* environment)\n");
}

/* Options of the stored command line that resume replaces (and, joining
 * from another machine, the ones naming this machine's files or cores):
 * the option and whether it takes a separate value. */
static bool replaced_option(const char *arg, bool join, bool *takes_value) {
  static const char *const with_value[] = {"--scan-id", "--db", "--output"};
  static const char *const join_with_value[] = {"--workers", "--metadata", "--certs"};
  *takes_value = false;
  if (strcmp(arg, "--resume") == 0) return true;
  for (size_t i = 0; join && i < sizeof join_with_value / sizeof join_with_value[0]; i++) {
    size_t n = strlen(join_with_value[i]);
    if (strncmp(arg, join_with_value[i], n) != 0) continue;
    if (arg[n] == '\0') {
      *takes_value = true;
      return true;
    }
    if (arg[n] == '=') return true;
  }
  for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++) {
    size_t n = strlen(with_value[i]);
    if (strncmp(arg, with_value[i], n) != 0) continue;
    if (arg[n] == '\0') {
      *takes_value = true;
      return true;
    }
    if (arg[n] == '=') return true;
  }
  return false;
}

/* resume (join false) and worker (join true): the stored command line,
 * options replaced, extra options added, run as `scan`. */
static int rerun(const char *scan_id, const char *db_url, char **extra, int extra_count, bool join);

int resume_cmd_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || argv[1][0] == '-') {
    usage(argc < 2 ? stderr : stdout, false);
    return argc < 2 || argv[1][0] == '-' ? 2 : 0;
  }
  const char *scan_id = argv[1];
  const char *db_url = getenv("DANESCAN_DB");
  char *extra[RESUME_MAX_ARGS];
  int extra_count = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_url = argv[++i];
    } else if (strncmp(argv[i], "--db=", 5) == 0) {
      db_url = argv[i] + 5;
    } else if (extra_count < RESUME_MAX_ARGS) {
      extra[extra_count++] = argv[i];
    }
  }
  return rerun(scan_id, db_url, extra, extra_count, false);
}

int worker_cmd_main(int argc, char **argv) {
  const char *scan_id = NULL;
  const char *db_url = getenv("DANESCAN_DB");
  char *extra[RESUME_MAX_ARGS];
  int extra_count = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0) {
      usage(stdout, true);
      return 0;
    } else if (strcmp(argv[i], "--scan") == 0 && i + 1 < argc) {
      scan_id = argv[++i];
    } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_url = argv[++i];
    } else if (strncmp(argv[i], "--db=", 5) == 0) {
      db_url = argv[i] + 5;
    } else if (extra_count < RESUME_MAX_ARGS) {
      extra[extra_count++] = argv[i];
    }
  }
  if (scan_id == NULL) {
    usage(stderr, true);
    return 2;
  }
  return rerun(scan_id, db_url, extra, extra_count, true);
}

static int rerun(const char *scan_id, const char *db_url, char **extra, int extra_count, bool join) {
  const char *command = join ? "worker" : "resume";
  if (db_url == NULL) db_url = "";

  PGconn *conn = PQconnectdb(db_url);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "danescan %s: database: %s", command, PQerrorMessage(conn));
    PQfinish(conn);
    return 1;
  }
  const char *params[1] = {scan_id};
  PGresult *res = PQexecParams(conn,
                               "SELECT a.arg, s.cwd FROM scans s, unnest(s.command_line) WITH ORDINALITY"
                               " AS a(arg, n) WHERE s.id = $1 ORDER BY a.n",
                               1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0) {
    if (PQresultStatus(res) != PGRES_TUPLES_OK) fprintf(stderr, "danescan %s: database: %s", command, PQerrorMessage(conn));
    else fprintf(stderr, "danescan %s: no scan '%s' in the database\n", command, scan_id);
    PQclear(res);
    PQfinish(conn);
    return 1;
  }
  int stored = PQntuples(res);
  char **args = calloc((size_t)stored + (size_t)extra_count + 8, sizeof *args);
  int n = 0;
  int exit_code = 1;
  if (args == NULL) {
    fprintf(stderr, "danescan %s: out of memory\n", command);
    goto out;
  }
  const char *cwd = PQgetvalue(res, 0, 1);
  /* A worker joining from another machine stays where it is: it reads no
   * input (the queue holds it) and writes no file of the scan's. */
  if (!join && cwd[0] != '\0' && chdir(cwd) != 0) {
    fprintf(stderr, "danescan resume: cannot enter the scan's working directory %s: %s\n", cwd, strerror(errno));
    goto out;
  }
  args[n++] = "scan";
  for (int i = 1; i < stored; i++) { /* element 0 is the subcommand name */
    char *arg = PQgetvalue(res, i, 0);
    bool takes_value;
    if (replaced_option(arg, join, &takes_value)) {
      if (takes_value) i++;
      continue;
    }
    args[n++] = arg;
  }
  /* Options go before the inputs' "--" if the stored line had one. */
  int insert_at = n;
  for (int i = 1; i < n; i++) {
    if (strcmp(args[i], "--") == 0) {
      insert_at = i;
      break;
    }
  }
  char *tail[RESUME_MAX_ARGS + 8];
  int tail_count = 0;
  for (int i = 0; i < extra_count; i++) tail[tail_count++] = extra[i];
  tail[tail_count++] = "--scan-id";
  tail[tail_count++] = (char *)scan_id;
  tail[tail_count++] = join ? "--join" : "--resume";
  tail[tail_count++] = "--db";
  tail[tail_count++] = (char *)db_url;
  memmove(args + insert_at + tail_count, args + insert_at, (size_t)(n - insert_at) * sizeof *args);
  memcpy(args + insert_at, tail, (size_t)tail_count * sizeof *args);
  n += tail_count;
  args[n] = NULL;
  PQfinish(conn);
  conn = NULL;
  exit_code = scan_cmd_main(n, args);
out:
  free(args);
  PQclear(res);
  if (conn != NULL) PQfinish(conn);
  return exit_code;
}
