/* The two TXT records a domain publishes beside its MX for authenticated
 * mail transport: `_mta-sts.DOMAIN` (RFC 8461 3.1: is there an MTA-STS
 * policy, and its id) and `_smtp._tls.DOMAIN` (RFC 8460 3: where TLS
 * failures are reported). Pure parsers of the TXT strings of one RRset: they
 * do not look anything up, fetch the policy (sts_fetch.h) or parse it
 * (sts_policy.h). Bytes are the resolver's, so any byte may appear; every
 * function reads exactly the lengths it is given. */
#ifndef DANESCAN_STS_STS_TXT_H
#define DANESCAN_STS_STS_TXT_H

#include <stddef.h>
#include <stdint.h>

#include "record/status.h"

#define STS_ID_MAX_CHARS 32       /* RFC 8461 3.1: id = 1*32(ALPHA / DIGIT) */
#define STS_TXT_WHY_MAX_BYTES 256 /* a why buffer of this size holds every message */
#define TLSRPT_RUA_MAX_BYTES 1024 /* the valid rua URIs kept, joined by "," */
#define TLSRPT_RUA_MAX_URIS 16    /* URIs examined per record; more are ignored */

/* One TXT RR: its character-strings concatenated (RFC 7208 3.3 style, as
 * RFC 8461 and 8460 records are read). */
struct sts_txt {
  const uint8_t *data;
  size_t len;
};

enum sts_record_verdict {
  STS_RECORD_ABSENT = 0, /* no TXT record starts with v=STSv1 */
  STS_RECORD_INVALID,    /* one does but is malformed (no valid id), or several do */
  STS_RECORD_VALID,      /* exactly one, well-formed: id holds its id */
};

struct sts_record {
  char id[STS_ID_MAX_CHARS + 1]; /* "" unless STS_RECORD_VALID */
};

/* Reads the TXT RRset of _mta-sts.DOMAIN (n records, n may be 0). Records
 * that do not start with "v=STSv1" followed by ";", a space or the end are
 * not MTA-STS records and are ignored (RFC 8461 3.1). The one record must
 * match the grammar of 3.1: fields "name=value" separated by ";" with
 * optional spaces, exactly one "id" of 1 to 32 letters and digits,
 * extension fields of the grammar's characters. Returns the verdict; for
 * STS_RECORD_INVALID why says which record and what is wrong. */
enum sts_record_verdict sts_record_parse(const struct sts_txt *txts, size_t n, struct sts_record *out, char *why,
                                         size_t why_len);

struct tlsrpt_record {
  char rua[TLSRPT_RUA_MAX_BYTES]; /* the valid URIs, in order, joined by ","; "" unless valid */
  unsigned rua_count;             /* how many rua lists */
  unsigned rua_ignored;           /* URIs of the rua field that are not mailto:/https: URIs */
};

/* Reads the TXT RRset of _smtp._tls.DOMAIN. Records not starting with
 * "v=TLSRPTv1" (then ";", a space or the end) are ignored (RFC 8460 3).
 * NONE: no such record. INVALID: more than one, a syntax error (fields are
 * "name=value" separated by ";"), no rua field, or no valid URI in it.
 * VALID: one record with at least one valid rua URI ("mailto:" with an
 * address local@domain, or "https://" with a host); the invalid ones are
 * counted in rua_ignored and why names the first (why is "" otherwise). */
enum tlsrpt_record_status tlsrpt_record_parse(const struct sts_txt *txts, size_t n, struct tlsrpt_record *out,
                                              char *why, size_t why_len);

#endif
