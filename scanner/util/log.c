/* One line per event on stderr (see log.h). */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum log_level max_level = LOG_LEVEL_NOTICE;
static int journal = -1; /* -1 not decided yet, 0 no, 1 stderr is the journal */
static bool progress_on_screen;

const char *log_level_name(enum log_level level) {
  switch (level) {
  case LOG_LEVEL_ERROR:
    return "error";
  case LOG_LEVEL_WARNING:
    return "warning";
  case LOG_LEVEL_NOTICE:
    return "notice";
  case LOG_LEVEL_INFO:
    return "info";
  case LOG_LEVEL_DEBUG:
    return "debug";
  }
  return "?";
}

void log_set_max_level(enum log_level max) {
  max_level = max;
}

enum log_level log_max_level(void) {
  return max_level;
}

void log_set_verbosity(unsigned verbose, bool quiet) {
  if (verbose >= 2) max_level = LOG_LEVEL_DEBUG;
  else if (verbose == 1) max_level = LOG_LEVEL_INFO;
  else if (quiet) max_level = LOG_LEVEL_WARNING;
  else max_level = LOG_LEVEL_NOTICE;
}

bool log_enabled(enum log_level level) {
  return level <= max_level;
}

/* systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream the
 * service's stderr was connected to; it only counts while fd 2 is still
 * that stream (a child may have redirected it). */
void log_detect_journal(void) {
  journal = 0;
  const char *value = getenv("JOURNAL_STREAM");
  if (value == NULL || isatty(STDERR_FILENO)) return;
  unsigned long long device, inode;
  if (sscanf(value, "%llu:%llu", &device, &inode) != 2) return;
  struct stat st;
  if (fstat(STDERR_FILENO, &st) != 0) return;
  journal = (unsigned long long)st.st_dev == device && (unsigned long long)st.st_ino == inode;
}

void log_progress_shown(bool shown) {
  progress_on_screen = shown;
}

void log_write(enum log_level level, const char *format, ...) {
  if (!log_enabled(level)) return;
  int saved_errno = errno;
  if (journal < 0) log_detect_journal();
  char line[LOG_MAX_LINE_BYTES];
  size_t len = 0;
  if (progress_on_screen) {
    len += (size_t)snprintf(line, sizeof line, "\r\033[K");
    progress_on_screen = false;
  }
  if (journal == 1) len += (size_t)snprintf(line + len, sizeof line - len, "<%d>", (int)level);
  len += (size_t)snprintf(line + len, sizeof line - len, "danescan: %s: ", log_level_name(level));
  size_t start = len;
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line + len, sizeof line - len, format, args);
  va_end(args);
  if (n > 0) len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - len - 1;
  while (len > start && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  for (size_t i = start; i < len; i++) {
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  }
  if (len >= sizeof line) len = sizeof line - 1;
  line[len++] = '\n';
  const char *p = line;
  while (len > 0) {
    ssize_t written = write(STDERR_FILENO, p, len);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break;
    p += written;
    len -= (size_t)written;
  }
  errno = saved_errno;
}
