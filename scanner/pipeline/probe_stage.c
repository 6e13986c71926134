/* STARTTLS stage: from a resolved host to its probed addresses and final
 * status. Which hosts are probed is the probe mode's policy:
 *   dane: hosts with a secure TLSA RRset (usable or not: with only unusable
 *         records TLS is still mandatory for a DANE client, RFC 7672 2.2);
 *   all:  every host with addresses (STARTTLS adoption statistics);
 *         addresses of hosts where DANE does not apply end
 *         `unauthenticated-tls` when TLS comes up;
 *   none: no probe; usable-TLSA hosts stay `dane-unprobed`. */
#include "pipeline/probe_stage.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pipeline/rollover.h"
#include "pipeline/rules.h"
#include "tls/chain_match.h"

struct host_job {
  struct probe_stage *stage;
  struct mx_host *host;
  size_t pending;
  void (*done)(struct mx_host *host, void *done_arg);
  void *done_arg;
};

struct address_job {
  struct host_job *host_job;
  size_t address_index;
  struct probe_request request;   /* kept while waiting for a scan-wide slot */
  const char *reference_names[2]; /* request.reference_names points here (strings owned by the host) */
  int slot;                       /* the coordinator's slot, -1 without one */
};

struct probe_stage {
  struct probe_engine *engine;
  struct probe_stage_config config;
  struct host_finisher finisher;
  FILE *certs;
  /* SHA-256 of certificates already written: open addressing on the first
   * 8 bytes, full compare. Grows; bounded by distinct certificates seen. */
  uint8_t (*seen)[32];
  bool *seen_used;
  size_t seen_capacity, seen_count;
  struct probe_stage_stats stats;
  char certs_error[256];
  bool coordinated;
  struct probe_coordinator coordinator;
  struct chain_store *public_cas;
};

int probe_mode_parse(const char *word, enum probe_mode *out) {
  if (strcmp(word, "none") == 0) *out = PROBE_MODE_NONE;
  else if (strcmp(word, "dane") == 0) *out = PROBE_MODE_DANE;
  else if (strcmp(word, "all") == 0) *out = PROBE_MODE_ALL;
  else return -1;
  return 0;
}

static bool host_tlsa_secure(const struct mx_host *host) {
  return host->status == HOST_DANE_UNPROBED || host->status == HOST_TLSA_UNUSABLE;
}

static bool stage_wants(void *ctx, const struct mx_host *host) {
  struct probe_stage *stage = ctx;
  if (host->address_count == 0) return false;
  switch (stage->config.mode) {
  case PROBE_MODE_DANE:
    return host_tlsa_secure(host);
  case PROBE_MODE_ALL:
    return host->status != HOST_ADDRESS_FAILED;
  case PROBE_MODE_NONE:
  default:
    return false;
  }
}

static uint64_t first_bytes(const uint8_t digest[32]) {
  uint64_t value;
  memcpy(&value, digest, sizeof value);
  return value;
}

/* Returns true if digest was not seen before (and records it). */
static bool remember_certificate(struct probe_stage *stage, const uint8_t digest[32]) {
  if (stage->seen_count * 2 >= stage->seen_capacity) {
    size_t capacity = stage->seen_capacity ? stage->seen_capacity * 2 : 1024;
    uint8_t(*seen)[32] = calloc(capacity, sizeof *seen);
    bool *used = calloc(capacity, sizeof *used);
    if (seen == NULL || used == NULL) {
      free(seen);
      free(used);
      return true; /* cannot remember: writing a PEM twice beats losing it */
    }
    for (size_t i = 0; i < stage->seen_capacity; i++) {
      if (!stage->seen_used[i]) continue;
      size_t slot = first_bytes(stage->seen[i]) & (capacity - 1);
      while (used[slot]) slot = (slot + 1) & (capacity - 1);
      memcpy(seen[slot], stage->seen[i], 32);
      used[slot] = true;
    }
    free(stage->seen);
    free(stage->seen_used);
    stage->seen = seen;
    stage->seen_used = used;
    stage->seen_capacity = capacity;
  }
  size_t slot = first_bytes(digest) & (stage->seen_capacity - 1);
  while (stage->seen_used[slot]) {
    if (memcmp(stage->seen[slot], digest, 32) == 0) return false;
    slot = (slot + 1) & (stage->seen_capacity - 1);
  }
  memcpy(stage->seen[slot], digest, 32);
  stage->seen_used[slot] = true;
  stage->seen_count++;
  return true;
}

