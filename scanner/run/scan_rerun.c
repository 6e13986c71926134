/* A stored scan's command line rebuilt for resume and worker (see
 * scan_rerun.h). */
#include "run/scan_rerun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/scan_row.h"

#define RERUN_ADDED_ARGS 6 /* --scan-id ID --resume|--join --db URL, and the NULL */

/* Options of the stored command line that a rerun replaces: the option and
 * whether it takes a separate value. */
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

int scan_rerun_build(struct scan_rerun *out, const char *scan_id, const char *db_url, char *const *extra,
                     int extra_count, bool join, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  PGconn *conn = db_connect(db_url, NULL, why, why_len);
  if (conn == NULL) return -1;
  int rc = db_scan_command_line(conn, scan_id, &out->stored, &out->stored_count, &out->cwd, why, why_len);
  PQfinish(conn);
  if (rc == 1) {
    snprintf(why, why_len, "no scan '%s' in the database", scan_id);
    return 1;
  }
  if (rc != DB_OK) return -1;
  out->argv = calloc((size_t)out->stored_count + (size_t)extra_count + RERUN_ADDED_ARGS + 1, sizeof *out->argv);
  if (out->argv == NULL) {
    snprintf(why, why_len, "out of memory");
    scan_rerun_free(out);
    return -1;
  }
  if (!join && out->cwd[0] != '\0' && chdir(out->cwd) != 0) {
    snprintf(why, why_len, "cannot enter the scan's working directory %s: %s", out->cwd, strerror(errno));
    scan_rerun_free(out);
    return -1;
  }
  char **args = out->argv;
  int n = 0;
  args[n++] = "scan";
  for (int i = 1; i < out->stored_count; i++) { /* element 0 is the subcommand name */
    char *arg = out->stored[i];
    bool takes_value;
    if (replaced_option(arg, join, &takes_value)) {
      if (takes_value) i++;
      continue;
    }
    args[n++] = arg;
  }
  int insert_at = n;
  for (int i = 1; i < n; i++) {
    if (strcmp(args[i], "--") == 0) {
      insert_at = i;
      break;
    }
  }
  int tail_count = extra_count + RERUN_ADDED_ARGS - 1;
  memmove(args + insert_at + tail_count, args + insert_at, (size_t)(n - insert_at) * sizeof *args);
  int at = insert_at;
  for (int i = 0; i < extra_count; i++) args[at++] = extra[i];
  args[at++] = "--scan-id";
  args[at++] = (char *)scan_id;
  args[at++] = join ? "--join" : "--resume";
  args[at++] = "--db";
  args[at++] = (char *)(db_url != NULL ? db_url : "");
  n += tail_count;
  args[n] = NULL;
  out->argc = n;
  return 0;
}

void scan_rerun_free(struct scan_rerun *rerun) {
  free(rerun->argv);
  db_scan_command_line_free(rerun->stored, rerun->stored_count, rerun->cwd);
  memset(rerun, 0, sizeof *rerun);
}
