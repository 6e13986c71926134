/* The _mta-sts and _smtp._tls TXT records (sts_txt.h). Both share the
 * tag-list shape "v=VERSION; name=value; ...": one tokenizer walks the
 * fields, each parser checks its own names and values. Messages quote the
 * record's bytes through sts_txt_excerpt so that what reaches JSON is
 * printable ASCII. */
#include "sts/sts_txt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FIELD_NAME_MAX_CHARS 32 /* (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
#define EXCERPT_MAX_CHARS 40

static bool is_wsp(uint8_t c) {
  return c == ' ' || c == '\t';
}
static bool is_alnum(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Printable ASCII copy of at most EXCERPT_MAX_CHARS bytes, others as \xHH. */
static void excerpt(char *out, size_t out_len, const uint8_t *data, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < len && i < EXCERPT_MAX_CHARS && used + 5 < out_len; i++) {
    uint8_t c = data[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out[used++] = (char)c;
    } else {
      used += (size_t)snprintf(out + used, out_len - used, "\\x%02x", c);
    }
  }
  if (len > EXCERPT_MAX_CHARS && used + 4 < out_len) {
    memcpy(out + used, "...", 3);
    used += 3;
  }
  out[used] = '\0';
}

/* True when the record starts with version and then ";", a space or ends. */
static bool starts_with_version(const struct sts_txt *txt, const char *version) {
  size_t n = strlen(version);
  if (txt->len < n || memcmp(txt->data, version, n) != 0) return false;
  return txt->len == n || txt->data[n] == ';' || is_wsp(txt->data[n]);
}

struct txt_field {
  const uint8_t *name;
  size_t name_len;
  const uint8_t *value;
  size_t value_len;
};

static bool field_is(const struct txt_field *field, const char *name) {
  return field->name_len == strlen(name) && memcmp(field->name, name, field->name_len) == 0;
}

/* The next "name=value" field after *pos (just after the version or the
 * previous field). Returns 1 with a field, 0 at the end of the record, -1
 * on a syntax error with why set. The value runs to the next ";" or the end,
 * trailing spaces cut; the caller checks its characters. */
static int next_field(const struct sts_txt *txt, size_t *pos, struct txt_field *field, char *why, size_t why_len) {
  const uint8_t *d = txt->data;
  size_t len = txt->len, p = *pos;
  while (p < len && is_wsp(d[p])) p++;
  if (p == len) return 0;
  if (d[p] != ';') {
    char text[EXCERPT_MAX_CHARS * 4 + 8];
    excerpt(text, sizeof text, d + p, len - p);
    snprintf(why, why_len, "expected ';' at byte %zu, found \"%s\"", p, text);
    return -1;
  }
  p++;
  while (p < len && is_wsp(d[p])) p++;
  if (p == len) {
    *pos = p;
    return 0; /* a trailing ";" */
  }
  size_t name_start = p;
  while (p < len && (is_alnum(d[p]) || d[p] == '_' || d[p] == '-' || d[p] == '.')) p++;
  size_t name_len = p - name_start;
  if (name_len == 0 || name_len > FIELD_NAME_MAX_CHARS || !is_alnum(d[name_start]) || p == len || d[p] != '=') {
    char text[EXCERPT_MAX_CHARS * 4 + 8];
    excerpt(text, sizeof text, d + name_start, len - name_start);
    snprintf(why, why_len, "byte %zu: \"%s\" is not a field name=value", name_start, text);
    return -1;
  }
  p++; /* '=' */
  size_t value_start = p;
  while (p < len && d[p] != ';') p++;
  size_t value_end = p;
  while (value_end > value_start && is_wsp(d[value_end - 1])) value_end--;
  field->name = d + name_start;
  field->name_len = name_len;
  field->value = d + value_start;
  field->value_len = value_end - value_start;
  *pos = value_end;
  return 1;
}

/* RFC 8461 3.1 and RFC 8460 3: ext-value = 1*(%x21-3A / %x3C / %x3E-7E). */
static bool is_ext_value(const uint8_t *value, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = value[i];
    if (c < 0x21 || c > 0x7e || c == '=' || c == ';') return false;
  }
  return true;
}

