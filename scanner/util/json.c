/* JSON writer for the JSON Lines sink and the metadata file. Values coming
 * from the network (banners, EDE texts) may hold any byte; escaping here is
 * what keeps one hostile server from corrupting a whole output file. */
#include "util/json.h"
#include "util/growbuf.h"
#include "util/utf8.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_buf_init(struct json_buf *buf) {
  memset(buf, 0, sizeof *buf);
}

void json_buf_free(struct json_buf *buf) {
  free(buf->data);
  memset(buf, 0, sizeof *buf);
}

void json_buf_reset(struct json_buf *buf) {
  buf->len = 0;
  buf->failed = false;
  buf->need_comma = false;
}

bool json_buf_failed(const struct json_buf *buf) {
  return buf->failed;
}

/* Room for extra more bytes and the NUL kept after them. */
static bool reserve(struct json_buf *buf, size_t extra) {
  return growbuf_reserve(&buf->data, &buf->cap, buf->len + extra + 1, 1024, &buf->failed);
}

void json_raw(struct json_buf *buf, const char *text, size_t len) {
  if (!reserve(buf, len)) return;
  memcpy(buf->data + buf->len, text, len);
  buf->len += len;
  buf->data[buf->len] = '\0';
}

static void put_char(struct json_buf *buf, char c) {
  if (buf->len + 2 > buf->cap && !reserve(buf, 1)) return;
  if (buf->failed) return;
  buf->data[buf->len++] = c;
  buf->data[buf->len] = '\0';
}

static void before_value(struct json_buf *buf) {
  if (buf->need_comma) put_char(buf, ',');
  buf->need_comma = true;
}

void json_object_begin(struct json_buf *buf) {
  before_value(buf);
  put_char(buf, '{');
  buf->need_comma = false;
}

void json_object_end(struct json_buf *buf) {
  put_char(buf, '}');
  buf->need_comma = true;
}

void json_array_begin(struct json_buf *buf) {
  before_value(buf);
  put_char(buf, '[');
  buf->need_comma = false;
}

void json_array_end(struct json_buf *buf) {
  put_char(buf, ']');
  buf->need_comma = true;
}

/* \u00XX for one byte: a control character, or a byte that is not valid
 * UTF-8 (its Latin-1 reading). */
static char *put_byte_escape(char *out, unsigned char c) {
  static const char digits[] = "0123456789abcdef";
  memcpy(out, "\\u00", 4);
  out[4] = digits[c >> 4];
  out[5] = digits[c & 15];
  return out + 6;
}

void json_string_len(struct json_buf *buf, const char *text, size_t len) {
  before_value(buf);
  /* Room for the worst case (every byte escaped as \u00XX, 6 bytes) once,
   * then bytes are stored without a check each: this runs for every string
   * of every record. */
  if (len > (SIZE_MAX - 8) / 6 || !reserve(buf, 6 * len + 2)) {
    buf->failed = true;
    return;
  }
  char *out = buf->data + buf->len;
  *out++ = '"';
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *out++ = (char)c; /* plain printable ASCII (and DEL) */
      i++;
    } else if (c == '"' || c == '\\') {
      *out++ = '\\';
      *out++ = (char)c;
      i++;
    } else if (c == '\n') {
      memcpy(out, "\\n", 2);
      out += 2;
      i++;
    } else if (c == '\r') {
      memcpy(out, "\\r", 2);
      out += 2;
      i++;
    } else if (c == '\t') {
      memcpy(out, "\\t", 2);
      out += 2;
      i++;
    } else if (c < 0x20) {
      out = put_byte_escape(out, c);
      i++;
    } else {
      size_t seq = utf8_sequence_length(s + i, len - i);
      if (seq == 0) {
        out = put_byte_escape(out, c);
        i++;
      } else {
        memcpy(out, s + i, seq);
        out += seq;
        i += seq;
      }
    }
  }
  *out++ = '"';
  *out = '\0';
  buf->len = (size_t)(out - buf->data);
}

void json_string(struct json_buf *buf, const char *text) {
  if (text == NULL) {
    json_null(buf);
    return;
  }
  json_string_len(buf, text, strlen(text));
}

void json_key(struct json_buf *buf, const char *key) {
  /* Keys are the schema's own ASCII names, never network data: copied
   * without the escaping pass (measured: escaping keys cost a third of
   * record formatting). */
  size_t len = strlen(key);
  if (!reserve(buf, len + 4)) return;
  char *out = buf->data + buf->len;
  if (buf->need_comma) *out++ = ',';
  *out++ = '"';
  memcpy(out, key, len);
  out += len;
  *out++ = '"';
  *out++ = ':';
  *out = '\0';
  buf->len = (size_t)(out - buf->data);
  buf->need_comma = false;
}

/* Decimal digits of value into the end of text[24]; returns the start. */
static char *format_uint(uint64_t value, char text[24]) {
  char *p = text + 23;
  *p = '\0';
  do {
    *--p = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  return p;
}

void json_int(struct json_buf *buf, int64_t value) {
  char text[24];
  uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
  char *start = format_uint(magnitude, text);
  if (value < 0) *--start = '-';
  before_value(buf);
  json_raw(buf, start, (size_t)(text + 23 - start));
}

void json_uint(struct json_buf *buf, uint64_t value) {
  char text[24];
  char *start = format_uint(value, text);
  before_value(buf);
  json_raw(buf, start, (size_t)(text + 23 - start));
}

void json_double(struct json_buf *buf, double value) {
  char text[32];
  int n = snprintf(text, sizeof text, "%.6g", value);
  before_value(buf);
  json_raw(buf, text, (size_t)n);
}

void json_bool(struct json_buf *buf, bool value) {
  before_value(buf);
  json_raw(buf, value ? "true" : "false", value ? 4 : 5);
}

void json_null(struct json_buf *buf) {
  before_value(buf);
  json_raw(buf, "null", 4);
}

void json_hex(struct json_buf *buf, const uint8_t *bytes, size_t len) {
  static const char digits[] = "0123456789abcdef";
  before_value(buf);
  if (!reserve(buf, 2 * len + 2)) return;
  buf->data[buf->len++] = '"';
  for (size_t i = 0; i < len; i++) {
    buf->data[buf->len++] = digits[bytes[i] >> 4];
    buf->data[buf->len++] = digits[bytes[i] & 15];
  }
  buf->data[buf->len++] = '"';
  buf->data[buf->len] = '\0';
}
