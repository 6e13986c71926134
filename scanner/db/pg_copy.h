/* Rows for PostgreSQL's COPY text format. Every field goes through one of
 * these writers, so no value from the network or the input can break a COPY
 * or reach SQL text: text is made valid UTF-8 without control characters
 * (invalid bytes and controls become the visible text \xNN; a literal
 * backslash stays a backslash) and capped at a byte limit on a character
 * boundary; raw bytes go to bytea fields as hex. Writers never fail part-way:
 * on allocation failure the buffer is marked failed and later calls are
 * no-ops; check pg_buf_failed at the end. */
#ifndef DANESCAN_DB_PG_COPY_H
#define DANESCAN_DB_PG_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_buf {
  char *data;
  size_t len;
  size_t cap;
  bool failed;
  bool field_written; /* a field of the current row is written (tab before the next) */
};

void pg_buf_init(struct pg_buf *buf);
void pg_buf_free(struct pg_buf *buf);
void pg_buf_reset(struct pg_buf *buf); /* keeps the allocation */
bool pg_buf_failed(const struct pg_buf *buf);
/* Appends raw bytes (no escaping): for SQL literals built by the caller from
 * trusted text only, never from scanned data. */
void pg_buf_raw(struct pg_buf *buf, const char *data, size_t len);

/* Fields of the current row, in column order; pg_row_end ends the row. */
void pg_field_null(struct pg_buf *buf);
/* NULL text writes SQL NULL. At most max_bytes bytes of output text (after
 * escaping invalid bytes) are kept. */
void pg_field_text(struct pg_buf *buf, const char *text, size_t max_bytes);
void pg_field_text_len(struct pg_buf *buf, const char *text, size_t len, size_t max_bytes);
void pg_field_int(struct pg_buf *buf, int64_t value);
void pg_field_uint(struct pg_buf *buf, uint64_t value);
void pg_field_bool(struct pg_buf *buf, bool value);
/* NULL bytes writes SQL NULL; more than max_bytes bytes are cut. */
void pg_field_bytea(struct pg_buf *buf, const uint8_t *bytes, size_t len, size_t max_bytes);
/* A text[] field; each item sanitised and capped as pg_field_text. NULL
 * items are SQL NULL elements. */
void pg_field_text_array(struct pg_buf *buf, const char *const *items, size_t count, size_t max_item_bytes);
/* A timestamptz from Unix milliseconds. */
void pg_field_unix_ms(struct pg_buf *buf, int64_t unix_ms);
void pg_row_end(struct pg_buf *buf);

/* A text[] literal ({"a","b"}) of items, each quoted with '"' and '\'
 * escaped, to pass as a query parameter (never spliced into SQL). Returns a
 * string the caller frees, or NULL when out of memory. */
char *pg_text_array_literal(const char *const *items, size_t count);

/* The sanitised text itself (valid UTF-8, no controls, capped) without COPY
 * escaping, NUL-terminated in out (out_len > 0). For tests and messages. */
void pg_sanitize_text(const char *text, size_t len, char *out, size_t out_len);

#endif
