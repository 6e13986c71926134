/* util/log.h: the line format, the levels shown for each verbosity, one
 * line per message, and the journal's priority prefix when stderr is the
 * stream JOURNAL_STREAM names. Standard error is pointed at a file for each
 * case (the harness's own reports go to the saved stderr). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "util/log.h"

static int saved_stderr = -1;
static char path[] = "/tmp/danescan-test-log-XXXXXX";

/* Points fd 2 at a fresh, empty file. */
static void capture(void) {
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (saved_stderr < 0) saved_stderr = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

/* Restores stderr; returns what was written (static buffer). */
static const char *captured(void) {
  static char text[8192];
  dup2(saved_stderr, STDERR_FILENO);
  FILE *f = fopen(path, "r");
  size_t n = f != NULL ? fread(text, 1, sizeof text - 1, f) : 0;
  text[n] = '\0';
  if (f != NULL) fclose(f);
  unlink(path);
  strcpy(path, "/tmp/danescan-test-log-XXXXXX");
  return text;
}

static void test_format_and_levels(void) {
  unsetenv("JOURNAL_STREAM");
  log_detect_journal();
  log_set_verbosity(0, false);
  capture();
  log_error("cannot open %s", "in.txt");
  log_warning("in.txt:3: bad line");
  log_notice("scan started");
  log_info("not shown by default");
  log_debug("not shown either");
  CHECK_STR(captured(),
            "danescan: error: cannot open in.txt\n"
            "danescan: warning: in.txt:3: bad line\n"
            "danescan: notice: scan started\n");

  log_set_verbosity(0, true); /* --quiet */
  capture();
  log_warning("w");
  log_notice("n");
  CHECK_STR(captured(), "danescan: warning: w\n");
  CHECK(!log_enabled(LOG_LEVEL_NOTICE));

  log_set_verbosity(1, true); /* -v wins over --quiet */
  capture();
  log_info("i");
  log_debug("d");
  CHECK_STR(captured(), "danescan: info: i\n");

  log_set_verbosity(2, false); /* -vv */
  capture();
  log_debug("d");
  CHECK_STR(captured(), "danescan: debug: d\n");
  log_set_verbosity(0, false);
}

static void test_one_line(void) {
  capture();
  log_error("database: server closed the connection\nunexpectedly\n\n");
  CHECK_STR(captured(), "danescan: error: database: server closed the connection unexpectedly\n");
  char long_message[3 * LOG_MAX_LINE_BYTES];
  memset(long_message, 'x', sizeof long_message - 1);
  long_message[sizeof long_message - 1] = '\0';
  capture();
  log_error("%s", long_message);
  const char *text = captured();
  CHECK_INT(strlen(text), LOG_MAX_LINE_BYTES);
  CHECK(strchr(text, '\n') == text + LOG_MAX_LINE_BYTES - 1);
}

static void test_progress_erased(void) {
  capture();
  log_progress_shown(true);
  log_notice("a");
  log_notice("b");
  CHECK_STR(captured(), "\r\033[Kdanescan: notice: a\ndanescan: notice: b\n");
}

static void test_journal_prefix(void) {
  capture();
  struct stat st;
  CHECK(fstat(STDERR_FILENO, &st) == 0);
  char value[64];
  snprintf(value, sizeof value, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
  setenv("JOURNAL_STREAM", value, 1);
  log_detect_journal();
  log_error("e");
  log_notice("n");
  CHECK_STR(captured(), "<3>danescan: error: e\n<5>danescan: notice: n\n");

  /* JOURNAL_STREAM of another stream (stderr redirected since): no prefix */
  capture();
  setenv("JOURNAL_STREAM", "1:1", 1);
  log_detect_journal();
  log_warning("w");
  CHECK_STR(captured(), "danescan: warning: w\n");
  unsetenv("JOURNAL_STREAM");
  log_detect_journal();
}

UNIT_MAIN(UNIT_TEST(test_format_and_levels), UNIT_TEST(test_one_line), UNIT_TEST(test_progress_erased),
          UNIT_TEST(test_journal_prefix))