static void field_message(char *why, size_t why_len, size_t record, const struct txt_field *field,
                          const char *problem) {
  char name[EXCERPT_MAX_CHARS * 4 + 8], value[EXCERPT_MAX_CHARS * 4 + 8];
  excerpt(name, sizeof name, field->name, field->name_len);
  excerpt(value, sizeof value, field->value, field->value_len);
  snprintf(why, why_len, "record %zu: %s=\"%s\" %s", record, name, value, problem);
}

/* The index of the only record starting with version; *count says how many
 * do (the index is of the first). */
static size_t find_versioned(const struct sts_txt *txts, size_t n, const char *version, size_t *count) {
  size_t first = 0;
  *count = 0;
  for (size_t i = 0; i < n; i++) {
    if (txts[i].data == NULL || !starts_with_version(&txts[i], version)) continue;
    if (*count == 0) first = i;
    (*count)++;
  }
  return first;
}

static enum sts_record_verdict parse_sts_record(const struct sts_txt *txts, size_t n, struct sts_record *out, char *why,
                                                size_t why_len) {
  static const char version[] = "v=STSv1";
  out->id[0] = '\0';
  if (why_len > 0) why[0] = '\0';
  size_t count = 0;
  size_t index = find_versioned(txts, n, version, &count);
  if (count == 0) return STS_RECORD_ABSENT;
  if (count > 1) {
    snprintf(why, why_len, "%zu TXT records start with v=STSv1 (RFC 8461 3.1: exactly one)", count);
    return STS_RECORD_INVALID;
  }
  const struct sts_txt *txt = &txts[index];
  size_t record = index + 1, pos = strlen(version);
  bool have_id = false;
  struct txt_field field;
  char field_why[STS_TXT_WHY_MAX_BYTES];
  int got;
  while ((got = next_field(txt, &pos, &field, field_why, sizeof field_why)) == 1) {
    if (field_is(&field, "id")) {
      bool ok = field.value_len >= 1 && field.value_len <= STS_ID_MAX_CHARS;
      for (size_t i = 0; ok && i < field.value_len; i++) ok = is_alnum(field.value[i]);
      if (!ok) {
        field_message(why, why_len, record, &field, "is not an id of 1 to 32 letters and digits (RFC 8461 3.1)");
        return STS_RECORD_INVALID;
      }
      if (have_id) {
        field_message(why, why_len, record, &field, "is a second id field");
        out->id[0] = '\0'; /* the first id was copied already */
        return STS_RECORD_INVALID;
      }
      memcpy(out->id, field.value, field.value_len);
      out->id[field.value_len] = '\0';
      have_id = true;
    } else if (!is_ext_value(field.value, field.value_len)) {
      field_message(why, why_len, record, &field, "has a value with spaces, '=' or non-ASCII bytes");
      out->id[0] = '\0';
      return STS_RECORD_INVALID;
    }
  }
  if (got < 0) {
    snprintf(why, why_len, "record %zu: %s", record, field_why);
    out->id[0] = '\0';
    return STS_RECORD_INVALID;
  }
  if (!have_id) {
    snprintf(why, why_len, "record %zu: no id field (RFC 8461 3.1)", record);
    return STS_RECORD_INVALID;
  }
  return STS_RECORD_VALID;
}

enum sts_record_verdict sts_record_parse(const struct sts_txt *txts, size_t n, struct sts_record *out, char *why,
                                         size_t why_len) {
  enum sts_record_verdict verdict = parse_sts_record(txts, n, out, why, why_len);
  if (verdict != STS_RECORD_VALID) out->id[0] = '\0'; /* an id read before the error is not the record's */
  return verdict;
}

static bool ascii_prefix_nocase(const uint8_t *data, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  if (len < n) return false;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = data[i];
    if (c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
    if (c != (uint8_t)prefix[i]) return false;
  }
  return true;
}

/* RFC 8460 3: a rua URI is "mailto:" or "https:" (RFC 3986 schemes are case
 * insensitive). mailto: needs local@domain, https: an authority after "//".
 * No spaces or control bytes; "," separates URIs, ";" fields. */
