/* COPY text-format writers (see pg_copy.h): the only place where values
 * become bytes sent to PostgreSQL. COPY text format: fields split by tab,
 * rows by newline, \N is NULL and backslash escapes; the database is UTF8, so
 * text must be valid UTF-8 and may not hold NUL. */
#include "db/pg_copy.h"
#include "util/growbuf.h"
#include "util/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void pg_buf_init(struct pg_buf *buf) {
  memset(buf, 0, sizeof *buf);
}

void pg_buf_free(struct pg_buf *buf) {
  free(buf->data);
  memset(buf, 0, sizeof *buf);
}

void pg_buf_reset(struct pg_buf *buf) {
  buf->len = 0;
  buf->failed = false;
  buf->field_written = false;
}

bool pg_buf_failed(const struct pg_buf *buf) {
  return buf->failed;
}

static bool reserve(struct pg_buf *buf, size_t extra) {
  return growbuf_reserve(&buf->data, &buf->cap, buf->len + extra, 4096, &buf->failed);
}

void pg_buf_raw(struct pg_buf *buf, const char *data, size_t len) {
  if (!reserve(buf, len)) return;
  memcpy(buf->data + buf->len, data, len);
  buf->len += len;
}

static void put_char(struct pg_buf *buf, char c) {
  if (!reserve(buf, 1)) return;
  buf->data[buf->len++] = c;
}

static void field_begin(struct pg_buf *buf) {
  if (buf->field_written) put_char(buf, '\t');
  buf->field_written = true;
}

void pg_row_end(struct pg_buf *buf) {
  put_char(buf, '\n');
  buf->field_written = false;
}

void pg_field_null(struct pg_buf *buf) {
  field_begin(buf);
  pg_buf_raw(buf, "\\N", 2);
}

/* Walks text as sanitised output pieces: emit(piece, piece_len) for each
 * character kept, stopping before max_bytes of output would be exceeded. */
struct sanitizer_sink {
  void (*emit)(void *ctx, const char *piece, size_t len);
  void *ctx;
};

static void sanitize(const char *text, size_t len, size_t max_bytes, const struct sanitizer_sink *sink) {
  const unsigned char *p = (const unsigned char *)text;
  size_t out = 0;
  size_t i = 0;
  while (i < len) {
    size_t n = utf8_sequence_length(p + i, len - i);
    char escaped[5];
    const char *piece = (const char *)(p + i);
    size_t piece_len = n;
    if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
      snprintf(escaped, sizeof escaped, "\\x%02x", p[i]);
      piece = escaped;
      piece_len = 4;
      n = 1;
    }
    if (out + piece_len > max_bytes) break;
    sink->emit(sink->ctx, piece, piece_len);
    out += piece_len;
    i += n;
  }
}

struct copy_ctx {
  struct pg_buf *buf;
  bool in_array;
};

/* COPY text escaping of sanitised text (no controls remain, only the
 * backslash needs escaping); inside an array element also the quote and the
 * backslash of the array literal syntax. */
static void emit_copy(void *arg, const char *piece, size_t len) {
  struct copy_ctx *ctx = arg;
  for (size_t i = 0; i < len; i++) {
    char c = piece[i];
    if (ctx->in_array && (c == '"' || c == '\\')) {
      /* array level: \" or \\ ; COPY level doubles the backslash */
      pg_buf_raw(ctx->buf, "\\\\", 2);
      if (c == '"') put_char(ctx->buf, '"');
      else pg_buf_raw(ctx->buf, "\\\\", 2);
    } else if (c == '\\') {
      pg_buf_raw(ctx->buf, "\\\\", 2);
    } else {
      put_char(ctx->buf, c);
    }
  }
}

void pg_field_text_len(struct pg_buf *buf, const char *text, size_t len, size_t max_bytes) {
  if (text == NULL) {
    pg_field_null(buf);
    return;
  }
  field_begin(buf);
  struct copy_ctx ctx = {buf, false};
  struct sanitizer_sink sink = {emit_copy, &ctx};
  sanitize(text, len, max_bytes, &sink);
}