static void write_certificates(struct probe_stage *stage, const struct probe_report *report) {
  if (stage->certs == NULL) return;
  for (size_t i = 0; i < report->chain_count; i++) {
    const struct probe_cert *cert = &report->chain[i];
    if (!remember_certificate(stage, cert->sha256)) continue;
    const unsigned char *der = cert->der;
    X509 *x509 = d2i_X509(NULL, &der, (long)cert->der_len);
    if (x509 == NULL) continue;
    char hex[65];
    for (int j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", cert->sha256[j]);
    fprintf(stage->certs, "# sha256 %s\n", hex);
    if (PEM_write_X509(stage->certs, x509) != 1 && stage->certs_error[0] == '\0') {
      snprintf(stage->certs_error, sizeof stage->certs_error, "%s: write failed", stage->config.certs_path);
    }
    X509_free(x509);
    stage->stats.certificates_written++;
  }
}

static char *copy_bytes(const char *data, size_t len) {
  char *copy = malloc(len + 1);
  if (copy == NULL) return NULL;
  if (len > 0) memcpy(copy, data, len);
  copy[len] = '\0';
  return copy;
}

static struct probe_detail *detail_from_report(const struct probe_report *report) {
  struct probe_detail *detail = calloc(1, sizeof *detail);
  if (detail == NULL) return NULL;
  detail->result = report->result;
  detail->reason = copy_bytes(report->reason, strlen(report->reason));
  detail->tlsrpt = report->tlsrpt;
  detail->last_step = report->last_step;
  detail->smtp_code = report->smtp_code;
  if (report->banner != NULL) {
    detail->banner = copy_bytes(report->banner, report->banner_len);
    detail->banner_len = detail->banner != NULL ? report->banner_len : 0;
  }
  if (report->ehlo_keyword_count > 0) {
    detail->ehlo_keywords = calloc(report->ehlo_keyword_count, sizeof *detail->ehlo_keywords);
    if (detail->ehlo_keywords != NULL) {
      for (size_t i = 0; i < report->ehlo_keyword_count; i++) {
        detail->ehlo_keywords[i] = copy_bytes(report->ehlo_keywords[i], strlen(report->ehlo_keywords[i]));
      }
      detail->ehlo_keyword_count = report->ehlo_keyword_count;
    }
  }
  detail->starttls_offered = report->starttls_offered;
  detail->connect_ms = report->connect_ms;
  detail->banner_ms = report->banner_ms;
  detail->ehlo_ms = report->ehlo_ms;
  detail->starttls_ms = report->starttls_ms;
  detail->handshake_ms = report->handshake_ms;
  detail->tls_up = report->tls_up;
  memcpy(detail->tls_version, report->tls_version, sizeof detail->tls_version);
  memcpy(detail->tls_cipher, report->tls_cipher, sizeof detail->tls_cipher);
  memcpy(detail->tls_group, report->tls_group, sizeof detail->tls_group);
  memcpy(detail->peer_signature_algorithm, report->peer_signature_algorithm, sizeof detail->peer_signature_algorithm);
  memcpy(detail->leaf_key_type, report->leaf_key_type, sizeof detail->leaf_key_type);
  detail->verify_error = report->verify_error;
  detail->matched_tlsa_index = report->matched_tlsa_index;
  detail->match_depth = report->match_depth;
  detail->tlsa_refused = report->tlsa_refused;
  if (report->chain_count > 0) {
    detail->chain_sha256 = calloc(report->chain_count, sizeof *detail->chain_sha256);
    detail->chain_der = calloc(report->chain_count, sizeof *detail->chain_der);
    detail->chain_der_len = calloc(report->chain_count, sizeof *detail->chain_der_len);
    if (detail->chain_sha256 != NULL && detail->chain_der != NULL && detail->chain_der_len != NULL) {
      for (size_t i = 0; i < report->chain_count; i++) {
        memcpy(detail->chain_sha256[i], report->chain[i].sha256, 32);
        detail->chain_der[i] = malloc(report->chain[i].der_len > 0 ? report->chain[i].der_len : 1);
        if (detail->chain_der[i] != NULL) {
          memcpy(detail->chain_der[i], report->chain[i].der, report->chain[i].der_len);
          detail->chain_der_len[i] = report->chain[i].der_len;
        }
      }
      detail->chain_count = report->chain_count;
      detail->has_leaf_spki_sha256 = report->has_leaf_spki_sha256;
      memcpy(detail->leaf_spki_sha256, report->leaf_spki_sha256, 32);
    }
  }
  detail->chain_sent = report->chain_sent;
  detail->leaf_not_before = report->leaf_not_before;
  detail->leaf_not_after = report->leaf_not_after;
  detail->chain_not_after = report->chain_not_after;
  detail->expires_soon = report->expires_soon;
  memcpy(detail->key_types, report->key_types, sizeof detail->key_types);
  detail->partial_algorithm_coverage = report->partial_algorithm_coverage;
  detail->attempts = report->attempts;
  if (report->attempts > 1 && report->first_reason != NULL) {
    detail->first = report->first;
    detail->first_reason = copy_bytes(report->first_reason, strlen(report->first_reason));
  }
  detail->pkix = report->pkix;
  if (report->pkix_reason != NULL && report->pkix_reason[0] != '\0') {
    detail->pkix_reason = copy_bytes(report->pkix_reason, strlen(report->pkix_reason));
  }
  return detail;
}

static void host_job_finish(struct host_job *job) {
  struct mx_host *host = job->host;
  bool expires_soon = false, partial = false, refused = false;
  for (size_t i = 0; i < host->address_count; i++) {
    const struct probe_detail *detail = host->addresses[i].probe;
    if (detail == NULL) continue;
    expires_soon |= detail->expires_soon;
    partial |= detail->partial_algorithm_coverage;
    refused |= detail->tlsa_refused > 0;
  }
  if (expires_soon) host->flags |= MX_FLAG_EXPIRES_SOON;
  if (refused) host->flags |= MX_FLAG_TLSA_REFUSED;
  if (partial) host->flags |= MX_FLAG_PARTIAL_ALGORITHM_COVERAGE;
  struct probe_stage *stage = job->stage;
  /* Only hosts with usable secure TLSA get their status from the probes;
   * every other status was decided by DNS (RESULTS.md). */
  if (host->status == HOST_DANE_UNPROBED) {
    struct rollover_context rollover = {
        .public_cas = stage->public_cas, .now_unix = (int64_t)time(NULL), .warn_days = stage->config.warn_days};
    (void)rollover_judge(host, &rollover); /* out of memory: the records-only class stays */
    host->status = rules_host_status_from_probes(host);
  }
  if (stage->coordinated) stage->coordinator.host_probed(stage->coordinator.ctx, host);
  void (*done)(struct mx_host *, void *) = job->done;
  void *done_arg = job->done_arg;
  free(job);
  done(host, done_arg);
}

static void on_probe_done(const struct probe_report *report, void *arg) {
  struct address_job *address_job = arg;
  struct host_job *job = address_job->host_job;
  struct host_address *address = &job->host->addresses[address_job->address_index];
  struct probe_stage *stage = job->stage;
  if (stage->coordinated) stage->coordinator.release_address(stage->coordinator.ctx, address->text, address_job->slot);
  free(address_job);
  write_certificates(job->stage, report);
  address->probe = detail_from_report(report);
  address->probe_result = report->result;
  address->probe_reason = address->probe != NULL ? address->probe->reason : "out of memory keeping the probe";
  if (--job->pending == 0) host_job_finish(job);
}

/* Hands one address to the engine (its scan-wide slot, if any, is held). */
static void submit_address(struct address_job *address_job) {
  struct host_job *job = address_job->host_job;
  struct probe_stage *stage = job->stage;
  struct host_address *address = &job->host->addresses[address_job->address_index];
  if (probe_engine_submit(stage->engine, &address_job->request, on_probe_done, address_job) != 0) {
    if (stage->coordinated)
      stage->coordinator.release_address(stage->coordinator.ctx, address->text, address_job->slot);
    free(address_job);
    address->probe_reason = "probe request rejected";
    if (--job->pending == 0) host_job_finish(job);
    return;
  }
  stage->stats.addresses_probed++;
}

static void on_address_granted(void *arg, int slot) {
  struct address_job *address_job = arg;
  address_job->slot = slot;
  submit_address(address_job);
}

static void probe_host_here(struct host_job *job);

/* The coordinator's answer: probe here, or take the stored result. */
static void on_host_decided(void *arg, const struct probe_borrowed_host *borrowed) {
  struct host_job *job = arg;
  if (borrowed == NULL) {
    probe_host_here(job);
    return;
  }
  struct mx_host *host = job->host;
  job->stage->stats.hosts_borrowed++;
  for (size_t i = 0; i < host->address_count; i++) {
    struct host_address *address = &host->addresses[i];
    for (size_t k = 0; k < borrowed->address_count; k++) {
      if (strcmp(borrowed->addresses[k].address, address->text) != 0) continue;
      struct probe_detail *detail = calloc(1, sizeof *detail);
      if (detail != NULL) {
        detail->result = borrowed->addresses[k].result;
        detail->reason = copy_bytes(borrowed->addresses[k].reason, strlen(borrowed->addresses[k].reason));
        detail->matched_tlsa_index = -1;
        detail->match_depth = -1;
        detail->connect_ms = detail->banner_ms = detail->ehlo_ms = detail->starttls_ms = detail->handshake_ms = -1;
        detail->attempts = borrowed->addresses[k].attempts;
        if (detail->attempts > 1) {
          detail->first.result = borrowed->addresses[k].first_result;
          detail->first.step = borrowed->addresses[k].first_step;
          detail->first.elapsed_ms = detail->first.pause_ms = -1; /* in the database only */
        }
      }
      probe_detail_free(address->probe);
      address->probe = detail;
      address->probe_result = borrowed->addresses[k].result;
      address->probe_reason = detail != NULL && detail->reason != NULL ? detail->reason : "probed by another worker";
      break;
    }
  }
  host->status = borrowed->status;
  host->flags |= borrowed->flags;
  host->rollover = borrowed->rollover;
  void (*done)(struct mx_host *, void *) = job->done;
  void *done_arg = job->done_arg;
  free(job);
  done(host, done_arg);
}

static void stage_start(void *ctx, struct mx_host *host, void (*done)(struct mx_host *host, void *done_arg),
                        void *done_arg) {
  struct probe_stage *stage = ctx;
  struct host_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    for (size_t i = 0; i < host->address_count; i++) host->addresses[i].probe_reason = "out of memory";
    done(host, done_arg);
    return;
  }
  job->stage = stage;
  job->host = host;
  job->done = done;
  job->done_arg = done_arg;
  if (stage->coordinated) {
    stage->coordinator.claim_host(stage->coordinator.ctx, host, on_host_decided, job);
    return;
  }
  probe_host_here(job);
}

