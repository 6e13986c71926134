/* MX host resolution and the shared host cache.
 *
 * One entry per distinct host name. An entry goes resolving (A and AAAA in
 * parallel, then TLSA, then the ancestor check) -> finishing (the probe
 * stage, when a finisher wants it) -> ready. Domains hold entries; waiters
 * are called once when the entry becomes ready. Entries that no domain holds
 * sit on an LRU list and are evicted beyond max_cached_hosts
 * (util/name_cache.h), so memory is bounded by the cache size plus what
 * in-flight domains hold. */
#include "pipeline/host_resolver.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/answer.h"
#include "pipeline/rollover.h"
#include "pipeline/rules.h"
#include "record/zone_hygiene.h"
#include "util/name_cache.h"

struct waiter {
  host_ready_cb callback;
  void *arg;
  struct waiter *next;
};

struct host_entry {
  struct mx_host host; /* first member: a struct mx_host * is its entry */
  struct name_cache_link link;
  struct host_resolver *resolver;
  unsigned pending_lookups;
  struct waiter *waiters;
  bool tlsa_fallback_done; /* the original-name TLSA lookup was made */
  size_t address_capacity;
  struct timespec started;
};

struct host_resolver {
  struct dns_client *dns;
  struct host_resolver_config config;
  struct name_cache names; /* host_entry by host.name */
  struct host_resolver_stats stats;
};

static struct host_entry *entry_of(struct name_cache_link *link) {
  return (struct host_entry *)(void *)((char *)link - offsetof(struct host_entry, link));
}

static uint32_t ms_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ms = (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
  return ms < 0 ? 0 : (uint32_t)ms;
}

static void host_clear(struct host_resolver *resolver, struct mx_host *host) {
  if (resolver->config.finisher != NULL && resolver->config.finisher->release != NULL) {
    resolver->config.finisher->release(resolver->config.finisher->ctx, host);
  }
  dns_fact_clear(&host->a);
  dns_fact_clear(&host->aaaa);
  dns_fact_clear(&host->tlsa);
  dns_fact_clear(&host->tlsa_target);
  dns_fact_clear(&host->ancestor);
  free(host->name);
  free(host->cname_target);
  free(host->tlsa_base);
  free(host->tlsa_zone);
  free(host->addresses);
  for (size_t i = 0; i < host->tlsa_count; i++) tlsa_record_clear(&host->tlsa_records[i]);
  free(host->tlsa_records);
}

static void entry_free(struct name_cache_link *link, void *ctx) {
  struct host_resolver *resolver = ctx;
  struct host_entry *entry = entry_of(link);
  host_clear(resolver, &entry->host);
  struct waiter *waiter = entry->waiters;
  while (waiter != NULL) {
    struct waiter *next = waiter->next;
    free(waiter);
    waiter = next;
  }
  free(entry);
}

struct host_resolver *host_resolver_new(struct dns_client *dns, const struct host_resolver_config *config) {
  struct host_resolver *resolver = calloc(1, sizeof *resolver);
  if (resolver == NULL) return NULL;
  resolver->dns = dns;
  resolver->config = *config;
  if (name_cache_init(&resolver->names, config->max_cached_hosts, entry_free, resolver) != 0) {
    free(resolver);
    return NULL;
  }
  return resolver;
}

void host_resolver_free(struct host_resolver *resolver) {
  if (resolver == NULL) return;
  name_cache_destroy(&resolver->names);
  free(resolver);
}

/* ---- readiness ---- */

static void entry_ready(struct host_entry *entry) {
  entry->host.resolve_ms = ms_since(&entry->started);
  struct waiter *waiter = entry->waiters;
  entry->waiters = NULL;
  /* Waiters hold the entry, so it cannot be freed while they run; with
   * none, it may be evicted here. */
  name_cache_set_ready(&entry->resolver->names, &entry->link);
  while (waiter != NULL) {
    struct waiter *next = waiter->next;
    waiter->callback(&entry->host, waiter->arg);
    free(waiter);
    waiter = next;
  }
}

static void finisher_done(struct mx_host *host, void *arg) {
  (void)host;
  entry_ready(arg);
}

static void dns_done(struct host_entry *entry) {
  struct mx_host *host = &entry->host;
  rules_host_status_from_dns(host);
  host->rollover = rules_rollover_class(host->tlsa_records, host->tlsa_count);
  rollover_flags_from_records(host);
  if (host->tlsa_count > 0 && host->tlsa_rrsig_expires != 0 &&
      host->tlsa_rrsig_expires < (int64_t)time(NULL) + (int64_t)entry->resolver->config.rrsig_warn_days * 86400) {
    host->flags |= MX_FLAG_RRSIG_EXPIRES_SOON;
  }
  const struct host_finisher *finisher = entry->resolver->config.finisher;
  if (finisher != NULL && finisher->wants(finisher->ctx, host)) {
    finisher->start(finisher->ctx, host, finisher_done, entry);
    return;
  }
  entry_ready(entry);
}

