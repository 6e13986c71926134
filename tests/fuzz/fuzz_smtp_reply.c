/* libFuzzer target: the SMTP reply parser (smtp/smtp_reply.c) on a byte
 * stream from a server, received in arbitrary pieces.
 *
 * Input: byte 0 picks max_line_bytes, byte 1 max_lines, bytes 2-3 seed the
 * sizes of the pieces the stream arrives in; the rest is what the server
 * sent. The stream is parsed the way the session reads (smtp_session.c
 * on_read): bytes are appended to a buffer, smtp_reply_feed consumes whole
 * lines, the rest waits for the next piece; after a complete reply the next
 * one starts on what is left (pipelined replies).
 *
 * Checks (abort on a broken one): consumed never exceeds what was given; a
 * complete reply has a code in 200..599, 1..max_lines lines and its kept
 * texts NUL-terminated within their slots; what is left waiting is one
 * partial line no longer than max_line_bytes + 1; and the sequence of
 * replies does not depend on where the pieces were cut (the same stream fed
 * in one piece gives the same replies and the same first error). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 256

struct event_record {
  int status;
  int code;
  unsigned line_count;
  unsigned kept_count;
  bool offers_starttls;
  uint32_t kept_hash;
};

struct run {
  struct event_record events[MAX_EVENTS];
  size_t count;
};

static uint32_t hash_kept(const struct smtp_reply *reply) {
  uint32_t hash = 2166136261u;
  for (unsigned i = 0; i < reply->kept_count; i++) {
    for (const char *p = reply->kept[i]; *p; p++) hash = (hash ^ (uint8_t)*p) * 16777619u;
    hash = (hash ^ 0xff) * 16777619u;
  }
  return hash;
}

static void check_reply(const struct smtp_reply *reply, const struct smtp_reply_limits *limits) {
  if (!reply->complete || reply->code < 200 || reply->code > 599) abort();
  if (reply->line_count < 1 || reply->line_count > limits->max_lines) abort();
  if (reply->kept_count > reply->line_count || reply->kept_count > SMTP_REPLY_MAX_KEPT_LINES) abort();
  for (unsigned i = 0; i < reply->kept_count; i++) {
    if (memchr(reply->kept[i], '\0', SMTP_REPLY_KEPT_LINE_BYTES) == NULL) abort();
  }
}

static uint32_t next_random(uint32_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  return *state;
}

/* Feeds stream in pieces (seed 0: one piece) and records the replies until
 * the first error. */
static void parse(const char *stream, size_t len, const struct smtp_reply_limits *limits, uint32_t seed,
                  struct run *run, char *buffer) {
  struct smtp_reply reply;
  smtp_reply_reset(&reply);
  run->count = 0;
  size_t buffered = 0;
  size_t pos = 0;
  uint32_t state = seed | 1u;
  while (pos < len && run->count < MAX_EVENTS) {
    size_t piece = seed == 0 ? len : 1 + next_random(&state) % 64;
    if (piece > len - pos) piece = len - pos;
    memcpy(buffer + buffered, stream + pos, piece);
    buffered += piece;
    pos += piece;
    for (;;) {
      size_t consumed = 12345;
      const char *why = NULL;
      enum smtp_reply_status status = smtp_reply_feed(&reply, limits, buffer, buffered, &consumed, &why);
      if (consumed > buffered) abort();
      if (status == SMTP_REPLY_ERROR) {
        if (why == NULL || why[0] == '\0') abort();
        memset(&run->events[run->count], 0, sizeof run->events[0]);
        run->events[run->count++].status = -1;
        return;
      }
      memmove(buffer, buffer + consumed, buffered - consumed);
      buffered -= consumed;
      if (status == SMTP_REPLY_NEED_MORE) {
        if (buffered > limits->max_line_bytes + 1 || memchr(buffer, '\n', buffered) != NULL) abort();
        break;
      }
      check_reply(&reply, limits);
      struct event_record *event = &run->events[run->count++];
      memset(event, 0, sizeof *event);
      event->status = 1;
      event->code = reply.code;
      event->line_count = reply.line_count;
      event->kept_count = reply.kept_count;
      event->offers_starttls = reply.offers_starttls;
      event->kept_hash = hash_kept(&reply);
      smtp_reply_reset(&reply);
      if (run->count == MAX_EVENTS) return;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  struct smtp_reply_limits limits = {
      .max_line_bytes = 1 + (size_t)data[0] * 4, /* 1..1021; the probe uses 512+ */
      .max_lines = 1 + data[1] % 40u,
  };
  uint32_t seed = (uint32_t)data[2] << 8 | data[3];
  const char *stream = (const char *)data + 4;
  size_t len = size - 4;
  char *buffer = malloc(len + 1);
  static struct run pieces, whole;
  if (buffer == NULL) return 0;
  parse(stream, len, &limits, seed + 1, &pieces, buffer);
  parse(stream, len, &limits, 0, &whole, buffer);
  free(buffer);
  if (pieces.count != whole.count || memcmp(pieces.events, whole.events, pieces.count * sizeof pieces.events[0]) != 0) {
    abort();
  }
  return 0;
}
