/* Streaming tokenizer for RFC 1035 section 5 master files, as TLD zone access
 * programmes publish them: it finds the delegations (owners of NS records one
 * label below the zone apex) and skips everything else (glue, DS, RRSIG,
 * NSEC*, records outside the zone). It reads owner, TTL, class and type and
 * only counts rdata tokens, so a line costs one pass over its bytes and no
 * allocation. The apex is --origin when given, else the owner of the first
 * SOA, else (an NS before any SOA) the $ORIGIN in force. Without $ORIGIN
 * or --origin, relative names after the first SOA are completed with its
 * owner, as the loaders of the peers do. NS and SOA rdata
 * may also be in RFC 3597's generic form (\# LENGTH HEX), which is decoded
 * and checked. $INCLUDE is handed to the reader (which opens the file; the
 * tokenizer keeps the origin and owner to restore), and BIND's $GENERATE
 * for NS records yields its owners one by one (input_zone_generate_next),
 * never buffered. The NS target of each delegation (its one rdata name, in
 * either form, relative names completed with the origin) is kept for the
 * reader (input_zone_ns_target): its token is copied when read and parsed
 * only when the record turns out to be a delegation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "input/input_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum record_type { RECORD_OTHER, RECORD_NS, RECORD_SOA };
enum record_stage { STAGE_BEFORE_TYPE, STAGE_RDATA };

struct zone_name {
  uint8_t wire[INPUT_WIRE_MAX_BYTES + 1];
  size_t len; /* 0 = unknown */
};

/* RFC 3597 generic rdata of the NS or SOA record being read. */
struct generic_rdata {
  bool active;                            /* the first rdata token was \# */
  unsigned length;                        /* the declared RDLENGTH */
  unsigned hex_digits;                    /* hex digits seen so far */
  uint8_t wire[INPUT_WIRE_MAX_BYTES + 1]; /* decoded bytes (NS: one name) */
};

/* A $GENERATE of NS records being expanded (input_zone_generate_next). */
struct generate_state {
  bool active;
  char lhs[INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES + 1];
  size_t lhs_len;
  uint64_t next;
  uint64_t stop;
  uint64_t step;
  struct zone_name name;                                /* the owner last returned */
  char rhs[INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES + 1]; /* the NS target template */
  size_t rhs_len;
};

/* What $INCLUDE saves of the including file, restored at its end. */
struct include_saved {
  struct zone_name origin;
  struct zone_name owner;
};

struct input_zone {
  struct zone_name option_origin; /* --origin, or len 0 */
  struct zone_name origin;        /* for relative names */
  struct zone_name apex;
  /* Owner of the record being read, and of the next owner-less line (len 0
   * when unknown or bad). */
  struct zone_name owner;
  /* The owner token it came from: the same text on the next line (the
   * common case in a zone) is not parsed again. */
  char owner_text[128];
  size_t owner_text_len;
  /* The record being read; in_record when parentheses carry it on. */
  bool in_record;
  bool record_bad; /* already reported: only find where it ends */
  unsigned paren_depth;
  enum record_stage stage;
  enum record_type type;
  bool class_in;
  unsigned rdata_tokens;
  struct generic_rdata generic;
  /* The NS record's rdata token as written (ns_text_len 0: none, or too
   * long, or quoted: the target is then unknown). */
  char ns_text[INPUT_ZONE_NS_TEXT_MAX_BYTES];
  size_t ns_text_len;
  /* The NS target of the last delegation returned: in ns_text, still to
   * be read (ns_target_text), else in ns_target (len 0: unknown). */
  bool ns_target_text;
  struct zone_name ns_target;
  struct generate_state generate;
  /* The last $INCLUDE: file name (unescaped) and origin (len 0: none). */
  char include_path[INPUT_ZONE_INCLUDE_PATH_MAX_BYTES + 1];
  struct zone_name include_origin;
  struct include_saved include_stack[INPUT_ZONE_INCLUDE_MAX_DEPTH];
  unsigned include_depth;
};

/* Characters that end an unquoted token (RFC 1035 5.1). */
enum {
  CHAR_BLANK = 1,   /* separates tokens */
  CHAR_DELIM = 2,   /* ends an unquoted token */
  CHAR_SPECIAL = 4, /* matters while skipping rdata */
};
static const uint8_t char_class[256] = {
    [' '] = CHAR_BLANK | CHAR_DELIM,   ['\t'] = CHAR_BLANK | CHAR_DELIM,
    ['\r'] = CHAR_BLANK | CHAR_DELIM,  ['('] = CHAR_DELIM | CHAR_SPECIAL,
    [')'] = CHAR_DELIM | CHAR_SPECIAL, [';'] = CHAR_DELIM | CHAR_SPECIAL,
    ['"'] = CHAR_DELIM | CHAR_SPECIAL, ['\\'] = CHAR_SPECIAL,
};
static inline bool is_blank(char c) {
  return (char_class[(uint8_t)c] & CHAR_BLANK) != 0;
}
static inline bool ends_token(char c) {
  return (char_class[(uint8_t)c] & CHAR_DELIM) != 0;
}

/* The scans of the hot path, 16 bytes at a time where SSE2 is there (every
 * x86-64): find_special finds the next byte that matters while skipping
 * rdata nobody reads ('(', ')', ';', '"', '\\'), find_token_stop the next
 * one that ends an unquoted token or escapes the byte after it (those and
 * the blanks). They read whole aligned 16-byte blocks, which never cross a
 * page, so bytes after end (never used) may be read: hence no ASan there.
 * Both return end when there is none. */
