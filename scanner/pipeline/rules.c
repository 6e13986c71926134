/* RESULTS.md decision rules. Each rule cites where it comes from; the order
 * of the domain rules is the contract's evaluation order. */
#include "pipeline/rules.h"

#include <ldns/ldns.h>

static bool fact_usable(const struct dns_fact *fact) {
  return fact->done && (fact->state == DNSSEC_SECURE || fact->state == DNSSEC_INSECURE);
}

bool rules_host_wants_tlsa(const struct mx_host *host) {
  return host->address_count > 0 && rules_host_address_dnssec(host) == DNSSEC_SECURE;
}

enum dnssec_state rules_host_address_dnssec(const struct mx_host *host) {
  bool a_ok = fact_usable(&host->a);
  bool aaaa_ok = fact_usable(&host->aaaa);
  if (!a_ok && !aaaa_ok) return dnssec_state_worst(host->a.state, host->aaaa.state);
  /* The lookups that gave a usable answer decide; a failed one is flagged. */
  enum dnssec_state state = DNSSEC_SECURE;
  if (a_ok) state = dnssec_state_worst(state, host->a.state);
  if (aaaa_ok) state = dnssec_state_worst(state, host->aaaa.state);
  return state;
}

void rules_host_status_from_dns(struct mx_host *host) {
  host->needs_probe = false;
  host->address_dnssec = rules_host_address_dnssec(host);
  bool a_ok = fact_usable(&host->a);
  bool aaaa_ok = fact_usable(&host->aaaa);

  /* RFC 7672 2.2: a bogus or failed address lookup makes the host unusable;
   * when the other family still has records the host stays usable through
   * them (the failure is flagged). */
  if (!a_ok && aaaa_ok) host->flags |= MX_FLAG_A_FAILED;
  if (a_ok && !aaaa_ok) host->flags |= MX_FLAG_AAAA_FAILED;
  if (!a_ok && !aaaa_ok) {
    host->status = HOST_ADDRESS_FAILED;
    return;
  }
  if (host->address_count == 0) {
    host->status = (a_ok && aaaa_ok) ? HOST_NO_ADDRESS : HOST_ADDRESS_FAILED;
    return;
  }
  /* RFC 7672 2.2.2: with insecure address records DANE does not apply. */
  if (host->address_dnssec != DNSSEC_SECURE) {
    host->status = HOST_INSECURE;
    return;
  }
  if (!host->tlsa.done) {
    /* Secure addresses always get a TLSA lookup; not having one is a bug in
     * the caller. Fail closed rather than claim anything. */
    host->status = HOST_TLSA_FAILED;
    return;
  }
  /* RFC 7672 2.2: a TLSA lookup that fails for any reason other than a
   * (secure) denial of existence means the host cannot be used securely. */
  if (host->tlsa.state == DNSSEC_BOGUS || host->tlsa.state == DNSSEC_FAILED) {
    host->status = HOST_TLSA_FAILED;
    return;
  }
  if (host->tlsa.state == DNSSEC_INSECURE) {
    /* Secure addresses but an insecure TLSA answer (for example an unsigned
     * _tcp delegation): DANE does not apply, as with no TLSA at all. */
    host->flags |= MX_FLAG_TLSA_INSECURE;
    host->status = HOST_NO_TLSA;
    return;
  }
  if (host->tlsa_count == 0) {
    host->status = HOST_NO_TLSA;
    return;
  }
  host->needs_probe = true;
  host->status = host->tlsa_usable_count > 0 ? HOST_DANE_UNPROBED : HOST_TLSA_UNUSABLE;
}

bool rules_probe_is_auth_failure(enum probe_result result) {
  switch (result) {
  case PROBE_TLSA_MISMATCH:
  case PROBE_NAME_MISMATCH:
  case PROBE_CERT_EXPIRED:
  case PROBE_NO_STARTTLS:
  case PROBE_STARTTLS_REFUSED:
  case PROBE_TLS_FAILED:
    return true;
  default:
    return false;
  }
}

bool rules_probe_is_unreachable(enum probe_result result) {
  return result == PROBE_CONNECT_FAILED || result == PROBE_TIMEOUT || result == PROBE_SMTP_FAILED;
}

enum host_status rules_host_status_from_probes(const struct mx_host *host) {
  bool any_failed = false, any_authenticated = false, any_unreachable = false, any_unauthenticated = false;
  for (size_t i = 0; i < host->address_count; i++) {
    enum probe_result result = host->addresses[i].probe_result;
    if (rules_probe_is_auth_failure(result)) any_failed = true;
    if (result == PROBE_AUTHENTICATED) any_authenticated = true;
    if (rules_probe_is_unreachable(result)) any_unreachable = true;
    if (result == PROBE_UNAUTHENTICATED_TLS) any_unauthenticated = true;
  }
  /* A probe of a host with usable TLSA ends unauthenticated-tls only when
   * OpenSSL accepted none of its records (SSL_dane_tlsa_add refused them
   * all; the probe's reason names the first). The records are the same for
   * every address, so for a DANE client the RRset has no usable record:
   * RESULTS.md tlsa-unusable (TLS mandatory, unauthenticated), whatever the
   * other addresses did. Never dane-unprobed: the host was probed. */
  if (any_unauthenticated) return HOST_TLSA_UNUSABLE;
  if (any_failed) return HOST_DANE_FAILED;
  if (any_authenticated) return HOST_DANE_VALID;
  if (any_unreachable) return HOST_DANE_UNREACHABLE;
  return HOST_DANE_UNPROBED;
}

static bool host_has_secure_tlsa(enum host_status status) {
  switch (status) {
  case HOST_DANE_VALID:
  case HOST_DANE_FAILED:
  case HOST_DANE_UNREACHABLE:
  case HOST_TLSA_UNUSABLE:
  case HOST_DANE_UNPROBED:
    return true;
  default:
    return false;
  }
}

