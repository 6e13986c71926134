/* The realistic synthetic survey (see bench_model.h). Every choice is a
 * hash of the domain number (or the provider's rank), never a running
 * random state, so a record can be made again in any order and a shared MX
 * host is identical in every domain that names it. */
#include "store/bench_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* 40 TLDs with a skewed share each (per mille, summing to 1000). */
static const char *const bench_tlds[] = {"com", "net",  "org", "de", "uk", "nl",   "ru", "br", "fr",  "it",
                                         "au",  "pl",   "ch",  "se", "eu", "info", "cz", "be", "dk",  "at",
                                         "es",  "jp",   "ca",  "no", "in", "fi",   "nu", "io", "xyz", "online",
                                         "biz", "site", "top", "sk", "hu", "ro",   "pt", "gr", "cl",  "mx"};
static const unsigned bench_tld_per_mille[] = {450, 60, 50, 45, 35, 30, 25, 22, 20, 18, 16, 15, 14, 13,
                                               12,  11, 10, 10, 9,  9,  8,  8,  8,  7,  7,  7,  6,  6,
                                               6,   6,  5,  5,  5,  5,  5,  4,  4,  4,  3,  7};
#define BENCH_TLD_COUNT (sizeof bench_tlds / sizeof bench_tlds[0])

static uint8_t bench_tlsa_data[BENCH_MODEL_MAX_TLSA][32] = {{0x3a}, {0x2b}};
/* No DER: the sink stores the chain's hash only (no certificates row). */
static uint8_t *bench_no_der[1];
static size_t bench_no_der_len[1];
static char bench_ehlo_starttls[] = "STARTTLS";
static char *bench_ehlo_keywords[] = {bench_ehlo_starttls};

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* A uniform draw in [0, 1) from bits of h. */
static double unit(uint64_t h) {
  return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

void bench_model_leaf_sha256(unsigned k, uint8_t out[32]) {
  memset(out, 0xbe, 32);
  out[0] = (uint8_t)(k + 1);
}

static const char *pick_tld(uint64_t h) {
  unsigned x = (unsigned)(h % 1000);
  for (size_t i = 0; i < BENCH_TLD_COUNT; i++) {
    if (x < bench_tld_per_mille[i]) return bench_tlds[i];
    x -= bench_tld_per_mille[i];
  }
  return bench_tlds[0];
}

/* What an MX host publishes; the host's record follows from it. */
struct host_kind {
  enum host_status status;
  bool secure_addresses;
  unsigned tlsa_records; /* secure TLSA records (0: none or not secure) */
  bool tlsa_usable;
  bool dual_stack;
  enum probe_result failure; /* the failing address's result for dane-failed/-unreachable */
  unsigned key_type;         /* index of the leaf certificate */
};

/* The host kind from a hash: secure_share and tlsa_share are the chances
 * of secure addresses and (among them) of secure TLSA records. */
static struct host_kind pick_host_kind(uint64_t h, double secure_share, double tlsa_share, bool dual_stack) {
  struct host_kind kind = {.status = HOST_INSECURE, .dual_stack = dual_stack, .key_type = (unsigned)(h >> 60) % 3};
  double r = unit(mix64(h ^ 0x51));
  if (r >= secure_share) {
    if (unit(mix64(h ^ 0x52)) < 0.004) kind.status = HOST_ADDRESS_FAILED;
    return kind;
  }
  kind.secure_addresses = true;
  kind.status = HOST_NO_TLSA;
  double t = unit(mix64(h ^ 0x53));
  if (t >= tlsa_share) {
    if (t < tlsa_share * 1.08) kind.status = HOST_TLSA_FAILED; /* bogus TLSA answers: a few */
    return kind;
  }
  kind.tlsa_records = unit(mix64(h ^ 0x54)) < 0.2 ? 2 : 1;
  kind.tlsa_usable = true;
  double s = unit(mix64(h ^ 0x55));
  if (s < 0.86) {
    kind.status = HOST_DANE_VALID;
  } else if (s < 0.93) {
    kind.status = HOST_DANE_FAILED;
    kind.failure = s < 0.9 ? PROBE_TLSA_MISMATCH : PROBE_NO_STARTTLS;
  } else if (s < 0.97) {
    kind.status = HOST_DANE_UNREACHABLE;
    kind.failure = s < 0.95 ? PROBE_TIMEOUT : PROBE_CONNECT_FAILED;
  } else {
    kind.status = HOST_TLSA_UNUSABLE;
    kind.tlsa_usable = false;
  }
  return kind;
}

static void fill_probe(struct bench_model_domain *out, int h, int a, const struct host_kind *kind, bool failing) {
  struct host_address *address = &out->addresses[h][a];
  struct probe_detail *probe = &out->probes[h][a];
  memset(probe, 0, sizeof *probe);
  probe->matched_tlsa_index = -1;
  probe->match_depth = -1;
  probe->attempts = 1;
  probe->connect_ms = 40;
  probe->banner_ms = 60;
  probe->ehlo_ms = 20;
  enum probe_result result = PROBE_UNAUTHENTICATED_TLS;
  if (kind->status == HOST_DANE_VALID) result = PROBE_AUTHENTICATED;
  if (failing) result = kind->failure;
  if (!kind->tlsa_records && a == 1) result = PROBE_NO_STARTTLS; /* some plain hosts offer no TLS on IPv6 */
  probe->result = result;
  bool tls_up = result == PROBE_AUTHENTICATED || result == PROBE_UNAUTHENTICATED_TLS || result == PROBE_TLSA_MISMATCH;
  probe->tls_up = tls_up;
  probe->last_step = tls_up ? PROBE_STEP_DONE : (result == PROBE_NO_STARTTLS ? PROBE_STEP_EHLO : PROBE_STEP_CONNECT);
  if (tls_up) {
    snprintf(probe->tls_version, sizeof probe->tls_version, "%s", kind->key_type == 2 ? "TLSv1.2" : "TLSv1.3");
    snprintf(probe->tls_cipher, sizeof probe->tls_cipher, "%s",
             kind->key_type == 2 ? "ECDHE-RSA-AES256-GCM-SHA384" : "TLS_AES_256_GCM_SHA384");
    snprintf(probe->tls_group, sizeof probe->tls_group, "X25519");
    snprintf(probe->peer_signature_algorithm, sizeof probe->peer_signature_algorithm, "%s",
             kind->key_type == 1 ? "ecdsa_secp256r1_sha256" : "rsa_pss_rsae_sha256");
    probe->handshake_ms = 30;
    probe->chain_sent = 2;
    bench_model_leaf_sha256(kind->key_type, out->leaf_sha256[h][a]);
    probe->chain_sha256 = &out->leaf_sha256[h][a];
    probe->chain_der = bench_no_der; /* the certificates rows come from bench_report.sh */
    probe->chain_der_len = bench_no_der_len;
    probe->chain_count = 1;
    if (result == PROBE_AUTHENTICATED) {
      probe->matched_tlsa_index = 0;
      probe->match_depth = 0;
    }
    probe->ehlo_keywords = bench_ehlo_keywords;
    probe->ehlo_keyword_count = 1;
  }
  address->probe_result = result;
  address->probe_reason = result == PROBE_TIMEOUT ? "handshake timed out"
      : result == PROBE_CONNECT_FAILED            ? "connection refused"
      : result == PROBE_TLSA_MISMATCH             ? "no usable TLSA record matched"
      : result == PROBE_NO_STARTTLS               ? "STARTTLS not offered"
                                                  : NULL;
  address->probe = probe;
}

/* Host h of the record: name, lookups, addresses, TLSA records, probes. */
static void fill_host(struct bench_model_domain *out, int h, uint64_t host_hash, const struct host_kind *kind) {
  struct mx_host *host = &out->hosts[h];
  memset(host, 0, sizeof *host);
  host->name = out->host_names[h];
  host->a.done = host->aaaa.done = true;
  host->a.rcode = host->aaaa.rcode = 0;
  enum dnssec_state address_state = kind->secure_addresses ? DNSSEC_SECURE : DNSSEC_INSECURE;
  host->a.state = host->aaaa.state = address_state;
  host->address_dnssec = address_state;
  host->status = kind->status;
  host->resolve_ms = 12 + (uint32_t)(host_hash % 200);
  if (kind->status == HOST_ADDRESS_FAILED) {
    host->a.state = host->aaaa.state = host->address_dnssec = DNSSEC_FAILED;
    host->a.rcode = host->aaaa.rcode = 2;
    host->a.failure = "SERVFAIL";
    return;
  }
  size_t count = kind->dual_stack ? 2 : 1;
  for (size_t a = 0; a < count; a++) {
    struct host_address *address = &out->addresses[h][a];
    memset(address, 0, sizeof *address);
    address->family = a == 0 ? AF_INET : AF_INET6;
    if (a == 0) {
      snprintf(address->text, sizeof address->text, "10.%u.%u.%u", (unsigned)(host_hash >> 8) & 255,
               (unsigned)(host_hash >> 16) & 255, (unsigned)(host_hash >> 24) & 255);
    } else {
      snprintf(address->text, sizeof address->text, "fd00::%x:%x", (unsigned)(host_hash >> 32) & 0xffff,
               (unsigned)(host_hash >> 48) & 0xffff);
    }
    if (kind->secure_addresses) {
      fill_probe(out, h, (int)a, kind,
                 a == 0 && (kind->status == HOST_DANE_FAILED || kind->status == HOST_DANE_UNREACHABLE));
    } else {
      address->probe_result = PROBE_SKIPPED;
      address->probe_reason = "DANE does not apply";
    }
  }
  host->addresses = out->addresses[h];
  host->address_count = count;
  if (!kind->secure_addresses) return;
  host->tlsa.done = true;
  host->tlsa.state = DNSSEC_SECURE;
  host->tlsa.rcode = kind->tlsa_records > 0 ? 0 : 3;
  if (kind->status == HOST_TLSA_FAILED) {
    host->tlsa.state = DNSSEC_BOGUS;
    host->tlsa.rcode = 2;
    host->tlsa.has_ede = true;
    host->tlsa.ede_code = 6;
    host->tlsa.failure = "DNSSEC bogus";
  }
  host->tlsa_base = host->name;
  for (unsigned t = 0; t < kind->tlsa_records; t++) {
    struct tlsa_record *tlsa = &out->tlsa[h][t];
    memset(tlsa, 0, sizeof *tlsa);
    tlsa->usage = t == 0 ? 3 : 2;
    tlsa->selector = 1;
    tlsa->matching_type = kind->tlsa_usable ? 1 : 5;
    tlsa->data = bench_tlsa_data[t];
    tlsa->data_len = 32;
    tlsa->usable = kind->tlsa_usable;
    tlsa->unusable_reason = kind->tlsa_usable ? NULL : "unknown matching type";
  }
  host->tlsa_records = out->tlsa[h];
  host->tlsa_count = kind->tlsa_records;
  host->tlsa_usable_count = kind->tlsa_usable ? kind->tlsa_records : 0;
  host->rollover = !kind->tlsa_usable ? ROLLOVER_NONE
      : kind->tlsa_records == 2       ? ROLLOVER_CURRENT_ISSUER
      : kind->tlsa_records == 1       ? ROLLOVER_SINGLE
                                      : ROLLOVER_NONE;
  if (kind->tlsa_records > 0 && kind->key_type == 0 && (host_hash & 7) == 0)
    host->flags |= MX_FLAG_PARTIAL_ALGORITHM_COVERAGE;
}

/* The domain status RESULTS.md gives these hosts (with a usable MX RRset). */
static enum domain_status domain_status_of(const struct bench_model_domain *out, size_t count, bool secure_mx) {
  bool any_valid = false, any_failed = false, any_dane = false, all_unreachable = true, any_unusable = false,
       any_tlsa = false;
  for (size_t i = 0; i < count; i++) {
    enum host_status s = out->hosts[i].status;
    if (s == HOST_DANE_FAILED || s == HOST_TLSA_FAILED) any_failed = true;
    if (s == HOST_DANE_VALID) any_valid = true;
    if (s == HOST_TLSA_UNUSABLE) any_unusable = true;
    if (s == HOST_DANE_VALID || s == HOST_DANE_FAILED || s == HOST_DANE_UNREACHABLE) any_dane = true;
    if (s != HOST_DANE_UNREACHABLE) all_unreachable = false;
    if (out->hosts[i].tlsa_count > 0) any_tlsa = true;
  }
  if (!secure_mx && !any_tlsa) return DOMAIN_INSECURE;
  if (any_failed) return DOMAIN_DANE_FAILED;
  if (any_dane && all_unreachable) return DOMAIN_DANE_UNREACHABLE;
  bool all_valid = count > 0;
  for (size_t i = 0; i < count; i++) all_valid = all_valid && out->hosts[i].status == HOST_DANE_VALID;
  if (all_valid) return DOMAIN_DANE_VALID;
  if (any_valid) return DOMAIN_DANE_PARTIAL;
  if (any_unusable) return DOMAIN_TLSA_UNUSABLE;
  return secure_mx ? DOMAIN_NO_DANE : DOMAIN_INSECURE;
}

/* A Zipf-like provider rank in [1, providers] from u in [0, 1): rank ~ 1/r
 * (the inverse of the continuous CDF log(r) / log(n)). */
static uint64_t provider_rank(double u, uint64_t providers) {
  uint64_t rank = (uint64_t)exp(u * log((double)providers));
  return rank < 1 ? 1 : (rank > providers ? providers : rank);
}

void bench_model_domain(struct bench_model_domain *out, uint64_t domain, uint64_t total, unsigned variant) {
  struct domain_result *result = &out->result;
  memset(result, 0, sizeof *result);
  uint64_t name_hash = mix64(domain ^ 0x6e616d65ULL);
  /* The changed 1 %: a different draw for the domain's facts in this variant. */
  bool changed = variant > 0 && (mix64(domain ^ (0xc4a9ULL * variant)) % 100) == 0;
  uint64_t h = mix64(domain * 31 + (changed ? variant : 0));
  const char *tld = pick_tld(name_hash);
  snprintf(result->name, sizeof result->name, "w%llu-%x.%s", (unsigned long long)domain, (unsigned)(name_hash >> 40),
           tld);
  result->seq = domain;
  result->line = domain + 1;
  result->rank = -1;
  result->mx.done = true;
  result->started_unix_ms = 1796000000000LL + (int64_t)domain;
  result->elapsed_ms = 50 + (uint32_t)(h % 900);
  double r = unit(h);
  /* 25 % without MX. */
  if (r < 0.25) {
    result->mx.state = DNSSEC_INSECURE;
    if (r < 0.06) {
      result->status = DOMAIN_NXDOMAIN;
      result->mx.rcode = 3;
    } else if (r < 0.217) {
      result->status = DOMAIN_NO_MAIL;
    } else if (r < 0.227) {
      result->status = DOMAIN_NULL_MX;
      result->mx_dnssec = DNSSEC_INSECURE;
    } else if (r < 0.247) {
      result->status = DOMAIN_LOOKUP_FAILED;
      result->mx.state = DNSSEC_FAILED;
      result->mx.rcode = 2;
      result->mx.failure = "timeout after retries";
      result->mx_dnssec = DNSSEC_FAILED;
    } else {
      result->status = DOMAIN_DNSSEC_BOGUS;
      result->mx.state = DNSSEC_BOGUS;
      result->mx.rcode = 2;
      result->mx_dnssec = DNSSEC_BOGUS;
    }
    return;
  }
  bool secure_mx = unit(mix64(h ^ 0x11)) < 0.09;
  result->mx.state = result->mx_dnssec = secure_mx ? DNSSEC_SECURE : DNSSEC_INSECURE;
  result->mx.rcode = 0;
  /* Providers: about one per 500 domains, at least 50. */
  uint64_t providers = total / 500 < 50 ? 50 : total / 500;
  if (unit(mix64(h ^ 0x22)) < 0.62) {
    uint64_t rank = provider_rank(unit(mix64(h ^ 0x33)), providers);
    uint64_t p = mix64(rank ^ 0x70726f76ULL);
    /* 1 % of the long tail (not the 100 largest) changed in a later scan. */
    if (variant > 0 && rank > 100 && (mix64(rank ^ (0x77ULL * variant)) % 100) == 0) p = mix64(p + variant);
    /* The largest providers sign more often than the tail. */
    double secure_share = rank <= 20 ? 0.3 : 0.12;
    struct host_kind kind = pick_host_kind(p, secure_share, 0.25, true);
    for (int i = 0; i < 2; i++) {
      snprintf(out->host_names[i], sizeof out->host_names[i], "mx%d.prov%llu.%s", i + 1, (unsigned long long)rank,
               pick_tld(p));
      fill_host(out, i, mix64(p + (uint64_t)i), &kind);
      result->links[i].preference = (uint16_t)(10 * (i + 1));
      result->links[i].host = &out->hosts[i];
    }
    result->link_count = 2;
  } else {
    struct host_kind kind = pick_host_kind(mix64(h ^ 0x44), secure_mx ? 0.5 : 0.03, 0.2, false);
    snprintf(out->host_names[0], sizeof out->host_names[0], "mail.%s", result->name);
    fill_host(out, 0, mix64(h ^ 0x45), &kind);
    result->links[0].preference = 10;
    result->links[0].host = &out->hosts[0];
    result->link_count = 1;
  }
  result->status = domain_status_of(out, result->link_count, secure_mx);
}