#ifdef __SSE2__
static inline unsigned special_bits(__m128i v) {
  __m128i paren = _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(1)), _mm_set1_epi8(')')); /* '(' is ')' - 1 */
  __m128i m = _mm_or_si128(paren, _mm_cmpeq_epi8(v, _mm_set1_epi8(';')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  return (unsigned)_mm_movemask_epi8(m);
}

static inline unsigned stop_bits(__m128i v) {
  __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
  m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
  return special_bits(v) | (unsigned)_mm_movemask_epi8(m);
}

__attribute__((no_sanitize_address)) static inline const char *find_bits(const char *p, const char *end, bool stops) {
  if (p >= end) {
    return end;
  }
  size_t misalign = (uintptr_t)p & 15;
  const __m128i *block = (const __m128i *)(const void *)(p - misalign);
  __m128i v = _mm_load_si128(block);
  unsigned bits = (stops ? stop_bits(v) : special_bits(v)) >> misalign << misalign;
  for (;;) {
    if (bits != 0) {
      const char *hit = (const char *)block + __builtin_ctz(bits);
      return hit < end ? hit : end;
    }
    block++;
    if ((const char *)block >= end) {
      return end;
    }
    v = _mm_load_si128(block);
    bits = stops ? stop_bits(v) : special_bits(v);
  }
}

static inline const char *find_special(const char *p, const char *end) {
  return find_bits(p, end, false);
}

static inline const char *find_token_stop(const char *p, const char *end) {
  return find_bits(p, end, true);
}
#else
static inline const char *find_special(const char *p, const char *end) {
  while (p < end && (char_class[(uint8_t)*p] & CHAR_SPECIAL) == 0) {
    p++;
  }
  return p;
}

static inline const char *find_token_stop(const char *p, const char *end) {
  while (p < end && !ends_token(*p) && *p != '\\') {
    p++;
  }
  return p;
}
#endif

/* End of the unquoted token starting at p: the first byte that ends a
 * token, not counting escaped ones. */
static inline const char *token_end(const char *p, const char *end) {
  for (;;) {
    p = find_token_stop(p, end);
    if (p == end || *p != '\\') {
      return p;
    }
    p = p + 1 < end ? p + 2 : end; /* a backslash escapes the next byte */
  }
}

/* Token with escapes to a lower-case wire-form name, relative names completed
 * with the origin. Returns 0, or -1 with a message. */
static int parse_name(const struct input_zone *zone, const char *text, size_t text_len, struct zone_name *name,
                      char *message, size_t message_len) {
  uint8_t *wire = name->wire;
  if (text_len == 1 && text[0] == '@') {
    if (zone->origin.len == 0) {
      snprintf(message, message_len, "'@' used but no $ORIGIN is known (give --origin)");
      return -1;
    }
    *name = zone->origin;
    return 0;
  }
  if (text_len == 1 && text[0] == '.') {
    wire[0] = 0;
    name->len = 1;
    return 0;
  }
  size_t pos = 0;   /* where the current label's length byte goes */
  size_t label = 0; /* bytes in the current label */
  for (size_t i = 0; i < text_len; i++) {
    uint8_t c = (uint8_t)text[i];
    if (c == '.') {
      if (label == 0) {
        snprintf(message, message_len, "name has an empty label");
        return -1;
      }
      wire[pos] = (uint8_t)label;
      pos += 1 + label;
      label = 0;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text_len) {
        snprintf(message, message_len, "name ends with a backslash");
        return -1;
      }
      uint8_t next = (uint8_t)text[i + 1];
      if (next >= '0' && next <= '9') {
        if (i + 3 >= text_len || text[i + 2] < '0' || text[i + 2] > '9' || text[i + 3] < '0' || text[i + 3] > '9') {
          snprintf(message, message_len, "bad \\DDD escape in a name");
          return -1;
        }
        unsigned value = (unsigned)(next - '0') * 100 + (unsigned)(text[i + 2] - '0') * 10 +
            (unsigned)(text[i + 3] - '0');
        if (value > 255) {
          snprintf(message, message_len, "\\DDD escape above 255 in a name");
          return -1;
        }
        c = (uint8_t)value;
        i += 3;
      } else {
        c = next;
        i += 1;
      }
    }
    if (c >= 'A' && c <= 'Z') {
      c = (uint8_t)(c + 32);
    }
    if (label == INPUT_LABEL_MAX_BYTES) {
      snprintf(message, message_len, "name has a label longer than 63 bytes");
      return -1;
    }
    if (pos + 1 + label + 1 >= INPUT_WIRE_MAX_BYTES) {
      snprintf(message, message_len, "name longer than 255 bytes");
      return -1;
    }
    wire[pos + 1 + label] = c;
    label++;
  }
  if (label > 0) { /* relative: append the origin */
    wire[pos] = (uint8_t)label;
    pos += 1 + label;
    if (zone->origin.len == 0) {
      snprintf(message, message_len, "relative name but no $ORIGIN is known (give --origin)");
      return -1;
    }
    if (pos + zone->origin.len > INPUT_WIRE_MAX_BYTES) {
      snprintf(message, message_len, "name longer than 255 bytes with the origin");
      return -1;
    }
    memcpy(wire + pos, zone->origin.wire, zone->origin.len);
    name->len = pos + zone->origin.len;
  } else {
    wire[pos] = 0;
    name->len = pos + 1;
  }
  return 0;
}

struct input_zone *input_zone_new(const char *origin_option, char *why, size_t why_len) {
  struct input_zone *zone = calloc(1, sizeof *zone);
  if (zone == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  if (origin_option != NULL && origin_option[0] != '\0') {
    size_t len = strlen(origin_option);
    char message[INPUT_REASON_MAX_BYTES];
    /* --origin is absolute whether or not it ends with a dot. */
    bool dotted = origin_option[len - 1] == '.' && !(len >= 2 && origin_option[len - 2] == '\\');
    char text[INPUT_WIRE_MAX_BYTES * 4 + 2];
    if (len + 2 > sizeof text) {
      snprintf(why, why_len, "--origin: name too long");
      free(zone);
      return NULL;
    }
    memcpy(text, origin_option, len);
    if (!dotted) {
      text[len++] = '.';
    }
    if (parse_name(zone, text, len, &zone->option_origin, message, sizeof message) != 0) {
      snprintf(why, why_len, "--origin %s: %s", origin_option, message);
      free(zone);
      return NULL;
    }
  }
  input_zone_reset(zone);
  return zone;
}

void input_zone_free(struct input_zone *zone) {
  free(zone);
}

void input_zone_reset(struct input_zone *zone) {
  zone->origin = zone->option_origin;
  zone->apex = zone->option_origin;
  zone->owner.len = 0;
  zone->owner_text_len = 0;
  zone->in_record = false;
  zone->record_bad = false;
  zone->paren_depth = 0;
  zone->generate.active = false;
  zone->include_depth = 0;
}

void input_zone_abandon_record(struct input_zone *zone) {
  zone->in_record = false;
  zone->record_bad = false;
  zone->paren_depth = 0;
}

/* Case-insensitive match of a token with an upper-case word of letters,
 * digits and '$' (setting bit 0x20 folds letters and keeps digits). */
static inline bool token_is(const char *token, size_t len, const char *word) {
  for (size_t i = 0; i < len; i++) {
    if (word[i] == '\0' || ((uint8_t)token[i] | 0x20) != ((uint8_t)word[i] | 0x20)) {
      return false;
    }
  }
  return word[len] == '\0';
}

static bool all_digits(const char *s, size_t len) {
  if (len == 0) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
  }
  return true;
}

static inline bool is_ttl_unit(char c) {
  switch (c | 0x20) {
  case 's':
  case 'm':
  case 'h':
  case 'd':
  case 'w':
    return true;
  default:
    return false;
  }
}

/* Value of the digits of TYPEnn / CLASSnn (all_digits checked); values
 * above 65535 come out as 65536 (no such type or class). */