static bool host_is_dane(enum host_status status) {
  return status == HOST_DANE_VALID || status == HOST_DANE_FAILED || status == HOST_DANE_UNREACHABLE ||
      status == HOST_DANE_UNPROBED;
}

enum domain_status rules_domain_status(const struct domain_result *result) {
  if (result->invalid_reason[0] != '\0') return DOMAIN_INVALID_NAME;
  if (result->skip_reason[0] != '\0') return DOMAIN_SKIPPED;
  if (result->mx.state == DNSSEC_FAILED) return DOMAIN_LOOKUP_FAILED;
  if (result->mx.state == DNSSEC_BOGUS) return DOMAIN_DNSSEC_BOGUS;
  if (result->mx.rcode == LDNS_RCODE_NXDOMAIN) return DOMAIN_NXDOMAIN;
  if (result->status == DOMAIN_NULL_MX) return DOMAIN_NULL_MX;
  if (result->link_count == 0) return DOMAIN_NO_MAIL;
  /* RFC 5321 5.1: without MX the domain is its own mail host; nothing at
   * the apex means it receives no mail. */
  if (result->implicit_mx && result->link_count == 1 && result->links[0].host->status == HOST_NO_ADDRESS) {
    return DOMAIN_NO_MAIL;
  }

  size_t secure_tlsa = 0, failed = 0, dane = 0, unreachable = 0, unprobed = 0, valid = 0, unusable = 0,
         partial_others = 0;
  for (size_t i = 0; i < result->link_count; i++) {
    enum host_status status = result->links[i].host->status;
    if (host_has_secure_tlsa(status)) secure_tlsa++;
    if (status == HOST_DANE_FAILED || status == HOST_TLSA_FAILED) failed++;
    if (host_is_dane(status)) dane++;
    if (status == HOST_DANE_UNREACHABLE) unreachable++;
    if (status == HOST_DANE_UNPROBED) unprobed++;
    if (status == HOST_DANE_VALID) valid++;
    if (status == HOST_TLSA_UNUSABLE) unusable++;
    if (status == HOST_NO_TLSA || status == HOST_INSECURE || status == HOST_TLSA_UNUSABLE ||
        status == HOST_DANE_UNREACHABLE || status == HOST_NO_ADDRESS || status == HOST_ADDRESS_FAILED) {
      partial_others++;
    }
  }
  /* RFC 7672 2.2.1: an insecure MX RRset still lets hosts with secure TLSA
   * use DANE; only when none has them does DANE not apply. */
  if (result->mx_dnssec != DNSSEC_SECURE && secure_tlsa == 0) return DOMAIN_INSECURE;
  if (failed > 0) return DOMAIN_DANE_FAILED;
  if (unprobed > 0) return DOMAIN_DANE_UNPROBED;
  if (dane > 0 && unreachable == dane) return DOMAIN_DANE_UNREACHABLE;
  if (valid == result->link_count) return DOMAIN_DANE_VALID;
  if (valid > 0 && valid + partial_others == result->link_count) return DOMAIN_DANE_PARTIAL;
  if (unusable > 0) return DOMAIN_TLSA_UNUSABLE;
  if (result->mx_dnssec != DNSSEC_SECURE) return DOMAIN_INSECURE;
  return DOMAIN_NO_DANE;
}

enum rollover_class rules_rollover_class(const struct tlsa_record *records, size_t count) {
  size_t ee = 0, ta = 0;
  for (size_t i = 0; i < count; i++) {
    if (!records[i].usable) continue;
    if (records[i].usage == TLSA_USAGE_DANE_EE) ee++;
    if (records[i].usage == TLSA_USAGE_DANE_TA) ta++;
  }
  if (ee + ta == 0) return ROLLOVER_NONE;
  if (ee + ta == 1) return ROLLOVER_SINGLE;
  if (ee > 0 && ta > 0) return ROLLOVER_CURRENT_ISSUER;
  if (ee >= 2) return ROLLOVER_CURRENT_NEXT;
  return ROLLOVER_ISSUER;
}

enum rollover_class rules_rollover_truth(const struct tlsa_record *records, const enum rules_record_match *match,
                                         size_t count) {
  /* RFC 7671 section 9 (digest agility), as OpenSSL and so Postfix apply
   * it: of the records of one usage and selector only those of the
   * strongest matching type are tried; the others do not count. */
  uint8_t strongest[4][2] = {{0}};
  for (size_t i = 0; i < count; i++) {
    const struct tlsa_record *r = &records[i];
    if (r->usable && r->usage < 4 && r->selector < 2 && r->matching_type > strongest[r->usage][r->selector]) {
      strongest[r->usage][r->selector] = r->matching_type;
    }
  }
  bool usable = false, current = false, issuer = false, next = false;
  for (size_t i = 0; i < count; i++) {
    if (!records[i].usable) continue;
    if (records[i].usage < 4 && records[i].selector < 2 &&
        records[i].matching_type < strongest[records[i].usage][records[i].selector]) {
      continue;
    }
    usable = true;
    if (match[i] == RULES_MATCH_LEAF) current = true;
    if (match[i] == RULES_MATCH_ABOVE) issuer = true;
    if (match[i] == RULES_MATCH_NONE) next = true;
  }
  if (!usable) return ROLLOVER_NONE;
  if (!current && !issuer) return ROLLOVER_UNMATCHED;
  if (current && issuer) return ROLLOVER_CURRENT_ISSUER;
  if (issuer) return ROLLOVER_ISSUER;
  if (next) return ROLLOVER_CURRENT_NEXT;
  return ROLLOVER_SINGLE;
}
