/* SMTP reply parsing (RFC 5321 4.2): splits received bytes into lines and
 * lines into replies, multi-line ("250-...") included, with caps on line
 * length and line count so a hostile server costs bounded memory. It keeps
 * the text of each line up to a caller-chosen number of bytes (banner, EHLO
 * keywords). It does no I/O: the session feeds it what it read. */
#ifndef DANESCAN_SMTP_REPLY_H
#define DANESCAN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_REPLY_MAX_KEPT_LINES 32   /* text lines kept per reply */
#define SMTP_REPLY_KEPT_LINE_BYTES 256 /* bytes kept of each line's text */

struct smtp_reply_limits {
  size_t max_line_bytes; /* longest line accepted, without CRLF */
  unsigned max_lines;    /* most lines in one reply */
};

/* One reply being assembled. Zero it (smtp_reply_reset) before each reply. */
struct smtp_reply {
  int code;            /* 3-digit code, 0 before the first line */
  unsigned line_count; /* lines seen so far */
  bool complete;
  bool offers_starttls; /* a line after the first is the keyword STARTTLS (EHLO) */
  unsigned kept_count;  /* lines whose text is kept in kept[] */
  char kept[SMTP_REPLY_MAX_KEPT_LINES]
           [SMTP_REPLY_KEPT_LINE_BYTES]; /* text after "ddd-"/"ddd ", NUL-terminated, truncated */
};

enum smtp_reply_status {
  SMTP_REPLY_NEED_MORE = 0, /* no complete reply yet; feed more bytes */
  SMTP_REPLY_DONE = 1,      /* reply complete; bytes after it not consumed */
  SMTP_REPLY_ERROR = -1     /* malformed or over a limit; why says which */
};

void smtp_reply_reset(struct smtp_reply *reply);

/* Adds one line (without its line ending). Returns DONE when this line ends
 * the reply, NEED_MORE for a continuation line, ERROR (why set, static text)
 * for a line that is not "ddd", "ddd text" or "ddd-text" with ddd in
 * 200..599, a code differing from the earlier lines', a line over
 * max_line_bytes, or one line more than max_lines. */
enum smtp_reply_status smtp_reply_add_line(struct smtp_reply *reply, const struct smtp_reply_limits *limits,
                                           const char *line, size_t len, const char **why);

/* Consumes whole lines from data[0..len) (ending in LF; a CR before the LF
 * is dropped) until the reply is complete. Sets *consumed to the bytes used:
 * on DONE the bytes after the reply's last line are left for the caller
 * (pipelining: a next reply or garbage). On NEED_MORE a trailing partial line
 * is not consumed, and it is an ERROR if that partial line is already longer
 * than max_line_bytes (+1 for a CR), so the caller never buffers more than
 * that. */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *reply, const struct smtp_reply_limits *limits,
                                       const char *data, size_t len, size_t *consumed, const char **why);

#endif
