/* SMTP reply parser used by the probe session for the greeting, EHLO,
 * STARTTLS and QUIT replies. RFC 5321 4.2.1: every line of a multi-line reply
 * carries the same code, "-" after the code marks a continuation, " " or the
 * end of the line the last line. Anything else is a protocol violation the
 * scanner records as smtp-failed rather than guessing. */
#include "smtp/smtp_reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void smtp_reply_reset(struct smtp_reply *reply) {
  reply->code = 0;
  reply->line_count = 0;
  reply->complete = false;
  reply->kept_count = 0;
  reply->offers_starttls = false;
}

/* RFC 3207: the EHLO keyword, case-insensitive, with no parameters; checked
 * on every line so that it counts even past the kept lines. */
static bool is_starttls_keyword(const char *text, size_t len) {
  while (len > 0 && text[len - 1] == ' ') len--;
  return len == 8 && strncasecmp(text, "STARTTLS", 8) == 0;
}

static void keep_text(struct smtp_reply *reply, const char *text, size_t len) {
  if (reply->kept_count >= SMTP_REPLY_MAX_KEPT_LINES) return;
  char *out = reply->kept[reply->kept_count++];
  if (len > SMTP_REPLY_KEPT_LINE_BYTES - 1) len = SMTP_REPLY_KEPT_LINE_BYTES - 1;
  memcpy(out, text, len);
  out[len] = '\0';
}

enum smtp_reply_status smtp_reply_add_line(struct smtp_reply *reply, const struct smtp_reply_limits *limits,
                                           const char *line, size_t len, const char **why) {
  if (reply->complete) {
    *why = "reply already complete";
    return SMTP_REPLY_ERROR;
  }
  if (len > limits->max_line_bytes) {
    *why = "reply line too long";
    return SMTP_REPLY_ERROR;
  }
  if (reply->line_count >= limits->max_lines) {
    *why = "too many lines in one reply";
    return SMTP_REPLY_ERROR;
  }
  if (len < 3 || line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
      !isdigit((unsigned char)line[2])) {
    *why = "malformed reply line (no reply code)";
    return SMTP_REPLY_ERROR;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last;
  if (len == 3 || line[3] == ' ') {
    last = true;
  } else if (line[3] == '-') {
    last = false;
  } else {
    *why = "malformed reply line (bad separator after code)";
    return SMTP_REPLY_ERROR;
  }
  if (reply->line_count > 0 && code != reply->code) {
    *why = "reply code changes within a multi-line reply";
    return SMTP_REPLY_ERROR;
  }
  reply->code = code;
  reply->line_count++;
  const char *text = len > 4 ? line + 4 : "";
  size_t text_len = len > 4 ? len - 4 : 0;
  if (reply->line_count > 1 && is_starttls_keyword(text, text_len)) reply->offers_starttls = true;
  keep_text(reply, text, text_len);
  if (last) {
    reply->complete = true;
    return SMTP_REPLY_DONE;
  }
  return SMTP_REPLY_NEED_MORE;
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply *reply, const struct smtp_reply_limits *limits,
                                       const char *data, size_t len, size_t *consumed, const char **why) {
  size_t pos = 0;
  *consumed = 0;
  while (pos < len) {
    const char *newline = memchr(data + pos, '\n', len - pos);
    if (newline == NULL) break;
    size_t end = (size_t)(newline - data);
    size_t line_len = end - pos;
    if (line_len > 0 && data[end - 1] == '\r') line_len--;
    enum smtp_reply_status status = smtp_reply_add_line(reply, limits, data + pos, line_len, why);
    pos = end + 1;
    *consumed = pos;
    if (status != SMTP_REPLY_NEED_MORE) return status;
  }
  if (len - pos > limits->max_line_bytes + 1) {
    *why = "reply line too long";
    return SMTP_REPLY_ERROR;
  }
  return SMTP_REPLY_NEED_MORE;
}
