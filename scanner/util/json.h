/* A growable text buffer for writing JSON. Strings are escaped so the output
 * is always valid JSON and valid UTF-8: bytes that are not valid UTF-8 are
 * written as \u00XX (their Latin-1 reading), control characters as \uXXXX.
 * Writers never fail part-way: on allocation failure the buffer is marked
 * failed and every later call is a no-op; check json_buf_failed at the end. */
#ifndef DANESCAN_UTIL_JSON_H
#define DANESCAN_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_buf {
  char *data;
  size_t len;
  size_t cap;
  bool failed;
  bool need_comma; /* a value was written at this nesting level */
};

void json_buf_init(struct json_buf *buf);
void json_buf_free(struct json_buf *buf);
void json_buf_reset(struct json_buf *buf); /* keeps the allocation */
bool json_buf_failed(const struct json_buf *buf);

/* Structure: objects and arrays; keys are written with json_key. */
void json_object_begin(struct json_buf *buf);
void json_object_end(struct json_buf *buf);
void json_array_begin(struct json_buf *buf);
void json_array_end(struct json_buf *buf);
void json_key(struct json_buf *buf, const char *key);

/* Values. json_string(NULL) writes null. */
void json_string(struct json_buf *buf, const char *text);
void json_string_len(struct json_buf *buf, const char *text, size_t len);
void json_int(struct json_buf *buf, int64_t value);
void json_uint(struct json_buf *buf, uint64_t value);
void json_double(struct json_buf *buf, double value);
void json_bool(struct json_buf *buf, bool value);
void json_null(struct json_buf *buf);
void json_hex(struct json_buf *buf, const uint8_t *bytes, size_t len);

/* Appends raw text (no escaping, no comma handling): for newlines. */
void json_raw(struct json_buf *buf, const char *text, size_t len);

#endif
