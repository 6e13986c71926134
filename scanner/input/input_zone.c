/* Streaming tokenizer for RFC 1035 section 5 master files, as TLD zone access
 * programmes publish them: it finds the delegations (owners of NS records one
 * label below the zone apex) and skips everything else (glue, DS, RRSIG,
 * NSEC*, records outside the zone). It reads owner, TTL, class and type and
 * only counts rdata tokens, so a line costs one pass over its bytes and no
 * allocation. The apex is --origin when given, else the owner of the first
 * SOA, else (an NS before any SOA) the $ORIGIN in force. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "input/input_internal.h"

enum record_type { RECORD_OTHER, RECORD_NS, RECORD_SOA };
enum record_stage { STAGE_BEFORE_TYPE, STAGE_RDATA };

struct zone_name {
  uint8_t wire[INPUT_WIRE_MAX_BYTES + 1];
  size_t len; /* 0 = unknown */
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

/* TTL: decimal seconds, or BIND's units ("1h30m", "2D"). */
static bool is_ttl(const char *token, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = token[i];
    if ((c < '0' || c > '9') && strchr("smhdwSMHDW", c) == NULL) {
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
    *in = (len == 6 && token[5] == '1');
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
  if (token_is(token, len, "NS") || token_is(token, len, "TYPE2")) {
    return RECORD_NS;
  }
  if (token_is(token, len, "SOA") || token_is(token, len, "TYPE6")) {
    return RECORD_SOA;
  }
  return RECORD_OTHER;
}

static enum input_zone_result bad_record(struct input_zone *zone, char *message, size_t message_len, const char *text) {
  snprintf(message, message_len, "%s", text);
  zone->record_bad = true;
  return INPUT_ZONE_BAD_LINE;
}

/* One token of a record (not yet reported bad) in the owner-less part. */
static enum input_zone_result record_token(struct input_zone *zone, const char *token, size_t len, bool quoted,
                                           char *message, size_t message_len) {
  if (zone->stage == STAGE_RDATA) {
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
      while (p < end && (char_class[(uint8_t)*p] & CHAR_SPECIAL) == 0) {
        p++;
      }
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
      while (p < end && !ends_token(*p)) {
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
      }
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
  if (zone->type == RECORD_SOA) {
    if (zone->rdata_tokens != 7) {
      snprintf(message, message_len, "SOA record with %u fields, not 7", zone->rdata_tokens);
      return INPUT_ZONE_BAD_LINE;
    }
    if (zone->apex.len == 0) {
      zone->apex = zone->owner;
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
  if (zone->rdata_tokens != 1) {
    snprintf(message, message_len, "NS record with %u fields, not one name", zone->rdata_tokens);
    return INPUT_ZONE_BAD_LINE;
  }
  if (zone->apex.len == 0) {
    if (zone->origin.len == 0) {
      snprintf(message, message_len, "NS record before any SOA or $ORIGIN: the zone apex is unknown (give --origin)");
      return INPUT_ZONE_BAD_LINE;
    }
    zone->apex = zone->origin;
  }
  const struct zone_name *owner = &zone->owner;
  size_t first = owner->wire[0];
  if (first == 0 || owner->len != 1 + first + zone->apex.len ||
      memcmp(owner->wire + 1 + first, zone->apex.wire, zone->apex.len) != 0) {
    return INPUT_ZONE_NOTHING; /* apex NS, deeper, or out of zone */
  }
  *wire = owner->wire;
  *wire_len = owner->len;
  return INPUT_ZONE_DELEGATION;
}

static enum input_zone_result directive(struct input_zone *zone, const char *line, const char *end, char *message,
                                        size_t message_len) {
  const char *p = line;
  while (p < end && !ends_token(*p)) {
    p++;
  }
  size_t name_len = (size_t)(p - line);
  while (p < end && is_blank(*p)) {
    p++;
  }
  const char *arg = p;
  while (p < end && !ends_token(*p)) {
    p += (*p == '\\' && p + 1 < end) ? 2 : 1;
  }
  size_t arg_len = (size_t)(p - arg);
  if (token_is(line, name_len, "$INCLUDE")) {
    snprintf(message, message_len, "$INCLUDE refused: included files are not read (give them as inputs instead)");
    return INPUT_ZONE_BAD_LINE;
  }
  if (token_is(line, name_len, "$ORIGIN")) {
    struct zone_name origin;
    char why[INPUT_REASON_MAX_BYTES];
    if (arg_len == 0) {
      snprintf(message, message_len, "$ORIGIN without a name");
      return INPUT_ZONE_BAD_LINE;
    }
    if (parse_name(zone, arg, arg_len, &origin, why, sizeof why) != 0) {
      snprintf(message, message_len, "$ORIGIN: %s", why);
      return INPUT_ZONE_BAD_LINE;
    }
    zone->origin = origin;
    zone->owner_text_len = 0; /* relative owner texts now mean other names */
    return INPUT_ZONE_NOTHING;
  }
  if (token_is(line, name_len, "$TTL")) {
    if (!is_ttl(arg, arg_len)) {
      snprintf(message, message_len, "$TTL without a valid TTL");
      return INPUT_ZONE_BAD_LINE;
    }
    return INPUT_ZONE_NOTHING;
  }
  char shown[40];
  input_escape_raw(line, name_len, shown, sizeof shown);
  snprintf(message, message_len, "unknown directive %s", shown);
  return INPUT_ZONE_BAD_LINE;
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
      while (p < end && !ends_token(*p)) {
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
      }
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
