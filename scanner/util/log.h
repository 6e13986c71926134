/* The scanner's log: one line per event on stderr, with a level.
 *
 * A line reads "danescan: LEVEL: message\n" (LEVEL: error, warning, notice,
 * info, debug). When stderr is the systemd journal (JOURNAL_STREAM names
 * the device and inode of file descriptor 2, see systemd.exec(5), and
 * stderr is no terminal) each line starts with the sd-daemon(3) priority
 * prefix "<N>" (3 error ... 7 debug), so journald files it at that
 * priority. A message is always one line: newlines inside it become spaces,
 * trailing ones are dropped; it is cut at LOG_MAX_LINE_BYTES.
 *
 * Levels (the event decides, not the module):
 *   error    the command or a worker stops, or a result is lost
 *   warning  something is wrong but the run goes on (a bad input line, a
 *            retry after a database error, a worker replaced)
 *   notice   a milestone of the run (scan started, resumed, migration applied)
 *   info     detail an operator may want (-v)
 *   debug    per-domain detail (-vv)
 * Shown by default: error, warning, notice. --quiet: error and warning.
 * --verbose: info too; twice: debug too.
 *
 * What is not a log event is not written here: `--help`, usage errors of the
 * command line, a command's result (the summary block of `scan`, the
 * verdict of `check`) and the live progress line, which is written only
 * while stderr is a terminal (scan_options.h) and erased before a log line
 * (log_progress_shown).
 *
 * Process-wide state, set up once by main before any thread starts; the
 * functions may then be called from any thread (each line is one write). */
#ifndef DANESCAN_UTIL_LOG_H
#define DANESCAN_UTIL_LOG_H

#include <stdbool.h>

#define LOG_MAX_LINE_BYTES 2048

/* The syslog priorities of sd-daemon(3), so that a level is its "<N>". */
enum log_level {
  LOG_LEVEL_ERROR = 3,
  LOG_LEVEL_WARNING = 4,
  LOG_LEVEL_NOTICE = 5,
  LOG_LEVEL_INFO = 6,
  LOG_LEVEL_DEBUG = 7
};

/* The level's word ("error", ...); "?" out of range. */
const char *log_level_name(enum log_level level);

/* Lines above max are not written (default LOG_LEVEL_NOTICE). */
void log_set_max_level(enum log_level max);
enum log_level log_max_level(void);

/* The threshold for the command-line options: quiet lowers it to warning,
 * each --verbose raises it by one (info, debug); verbose wins over quiet. */
void log_set_verbosity(unsigned verbose, bool quiet);

/* True when a line of this level would be written (to skip costly
 * formatting). */
bool log_enabled(enum log_level level);

/* Decides again whether stderr is the journal (done once by the first line
 * otherwise); for tests that change JOURNAL_STREAM or file descriptor 2. */
void log_detect_journal(void);

/* A live progress line (ending without a newline) is on stderr, or not
 * any more: the next log line erases it first ("\r\033[K"). */
void log_progress_shown(bool shown);

/* Writes one line at level, printf-style. */
void log_write(enum log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_write(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_write(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
