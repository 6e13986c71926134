/* Certificate facts for the store and the check explanation. Names are
 * printed with OpenSSL's RFC 2253 printer into a memory BIO and capped;
 * they are network data and are escaped again by whoever writes them. */
#include "tls/cert_info.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void name_text(const X509_NAME *name, char *out, size_t out_len) {
  out[0] = '\0';
  BIO *bio = BIO_new(BIO_s_mem());
  if (bio == NULL) return;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    int n = BIO_read(bio, out, (int)out_len - 1);
    out[n > 0 ? n : 0] = '\0';
  }
  BIO_free(bio);
}

/* A dNSName is network data of any bytes: a NUL in it ("good.example\0.evil")
 * is the classic attack on name checks, and cut there the record would show a
 * name the certificate does not hold. Printable ASCII is kept; NUL, control
 * bytes, bytes over 127 and the backslash become "\XX" (hex, as OpenSSL's
 * RFC 2253 printer writes names). Capped at out_len - 1, whole escapes only. */
static void dns_name_text(const unsigned char *name, size_t len, char *out, size_t out_len) {
  static const char digits[] = "0123456789ABCDEF";
  size_t used = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = name[i];
    bool plain = c >= 0x20 && c < 0x7f && c != '\\';
    size_t need = plain ? 1 : 3;
    if (used + need > out_len - 1) break;
    if (plain) {
      out[used++] = (char)c;
    } else {
      out[used++] = '\\';
      out[used++] = digits[c >> 4];
      out[used++] = digits[c & 15];
    }
  }
  out[used] = '\0';
}

static int64_t asn1_time_unix(const ASN1_TIME *time) {
  struct tm tm;
  if (time == NULL || ASN1_TIME_to_tm(time, &tm) != 1) return INT64_MIN;
  return (int64_t)timegm(&tm);
}

int cert_info_from_der(const uint8_t *der, size_t der_len, struct cert_info *out) {
  memset(out, 0, sizeof *out);
  out->not_before = out->not_after = INT64_MIN;
  out->key_bits = -1;
  const unsigned char *p = der;
  X509 *x509 = d2i_X509(NULL, &p, (long)der_len);
  if (x509 == NULL) return -1;
  name_text(X509_get_subject_name(x509), out->subject, sizeof out->subject);
  name_text(X509_get_issuer_name(x509), out->issuer, sizeof out->issuer);
  out->not_before = asn1_time_unix(X509_get0_notBefore(x509));
  out->not_after = asn1_time_unix(X509_get0_notAfter(x509));
  GENERAL_NAMES *names = X509_get_ext_d2i(x509, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && out->san_count < CERT_INFO_MAX_SAN; i++) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING *dns = name->d.dNSName;
    dns_name_text(ASN1_STRING_get0_data(dns), (size_t)ASN1_STRING_length(dns), out->san[out->san_count],
                  sizeof out->san[out->san_count]);
    out->san_count++;
  }
  GENERAL_NAMES_free(names);
  EVP_PKEY *key = X509_get0_pubkey(x509);
  if (key != NULL) {
    const char *type = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
    snprintf(out->key_type, sizeof out->key_type, "%s", type != NULL ? type : "unknown");
    out->key_bits = EVP_PKEY_get_bits(key);
  }
  unsigned char *spki = NULL;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &spki);
  if (len > 0) SHA256(spki, (size_t)len, out->spki_sha256);
  OPENSSL_free(spki);
  X509_free(x509);
  return 0;
}
