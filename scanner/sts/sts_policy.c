/* The MTA-STS policy body (sts_policy.h): one pass over the lines, the
 * known fields checked, the mx values copied. Bounded by the body, which
 * the fetch caps at STS_POLICY_MAX_BYTES. */
#include "sts/sts_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_NAME_MAX_BYTES 253
#define LABEL_MAX_BYTES 63

static bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}
static bool is_let_dig(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5321 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig
 * [Ldh-str] (no hyphen first or last), within DNS lengths. */
static bool is_host_name(const char *name, size_t len) {
  if (len == 0 || len > HOST_NAME_MAX_BYTES) return false;
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') return false;
      label = 0;
    } else if (is_let_dig(c) || (c == '-' && label > 0)) {
      if (++label > LABEL_MAX_BYTES) return false;
    } else {
      return false;
    }
  }
  return label > 0 && name[len - 1] != '-';
}

static bool is_mx_pattern(const char *value, size_t len) {
  if (len >= 2 && value[0] == '*' && value[1] == '.') return is_host_name(value + 2, len - 2);
  return is_host_name(value, len);
}

static bool value_is(const char *value, size_t len, const char *word) {
  return len == strlen(word) && memcmp(value, word, len) == 0;
}

/* Printable ASCII quote of a value for a message. */
static void quote(char *out, size_t out_len, const char *value, size_t len) {
  size_t used = 0;
  for (size_t i = 0; i < len && i < 40 && used + 5 < out_len; i++) {
    unsigned char c = (unsigned char)value[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out[used++] = (char)c;
    } else {
      used += (size_t)snprintf(out + used, out_len - used, "\\x%02x", c);
    }
  }
  if (len > 40 && used + 4 < out_len) {
    memcpy(out + used, "...", 3);
    used += 3;
  }
  out[used] = '\0';
}

struct parse_state {
  bool have_version, have_mode, have_max_age;
  size_t mx_capacity;
};