void pg_field_text(struct pg_buf *buf, const char *text, size_t max_bytes) {
  pg_field_text_len(buf, text, text ? strlen(text) : 0, max_bytes);
}

void pg_field_int(struct pg_buf *buf, int64_t value) {
  char text[32];
  int n = snprintf(text, sizeof text, "%" PRId64, value);
  field_begin(buf);
  pg_buf_raw(buf, text, (size_t)n);
}

void pg_field_uint(struct pg_buf *buf, uint64_t value) {
  char text[32];
  int n = snprintf(text, sizeof text, "%" PRIu64, value);
  field_begin(buf);
  pg_buf_raw(buf, text, (size_t)n);
}

void pg_field_bool(struct pg_buf *buf, bool value) {
  field_begin(buf);
  put_char(buf, value ? 't' : 'f');
}

void pg_field_bytea(struct pg_buf *buf, const uint8_t *bytes, size_t len, size_t max_bytes) {
  if (bytes == NULL) {
    pg_field_null(buf);
    return;
  }
  static const char hex[] = "0123456789abcdef";
  if (len > max_bytes) len = max_bytes;
  field_begin(buf);
  pg_buf_raw(buf, "\\\\x", 3);
  if (!reserve(buf, 2 * len)) return;
  for (size_t i = 0; i < len; i++) {
    buf->data[buf->len++] = hex[bytes[i] >> 4];
    buf->data[buf->len++] = hex[bytes[i] & 0xf];
  }
}

void pg_field_text_array(struct pg_buf *buf, const char *const *items, size_t count, size_t max_item_bytes) {
  field_begin(buf);
  put_char(buf, '{');
  for (size_t i = 0; i < count; i++) {
    if (i > 0) put_char(buf, ',');
    if (items[i] == NULL) {
      pg_buf_raw(buf, "NULL", 4);
      continue;
    }
    put_char(buf, '"');
    struct copy_ctx ctx = {buf, true};
    struct sanitizer_sink sink = {emit_copy, &ctx};
    sanitize(items[i], strlen(items[i]), max_item_bytes, &sink);
    put_char(buf, '"');
  }
  put_char(buf, '}');
}

void pg_field_unix_ms(struct pg_buf *buf, int64_t unix_ms) {
  char text[48];
  time_t seconds = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  size_t n = strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  n += (size_t)snprintf(text + n, sizeof text - n, ".%03d+00", (int)(unix_ms % 1000));
  field_begin(buf);
  pg_buf_raw(buf, text, n);
}

struct plain_ctx {
  char *out;
  size_t len;
  size_t cap;
};

static void emit_plain(void *arg, const char *piece, size_t len) {
  struct plain_ctx *ctx = arg;
  if (ctx->len + len >= ctx->cap) return;
  memcpy(ctx->out + ctx->len, piece, len);
  ctx->len += len;
}

void pg_sanitize_text(const char *text, size_t len, char *out, size_t out_len) {
  struct plain_ctx ctx = {out, 0, out_len};
  struct sanitizer_sink sink = {emit_plain, &ctx};
  sanitize(text, len, out_len - 1, &sink);
  out[ctx.len] = '\0';
}

char *pg_text_array_literal(const char *const *items, size_t count) {
  struct pg_buf buf;
  pg_buf_init(&buf);
  pg_buf_raw(&buf, "{", 1);
  for (size_t i = 0; i < count; i++) {
    if (i > 0) pg_buf_raw(&buf, ",", 1);
    pg_buf_raw(&buf, "\"", 1);
    for (const char *p = items[i]; *p; p++) {
      if (*p == '"' || *p == '\\') pg_buf_raw(&buf, "\\", 1);
      pg_buf_raw(&buf, p, 1);
    }
    pg_buf_raw(&buf, "\"", 1);
  }
  pg_buf_raw(&buf, "}", 2);
  if (pg_buf_failed(&buf)) {
    pg_buf_free(&buf);
    return NULL;
  }
  return buf.data;
}
