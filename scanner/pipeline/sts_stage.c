/* A domain's MTA-STS and TLS-RPT lookups and verdict (sts_stage.h).
 *
 *   TXT _mta-sts.D  --valid record-->  A + AAAA mta-sts.D  -->  fetch  --\
 *   TXT _smtp._tls.D  ------------------------------------------------------> done
 *
 * pending counts what is out (lookups and the fetch); done runs when it
 * drops to zero. The decision waits for the MX hosts (sts_domain_decide). */
#include "pipeline/sts_stage.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/answer.h"
#include "record/probe_detail.h"
#include "sts/sts_status.h"

/* The TXT RRs of one answer, their strings concatenated, owned. */
struct txt_set {
  struct sts_txt txts[STS_STAGE_MAX_TXT_RECORDS];
  uint8_t *buffers[STS_STAGE_MAX_TXT_RECORDS];
  size_t count;
};

static void collect_txt(const ldns_rr *rr, void *arg) {
  struct txt_set *set = arg;
  if (set->count == STS_STAGE_MAX_TXT_RECORDS) return;
  size_t total = 0;
  for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
    const ldns_rdf *rdf = ldns_rr_rdf(rr, i);
    if (ldns_rdf_size(rdf) > 0) total += ldns_rdf_size(rdf) - 1;
  }
  if (total > STS_STAGE_MAX_TXT_BYTES) total = STS_STAGE_MAX_TXT_BYTES;
  uint8_t *buffer = malloc(total + 1);
  if (buffer == NULL) return;
  size_t used = 0;
  for (size_t i = 0; i < ldns_rr_rd_count(rr) && used < total; i++) {
    const ldns_rdf *rdf = ldns_rr_rdf(rr, i);
    size_t size = ldns_rdf_size(rdf);
    if (size == 0) continue;
    const uint8_t *data = ldns_rdf_data(rdf);
    size_t len = data[0] < size - 1 ? data[0] : size - 1; /* a character-string: length byte, bytes */
    if (len > total - used) len = total - used;
    memcpy(buffer + used, data + 1, len);
    used += len;
  }
  set->buffers[set->count] = buffer;
  set->txts[set->count].data = buffer;
  set->txts[set->count].len = used;
  set->count++;
}

static void read_txt(const struct dns_answer *answer, const char *name, struct txt_set *set) {
  memset(set, 0, sizeof *set);
  if (answer->packet == NULL || answer->rcode != LDNS_RCODE_NOERROR) return;
  if (answer->state == DNSSEC_BOGUS || answer->state == DNSSEC_FAILED) return;
  ldns_rdf *qname = ldns_dname_new_frm_str(name);
  ldns_rdf *final_name = qname != NULL ? answer_final_name(answer->packet, qname, NULL) : NULL;
  if (final_name != NULL) answer_each_rr(answer->packet, final_name, LDNS_RR_TYPE_TXT, collect_txt, set);
  ldns_rdf_deep_free(final_name);
  ldns_rdf_deep_free(qname);
}

static void txt_set_free(struct txt_set *set) {
  for (size_t i = 0; i < set->count; i++) free(set->buffers[i]);
  set->count = 0;
}

static void step_done(struct sts_domain *sts) {
  if (--sts->pending == 0) sts->done(sts->done_arg);
}

static void on_fetched(const struct sts_fetch_result *fetched, void *arg) {
  struct sts_domain *sts = arg;
  sts->fetched = true;
  sts->fetch_outcome = fetched->outcome;
  sts->result.http_status = fetched->http_status;
  snprintf(sts->fetch_why, sizeof sts->fetch_why, "%s", fetched->failure);
  if (fetched->outcome == STS_FETCH_OK) {
    sts->policy_verdict = sts_policy_parse(fetched->body, fetched->body_len, &sts->policy, sts->policy_why,
                                           sizeof sts->policy_why);
  }
  step_done(sts);
}

static void start_fetch(struct sts_domain *sts) {
  if (sts->fetch == NULL || sts->fetch->fetch == NULL) return; /* fetched stays false: "not made" */
  sts->pending++;
  if (sts->fetch->fetch(sts->fetch->ctx, sts->domain, sts->addresses, sts->address_count, on_fetched, sts) != 0) {
    sts->pending--;
    sts->fetched = true;
    sts->fetch_outcome = STS_FETCH_UNAVAILABLE;
    snprintf(sts->fetch_why, sizeof sts->fetch_why, "out of memory starting the fetch");
  }
}

static void collect_address(const ldns_rr *rr, void *arg) {
  struct sts_domain *sts = arg;
  if (sts->address_count == STS_STAGE_MAX_POLICY_ADDRESSES || ldns_rr_rd_count(rr) < 1) return;
  const ldns_rdf *rdf = ldns_rr_rdf(rr, 0);
  struct sockaddr_storage *address = &sts->addresses[sts->address_count];
  memset(address, 0, sizeof *address);
  if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(rdf) == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)address;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, ldns_rdf_data(rdf), 4);
  } else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rdf) == 16) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, ldns_rdf_data(rdf), 16);
  } else {
    return;
  }
  sts->address_count++;
}

