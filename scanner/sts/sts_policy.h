/* The MTA-STS policy (RFC 8461 3.2) and its MX patterns (4.1). A pure
 * parser of the body sts_fetch.h delivers, and the match of one MX host
 * name against a pattern; it does not fetch, and does not decide the
 * domain's status (sts_status.h).
 *
 * Rules (RFC 8461 3.2, where the RFC leaves room, as said):
 * - lines end with LF or CRLF; empty lines and lines without ':' are
 *   ignored, as are fields of unknown names (the RFC: unknown fields MUST be
 *   ignored); names are case-sensitive ("Mode:" is unknown);
 * - the value follows ':' and optional spaces, trailing spaces cut;
 * - version must be present once and be "STSv1"; mode once, one of
 *   enforce/testing/none; max_age once, 1 to 10 digits, at most 31557600;
 *   a second version/mode/max_age line makes the policy invalid (the
 *   grammar says "required once");
 * - mx may repeat; each value is a host name or "*." and a host name
 *   (RFC 5321 Domain: labels of letters, digits and inner hyphens, at most
 *   63 bytes each, 253 in all); an mx line that is neither makes the policy
 *   invalid; at least one mx is required unless mode is none. */
#ifndef DANESCAN_STS_STS_POLICY_H
#define DANESCAN_STS_STS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/status.h"

#define STS_MAX_AGE_MAX_S 31557600 /* RFC 8461 3.2: about one year */
#define STS_POLICY_WHY_MAX_BYTES 256
#define STS_MX_PATTERN_MAX_BYTES 256 /* "*." + 253 + NUL */

enum sts_policy_verdict {
  STS_POLICY_VALID = 0,
  STS_POLICY_INVALID,   /* why says which line and rule */
  STS_POLICY_NO_MEMORY, /* nothing kept; not a verdict on the policy */
};

struct sts_policy {
  enum mta_sts_mode mode;
  int64_t max_age; /* seconds */
  char **mx;       /* the mx values in order, lower case; owned, sts_policy_clear frees */
  size_t mx_count;
};

/* Parses body (len bytes, any bytes, no NUL needed). On STS_POLICY_VALID
 * out holds the policy (free with sts_policy_clear); on any other verdict
 * out is empty and needs no clear (clearing is harmless). */
enum sts_policy_verdict sts_policy_parse(const char *body, size_t len, struct sts_policy *out, char *why,
                                         size_t why_len);

void sts_policy_clear(struct sts_policy *policy); /* frees what it owns; leaves it empty */

/* RFC 8461 4.1: does the MX host name match pattern? Case-insensitive; a
 * trailing dot on host is ignored; a pattern "*.example.com" matches a
 * host of exactly one more label on the left ("mx.example.com", not
 * "example.com" nor "a.mx.example.com"). */
bool sts_mx_match(const char *pattern, const char *host);

/* Does host match any of the policy's mx patterns? */
bool sts_policy_matches(const struct sts_policy *policy, const char *host);

#endif