static void probe_host_here(struct host_job *job) {
  struct probe_stage *stage = job->stage;
  struct mx_host *host = job->host;
  stage->stats.hosts_probed++;

  /* RFC 7672 3.2.2: DANE-TA reference identifiers are the TLSA base domain
   * and the MX host name; SNI is the TLSA base domain (RFC 7672 8.1). */
  const char *names[2] = {NULL, NULL};
  size_t name_count = 0;
  if (host->tlsa_base != NULL) names[name_count++] = host->tlsa_base;
  if (host->tlsa_base == NULL || strcmp(host->tlsa_base, host->name) != 0) names[name_count++] = host->name;
  bool tlsa_applies = host_tlsa_secure(host);

  job->pending = 1; /* guard while submitting */
  for (size_t i = 0; i < host->address_count; i++) {
    struct host_address *address = &host->addresses[i];
    struct address_job *address_job = calloc(1, sizeof *address_job);
    if (address_job == NULL) {
      address->probe_reason = "out of memory";
      continue;
    }
    address_job->host_job = job;
    address_job->address_index = i;
    address_job->slot = -1;
    struct probe_request *request = &address_job->request;
    memcpy(address_job->reference_names, names, sizeof names);
    request->host_name = host->name;
    request->tlsa_base = host->tlsa_base != NULL ? host->tlsa_base : host->name;
    request->reference_names = address_job->reference_names;
    request->reference_count = name_count;
    request->tlsa = tlsa_applies ? host->tlsa_records : NULL;
    request->tlsa_count = tlsa_applies ? host->tlsa_count : 0;
    request->pkix = stage->config.pkix;
    if (address->family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&request->address;
      sin->sin_family = AF_INET;
      memcpy(&sin->sin_addr, address->bytes, 4);
      request->address_len = sizeof *sin;
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&request->address;
      sin6->sin6_family = AF_INET6;
      memcpy(&sin6->sin6_addr, address->bytes, 16);
      request->address_len = sizeof *sin6;
    }
    job->pending++;
    if (stage->coordinated) {
      stage->coordinator.acquire_address(stage->coordinator.ctx, address->text, on_address_granted, address_job);
    } else {
      submit_address(address_job);
    }
  }
  if (--job->pending == 0) host_job_finish(job);
}

