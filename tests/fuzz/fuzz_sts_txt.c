/* libFuzzer target: the _mta-sts and _smtp._tls TXT record parsers
 * (sts/sts_txt.c). Byte 0 even: the rest is an _mta-sts RRset, odd: a
 * _smtp._tls RRset; the records are separated by the byte 0x1e (so any
 * other byte, NUL included, can be inside a record), at most 8 records.
 *
 * Checks (abort on a broken one): a valid MTA-STS record has an id of 1 to
 * 32 letters and digits found in one of the records; a valid TLS-RPT record
 * has rua_count URIs in rua, each starting mailto: or https:// (any case),
 * within its buffer; every why is printable ASCII, non-empty for invalid;
 * absent/none leaves nothing. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sts/sts_txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 8

static void check_why(const char *why, bool must_say) {
  if (must_say && why[0] == '\0') abort();
  for (const char *p = why; *p != '\0'; p++) {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) abort();
  }
}

static void check_sts(const struct sts_txt *txts, size_t n) {
  struct sts_record record;
  char why[STS_TXT_WHY_MAX_BYTES];
  enum sts_record_verdict verdict = sts_record_parse(txts, n, &record, why, sizeof why);
  size_t id_len = strlen(record.id);
  switch (verdict) {
  case STS_RECORD_VALID: {
    if (id_len < 1 || id_len > STS_ID_MAX_CHARS) abort();
    for (size_t i = 0; i < id_len; i++) {
      char c = record.id[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) abort();
    }
    bool found = false;
    for (size_t r = 0; r < n && !found; r++) {
      for (size_t i = 0; i + id_len <= txts[r].len && !found; i++)
        found = memcmp(txts[r].data + i, record.id, id_len) == 0;
    }
    if (!found) abort();
    check_why(why, false);
    break;
  }
  case STS_RECORD_INVALID:
    if (id_len != 0) abort();
    check_why(why, true);
    break;
  case STS_RECORD_ABSENT:
    if (id_len != 0) abort();
    break;
  default:
    abort();
  }
}

static void check_tlsrpt(const struct sts_txt *txts, size_t n) {
  struct tlsrpt_record record;
  char why[STS_TXT_WHY_MAX_BYTES];
  enum tlsrpt_record_status status = tlsrpt_record_parse(txts, n, &record, why, sizeof why);
  if (memchr(record.rua, '\0', sizeof record.rua) == NULL) abort();
  if (status == TLSRPT_RECORD_VALID) {
    if (record.rua_count == 0) abort();
    unsigned uris = 0;
    for (const char *p = record.rua; p != NULL && *p != '\0'; uris++) {
      if (strncasecmp(p, "mailto:", 7) != 0 && strncasecmp(p, "https://", 8) != 0) abort();
      p = strchr(p, ',');
      if (p != NULL) p++;
    }
    if (uris != record.rua_count) abort();
    check_why(why, record.rua_ignored > 0);
  } else {
    if (record.rua[0] != '\0') abort();
    check_why(why, status == TLSRPT_RECORD_INVALID);
    if (status != TLSRPT_RECORD_INVALID && status != TLSRPT_RECORD_NONE) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  struct sts_txt txts[MAX_RECORDS];
  size_t n = 0, start = 1;
  for (size_t i = 1; i <= size && n < MAX_RECORDS; i++) {
    if (i == size || data[i] == 0x1e) {
      txts[n].data = data + start;
      txts[n].len = i - start;
      n++;
      start = i + 1;
    }
  }
  if (size == 1) n = 0;
  if ((data[0] & 1) == 0) {
    check_sts(txts, n);
  } else {
    check_tlsrpt(txts, n);
  }
  return 0;
}