/* ---- lookups ---- */

static int start_lookup(struct host_entry *entry, const char *name, ldns_rr_type type, dns_answer_cb callback) {
  if (dns_lookup(entry->resolver->dns, name, type, -1, callback, entry) != 0) return -1;
  entry->pending_lookups++;
  return 0;
}

#define HOST_MAX_ADDRESSES 64 /* per host; more are not kept (hostile zones) */

static void collect_address(const ldns_rr *rr, void *arg) {
  struct host_entry *entry = arg;
  struct mx_host *host = &entry->host;
  const ldns_rdf *rdf = ldns_rr_rdf(rr, 0);
  if (rdf == NULL) return;
  int family;
  size_t size = ldns_rdf_size(rdf);
  if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && size == 4) family = AF_INET;
  else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && size == 16) family = AF_INET6;
  else return;
  for (size_t i = 0; i < host->address_count; i++) {
    if (host->addresses[i].family == family && memcmp(host->addresses[i].bytes, ldns_rdf_data(rdf), size) == 0) return;
  }
  if (host->address_count >= HOST_MAX_ADDRESSES) return;
  if (host->address_count == entry->address_capacity) {
    size_t capacity = entry->address_capacity ? entry->address_capacity * 2 : 4;
    struct host_address *grown = realloc(host->addresses, capacity * sizeof *grown);
    if (grown == NULL) return;
    host->addresses = grown;
    entry->address_capacity = capacity;
  }
  struct host_address *address = &host->addresses[host->address_count++];
  memset(address, 0, sizeof *address);
  address->family = family;
  memcpy(address->bytes, ldns_rdf_data(rdf), size);
  inet_ntop(family, address->bytes, address->text, sizeof address->text);
  address->probe_result = PROBE_SKIPPED;
  address->probe_reason = "not probed";
}

static void take_addresses(struct host_entry *entry, const struct dns_answer *answer, ldns_rr_type type) {
  struct mx_host *host = &entry->host;
  if (answer->packet == NULL || answer->rcode != LDNS_RCODE_NOERROR) return;
  if (answer->state != DNSSEC_SECURE && answer->state != DNSSEC_INSECURE) return;
  ldns_rdf *qname = ldns_dname_new_frm_str(host->name);
  if (qname == NULL) return;
  unsigned hops = 0;
  ldns_rdf *final_name = answer_final_name(answer->packet, qname, &hops);
  if (final_name != NULL) {
    if (hops > 0 && host->cname_target == NULL) {
      char text[256];
      if (answer_name_text(final_name, text, sizeof text) == 0) host->cname_target = strdup(text);
    }
    answer_each_rr(answer->packet, final_name, type, collect_address, entry);
    ldns_rdf_deep_free(final_name);
  }
  ldns_rdf_deep_free(qname);
}

static void lookup_finished(struct host_entry *entry);

static void on_a(const struct dns_answer *answer, void *arg) {
  struct host_entry *entry = arg;
  answer_fact(&entry->host.a, answer);
  take_addresses(entry, answer, LDNS_RR_TYPE_A);
  lookup_finished(entry);
}

static void on_aaaa(const struct dns_answer *answer, void *arg) {
  struct host_entry *entry = arg;
  answer_fact(&entry->host.aaaa, answer);
  take_addresses(entry, answer, LDNS_RR_TYPE_AAAA);
  lookup_finished(entry);
}

static void collect_tlsa(const ldns_rr *rr, void *arg) {
  struct mx_host *host = arg;
  if (host->tlsa_count >= 64) return; /* bound per host: hostile zones */
  struct tlsa_record *grown = realloc(host->tlsa_records, (host->tlsa_count + 1) * sizeof *grown);
  if (grown == NULL) return;
  host->tlsa_records = grown;
  if (tlsa_record_from_rr(rr, &grown[host->tlsa_count]) != 0) return;
  if (grown[host->tlsa_count].usable) host->tlsa_usable_count++;
  host->tlsa_count++;
}

/* The earliest expiration of the RRSIGs over the TLSA RRset (RFC 4034
 * 3.1.5; 32-bit serial time, read as ldns does: good until 2106). */