static void stage_release(void *ctx, struct mx_host *host) {
  (void)ctx;
  for (size_t i = 0; i < host->address_count; i++) {
    probe_detail_free(host->addresses[i].probe);
    host->addresses[i].probe = NULL;
  }
}

struct probe_stage *probe_stage_new(struct probe_engine *engine, const struct probe_stage_config *config, char *why,
                                    size_t why_len) {
  struct probe_stage *stage = calloc(1, sizeof *stage);
  if (stage == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  stage->engine = engine;
  stage->config = *config;
  if (config->certs_path != NULL) {
    stage->certs = fopen(config->certs_path, "w");
    if (stage->certs == NULL) {
      snprintf(why, why_len, "%s: cannot open for writing: %s", config->certs_path, strerror(errno));
      free(stage);
      return NULL;
    }
  }
  stage->public_cas = chain_store_new(config->ca_file, why, why_len);
  if (stage->public_cas == NULL) {
    if (stage->certs != NULL) fclose(stage->certs);
    free(stage);
    return NULL;
  }
  stage->finisher.wants = stage_wants;
  stage->finisher.start = stage_start;
  stage->finisher.release = stage_release;
  stage->finisher.ctx = stage;
  return stage;
}

int probe_stage_free(struct probe_stage *stage, char *why, size_t why_len) {
  if (stage == NULL) return 0;
  int rc = 0;
  if (stage->certs != NULL && fclose(stage->certs) != 0) {
    snprintf(why, why_len, "%s: close failed: %s", stage->config.certs_path, strerror(errno));
    rc = -1;
  }
  if (rc == 0 && stage->certs_error[0] != '\0') {
    snprintf(why, why_len, "%s", stage->certs_error);
    rc = -1;
  }
  free(stage->seen);
  free(stage->seen_used);
  chain_store_free(stage->public_cas);
  free(stage);
  return rc;
}

const struct host_finisher *probe_stage_finisher(struct probe_stage *stage) {
  return &stage->finisher;
}

void probe_stage_set_coordinator(struct probe_stage *stage, const struct probe_coordinator *coordinator) {
  stage->coordinated = coordinator != NULL;
  if (coordinator != NULL) stage->coordinator = *coordinator;
}

void probe_stage_get_stats(const struct probe_stage *stage, struct probe_stage_stats *out) {
  *out = stage->stats;
}
