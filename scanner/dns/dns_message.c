/* DNS messages of the stub client (see dns_message.h). The query has one
 * fixed layout, so it is written directly rather than through an ldns_pkt:
 * that keeps the per-query cost at a few stores; a unit test checks the bytes
 * against ldns_pkt2wire. Replies are pre-checked on the wire (ID, sender and
 * question are what stop off-path spoofing, RFC 5452 section 9.1) and only
 * then parsed by ldns. */
#include "dns/dns_message.h"

#include <string.h>

size_t dns_message_encode_name(const char *name, uint8_t *out) {
  if (name == NULL || name[0] == '\0') {
    return 0;
  }
  ldns_rdf *rdf = NULL;
  if (ldns_str2rdf_dname(&rdf, name) != LDNS_STATUS_OK || rdf == NULL) {
    return 0;
  }
  size_t len = ldns_rdf_size(rdf);
  if (len == 0 || len > DNS_NAME_MAX_BYTES) {
    ldns_rdf_deep_free(rdf);
    return 0;
  }
  memcpy(out, ldns_rdf_data(rdf), len);
  ldns_rdf_deep_free(rdf);
  return len;
}

static uint8_t *put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
  return p + 2;
}

size_t dns_message_build_query(uint8_t *out, uint16_t id, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                               bool checking_disabled, uint16_t edns_buffer_bytes) {
  uint8_t *p = out;
  p = put16(p, id);
  *p++ = DNS_FLAG2_RD;
  *p++ = checking_disabled ? DNS_FLAG3_CD : 0;
  p = put16(p, 1); /* QDCOUNT */
  p = put16(p, 0); /* ANCOUNT */
  p = put16(p, 0); /* NSCOUNT */
  p = put16(p, 1); /* ARCOUNT: the OPT RR */
  memcpy(p, qname, qname_len);
  p += qname_len;
  p = put16(p, qtype);
  p = put16(p, LDNS_RR_CLASS_IN);
  /* OPT RR (RFC 6891 6.1.2): root owner, CLASS = UDP payload size, TTL =
   * extended RCODE 0, version 0, DO (RFC 3225) in the flags; no options. */
  *p++ = 0;
  p = put16(p, LDNS_RR_TYPE_OPT);
  p = put16(p, edns_buffer_bytes);
  *p++ = 0;
  *p++ = 0;
  p = put16(p, 0x8000);
  p = put16(p, 0);
  return (size_t)(p - out);
}

static uint8_t ascii_lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

bool dns_message_reply_matches(const uint8_t *wire, size_t len, const uint8_t *qname, size_t qname_len,
                               uint16_t qtype) {
  if (len < DNS_HEADER_BYTES + qname_len + 4) {
    return false;
  }
  /* QR must be set and opcode 0 (QUERY). */
  if ((wire[2] & 0xf8u) != DNS_FLAG2_QR) {
    return false;
  }
  if (wire[4] != 0 || wire[5] != 1) {
    return false;
  }
  /* The question name is the first in the message, so it cannot be a
   * compression pointer to an earlier name; comparing label length bytes
   * exactly and label bytes without case (RFC 4343) is enough. */
  const uint8_t *name = wire + DNS_HEADER_BYTES;
  size_t i = 0;
  while (i < qname_len) {
    uint8_t label = qname[i];
    if (name[i] != label) {
      return false;
    }
    i++;
    for (uint8_t k = 0; k < label; k++, i++) {
      if (ascii_lower(name[i]) != ascii_lower(qname[i])) {
        return false;
      }
    }
  }
  const uint8_t *tail = name + qname_len;
  uint16_t type = (uint16_t)((tail[0] << 8) | tail[1]);
  uint16_t klass = (uint16_t)((tail[2] << 8) | tail[3]);
  return type == qtype && klass == LDNS_RR_CLASS_IN;
}

bool dns_ede_is_dnssec_failure(uint16_t code) {
  switch (code) {
  case 1:  /* Unsupported DNSKEY Algorithm */
  case 2:  /* Unsupported DS Digest Type */
  case 5:  /* DNSSEC Indeterminate */
  case 6:  /* DNSSEC Bogus */
  case 7:  /* Signature Expired */
  case 8:  /* Signature Not Yet Valid */
  case 9:  /* DNSKEY Missing */
  case 10: /* RRSIGs Missing */
  case 11: /* No Zone Key Bit Set */
  case 12: /* NSEC Missing */
    return true;
  default:
    return false;
  }
}

static void ede_set(struct dns_ede *out, uint16_t code, const uint8_t *text, size_t text_len) {
  out->present = true;
  out->code = code;
  /* A trailing NUL some servers append is not text. */
  while (text_len > 0 && text[text_len - 1] == 0) {
    text_len--;
  }
  size_t n = 0;
  /* The text is UTF-8 from a remote server: keep printable ASCII only, so
   * that it is safe in JSON, logs and terminals; cap the length. */
  for (size_t i = 0; i < text_len && n + 1 < sizeof out->text; i++) {
    uint8_t c = text[i];
    out->text[n++] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
  }
  out->text[n] = '\0';
}

void dns_message_extract_ede_options(const uint8_t *options, size_t len, struct dns_ede *out) {
  memset(out, 0, sizeof *out);
  size_t pos = 0;
  while (pos + 4 <= len) {
    uint16_t code = (uint16_t)((options[pos] << 8) | options[pos + 1]);
    uint16_t opt_len = (uint16_t)((options[pos + 2] << 8) | options[pos + 3]);
    pos += 4;
    if (pos + opt_len > len) {
      break; /* truncated option: ignore the rest */
    }
    if (code == LDNS_EDNS_EDE && opt_len >= 2) {
      uint16_t info = (uint16_t)((options[pos] << 8) | options[pos + 1]);
      bool better = !out->present || (dns_ede_is_dnssec_failure(info) && !dns_ede_is_dnssec_failure(out->code));
      if (better) {
        ede_set(out, info, options + pos + 2, opt_len - 2u);
      }
    }
    pos += opt_len;
  }
}

void dns_message_extract_ede(const ldns_pkt *pkt, struct dns_ede *out) {
  memset(out, 0, sizeof *out);
  if (pkt == NULL) {
    return;
  }
  ldns_rdf *data = ldns_pkt_edns_data(pkt);
  if (data == NULL || ldns_rdf_size(data) == 0) {
    return;
  }
  dns_message_extract_ede_options(ldns_rdf_data(data), ldns_rdf_size(data), out);
}

enum dnssec_state dns_message_answer_state(bool ad, const struct dns_ede *ede) {
  if (ad) {
    return DNSSEC_SECURE;
  }
  if (ede != NULL && ede->present && ede->code >= 5 && ede->code <= 12) {
    return DNSSEC_BOGUS;
  }
  return DNSSEC_INSECURE;
}