static unsigned numeric_suffix(const char *digits, size_t len) {
  unsigned value = 0;
  for (size_t i = 0; i < len; i++) {
    value = value * 10 + (unsigned)(digits[i] - '0');
    if (value > 65535) {
      return 65536;
    }
  }
  return value;
}

/* TTL: decimal seconds, or BIND's units ("1h30m", "2D"). */
static bool is_ttl(const char *token, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = token[i];
    if ((c < '0' || c > '9') && !is_ttl_unit(c)) {
      return false;
    }
  }
  return len > 0;
}

/* RFC 3597 "CLASSnn" and the classes with mnemonics. Sets *in. */
static bool is_class(const char *token, size_t len, bool *in) {
  if (token_is(token, len, "IN")) {
    *in = true;
    return true;
  }
  if (token_is(token, len, "CH") || token_is(token, len, "HS") || token_is(token, len, "CS") ||
      token_is(token, len, "NONE") || token_is(token, len, "ANY")) {
    *in = false;
    return true;
  }
  if (len > 5 && strncasecmp(token, "CLASS", 5) == 0 && all_digits(token + 5, len - 5)) {
    *in = numeric_suffix(token + 5, len - 5) == 1; /* RFC 3597 5: CLASS1 is IN */
    return true;
  }
  return false;
}

