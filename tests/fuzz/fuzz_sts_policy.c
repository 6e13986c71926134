/* libFuzzer target: the MTA-STS policy parser and MX pattern match
 * (sts/sts_policy.c). The input is a policy body as a fetch delivers it
 * (any bytes, up to the fetch's cap).
 *
 * Checks (abort on a broken one): a valid policy has a mode in range, a
 * max_age of 0 to 31557600, mx patterns that are non-empty, lower case,
 * printable and without spaces, at least one unless mode is none; each
 * pattern matches a host built from it (itself, or "x" and its suffix for
 * "*."), a wildcard never matches its bare suffix nor two labels; an
 * invalid policy keeps nothing and has a printable why; parsing twice gives
 * the same verdict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts/sts_fetch.h"
#include "sts/sts_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *text) {
  for (const char *p = text; *p != '\0'; p++) {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) abort();
  }
}

static void check_pattern(const struct sts_policy *policy, const char *pattern) {
  size_t len = strlen(pattern);
  if (len == 0 || len >= STS_MX_PATTERN_MAX_BYTES) abort();
  for (size_t i = 0; i < len; i++) {
    char c = pattern[i];
    if (c >= 'A' && c <= 'Z') abort();
    if (c <= ' ' || c >= 0x7f) abort();
  }
  if (pattern[0] != '*' && !sts_policy_matches(policy, pattern)) abort();
  if (pattern[0] == '*') {
    const char *suffix = pattern + 2;
    char host[STS_MX_PATTERN_MAX_BYTES + 8];
    snprintf(host, sizeof host, "x.%s", suffix);
    if (!sts_mx_match(pattern, host)) abort();
    snprintf(host, sizeof host, "X.%s.", suffix);
    if (!sts_mx_match(pattern, host)) abort();
    if (sts_mx_match(pattern, suffix)) abort();
    snprintf(host, sizeof host, "a.b.%s", suffix);
    if (sts_mx_match(pattern, host)) abort();
  } else if (!sts_mx_match(pattern, pattern)) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > STS_POLICY_MAX_BYTES) return 0;
  struct sts_policy policy;
  char why[STS_POLICY_WHY_MAX_BYTES];
  enum sts_policy_verdict verdict = sts_policy_parse((const char *)data, size, &policy, why, sizeof why);
  if (verdict == STS_POLICY_VALID) {
    if (why[0] != '\0') abort();
    if (policy.mode >= STS_MODE_COUNT) abort();
    if (policy.max_age < 0 || policy.max_age > STS_MAX_AGE_MAX_S) abort();
    if (policy.mx_count == 0 && policy.mode != STS_MODE_NONE) abort();
    for (size_t i = 0; i < policy.mx_count; i++) check_pattern(&policy, policy.mx[i]);
  } else {
    if (policy.mx != NULL || policy.mx_count != 0) abort();
    if (why[0] == '\0') abort();
    check_printable(why);
  }
  struct sts_policy again;
  char why_again[STS_POLICY_WHY_MAX_BYTES];
  enum sts_policy_verdict second = sts_policy_parse((const char *)data, size, &again, why_again, sizeof why_again);
  if (second != verdict && second != STS_POLICY_NO_MEMORY && verdict != STS_POLICY_NO_MEMORY) abort();
  if (second == verdict && again.mx_count != policy.mx_count) abort();
  sts_policy_clear(&again);
  sts_policy_clear(&policy);
  return 0;
}
