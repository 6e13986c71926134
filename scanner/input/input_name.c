/* Domain-name rules for names that enter the scan: the hostname rule applied
 * to list and CSV entries, to zone delegations and (through
 * input_name_normalise) to MX targets, plus the stable name hash used for
 * sharding. A name that fails becomes an `invalid-name` result upstream, so
 * every reason here should tell a researcher what is wrong with the input. */
#include <stdio.h>
#include <string.h>

#include "input/input_internal.h"

static bool is_ldh(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* One label, already lower case. The rule: letters, digits, hyphen (RFC 1123
 * 2.1 hostnames, so a leading digit is fine); no hyphen at either end (no
 * registry delegates such names; "xn--" A-labels have theirs inside); the
 * last label not all digits (RFC 3696 2: no all-numeric TLD, so the name is
 * not an IPv4 address). R-LDH labels ("ab--cd") are kept: old registrations
 * exist. Punycode inside xn-- labels is not checked. */
static int check_label(const uint8_t *label, size_t len, bool is_last, char *reason, size_t reason_len) {
  if (len == 0) {
    snprintf(reason, reason_len, "empty label (two dots in a row or a leading dot)");
    return -1;
  }
  if (len > INPUT_LABEL_MAX_BYTES) {
    snprintf(reason, reason_len, "label of %zu bytes (longer than 63)", len);
    return -1;
  }
  bool all_digits = true;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = label[i];
    if (is_ldh(c)) {
      if (c < '0' || c > '9') {
        all_digits = false;
      }
      continue;
    }
    if (c == 0) {
      snprintf(reason, reason_len, "embedded NUL byte");
    } else if (c >= 0x80) {
      snprintf(reason, reason_len, "non-ASCII byte 0x%02x: IDN names must be A-labels", c);
    } else if (c == '_') {
      snprintf(reason, reason_len, "underscore: not a mail domain");
    } else if (c == ' ' || c == '\t') {
      snprintf(reason, reason_len, "whitespace inside the name");
    } else if (c == '.') {
      snprintf(reason, reason_len, "escaped dot inside a label");
    } else if (c > 0x20 && c < 0x7f) {
      snprintf(reason, reason_len, "bad character '%c' (only letters, digits, hyphen)", c);
    } else {
      snprintf(reason, reason_len, "control byte 0x%02x", c);
    }
    return -1;
  }
  if (label[0] == '-' || label[len - 1] == '-') {
    snprintf(reason, reason_len, "label %s with a hyphen", label[0] == '-' ? "starts" : "ends");
    return -1;
  }
  if (is_last && all_digits) {
    snprintf(reason, reason_len, "top-level label is all digits (an address, not a domain)");
    return -1;
  }
  return 0;
}

int input_hostname_check_wire(const uint8_t *wire, size_t wire_len, char *reason, size_t reason_len) {
  if (wire_len < 2 || wire[0] == 0) {
    snprintf(reason, reason_len, "the root name is not a mail domain");
    return -1;
  }
  size_t pos = 0;
  while (pos < wire_len && wire[pos] != 0) {
    size_t len = wire[pos];
    if (pos + 1 + len >= wire_len) {
      snprintf(reason, reason_len, "malformed name");
      return -1;
    }
    bool is_last = wire[pos + 1 + len] == 0;
    if (check_label(wire + pos + 1, len, is_last, reason, reason_len) != 0) {
      return -1;
    }
    pos += 1 + len;
  }
  if (wire_len - 2 > INPUT_TEXT_MAX_BYTES) { /* text length = wire length - 2 */
    snprintf(reason, reason_len, "name of %zu bytes (longer than 253)", wire_len - 2);
    return -1;
  }
  return 0;
}

int input_name_normalise(const char *text, size_t text_len, char *out, char *reason, size_t reason_len) {
  out[0] = '\0';
  if (text_len > 0 && text[text_len - 1] == '.' && text_len > 1) {
    text_len--; /* one trailing dot: absolute form */
  }
  if (text_len == 0) {
    snprintf(reason, reason_len, "empty name");
    return -1;
  }
  if (text_len == 1 && text[0] == '.') {
    snprintf(reason, reason_len, "the root name is not a mail domain");
    return -1;
  }
  if (text_len > INPUT_TEXT_MAX_BYTES) {
    snprintf(reason, reason_len, "name of %zu bytes (longer than 253)", text_len);
    return -1;
  }
  uint8_t *lower = (uint8_t *)out;
  for (size_t i = 0; i < text_len; i++) {
    uint8_t c = (uint8_t)text[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
  }
  lower[text_len] = '\0';
  size_t start = 0;
  for (size_t i = 0; i <= text_len; i++) {
    if (i == text_len || lower[i] == '.') {
      if (check_label(lower + start, i - start, i == text_len, reason, reason_len) != 0) {
        out[0] = '\0';
        return -1;
      }
      start = i + 1;
    }
  }
  return 0;
}

size_t input_wire_to_text(const uint8_t *wire, size_t wire_len, char *out, size_t out_size) {
  size_t n = 0;
  size_t pos = 0;
  if (out_size == 0) {
    return 0;
  }
  while (pos < wire_len && wire[pos] != 0) {
    size_t len = wire[pos];
    if (pos != 0 && n + 1 < out_size) {
      out[n++] = '.';
    }
    for (size_t i = 0; i < len && pos + 1 + i < wire_len; i++) {
      uint8_t c = wire[pos + 1 + i];
      char piece[5];
      size_t piece_len;
      if (c == '.' || c == '\\') {
        piece[0] = '\\';
        piece[1] = (char)c;
        piece_len = 2;
      } else if (c > 0x20 && c < 0x7f) {
        piece[0] = (char)c;
        piece_len = 1;
      } else {
        snprintf(piece, sizeof piece, "\\%03u", c);
        piece_len = 4;
      }
      if (n + piece_len >= out_size) {
        out[n] = '\0';
        return n;
      }
      memcpy(out + n, piece, piece_len);
      n += piece_len;
    }
    pos += 1 + len;
  }
  out[n] = '\0';
  return n;
}

void input_escape_raw(const char *text, size_t text_len, char *out, size_t out_size) {
  size_t n = 0;
  if (out_size == 0) {
    return;
  }
  for (size_t i = 0; i < text_len; i++) {
    uint8_t c = (uint8_t)text[i];
    char piece[5];
    size_t piece_len;
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      piece[0] = (char)c;
      piece_len = 1;
    } else {
      snprintf(piece, sizeof piece, "\\%03u", c);
      piece_len = 4;
    }
    if (n + piece_len + 4 > out_size) { /* room for "..." and NUL */
      if (n + 4 <= out_size) {
        memcpy(out + n, "...", 3);
        n += 3;
      }
      break;
    }
    memcpy(out + n, piece, piece_len);
    n += piece_len;
  }
  out[n] = '\0';
}

uint64_t input_name_hash(const char *name, size_t name_len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < name_len; i++) {
    h ^= (uint8_t)name[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t input_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

const char *input_format_name(enum input_format format) {
  switch (format) {
  case INPUT_FORMAT_ZONE:
    return "zone";
  case INPUT_FORMAT_LIST:
    return "list";
  case INPUT_FORMAT_CSV:
    return "csv";
  case INPUT_FORMAT_AUTO:
    break;
  }
  return "auto";
}