static bool is_type_mnemonic(const char *token, size_t len) {
  if (len == 0 || !((token[0] >= 'A' && token[0] <= 'Z') || (token[0] >= 'a' && token[0] <= 'z'))) {
    return false;
  }
  for (size_t i = 1; i < len; i++) {
    char c = token[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

static enum record_type classify_type(const char *token, size_t len) {
  if (token_is(token, len, "NS")) {
    return RECORD_NS;
  }
  if (token_is(token, len, "SOA")) {
    return RECORD_SOA;
  }
  /* RFC 3597 5: TYPE2 is NS and TYPE6 is SOA, with either rdata form. */
  if (len > 4 && (token[0] | 0x20) == 't' && strncasecmp(token, "TYPE", 4) == 0 && all_digits(token + 4, len - 4)) {
    unsigned value = numeric_suffix(token + 4, len - 4);
    return value == 2 ? RECORD_NS : value == 6 ? RECORD_SOA : RECORD_OTHER;
  }
  return RECORD_OTHER;
}

static enum input_zone_result bad_record(struct input_zone *zone, char *message, size_t message_len, const char *text) {
  snprintf(message, message_len, "%s", text);
  zone->record_bad = true;
  return INPUT_ZONE_BAD_LINE;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = (char)(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A token after "\#" of NS or SOA rdata (RFC 3597 5): the length, then hex
 * in any number of words. Returns 0, or -1 with a message. */
static int generic_token(struct input_zone *zone, const char *token, size_t len, bool quoted, char *message,
                         size_t message_len) {
  struct generic_rdata *generic = &zone->generic;
  if (zone->rdata_tokens == 1) {
    if (quoted || !all_digits(token, len) || len > 5 || numeric_suffix(token, len) > 65535) {
      snprintf(message, message_len, "generic rdata (\\#): the length is not a number of 0..65535");
      return -1;
    }
    generic->length = numeric_suffix(token, len);
    generic->hex_digits = 0;
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    int nibble = quoted ? -1 : hex_value(token[i]);
    if (nibble < 0) {
      snprintf(message, message_len, "generic rdata (\\#): '%c' is not a hex digit", token[i]);
      return -1;
    }
    size_t byte = generic->hex_digits / 2;
    if (byte >= generic->length) {
      snprintf(message, message_len, "generic rdata (\\#): more hex than the length of %u bytes", generic->length);
      return -1;
    }
    if (byte < sizeof generic->wire) {
      generic->wire[byte] = (uint8_t)((generic->hex_digits % 2 == 0) ? nibble << 4 : (generic->wire[byte] | nibble));
    }
    generic->hex_digits++;
  }
  return 0;
}

/* The complete generic rdata of an NS (one uncompressed name, RFC 3597 5:
 * no compression pointers) or SOA record. Returns 0, or -1 with a message. */
static int generic_check(const struct input_zone *zone, char *message, size_t message_len) {
  const struct generic_rdata *generic = &zone->generic;
  if (zone->rdata_tokens < 2) {
    snprintf(message, message_len, "generic rdata (\\#) without a length");
    return -1;
  }
  if (generic->hex_digits != 2 * generic->length) {
    snprintf(message, message_len, "generic rdata (\\#): length %u but %u hex digits given", generic->length,
             generic->hex_digits);
    return -1;
  }
  if (zone->type != RECORD_NS) {
    return 0;
  }
  size_t pos = 0;
  while (pos < generic->length && pos < sizeof generic->wire) {
    uint8_t label = generic->wire[pos];
    if (label == 0) {
      break;
    }
    if (label > INPUT_LABEL_MAX_BYTES) {
      snprintf(message, message_len, "generic NS rdata is not an uncompressed name (label byte 0x%02x)", label);
      return -1;
    }
    pos += 1 + (size_t)label;
  }
  if (pos + 1 != generic->length || pos >= sizeof generic->wire || generic->length > INPUT_WIRE_MAX_BYTES) {
    snprintf(message, message_len, "generic NS rdata of %u bytes is not exactly one name", generic->length);
    return -1;
  }
  return 0;
}

/* One token of a record (not yet reported bad) in the owner-less part. */
static enum input_zone_result record_token(struct input_zone *zone, const char *token, size_t len, bool quoted,
                                           char *message, size_t message_len) {
  if (zone->stage == STAGE_RDATA) {
    /* Only NS and SOA rdata is read; other types' "\#" is skipped unread
     * (a backslash stops the fast skip in scan_tokens). */
    if (zone->type == RECORD_OTHER) {
      return INPUT_ZONE_NOTHING;
    }
    if (zone->rdata_tokens == 0 && !quoted && len == 2 && token[0] == '\\' && token[1] == '#') {
      zone->generic.active = true;
    } else if (zone->rdata_tokens == 0 && zone->type == RECORD_NS) {
      bool keep = !quoted && len <= sizeof zone->ns_text;
      if (keep) memcpy(zone->ns_text, token, len);
      zone->ns_text_len = keep ? len : 0;
    } else if (zone->generic.active && generic_token(zone, token, len, quoted, message, message_len) != 0) {
      zone->record_bad = true;
      return INPUT_ZONE_BAD_LINE;
    }
    zone->rdata_tokens++;
    return INPUT_ZONE_NOTHING;
  }
  if (quoted) {
    return bad_record(zone, message, message_len, "quoted string where a TTL, class or type belongs");
  }
  if (token[0] >= '0' && token[0] <= '9') {
    if (!is_ttl(token, len)) {
      return bad_record(zone, message, message_len, "bad TTL");
    }
    return INPUT_ZONE_NOTHING;
  }
  bool in = true;
  if (is_class(token, len, &in)) {
    if (!in) {
      zone->class_in = false;
    }
    return INPUT_ZONE_NOTHING;
  }
  if (!is_type_mnemonic(token, len)) {
    return bad_record(zone, message, message_len, "bad record type");
  }
  zone->type = classify_type(token, len);
  zone->stage = STAGE_RDATA;
  return INPUT_ZONE_NOTHING;
}

/* Tokens from p to end of line, tracking parentheses, quotes and comments. */
static enum input_zone_result scan_tokens(struct input_zone *zone, const char *p, const char *end, char *message,
                                          size_t message_len) {
  enum input_zone_result result = INPUT_ZONE_NOTHING;
  while (p < end) {
    if (zone->record_bad || (zone->stage == STAGE_RDATA && zone->type == RECORD_OTHER)) {
      /* Rdata nobody reads (DS, RRSIG, glue...): only parentheses, quotes
       * and comments matter, so jump to the next such byte. */
      p = find_special(p, end);
      if (p == end) {
        break;
      }
    }
    char c = *p;
    if (is_blank(c)) {
      p++;
      continue;
    }
    if (c == ';') {
      break;
    }
    if (c == '(') {
      zone->paren_depth++;
      p++;
      continue;
    }
    if (c == ')') {
      if (zone->paren_depth == 0) {
        zone->in_record = false;
        return bad_record(zone, message, message_len, "')' without '('");
      }
      zone->paren_depth--;
      p++;
      continue;
    }
    const char *token = p;
    bool quoted = c == '"';
    if (quoted) {
      token = ++p;
      while (p < end && *p != '"') {
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
      }
      if (p >= end) {
        /* Quotes do not span lines: the record cannot be delimited. */
        zone->paren_depth = 0;
        zone->in_record = false;
        return bad_record(zone, message, message_len, "unterminated quoted string");
      }
    } else {
      p = token_end(p, end);
    }
    size_t len = (size_t)(p - token);
    if (quoted) {
      p++; /* closing quote */
    }
    if (!zone->record_bad && record_token(zone, token, len, quoted, message, message_len) == INPUT_ZONE_BAD_LINE) {
      /* Go on to the end of the line: parentheses after the bad token
       * still say where the record ends. */
      result = INPUT_ZONE_BAD_LINE;
    }
  }
  return result;
}

static bool names_equal(const struct zone_name *a, const struct zone_name *b) {
  return a->len == b->len && memcmp(a->wire, b->wire, a->len) == 0;
}

static void name_text(const struct zone_name *name, char *out, size_t out_size) {
  if (name->len == 1) {
    snprintf(out, out_size, ".");
    return;
  }
  input_wire_to_text(name->wire, name->len, out, out_size);
}

/* The owner of an IN NS record: a delegation when one label below the apex
 * (fixed from the origin when no SOA came first). */
static enum input_zone_result ns_owner(struct input_zone *zone, const struct zone_name *owner, const uint8_t **wire,
                                       size_t *wire_len, char *message, size_t message_len) {
  if (zone->apex.len == 0) {
    if (zone->origin.len == 0) {
      snprintf(message, message_len, "NS record before any SOA or $ORIGIN: the zone apex is unknown (give --origin)");
      return INPUT_ZONE_BAD_LINE;
    }
    zone->apex = zone->origin;
  }
  size_t first = owner->wire[0];
  if (first == 0 || owner->len != 1 + first + zone->apex.len ||
      memcmp(owner->wire + 1 + first, zone->apex.wire, zone->apex.len) != 0) {
    return INPUT_ZONE_NOTHING; /* apex NS, deeper, or out of zone */
  }
  *wire = owner->wire;
  *wire_len = owner->len;
  return INPUT_ZONE_DELEGATION;
}

/* The target of the NS record just read (a delegation): the generic form's
 * name lowered, or the token parsed; len 0 when it is not a name (the
 * delegation still counts: the target is only unknown). */
static void ns_target_of_record(struct input_zone *zone) {
  struct zone_name *target = &zone->ns_target;
  target->len = 0;
  zone->ns_target_text = false;
  if (zone->generic.active) {
    size_t len = zone->generic.length; /* generic_check: one name, <= 255 bytes */
    for (size_t i = 0; i < len; i++) {
      uint8_t c = zone->generic.wire[i];
      target->wire[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
    }
    /* Length bytes are below 64, so lowering never touches them. */
    target->len = len;
    return;
  }
  zone->ns_target_text = zone->ns_text_len > 0; /* read by input_zone_ns_target_text */
}

/* A complete record: SOA fixes the apex; NS one label below it is a
 * delegation. */
static enum input_zone_result finish_record(struct input_zone *zone, const uint8_t **wire, size_t *wire_len,
                                            char *message, size_t message_len) {
  if (zone->record_bad) {
    return INPUT_ZONE_NOTHING;
  }
  if (zone->stage != STAGE_RDATA) {
    snprintf(message, message_len, "record without a type");
    return INPUT_ZONE_BAD_LINE;
  }
  if (!zone->class_in) {
    return INPUT_ZONE_NOTHING;
  }
  if (zone->generic.active && generic_check(zone, message, message_len) != 0) {
    return INPUT_ZONE_BAD_LINE;
  }
  if (zone->type == RECORD_SOA) {
    if (!zone->generic.active && zone->rdata_tokens != 7) {
      snprintf(message, message_len, "SOA record with %u fields, not 7", zone->rdata_tokens);
      return INPUT_ZONE_BAD_LINE;
    }
    if (zone->apex.len == 0) {
      zone->apex = zone->owner;
      /* A file without $ORIGIN relies on its loader for relative names, and
       * every loader names the zone of its SOA (named-compilezone's zone
       * argument, NSD's zone: name, ldns-read-zone's SOA owner). */
      if (zone->origin.len == 0) zone->origin = zone->apex;
    } else if (!names_equal(&zone->apex, &zone->owner)) {
      char owner[128], apex[128];
      name_text(&zone->owner, owner, sizeof owner);
      name_text(&zone->apex, apex, sizeof apex);
      snprintf(message, message_len, "SOA of %s in the zone of %s: one zone per file", owner, apex);
      return INPUT_ZONE_BAD_LINE;
    }
    return INPUT_ZONE_NOTHING;
  }
  if (zone->type != RECORD_NS) {
    return INPUT_ZONE_NOTHING;
  }
  if (!zone->generic.active && zone->rdata_tokens != 1) {
    snprintf(message, message_len, "NS record with %u fields, not one name", zone->rdata_tokens);
    return INPUT_ZONE_BAD_LINE;
  }
  enum input_zone_result result = ns_owner(zone, &zone->owner, wire, wire_len, message, message_len);
  if (result == INPUT_ZONE_DELEGATION) {
    ns_target_of_record(zone);
  }
  return result;
}

/* A token of a directive line; quoted: it was in double quotes (which are
 * not part of it). */
struct directive_token {
  const char *text;
  size_t len;
  bool quoted;
};

#define DIRECTIVE_MAX_TOKENS 8

/* Splits a directive line into blank-separated tokens up to a ';' comment.
 * Returns the number found (at most max; more are counted in *extra), or
 * -1 for a quote not closed on the line. */
static int directive_split(const char *p, const char *end, struct directive_token *tokens, size_t max, size_t *extra) {
  size_t count = 0;
  *extra = 0;
  while (p < end) {
    if (is_blank(*p)) {
      p++;
      continue;
    }
    if (*p == ';') {
      break;
    }
    struct directive_token token = {p, 0, *p == '"'};
    if (token.quoted) {
      token.text = ++p;
      while (p < end && *p != '"') {
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
      }
      if (p >= end) {
        return -1;
      }
      token.len = (size_t)(p - token.text);
      p++;
    } else {
      while (p < end && !is_blank(*p) && *p != ';') {
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
      }
      token.len = (size_t)(p - token.text);
    }
    if (count < max) {
      tokens[count++] = token;
    } else {
      (*extra)++;
    }
  }
  return (int)count;
}

static enum input_zone_result directive_origin(struct input_zone *zone, const struct directive_token *tokens, int count,
                                               char *message, size_t message_len) {
  struct zone_name origin;
  char why[INPUT_REASON_MAX_BYTES];
  if (count < 2) {
    snprintf(message, message_len, "$ORIGIN without a name");
    return INPUT_ZONE_BAD_LINE;
  }
  if (parse_name(zone, tokens[1].text, tokens[1].len, &origin, why, sizeof why) != 0) {
    snprintf(message, message_len, "$ORIGIN: %s", why);
    return INPUT_ZONE_BAD_LINE;
  }
  zone->origin = origin;
  zone->owner_text_len = 0; /* relative owner texts now mean other names */
  return INPUT_ZONE_NOTHING;
}

/* ---- $GENERATE (BIND) ---- */

/* BIND reads "start-stop[/step]" as unsigned numbers and refuses values
 * above 2^31 - 1. */
#define GENERATE_VALUE_MAX 0x7fffffffULL

static bool parse_u31(const char **p, const char *end, uint64_t *value) {
  const char *start = *p;
  uint64_t v = 0;
  while (*p < end && **p >= '0' && **p <= '9') {
    v = v * 10 + (uint64_t)(**p - '0');
    if (v > GENERATE_VALUE_MAX) {
      return false;
    }
    (*p)++;
  }
  *value = v;
  return *p > start;
}

/* "start-stop[/step]": start <= stop, step >= 1. Returns 0, or -1. */
static int generate_range(const char *text, size_t len, struct generate_state *state) {
  const char *p = text;
  const char *end = text + len;
  uint64_t step = 1;
  if (!parse_u31(&p, end, &state->next) || p == end || *p++ != '-' || !parse_u31(&p, end, &state->stop)) {
    return -1;
  }
  if (p < end && (*p++ != '/' || !parse_u31(&p, end, &step) || step == 0)) {
    return -1;
  }
  if (p != end || state->next > state->stop) {
    return -1;
  }
  state->step = step;
  return 0;
}

/* Digits of value in base 8, 10 or 16 (upper: X), at least width wide
 * (zero-padded). Returns the length, or 0 when out is too small. */
static size_t generate_number(int64_t value, unsigned width, char base, char *out, size_t out_size) {
  char digits[32];
  size_t n = 0;
  bool negative = value < 0;
  uint64_t v = negative ? (uint64_t)(-value) : (uint64_t)value;
  unsigned radix = base == 'o' ? 8 : (base == 'x' || base == 'X') ? 16 : 10;
  const char *alphabet = base == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[n++] = alphabet[v % radix];
    v /= radix;
  } while (v != 0 && n < sizeof digits);
  size_t pad = width > n + (negative ? 1 : 0) ? width - n - (negative ? 1 : 0) : 0;
  size_t total = (negative ? 1 : 0) + pad + n;
  if (total >= out_size) {
    return 0;
  }
  size_t o = 0;
  if (negative) {
    out[o++] = '-';
  }
  for (size_t i = 0; i < pad; i++) {
    out[o++] = '0';
  }
  while (n > 0) {
    out[o++] = digits[--n];
  }
  return o;
}

/* BIND's nibble mode (n, N): hex nibbles lowest first, joined by '.', until
 * the value is used up and width characters (dots included) are written. */
static size_t generate_nibbles(uint64_t value, unsigned width, char base, char *out, size_t out_size) {
  const char *alphabet = base == 'N' ? "0123456789ABCDEF" : "0123456789abcdef";
  size_t o = 0;
  do {
    if (o + 1 >= out_size) {
      return 0;
    }
    out[o++] = alphabet[value & 0x0f];
    value >>= 4;
    width = width > 0 ? width - 1 : 0;
    if (width > 0 || value != 0) {
      if (o + 1 >= out_size) {
        return 0;
      }
      out[o++] = '.';
      width = width > 0 ? width - 1 : 0;
    }
  } while (value != 0 || width > 0);
  return o;
}

/* "{offset[,width[,base]]}" at text (after the '$'): sets the modifier and
 * returns the bytes consumed, or 0 when malformed. */
static size_t generate_modifier(const char *text, size_t len, int64_t *offset, unsigned *width, char *base) {
  size_t i = 1; /* past '{' */
  bool negative = false;
  if (i < len && (text[i] == '-' || text[i] == '+')) {
    negative = text[i] == '-';
    i++;
  }
  uint64_t parts[2] = {0, 0};
  for (int part = 0; part < 2; part++) {
    size_t digits = 0;
    while (i < len && text[i] >= '0' && text[i] <= '9' && digits < 10) {
      parts[part] = parts[part] * 10 + (uint64_t)(text[i++] - '0');
      digits++;
    }
    if (digits == 0 || (i < len && text[i] >= '0' && text[i] <= '9')) {
      return 0;
    }
    if (i < len && text[i] == '}') {
      break;
    }
    if (i >= len || text[i] != ',') {
      return 0;
    }
    i++;
    if (part == 1) {
      if (i >= len || strchr("doxXnN", text[i]) == NULL || text[i] == '\0') {
        return 0;
      }
      *base = text[i++];
    }
  }
  if (i >= len || text[i] != '}' || parts[1] > 255) {
    return 0;
  }
  *offset = negative ? -(int64_t)parts[0] : (int64_t)parts[0];
  *width = (unsigned)parts[1];
  return i + 1;
}

/* The template with value substituted: "$" is the value, "${...}" a
 * modified value, "$$" and "\$" a literal '$' (the backslash is kept, as
 * BIND keeps it, for the name parser). Returns the length, or -1 with a
 * message (a bad modifier, or longer than out_size). */
static int generate_expand(const char *tmpl, size_t tmpl_len, uint64_t value, char *out, size_t out_size, char *message,
                           size_t message_len) {
  size_t o = 0;
  for (size_t i = 0; i < tmpl_len; i++) {
    char c = tmpl[i];
    if (c == '\\' && i + 1 < tmpl_len) {
      if (o + 2 >= out_size) {
        goto too_long;
      }
      out[o++] = c;
      out[o++] = tmpl[++i];
      continue;
    }
    if (c != '$') {
      if (o + 1 >= out_size) {
        goto too_long;
      }
      out[o++] = c;
      continue;
    }
    if (i + 1 < tmpl_len && tmpl[i + 1] == '$') {
      if (o + 1 >= out_size) {
        goto too_long;
      }
      out[o++] = '$';
      i++;
      continue;
    }
    int64_t offset = 0;
    unsigned width = 0;
    char base = 'd';
    if (i + 1 < tmpl_len && tmpl[i + 1] == '{') {
      size_t used = generate_modifier(tmpl + i + 1, tmpl_len - i - 1, &offset, &width, &base);
      if (used == 0) {
        snprintf(message, message_len,
                 "$GENERATE: bad modifier (want ${offset[,width[,base]]}, base d, o, x, X, n or N)");
        return -1;
      }
      i += used;
    }
    int64_t shown = (int64_t)value + offset;
    size_t n = (base == 'n' || base == 'N') ? generate_nibbles((uint64_t)shown, width, base, out + o, out_size - o)
                                            : generate_number(shown, width, base, out + o, out_size - o);
    if (n == 0) {
      goto too_long;
    }
    o += n;
  }
  out[o] = '\0';
  return (int)o;
too_long:
  snprintf(message, message_len, "$GENERATE: generated text longer than %zu bytes", out_size - 1);
  return -1;
}

/* "$GENERATE range lhs [ttl] [class] type rhs": checks the range, the
 * templates and the type; for IN NS, arms the iterator. Other types (PTR,
 * A, CNAME...) are checked and skipped: they delegate nothing. */
static enum input_zone_result directive_generate(struct input_zone *zone, const struct directive_token *tokens,
                                                 int count, size_t extra, char *message, size_t message_len) {
  struct generate_state *state = &zone->generate;
  state->active = false;
  if (count < 5) {
    snprintf(message, message_len, "$GENERATE needs a range, an owner, a type and rdata");
    return INPUT_ZONE_BAD_LINE;
  }
  if (generate_range(tokens[1].text, tokens[1].len, state) != 0) {
    snprintf(message, message_len, "$GENERATE: bad range (want start-stop[/step], start <= stop < 2^31)");
    return INPUT_ZONE_BAD_LINE;
  }
  uint64_t names = (state->stop - state->next) / state->step + 1;
  if (names > INPUT_ZONE_GENERATE_MAX_NAMES) {
    snprintf(message, message_len, "$GENERATE range of %llu names above the limit of %d", (unsigned long long)names,
             INPUT_ZONE_GENERATE_MAX_NAMES);
    return INPUT_ZONE_BAD_LINE;
  }
  bool in = true;
  int at = 3;
  for (int fields = 0; fields < 2 && at < count; fields++) {
    bool class_in = true;
    if (!tokens[at].quoted && tokens[at].text[0] >= '0' && tokens[at].text[0] <= '9' &&
        is_ttl(tokens[at].text, tokens[at].len)) {
      at++;
    } else if (!tokens[at].quoted && is_class(tokens[at].text, tokens[at].len, &class_in)) {
      in = in && class_in;
      at++;
    }
  }
  if (at + 1 >= count || tokens[at].quoted || !is_type_mnemonic(tokens[at].text, tokens[at].len)) {
    snprintf(message, message_len, "$GENERATE without a record type and rdata");
    return INPUT_ZONE_BAD_LINE;
  }
  enum record_type type = classify_type(tokens[at].text, tokens[at].len);
  const struct directive_token *lhs = &tokens[2];
  char scratch[INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES * 4 + 1];
  for (int t = 0; t < 2; t++) { /* both templates must expand */
    const struct directive_token *tmpl = t == 0 ? lhs : &tokens[at + 1];
    if (generate_expand(tmpl->text, tmpl->len, state->stop, scratch, sizeof scratch, message, message_len) < 0) {
      return INPUT_ZONE_BAD_LINE;
    }
  }
  if (type != RECORD_NS || !in) {
    return INPUT_ZONE_NOTHING;
  }
  if (count + (int)extra != at + 2) {
    snprintf(message, message_len, "$GENERATE of NS records with more than one name as rdata");
    return INPUT_ZONE_BAD_LINE;
  }
  if (lhs->len > INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES) {
    snprintf(message, message_len, "$GENERATE owner template longer than %d bytes",
             INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES);
    return INPUT_ZONE_BAD_LINE;
  }
  memcpy(state->lhs, lhs->text, lhs->len);
  state->lhs_len = lhs->len;
  /* The target template: kept when it fits (else the targets are unknown). */
  const struct directive_token *rhs = &tokens[at + 1];
  state->rhs_len = rhs->len <= INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES && !rhs->quoted ? rhs->len : 0;
  memcpy(state->rhs, rhs->text, state->rhs_len);
  state->active = true;
  return INPUT_ZONE_GENERATE;
}

enum input_zone_result input_zone_generate_next(struct input_zone *zone, const uint8_t **wire, size_t *wire_len,
                                                char *message, size_t message_len) {
  struct generate_state *state = &zone->generate;
  char text[INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES * 4 + 1];
  while (state->active) {
    uint64_t value = state->next;
    if (state->stop - value < state->step) {
      state->active = false; /* value is the last one */
    } else {
      state->next = value + state->step;
    }
    char why[INPUT_REASON_MAX_BYTES];
    int len = generate_expand(state->lhs, state->lhs_len, value, text, sizeof text, why, sizeof why);
    if (len < 0 || parse_name(zone, text, (size_t)len, &state->name, why, sizeof why) != 0) {
      /* One report for the line, not one per value. */
      state->active = false;
      snprintf(message, message_len, "$GENERATE owner for %llu: %s", (unsigned long long)value, why);
      return INPUT_ZONE_BAD_LINE;
    }
    enum input_zone_result result = ns_owner(zone, &state->name, wire, wire_len, message, message_len);
    if (result == INPUT_ZONE_BAD_LINE) {
      state->active = false;
    }
    if (result == INPUT_ZONE_DELEGATION) {
      zone->ns_target.len = 0;
      zone->ns_target_text = false;
      len = state->rhs_len > 0 ? generate_expand(state->rhs, state->rhs_len, value, text, sizeof text, why, sizeof why)
                               : -1;
      if (len <= 0 || parse_name(zone, text, (size_t)len, &zone->ns_target, why, sizeof why) != 0) {
        zone->ns_target.len = 0;
      }
    }
    if (result != INPUT_ZONE_NOTHING) {
      return result;
    }
  }
  return INPUT_ZONE_NOTHING;
}

/* RFC 1035 5.1: "$INCLUDE <file-name> [<domain-name>] [<comment>]". The
 * file name is unescaped ("\X" is X) into include_path for the reader. */
static enum input_zone_result directive_include(struct input_zone *zone, const struct directive_token *tokens,
                                                int count, char *message, size_t message_len) {
  if (count < 2 || tokens[1].len == 0) {
    snprintf(message, message_len, "$INCLUDE without a file name");
    return INPUT_ZONE_BAD_LINE;
  }
  if (count > 3) {
    snprintf(message, message_len, "$INCLUDE with more than a file name and an origin");
    return INPUT_ZONE_BAD_LINE;
  }
  size_t used = 0;
  for (size_t i = 0; i < tokens[1].len; i++) {
    char c = tokens[1].text[i];
    if (c == '\\' && i + 1 < tokens[1].len) {
      c = tokens[1].text[++i];
    }
    if (used == INPUT_ZONE_INCLUDE_PATH_MAX_BYTES || c == '\0') {
      snprintf(message, message_len, "$INCLUDE: file name too long");
      return INPUT_ZONE_BAD_LINE;
    }
    zone->include_path[used++] = c;
  }
  zone->include_path[used] = '\0';
  zone->include_origin.len = 0;
  if (count == 3) {
    char why[INPUT_REASON_MAX_BYTES];
    if (parse_name(zone, tokens[2].text, tokens[2].len, &zone->include_origin, why, sizeof why) != 0) {
      snprintf(message, message_len, "$INCLUDE origin: %s", why);
      return INPUT_ZONE_BAD_LINE;
    }
  }
  return INPUT_ZONE_INCLUDE;
}

static enum input_zone_result directive(struct input_zone *zone, const char *line, const char *end, char *message,
                                        size_t message_len) {
  struct directive_token tokens[DIRECTIVE_MAX_TOKENS];
  size_t extra = 0;
  int count = directive_split(line, end, tokens, DIRECTIVE_MAX_TOKENS, &extra);
  if (count < 0) {
    snprintf(message, message_len, "unterminated quoted string in a directive");
    return INPUT_ZONE_BAD_LINE;
  }
  const char *name = tokens[0].text;
  size_t name_len = tokens[0].len;
  if (token_is(name, name_len, "$INCLUDE")) {
    return directive_include(zone, tokens, count + (int)extra, message, message_len);
  }
  if (token_is(name, name_len, "$GENERATE")) {
    return directive_generate(zone, tokens, count, extra, message, message_len);
  }
  if (token_is(name, name_len, "$ORIGIN")) {
    return directive_origin(zone, tokens, count, message, message_len);
  }
  if (token_is(name, name_len, "$TTL")) {
    if (count < 2 || !is_ttl(tokens[1].text, tokens[1].len)) {
      snprintf(message, message_len, "$TTL without a valid TTL");
      return INPUT_ZONE_BAD_LINE;
    }
    return INPUT_ZONE_NOTHING;
  }
  char shown[40];
  input_escape_raw(name, name_len, shown, sizeof shown);
  snprintf(message, message_len, "unknown directive %s", shown);
  return INPUT_ZONE_BAD_LINE;
}

/* ---- $INCLUDE state ---- */

/* The common NS target, an absolute host name ("ns1.Example.NET."), to
 * text in one pass: lower case, without the dot. Returns its length, or 0
 * when the token is anything else (relative, escapes, a bad label...): the
 * general path then decides. Accepts only what input_hostname_check_wire
 * accepts. */
/* Host-name bytes: letters lowered, digits, '-' and '.' as they are; 0
 * for every other byte. */
static const uint8_t host_byte[256] = {
    ['-'] = '-', ['.'] = '.', ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5',
    ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9', ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd',
    ['E'] = 'e', ['F'] = 'f', ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l',
    ['M'] = 'm', ['N'] = 'n', ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
    ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z', ['a'] = 'a', ['b'] = 'b',
    ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j',
    ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
    ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z',
};

/* A label of out[start, end): 1..63 bytes, no hyphen at either end. */
static inline bool host_label_ok(const char *out, size_t start, size_t end) {
  return end > start && end - start <= INPUT_LABEL_MAX_BYTES && out[start] != '-' && out[end - 1] != '-';
}

/* The common NS target, an absolute host name ("ns1.Example.NET."), to
 * text in one pass: lower case, without the dot. Returns its length, or 0
 * when the token is anything else (relative, escapes, a bad label...): the
 * general path then decides. Accepts only what input_hostname_check_wire
 * accepts. */
#ifdef __SSE2__
/* The same for a name already in lower case (as zone dumps write them), 16
 * bytes at a time: every byte one of [a-z0-9.-] (signed compares: bytes
 * above 0x7f are negative and fail), then only the dots are visited for
 * the label rules. text is read in whole 16-byte blocks up to text_cap
 * (its buffer), never past it. Returns 0 when in doubt (upper case...). */
static size_t lower_host_text(const char *text, size_t n, size_t text_cap, char *out) {
  if (n + 15 > text_cap) {
    return 0;
  }
  size_t start = 0; /* of the current label */
  for (size_t block = 0; block < n; block += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(text + block));
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
                                   _mm_cmplt_epi8(v, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i dot = _mm_cmpeq_epi8(v, _mm_set1_epi8('.'));
    __m128i ok = _mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(dot, _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
    unsigned valid = n - block >= 16 ? 0xffffu : (1u << (n - block)) - 1;
    if (((unsigned)_mm_movemask_epi8(ok) & valid) != valid) {
      return 0;
    }
    for (unsigned dots = (unsigned)_mm_movemask_epi8(dot) & valid; dots != 0; dots &= dots - 1) {
      size_t at = block + (size_t)__builtin_ctz(dots);
      if (!host_label_ok(text, start, at)) {
        return 0;
      }
      start = at + 1;
    }
  }
  if (!host_label_ok(text, start, n)) {
    return 0;
  }
  bool digits = true; /* the last label must not be all digits */
  for (size_t i = start; i < n && digits; i++) {
    digits = text[i] >= '0' && text[i] <= '9';
  }
  if (digits) {
    return 0;
  }
  memcpy(out, text, n);
  out[n] = '\0';
  return n;
}
#endif

static size_t simple_host_text(const char *restrict text, size_t len, size_t text_cap, char *restrict out,
                               size_t out_size) {
  if (len < 2 || text[len - 1] != '.' || len - 1 > INPUT_TEXT_MAX_BYTES || len > out_size) {
    return 0;
  }
  size_t n = len - 1;
#ifdef __SSE2__
  size_t fast = lower_host_text(text, n, text_cap, out);
  if (fast > 0) {
    return fast;
  }
#else
  (void)text_cap;
#endif
  size_t start = 0; /* of the current label */
  const uint8_t *restrict in = (const uint8_t *)text;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = host_byte[in[i]];
    out[i] = (char)c;
    if (__builtin_expect(c <= '.', 0)) { /* 0, '-' or '.' */
      if (c == 0) {
        return 0;
      }
      if (c == '.') {
        if (!host_label_ok(out, start, i)) {
          return 0;
        }
        start = i + 1;
      }
    }
  }
  if (!host_label_ok(out, start, n)) {
    return 0;
  }
  bool digits = true; /* the last label must not be all digits */
  for (size_t i = start; i < n && digits; i++) {
    digits = out[i] >= '0' && out[i] <= '9';
  }
  if (digits) {
    return 0;
  }
  out[n] = '\0';
  return n;
}

size_t input_zone_ns_target_text(struct input_zone *zone, char *out, size_t out_size) {
  struct zone_name *target = &zone->ns_target;
  if (zone->ns_target_text) {
    zone->ns_target_text = false;
    size_t len = simple_host_text(zone->ns_text, zone->ns_text_len, sizeof zone->ns_text, out, out_size);
    if (len > 0) {
      return len;
    }
    char why[INPUT_REASON_MAX_BYTES];
    if (parse_name(zone, zone->ns_text, zone->ns_text_len, target, why, sizeof why) != 0) {
      target->len = 0;
    }
  }
  char reason[INPUT_REASON_MAX_BYTES];
  if (target->len <= 1 || input_hostname_check_wire(target->wire, target->len, reason, sizeof reason) != 0) {
    return 0;
  }
  return input_wire_to_text(target->wire, target->len, out, out_size);
}

const char *input_zone_include_path(const struct input_zone *zone) {
  return zone->include_path;
}

int input_zone_include_begin(struct input_zone *zone, char *message, size_t message_len) {
  if (zone->include_depth >= INPUT_ZONE_INCLUDE_MAX_DEPTH) {
    snprintf(message, message_len, "$INCLUDE nested more than %d deep", INPUT_ZONE_INCLUDE_MAX_DEPTH);
    return -1;
  }
  struct include_saved *saved = &zone->include_stack[zone->include_depth++];
  saved->origin = zone->origin;
  saved->owner = zone->owner;
  if (zone->include_origin.len != 0) {
    zone->origin = zone->include_origin;
  }
  /* The owner carries into the included file, as NSD and ldns read it
   * (an included file of NS lines for the apex is common). */
  zone->owner_text_len = 0;
  return 0;
}

void input_zone_include_end(struct input_zone *zone) {
  if (zone->include_depth == 0) {
    return;
  }
  const struct include_saved *saved = &zone->include_stack[--zone->include_depth];
  zone->origin = saved->origin;
  zone->owner = saved->owner;
  zone->owner_text_len = 0;
}

enum input_zone_result input_zone_line(struct input_zone *zone, const char *line, size_t line_len, const uint8_t **wire,
                                       size_t *wire_len, char *message, size_t message_len) {
  const char *p = line;
  const char *end = line + line_len;
  if (memchr(line, '\0', line_len) != NULL) {
    zone->paren_depth = 0;
    zone->in_record = false;
    snprintf(message, message_len, "NUL byte in a zone file line");
    return INPUT_ZONE_BAD_LINE;
  }
  if (!zone->in_record) {
    if (line_len == 0 || line[0] == ';') {
      return INPUT_ZONE_NOTHING;
    }
    if (line[0] == '$') {
      return directive(zone, line, end, message, message_len);
    }
    zone->record_bad = false;
    zone->paren_depth = 0;
    zone->stage = STAGE_BEFORE_TYPE;
    zone->type = RECORD_OTHER;
    zone->class_in = true;
    zone->rdata_tokens = 0;
    zone->generic.active = false;
    zone->ns_text_len = 0;
    if (is_blank(line[0])) {
      while (p < end && is_blank(*p)) {
        p++;
      }
      if (p == end || *p == ';') {
        return INPUT_ZONE_NOTHING; /* blank or comment line */
      }
      if (zone->owner.len == 0) {
        snprintf(message, message_len, "record without an owner and no previous owner");
        return INPUT_ZONE_BAD_LINE;
      }
    } else {
      p = token_end(p, end);
      size_t text_len = (size_t)(p - line);
      if (text_len == 0) {
        snprintf(message, message_len, "line starts with '%c' where an owner name belongs", *p);
        return INPUT_ZONE_BAD_LINE;
      }
      if (zone->owner.len == 0 || text_len != zone->owner_text_len || memcmp(line, zone->owner_text, text_len) != 0) {
        char why[INPUT_REASON_MAX_BYTES];
        zone->owner_text_len = 0;
        if (parse_name(zone, line, text_len, &zone->owner, why, sizeof why) != 0) {
          /* Later owner-less lines must not inherit an older owner. */
          zone->owner.len = 0;
          zone->record_bad = true;
          snprintf(message, message_len, "owner: %s", why);
          enum input_zone_result ignored = scan_tokens(zone, p, end, why, sizeof why);
          (void)ignored;
          zone->in_record = zone->paren_depth > 0;
          return INPUT_ZONE_BAD_LINE;
        }
        if (text_len <= sizeof zone->owner_text) {
          memcpy(zone->owner_text, line, text_len);
          zone->owner_text_len = text_len;
        }
      }
    }
  }
  enum input_zone_result result = scan_tokens(zone, p, end, message, message_len);
  if (result == INPUT_ZONE_BAD_LINE) {
    /* With parentheses open, the record's other lines are skipped, not
     * reported again (record_bad). */
    zone->in_record = zone->paren_depth > 0;
    return INPUT_ZONE_BAD_LINE;
  }
  if (zone->paren_depth > 0) {
    zone->in_record = true;
    return INPUT_ZONE_NOTHING;
  }
  zone->in_record = false;
  return finish_record(zone, wire, wire_len, message, message_len);
}

enum input_zone_result input_zone_finish(struct input_zone *zone, char *message, size_t message_len) {
  bool open = zone->in_record && !zone->record_bad;
  zone->in_record = false;
  zone->paren_depth = 0;
  if (open) {
    snprintf(message, message_len, "end of file inside parentheses");
    return INPUT_ZONE_BAD_LINE;
  }
  return INPUT_ZONE_NOTHING;
}