static void on_policy_host(struct sts_domain *sts, struct dns_fact *fact, const struct dns_answer *answer,
                           ldns_rr_type type) {
  answer_fact(fact, answer);
  if (answer->packet != NULL && answer->rcode == LDNS_RCODE_NOERROR && answer->state != DNSSEC_BOGUS &&
      answer->state != DNSSEC_FAILED) {
    char name[300];
    snprintf(name, sizeof name, "mta-sts.%s", sts->domain);
    ldns_rdf *qname = ldns_dname_new_frm_str(name);
    ldns_rdf *final_name = qname != NULL ? answer_final_name(answer->packet, qname, NULL) : NULL;
    if (final_name != NULL) answer_each_rr(answer->packet, final_name, type, collect_address, sts);
    ldns_rdf_deep_free(final_name);
    ldns_rdf_deep_free(qname);
  }
  if (--sts->address_lookups == 0) start_fetch(sts); /* no address: the fetch says so (UNAVAILABLE) */
  step_done(sts);
}

static void on_policy_host_a(const struct dns_answer *answer, void *arg) {
  struct sts_domain *sts = arg;
  on_policy_host(sts, &sts->result.policy_host_a, answer, LDNS_RR_TYPE_A);
}

static void on_policy_host_aaaa(const struct dns_answer *answer, void *arg) {
  struct sts_domain *sts = arg;
  on_policy_host(sts, &sts->result.policy_host_aaaa, answer, LDNS_RR_TYPE_AAAA);
}

static void on_record(const struct dns_answer *answer, void *arg) {
  struct sts_domain *sts = arg;
  answer_fact(&sts->result.record_lookup, answer);
  char name[300];
  snprintf(name, sizeof name, "_mta-sts.%s", sts->domain);
  struct txt_set set;
  read_txt(answer, name, &set);
  struct sts_record record;
  sts->record = sts_record_parse(set.txts, set.count, &record, sts->record_why, sizeof sts->record_why);
  txt_set_free(&set);
  if (sts->record == STS_RECORD_VALID) {
    snprintf(sts->result.id, sizeof sts->result.id, "%s", record.id);
    snprintf(name, sizeof name, "mta-sts.%s", sts->domain);
    sts->address_lookups = 2;
    sts->pending += 2;
    if (dns_lookup(sts->dns, name, LDNS_RR_TYPE_A, -1, on_policy_host_a, sts) != 0 ||
        dns_lookup(sts->dns, name, LDNS_RR_TYPE_AAAA, -1, on_policy_host_aaaa, sts) != 0) {
      /* Only a name too long to encode fails, and then both do (before any
       * callback): nothing is out. */
      sts->pending -= 2;
      sts->address_lookups = 0;
      sts->fetched = true;
      sts->fetch_outcome = STS_FETCH_UNAVAILABLE;
      snprintf(sts->fetch_why, sizeof sts->fetch_why, "mta-sts.DOMAIN is too long a name to look up");
    }
  }
  step_done(sts);
}

static void on_tlsrpt(const struct dns_answer *answer, void *arg) {
  struct sts_domain *sts = arg;
  answer_fact(&sts->result.tlsrpt_lookup, answer);
  char name[300];
  snprintf(name, sizeof name, "_smtp._tls.%s", sts->domain);
  struct txt_set set;
  read_txt(answer, name, &set);
  struct tlsrpt_record record;
  char why[STS_TXT_WHY_MAX_BYTES];
  sts->result.tlsrpt_status = tlsrpt_record_parse(set.txts, set.count, &record, why, sizeof why);
  txt_set_free(&set);
  snprintf(sts->result.tlsrpt_rua, sizeof sts->result.tlsrpt_rua, "%s", record.rua);
  snprintf(sts->result.tlsrpt_failure, sizeof sts->result.tlsrpt_failure, "%s", why);
  step_done(sts);
}

int sts_domain_start(struct sts_domain *sts, struct dns_client *dns, const struct sts_policy_fetch *fetch,
                     const char *domain, void (*done)(void *arg), void *done_arg) {
  memset(sts, 0, sizeof *sts);
  mta_sts_result_clear(&sts->result);
  sts->dns = dns;
  sts->fetch = fetch;
  sts->done = done;
  sts->done_arg = done_arg;
  snprintf(sts->domain, sizeof sts->domain, "%s", domain);
  char name[300];
  snprintf(name, sizeof name, "_mta-sts.%s", domain);
  sts->pending = 2;
  if (dns_lookup(dns, name, LDNS_RR_TYPE_TXT, -1, on_record, sts) != 0) {
    sts->pending = 0;
    return -1;
  }
  snprintf(name, sizeof name, "_smtp._tls.%s", domain);
  if (dns_lookup(dns, name, LDNS_RR_TYPE_TXT, -1, on_tlsrpt, sts) != 0) {
    /* _smtp._tls. is longer than _mta-sts.: this one alone can fail; the
     * first lookup is out and will call back. */
    sts->pending = 1;
  }
  return 0;
}

