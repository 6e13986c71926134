/* UTF-8 validation shared by every writer of text from the network (JSON
 * strings, PostgreSQL COPY text): one definition of "valid" for all outputs.
 * Inline: both writers call it once per byte on their hot paths. */
#ifndef DANESCAN_UTIL_UTF8_H
#define DANESCAN_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence starting at p, with left bytes
 * readable from p (left >= 1); 0 when the byte at p does not start one:
 * stray continuation bytes, truncated sequences, overlong forms, surrogates
 * (U+D800..U+DFFF) and code points above U+10FFFF are refused. */
static inline size_t utf8_sequence_length(const unsigned char *p, size_t left) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp, min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (left < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

#endif