static void collect_tlsa_rrsig(const ldns_rr *rr, void *arg) {
  struct mx_host *host = arg;
  ldns_rdf *covered = ldns_rr_rrsig_typecovered(rr);
  ldns_rdf *expiration = ldns_rr_rrsig_expiration(rr);
  if (covered == NULL || expiration == NULL || ldns_rdf2rr_type(covered) != LDNS_RR_TYPE_TLSA) return;
  int64_t expires = (int64_t)ldns_rdf2native_time_t(expiration);
  if (expires > 0 && (host->tlsa_rrsig_expires == 0 || expires < host->tlsa_rrsig_expires)) {
    host->tlsa_rrsig_expires = expires;
  }
}

static void take_tlsa(struct mx_host *host, const struct dns_answer *answer, const char *tlsa_name) {
  if (answer->packet == NULL || answer->rcode != LDNS_RCODE_NOERROR) return;
  if (answer->state != DNSSEC_SECURE && answer->state != DNSSEC_INSECURE) return;
  ldns_rdf *qname = ldns_dname_new_frm_str(tlsa_name);
  if (qname == NULL) return;
  ldns_rdf *final_name = answer_final_name(answer->packet, qname, NULL);
  if (final_name != NULL) {
    answer_each_rr(answer->packet, final_name, LDNS_RR_TYPE_TLSA, collect_tlsa, host);
    if (answer->state == DNSSEC_SECURE) {
      host->tlsa_rrsig_expires = 0;
      answer_each_rr(answer->packet, final_name, LDNS_RR_TYPE_RRSIG, collect_tlsa_rrsig, host);
      char zone[256];
      free(host->tlsa_zone);
      host->tlsa_zone = NULL;
      if (host->tlsa_count > 0 &&
          zone_signer_of(answer->packet, final_name, LDNS_RR_TYPE_TLSA, zone, sizeof zone, NULL) == 0) {
        host->tlsa_zone = strdup(zone); /* NULL on allocation failure: no hygiene for it */
      }
    }
    ldns_rdf_deep_free(final_name);
  }
  ldns_rdf_deep_free(qname);
}

static void tlsa_name_of(const char *base, char *out, size_t out_len) {
  snprintf(out, out_len, "_25._tcp.%s", base);
}

static void on_tlsa(const struct dns_answer *answer, void *arg);
static void on_ancestor(const struct dns_answer *answer, void *arg);

static void start_tlsa(struct host_entry *entry, const char *base) {
  struct mx_host *host = &entry->host;
  char tlsa_name[300];
  free(host->tlsa_base);
  host->tlsa_base = strdup(base);
  tlsa_name_of(base, tlsa_name, sizeof tlsa_name);
  if (host->tlsa_base == NULL || start_lookup(entry, tlsa_name, LDNS_RR_TYPE_TLSA, on_tlsa) != 0) {
    /* The name cannot be a TLSA owner (too long): nothing can be looked up,
     * which a DANE client treats as a failed lookup. */
    host->tlsa.done = true;
    host->tlsa.state = DNSSEC_FAILED;
    host->tlsa.rcode = -1;
    host->tlsa.failure = "TLSA name cannot be encoded";
  }
}

static void on_tlsa(const struct dns_answer *answer, void *arg) {
  struct host_entry *entry = arg;
  struct mx_host *host = &entry->host;
  char tlsa_name[300];
  tlsa_name_of(host->tlsa_base, tlsa_name, sizeof tlsa_name);
  answer_fact(&host->tlsa, answer);
  take_tlsa(host, answer, tlsa_name);
  /* RFC 7672 2.2.3: with a secure CNAME chain, TLSA is sought first at the
   * final target; when that is (securely) absent, at the original name. */
  bool absent = answer->state == DNSSEC_SECURE && host->tlsa_count == 0 &&
      (answer->rcode == LDNS_RCODE_NOERROR || answer->rcode == LDNS_RCODE_NXDOMAIN);
  if (absent && host->cname_target != NULL && !entry->tlsa_fallback_done) {
    entry->tlsa_fallback_done = true;
    host->tlsa_target = host->tlsa;
    memset(&host->tlsa, 0, sizeof host->tlsa);
    start_tlsa(entry, host->name);
    if (!host->tlsa.done) {
      lookup_finished(entry);
      return;
    }
  } else if (entry->tlsa_fallback_done && host->tlsa_count > 0) {
    host->flags |= MX_FLAG_TLSA_AT_ORIGINAL_NAME;
  }
  /* RESULTS.md: a TLSA RRset that exists under an ancestor answering
   * NXDOMAIN is a trap for validators that minimise query names. */
  if (host->tlsa_count > 0 && answer->state == DNSSEC_SECURE) {
    char ancestor[300];
    snprintf(ancestor, sizeof ancestor, "_tcp.%s", host->tlsa_base);
    start_lookup(entry, ancestor, LDNS_RR_TYPE_TLSA, on_ancestor);
  }
  lookup_finished(entry);
}