enum sts_address_check sts_stage_address_check(const struct host_address *address, char *reason, size_t reason_len) {
  if (reason_len > 0) reason[0] = '\0';
  const struct probe_detail *detail = address->probe;
  /* RFC 8461 4.2: no STARTTLS, or no TLS session after it, is a failure;
   * an address never reached says nothing. */
  switch (address->probe_result) {
  case PROBE_NO_STARTTLS:
  case PROBE_STARTTLS_REFUSED:
  case PROBE_TLS_FAILED:
    snprintf(reason, reason_len, "%s%s%s", probe_result_name(address->probe_result),
             address->probe_reason != NULL ? ": " : "", address->probe_reason != NULL ? address->probe_reason : "");
    return STS_ADDRESS_FAILED;
  default:
    break;
  }
  /* The session's WebPKI verdict (chain, dates, MX name, TLS >= 1.2), made
   * by the probe when the request asked for it (probe_stage_config.pkix). */
  if (detail == NULL) return STS_ADDRESS_UNCHECKED;
  switch (detail->pkix) {
  case PROBE_PKIX_VALID:
    return STS_ADDRESS_PASSED;
  case PROBE_PKIX_NOT_CHECKED:
  case PROBE_PKIX_NO_TLS: /* unreachable or skipped: the failures above are handled */
  case PROBE_PKIX_COUNT:
    return STS_ADDRESS_UNCHECKED;
  default:
    snprintf(reason, reason_len, "%s%s%s", probe_pkix_name(detail->pkix), detail->pkix_reason != NULL ? ": " : "",
             detail->pkix_reason != NULL ? detail->pkix_reason : "");
    return STS_ADDRESS_FAILED;
  }
}

void sts_domain_decide(struct sts_domain *sts, const struct domain_result *domain) {
  struct mta_sts_result *result = &sts->result;
  bool have_policy = sts->record == STS_RECORD_VALID && sts->fetched && sts->fetch_outcome == STS_FETCH_OK &&
      sts->policy_verdict == STS_POLICY_VALID;
  struct sts_decision_host hosts[RESULT_MAX_MX_HOSTS];
  /* One address list per link, at most the host's addresses; allocated
   * once for all links. */
  size_t total = 0;
  for (size_t i = 0; i < domain->link_count; i++) total += domain->links[i].host->address_count;
  struct sts_decision_address *addresses = total > 0 ? calloc(total, sizeof *addresses) : NULL;
  char(*reasons)[128] = total > 0 ? calloc(total, sizeof *reasons) : NULL;
  size_t used = 0;
  for (size_t i = 0; i < domain->link_count; i++) {
    const struct mx_host *host = domain->links[i].host;
    result->host_match[i] = have_policy && sts_policy_matches(&sts->policy, host->name);
    hosts[i].name = host->name;
    hosts[i].match = result->host_match[i];
    hosts[i].addresses = addresses != NULL && reasons != NULL ? addresses + used : NULL;
    hosts[i].address_count = hosts[i].addresses != NULL ? host->address_count : 0;
    for (size_t a = 0; a < hosts[i].address_count; a++) {
      addresses[used + a].text = host->addresses[a].text;
      addresses[used + a].check = sts_stage_address_check(&host->addresses[a], reasons[used + a], sizeof reasons[0]);
      addresses[used + a].reason = reasons[used + a];
    }
    used += hosts[i].address_count;
  }
  struct sts_decision decision = {
      .record = sts->record,
      .record_why = sts->record_why,
      .fetched = sts->fetched,
      .fetch_outcome = sts->fetch_outcome,
      .fetch_why = sts->fetch_why,
      .policy = sts->policy_verdict,
      .policy_why = sts->policy_why,
      .mode = sts->policy.mode,
      .hosts = hosts,
      .host_count = domain->link_count,
  };
  result->status = sts_status_decide(&decision, result->failure, sizeof result->failure);
  free(addresses);
  free(reasons);
  if (have_policy) {
    result->has_policy = true;
    result->mode = sts->policy.mode;
    result->max_age = sts->policy.max_age;
    /* the patterns move to the result, which the record carries */
    result->mx_patterns = sts->policy.mx;
    result->mx_pattern_count = sts->policy.mx_count;
    sts->policy.mx = NULL;
    sts->policy.mx_count = 0;
  }
}

void sts_domain_clear(struct sts_domain *sts) {
  mta_sts_result_clear(&sts->result);
  sts_policy_clear(&sts->policy);
  memset(sts, 0, sizeof *sts);
}
