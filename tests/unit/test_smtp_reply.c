/* Unit tests of the SMTP reply parser (smtp/smtp_reply.c). */
#include <stdlib.h>

#include "smtp/smtp_reply.h"
#include "unit.h"

static const struct smtp_reply_limits limits = {64, 5};

static enum smtp_reply_status feed_all(struct smtp_reply *reply, const char *data, size_t *consumed, const char **why) {
  smtp_reply_reset(reply);
  return smtp_reply_feed(reply, &limits, data, strlen(data), consumed, why);
}

static void test_single_line(void) {
  struct smtp_reply reply;
  size_t consumed;
  const char *why = NULL;
  CHECK_INT(feed_all(&reply, "220 mx.example ESMTP\r\n", &consumed, &why), SMTP_REPLY_DONE);
  CHECK_INT(reply.code, 220);
  CHECK_INT(reply.line_count, 1);
  CHECK_STR(reply.kept[0], "mx.example ESMTP");
  CHECK_INT(consumed, 22);
  CHECK_INT(feed_all(&reply, "250\r\n", &consumed, &why), SMTP_REPLY_DONE);
  CHECK_INT(reply.code, 250);
  CHECK_STR(reply.kept[0], "");
  /* bare LF accepted */
  CHECK_INT(feed_all(&reply, "221 bye\n", &consumed, &why), SMTP_REPLY_DONE);
  CHECK_STR(reply.kept[0], "bye");
}

static void test_multi_line_and_starttls(void) {
  struct smtp_reply reply;
  size_t consumed;
  const char *why = NULL;
  const char *ehlo = "250-mx.example\r\n250-PIPELINING\r\n250-starttls\r\n250 8BITMIME\r\n";
  CHECK_INT(feed_all(&reply, ehlo, &consumed, &why), SMTP_REPLY_DONE);
  CHECK_INT(reply.line_count, 4);
  CHECK(reply.offers_starttls);
  CHECK_STR(reply.kept[1], "PIPELINING");
  CHECK_INT(consumed, strlen(ehlo));
  /* STARTTLS in the first line (the greeting text) does not count, nor a prefix */
  CHECK_INT(feed_all(&reply, "250-STARTTLS\r\n250-STARTTLSX\r\n250 SIZE\r\n", &consumed, &why), SMTP_REPLY_DONE);
  CHECK(!reply.offers_starttls);
}

static void test_partial_and_pipelining(void) {
  struct smtp_reply reply;
  size_t consumed;
  const char *why = NULL;
  smtp_reply_reset(&reply);
  const char *part1 = "250-first\r\n250-sec";
  CHECK_INT(smtp_reply_feed(&reply, &limits, part1, strlen(part1), &consumed, &why), SMTP_REPLY_NEED_MORE);
  CHECK_INT(consumed, 11); /* the partial line stays in the buffer */
  const char *part2 = "250-second\r\n250 last\r\n221 unsolicited\r\n";
  CHECK_INT(smtp_reply_feed(&reply, &limits, part2, strlen(part2), &consumed, &why), SMTP_REPLY_DONE);
  CHECK_INT(reply.line_count, 3);
  CHECK_INT(consumed, strlen("250-second\r\n250 last\r\n")); /* the rest is left alone */
  CHECK_INT(reply.code, 250);
}

static void test_bad_lines(void) {
  struct smtp_reply reply;
  size_t consumed;
  const char *why = NULL;
  CHECK_INT(feed_all(&reply, "hello\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK(why != NULL);
  CHECK_INT(feed_all(&reply, "22\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_INT(feed_all(&reply, "220x\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_INT(feed_all(&reply, "120 low\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_INT(feed_all(&reply, "620 high\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_INT(feed_all(&reply, "2a0 x\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_INT(feed_all(&reply, "250-a\r\n251 b\r\n", &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_STR(why, "reply code changes within a multi-line reply");
  /* a TLS record where a reply should be */
  CHECK_INT(feed_all(&reply, "\x16\x03\x01\x02\x05\n", &consumed, &why), SMTP_REPLY_ERROR);
}

static void test_caps(void) {
  struct smtp_reply reply;
  size_t consumed;
  const char *why = NULL;
  char line[200];
  memset(line, 'x', sizeof line);
  memcpy(line, "220 ", 4);
  line[sizeof line - 1] = '\0';
  /* a line over the cap without an end: error before it is complete */
  CHECK_INT(feed_all(&reply, line, &consumed, &why), SMTP_REPLY_ERROR);
  CHECK_STR(why, "reply line too long");
  /* the same line, complete */
  char complete[210];
  snprintf(complete, sizeof complete, "%s\r\n", line);
  CHECK_INT(feed_all(&reply, complete, &consumed, &why), SMTP_REPLY_ERROR);
  /* exactly at the cap is fine: 64 bytes */
  char exact[80];
  memset(exact, 'y', 64);
  memcpy(exact, "220 ", 4);
  memcpy(exact + 64, "\r\n", 3);
  CHECK_INT(feed_all(&reply, exact, &consumed, &why), SMTP_REPLY_DONE);
  /* a short partial line is not an error */
  CHECK_INT(feed_all(&reply, "220 partial", &consumed, &why), SMTP_REPLY_NEED_MORE);
  CHECK_INT(consumed, 0);
  /* max_lines 5: five lines fine, six too many */
  CHECK_INT(feed_all(&reply, "250-1\r\n250-2\r\n250-3\r\n250-4\r\n250 5\r\n", &consumed, &why), SMTP_REPLY_DONE);
  CHECK_INT(feed_all(&reply, "250-1\r\n250-2\r\n250-3\r\n250-4\r\n250-5\r\n250 6\r\n", &consumed, &why),
            SMTP_REPLY_ERROR);
  CHECK_STR(why, "too many lines in one reply");
}

static void test_kept_text_truncated(void) {
  struct smtp_reply reply;
  const char *why = NULL;
  struct smtp_reply_limits wide = {4096, 100};
  smtp_reply_reset(&reply);
  char line[1000];
  memset(line, 'z', sizeof line);
  memcpy(line, "250 ", 4);
  CHECK_INT(smtp_reply_add_line(&reply, &wide, line, sizeof line, &why), SMTP_REPLY_DONE);
  CHECK_INT(strlen(reply.kept[0]), SMTP_REPLY_KEPT_LINE_BYTES - 1);
  /* more lines than kept: still parsed, only the first kept */
  smtp_reply_reset(&reply);
  for (int i = 0; i < 60; i++) {
    CHECK_INT(smtp_reply_add_line(&reply, &wide, "250-X", 5, &why), SMTP_REPLY_NEED_MORE);
  }
  CHECK_INT(smtp_reply_add_line(&reply, &wide, "250 STARTTLS", 12, &why), SMTP_REPLY_DONE);
  CHECK_INT(reply.kept_count, SMTP_REPLY_MAX_KEPT_LINES);
  CHECK(reply.offers_starttls); /* seen beyond the kept lines */
}

UNIT_MAIN(UNIT_TEST(test_single_line), UNIT_TEST(test_multi_line_and_starttls), UNIT_TEST(test_partial_and_pipelining),
          UNIT_TEST(test_bad_lines), UNIT_TEST(test_caps), UNIT_TEST(test_kept_text_truncated))