static void on_ancestor(const struct dns_answer *answer, void *arg) {
  struct host_entry *entry = arg;
  answer_fact(&entry->host.ancestor, answer);
  if (answer->rcode == LDNS_RCODE_NXDOMAIN) entry->host.flags |= MX_FLAG_ANCESTOR_NXDOMAIN;
  lookup_finished(entry);
}

/* Called when one lookup ends; moves to the next step when none is pending. */
static void lookup_finished(struct host_entry *entry) {
  if (entry->pending_lookups > 0) entry->pending_lookups--;
  if (entry->pending_lookups > 0) return;
  struct mx_host *host = &entry->host;
  if (!host->tlsa.done && host->tlsa_base == NULL) {
    /* Address step finished. */
    if (host->a.rcode == LDNS_RCODE_NXDOMAIN && host->aaaa.rcode == LDNS_RCODE_NXDOMAIN) {
      host->flags |= MX_FLAG_NXDOMAIN;
    }
    if (rules_host_wants_tlsa(host)) {
      start_tlsa(entry, host->cname_target != NULL ? host->cname_target : host->name);
      if (entry->pending_lookups > 0) return;
    }
  }
  dns_done(entry);
}

static void flag_name(struct mx_host *host) {
  if (strchr(host->name, '.') == NULL) {
    if (strcmp(host->name, "localhost") == 0) host->flags |= MX_FLAG_TARGET_IS_LOCALHOST;
    else host->flags |= MX_FLAG_TARGET_IS_TLD;
  } else {
    size_t len = strlen(host->name);
    if (len > 10 && strcmp(host->name + len - 10, ".localhost") == 0) {
      host->flags |= MX_FLAG_TARGET_IS_LOCALHOST;
    }
  }
}

/* A new entry for name, held once by the caller, or NULL. */
static struct host_entry *create_entry(struct host_resolver *resolver, const char *name) {
  struct host_entry *entry = calloc(1, sizeof *entry);
  if (entry == NULL) return NULL;
  entry->host.name = strdup(name);
  if (entry->host.name == NULL) {
    free(entry);
    return NULL;
  }
  entry->resolver = resolver;
  entry->host.a.rcode = entry->host.aaaa.rcode = entry->host.tlsa.rcode = -1;
  clock_gettime(CLOCK_MONOTONIC, &entry->started);
  flag_name(&entry->host);
  entry->link.name = entry->host.name;
  name_cache_add(&resolver->names, &entry->link);
  return entry;
}

static void fail_unencodable(struct dns_fact *fact) {
  fact->done = true;
  fact->state = DNSSEC_FAILED;
  fact->rcode = -1;
  fact->failure = "name cannot be encoded";
}

int host_resolver_hold(struct host_resolver *resolver, const char *name, host_ready_cb callback, void *arg,
                       struct mx_host **out) {
  resolver->stats.requests++;
  struct name_cache_link *link = name_cache_hold(&resolver->names, name);
  struct host_entry *entry;
  if (link != NULL) {
    resolver->stats.hits++;
    entry = entry_of(link);
    *out = &entry->host;
    if (link->ready) return 1;
  } else {
    entry = create_entry(resolver, name);
    if (entry == NULL) return -1;
    resolver->stats.resolved++;
    *out = &entry->host;
    if (start_lookup(entry, name, LDNS_RR_TYPE_A, on_a) != 0) fail_unencodable(&entry->host.a);
    if (start_lookup(entry, name, LDNS_RR_TYPE_AAAA, on_aaaa) != 0) fail_unencodable(&entry->host.aaaa);
    if (entry->pending_lookups == 0) {
      /* Nothing could be sent: decide now, but still answer via the return
       * value so the caller's flow is the same as for a ready host. */
      rules_host_status_from_dns(&entry->host);
      name_cache_set_ready(&resolver->names, &entry->link);
      return 1;
    }
  }
  struct waiter *waiter = malloc(sizeof *waiter);
  if (waiter == NULL) {
    name_cache_release(&resolver->names, &entry->link); /* not ready: it stays, and is parked once ready */
    return -1;
  }
  waiter->callback = callback;
  waiter->arg = arg;
  waiter->next = entry->waiters;
  entry->waiters = waiter;
  return 0;
}

void host_resolver_release(struct host_resolver *resolver, struct mx_host *host) {
  struct host_entry *entry = (struct host_entry *)host;
  name_cache_release(&resolver->names, &entry->link);
}

void host_resolver_get_stats(const struct host_resolver *resolver, struct host_resolver_stats *out) {
  *out = resolver->stats;
  out->evicted = resolver->names.evicted;
  out->cached = resolver->names.entry_count;
}