static int add_mx(struct sts_policy *policy, struct parse_state *state, const char *value, size_t len) {
  if (policy->mx_count == state->mx_capacity) {
    size_t capacity = state->mx_capacity ? state->mx_capacity * 2 : 4;
    char **grown = realloc(policy->mx, capacity * sizeof *grown);
    if (grown == NULL) return -1;
    policy->mx = grown;
    state->mx_capacity = capacity;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) return -1;
  for (size_t i = 0; i < len; i++) {
    char c = value[i];
    copy[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  copy[len] = '\0';
  policy->mx[policy->mx_count++] = copy;
  return 0;
}

/* One "key: value" line. Returns the verdict so far. */
static enum sts_policy_verdict read_field(struct sts_policy *policy, struct parse_state *state, size_t line_no,
                                          const char *key, size_t key_len, const char *value, size_t value_len,
                                          char *why, size_t why_len) {
  char text[200];
  quote(text, sizeof text, value, value_len);
  if (value_is(key, key_len, "version")) {
    if (state->have_version) {
      snprintf(why, why_len, "line %zu: a second version field", line_no);
      return STS_POLICY_INVALID;
    }
    if (!value_is(value, value_len, "STSv1")) {
      snprintf(why, why_len, "line %zu: version \"%s\" is not STSv1", line_no, text);
      return STS_POLICY_INVALID;
    }
    state->have_version = true;
  } else if (value_is(key, key_len, "mode")) {
    if (state->have_mode) {
      snprintf(why, why_len, "line %zu: a second mode field", line_no);
      return STS_POLICY_INVALID;
    }
    if (value_is(value, value_len, "enforce")) {
      policy->mode = STS_MODE_ENFORCE;
    } else if (value_is(value, value_len, "testing")) {
      policy->mode = STS_MODE_TESTING;
    } else if (value_is(value, value_len, "none")) {
      policy->mode = STS_MODE_NONE;
    } else {
      snprintf(why, why_len, "line %zu: mode \"%s\" is not enforce, testing or none", line_no, text);
      return STS_POLICY_INVALID;
    }
    state->have_mode = true;
  } else if (value_is(key, key_len, "max_age")) {
    if (state->have_max_age) {
      snprintf(why, why_len, "line %zu: a second max_age field", line_no);
      return STS_POLICY_INVALID;
    }
    bool digits = value_len >= 1 && value_len <= 10;
    int64_t max_age = 0;
    for (size_t i = 0; digits && i < value_len; i++) {
      digits = value[i] >= '0' && value[i] <= '9';
      max_age = max_age * 10 + (value[i] - '0');
    }
    if (!digits || max_age > STS_MAX_AGE_MAX_S) {
      snprintf(why, why_len, "line %zu: max_age \"%s\" is not a number of seconds from 0 to %d", line_no, text,
               STS_MAX_AGE_MAX_S);
      return STS_POLICY_INVALID;
    }
    policy->max_age = max_age;
    state->have_max_age = true;
  } else if (value_is(key, key_len, "mx")) {
    if (!is_mx_pattern(value, value_len)) {
      snprintf(why, why_len, "line %zu: mx \"%s\" is not a host name or *. and a host name", line_no, text);
      return STS_POLICY_INVALID;
    }
    if (add_mx(policy, state, value, value_len) != 0) return STS_POLICY_NO_MEMORY;
  }
  return STS_POLICY_VALID; /* unknown fields are ignored (RFC 8461 3.2) */
}

enum sts_policy_verdict sts_policy_parse(const char *body, size_t len, struct sts_policy *out, char *why,
                                         size_t why_len) {
  memset(out, 0, sizeof *out);
  out->max_age = -1;
  if (why_len > 0) why[0] = '\0';
  struct parse_state state = {0};
  enum sts_policy_verdict verdict = STS_POLICY_VALID;
  size_t pos = 0, line_no = 0;
  while (pos < len && verdict == STS_POLICY_VALID) {
    line_no++;
    const char *line = body + pos;
    const char *newline = memchr(line, '\n', len - pos);
    size_t line_len = newline ? (size_t)(newline - line) : len - pos;
    pos += line_len + (newline ? 1 : 0);
    if (line_len > 0 && line[line_len - 1] == '\r') line_len--;
    const char *colon = memchr(line, ':', line_len);
    if (colon == NULL) continue; /* empty or not a field */
    size_t key_len = (size_t)(colon - line);
    const char *value = colon + 1;
    size_t value_len = line_len - key_len - 1;
    while (value_len > 0 && is_wsp(*value)) {
      value++;
      value_len--;
    }
    while (value_len > 0 && is_wsp(value[value_len - 1])) value_len--;
    verdict = read_field(out, &state, line_no, line, key_len, value, value_len, why, why_len);
  }
  if (verdict == STS_POLICY_VALID) {
    if (!state.have_version) {
      snprintf(why, why_len, "no version field");
      verdict = STS_POLICY_INVALID;
    } else if (!state.have_mode) {
      snprintf(why, why_len, "no mode field");
      verdict = STS_POLICY_INVALID;
    } else if (!state.have_max_age) {
      snprintf(why, why_len, "no max_age field");
      verdict = STS_POLICY_INVALID;
    } else if (out->mx_count == 0 && out->mode != STS_MODE_NONE) {
      snprintf(why, why_len, "no mx field while mode is %s", mta_sts_mode_name(out->mode));
      verdict = STS_POLICY_INVALID;
    }
  }
  if (verdict != STS_POLICY_VALID) {
    sts_policy_clear(out);
    if (verdict == STS_POLICY_NO_MEMORY) snprintf(why, why_len, "out of memory reading the policy");
  }
  return verdict;
}

void sts_policy_clear(struct sts_policy *policy) {
  if (policy == NULL) return;
  for (size_t i = 0; i < policy->mx_count; i++) free(policy->mx[i]);
  free(policy->mx);
  policy->mx = NULL;
  policy->mx_count = 0;
  policy->mode = STS_MODE_ENFORCE;
  policy->max_age = -1;
}

bool sts_mx_match(const char *pattern, const char *host) {
  if (pattern == NULL || host == NULL) return false;
  size_t host_len = strlen(host);
  if (host_len > 0 && host[host_len - 1] == '.') host_len--;
  if (pattern[0] == '*' && pattern[1] == '.') {
    /* RFC 8461 4.1: the wildcard stands for exactly one leftmost label. */
    const char *dot = memchr(host, '.', host_len);
    if (dot == NULL || dot == host) return false;
    const char *rest = dot + 1;
    size_t rest_len = host_len - (size_t)(rest - host);
    const char *suffix = pattern + 2;
    return rest_len == strlen(suffix) && rest_len > 0 && strncasecmp(rest, suffix, rest_len) == 0;
  }
  return host_len == strlen(pattern) && host_len > 0 && strncasecmp(host, pattern, host_len) == 0;
}

bool sts_policy_matches(const struct sts_policy *policy, const char *host) {
  for (size_t i = 0; i < policy->mx_count; i++) {
    if (sts_mx_match(policy->mx[i], host)) return true;
  }
  return false;
}