static bool is_rua_uri(const uint8_t *uri, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (uri[i] <= 0x20 || uri[i] >= 0x7f) return false;
  }
  if (ascii_prefix_nocase(uri, len, "mailto:")) {
    const uint8_t *address = uri + 7;
    size_t address_len = len - 7;
    const uint8_t *at = memchr(address, '@', address_len);
    if (at == NULL) return false;
    size_t local_len = (size_t)(at - address), domain_len = address_len - local_len - 1;
    return local_len > 0 && domain_len > 0 && memchr(at + 1, '@', domain_len) == NULL;
  }
  if (ascii_prefix_nocase(uri, len, "https://")) {
    size_t host_len = 0;
    while (8 + host_len < len && uri[8 + host_len] != '/' && uri[8 + host_len] != '?' && uri[8 + host_len] != '#')
      host_len++;
    return host_len > 0;
  }
  return false;
}

/* Splits the rua value on "," (spaces around allowed) into out->rua. */
static void read_rua(const struct txt_field *field, size_t record, struct tlsrpt_record *out, char *why,
                     size_t why_len) {
  const uint8_t *d = field->value;
  size_t len = field->value_len, p = 0, used = 0;
  unsigned seen = 0;
  while (p <= len && seen < TLSRPT_RUA_MAX_URIS) {
    while (p < len && is_wsp(d[p])) p++;
    size_t start = p;
    while (p < len && d[p] != ',') p++;
    size_t end = p;
    while (end > start && is_wsp(d[end - 1])) end--;
    seen++;
    if (is_rua_uri(d + start, end - start) && used + (end - start) + 2 <= sizeof out->rua) {
      if (used > 0) out->rua[used++] = ',';
      memcpy(out->rua + used, d + start, end - start);
      used += end - start;
      out->rua[used] = '\0';
      out->rua_count++;
    } else {
      out->rua_ignored++;
      if (why_len > 0 && why[0] == '\0') {
        char text[EXCERPT_MAX_CHARS * 4 + 8];
        excerpt(text, sizeof text, d + start, end - start);
        snprintf(why, why_len, "record %zu: rua URI \"%s\" is not a mailto: or https: URI (RFC 8460 3)", record, text);
      }
    }
    p++; /* past ',' (or the end) */
  }
}

enum tlsrpt_record_status tlsrpt_record_parse(const struct sts_txt *txts, size_t n, struct tlsrpt_record *out,
                                              char *why, size_t why_len) {
  static const char version[] = "v=TLSRPTv1";
  memset(out, 0, sizeof *out);
  if (why_len > 0) why[0] = '\0';
  size_t count = 0;
  size_t index = find_versioned(txts, n, version, &count);
  if (count == 0) return TLSRPT_RECORD_NONE;
  if (count > 1) {
    snprintf(why, why_len, "%zu TXT records start with v=TLSRPTv1 (RFC 8460 3: exactly one)", count);
    return TLSRPT_RECORD_INVALID;
  }
  const struct sts_txt *txt = &txts[index];
  size_t record = index + 1, pos = strlen(version);
  bool have_rua = false;
  struct txt_field field;
  char field_why[STS_TXT_WHY_MAX_BYTES];
  int got;
  while ((got = next_field(txt, &pos, &field, field_why, sizeof field_why)) == 1) {
    if (field_is(&field, "rua")) {
      if (have_rua) {
        field_message(why, why_len, record, &field, "is a second rua field");
        memset(out, 0, sizeof *out);
        return TLSRPT_RECORD_INVALID;
      }
      have_rua = true;
      read_rua(&field, record, out, why, why_len);
    } else if (!is_ext_value(field.value, field.value_len)) {
      field_message(why, why_len, record, &field, "has a value with spaces, '=' or non-ASCII bytes");
      memset(out, 0, sizeof *out);
      return TLSRPT_RECORD_INVALID;
    }
  }
  if (got < 0) {
    snprintf(why, why_len, "record %zu: %s", record, field_why);
    memset(out, 0, sizeof *out);
    return TLSRPT_RECORD_INVALID;
  }
  if (!have_rua) {
    snprintf(why, why_len, "record %zu: no rua field (RFC 8460 3)", record);
    return TLSRPT_RECORD_INVALID;
  }
  if (out->rua_count == 0) {
    /* why names the first bad URI */
    out->rua[0] = '\0';
    return TLSRPT_RECORD_INVALID;
  }
  return TLSRPT_RECORD_VALID;
}
