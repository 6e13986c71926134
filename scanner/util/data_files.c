#include "util/data_files.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

#ifndef DANESCAN_DATADIR
#define DANESCAN_DATADIR "/usr/local/share/danescan"
#endif

/* The folder of the running executable, or false. */
static bool exe_dir(char *out, size_t out_len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  snprintf(out, out_len, "%s", dirname(exe));
  return true;
}

int data_dir_find(const struct data_dir_spec *spec, char *out, size_t out_len) {
  const char *env = spec->env_var != NULL ? getenv(spec->env_var) : NULL;
  if (env != NULL && env[0] != '\0') {
    snprintf(out, out_len, "%s", env);
    return is_dir(out) ? 0 : -1;
  }
  char bin_dir[PATH_MAX];
  bool have_bin_dir = exe_dir(bin_dir, sizeof bin_dir);
  if (have_bin_dir) {
    snprintf(out, out_len, "%s/../share/danescan/%s", bin_dir, spec->share_dir);
    if (is_dir(out)) return 0;
  }
  /* __FILE__ is <source>/scanner/util/data_files.c in a CMake build. */
  char here[PATH_MAX];
  snprintf(here, sizeof here, "%s", __FILE__);
  if (here[0] == '/') {
    snprintf(out, out_len, "%s/../../%s", dirname(here), spec->source_dir);
    if (is_dir(out)) return 0;
  }
  if (have_bin_dir) {
    snprintf(out, out_len, "%s/../../%s", bin_dir, spec->source_dir);
    if (is_dir(out)) return 0;
  }
  snprintf(out, out_len, "%s/%s", DANESCAN_DATADIR, spec->share_dir);
  return is_dir(out) ? 0 : -1;
}

char *data_file_read(const char *path, size_t max_bytes, char *why, size_t why_len) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return NULL;
  }
  char *text = malloc(max_bytes + 1);
  if (text == NULL) {
    fclose(file);
    snprintf(why, why_len, "%s: out of memory", path);
    return NULL;
  }
  size_t n = fread(text, 1, max_bytes + 1, file);
  bool failed = ferror(file) != 0;
  fclose(file);
  if (failed || n > max_bytes) {
    snprintf(why, why_len, "%s: %s", path, failed ? "read error" : "larger than the limit");
    free(text);
    return NULL;
  }
  text[n] = '\0';
  return text;
}
