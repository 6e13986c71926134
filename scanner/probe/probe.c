/* The probe engine: a queue of (MX host, address) probes in front of the
 * SMTP sessions (smtp/), with the politeness policy of the issue: a token
 * bucket for new connections overall, at most per_ip sessions and a minimum
 * gap per address (doubled after a 421 reply or a refused connection, halved
 * back after a clean session), and max_concurrent sessions in flight.
 *
 * Each address has a state with its own FIFO of waiting sessions; an address
 * that may start a session now sits on the runnable list, one waiting for
 * its gap sits on its own timer. A probe is one session, or two when
 * probe_each_key_type asks for a second handshake restricted to the other
 * key type: the second goes to the head of its address's FIFO so the probe
 * finishes before other work for that address. A probe whose first session
 * failed transiently (retry_transient) waits retry_delay_ms on a timer of
 * its own, off the queues, and then goes to the head of its address's FIFO
 * for its second session the same way; both sessions pass every politeness
 * rule, and the address state (gap, back-off, give-up) stays alive while a
 * probe waits for its retry, because the probe still holds a reference.
 * Skipped probes (special-purpose address, blocklist) never reach a queue
 * and are called back from a deferred event. */
#include "probe/probe.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "probe/ehlo_name.h"
#include "probe/probe_address.h"
#include "smtp/smtp_session.h"
#include "tls/tls_dane.h"
#include "tls/tls_pkix.h"

_Static_assert(PROBE_BANNER_MAX_BYTES == SMTP_BANNER_MAX_BYTES, "banner sizes differ");
_Static_assert(PROBE_MAX_EHLO_KEYWORDS == SMTP_MAX_EHLO_KEYWORDS, "keyword counts differ");
_Static_assert(PROBE_MAX_CHAIN_CERTS == TLS_MAX_CHAIN_CERTS, "chain sizes differ");
_Static_assert(PROBE_NAME_MAX_BYTES == TLS_NAME_MAX_BYTES, "name sizes differ");


struct address_state;

enum job_phase { JOB_PRIMARY, JOB_SECONDARY };

struct probe_job {
  struct probe_engine *engine;
  char *host_name;
  char *tlsa_base;
  char *reference_names[PROBE_MAX_REFERENCE_NAMES];
  size_t reference_count;
  struct tlsa_record *tlsa;
  size_t tlsa_count;
  struct sockaddr_storage address;
  socklen_t address_len;
  char address_text[64];
  probe_done_cb done_cb;
  void *arg;
  const char *skip_reason;
  struct address_state *address_state;
  enum job_phase phase;
  enum tls_key_restriction keys; /* of the session to start next */
  struct smtp_session *session;  /* running session */
  struct smtp_session *primary;  /* finished unrestricted session, kept for the report */
  struct smtp_session *first;    /* finished first attempt that failed transiently (retry_transient) */
  unsigned attempts;             /* unrestricted sessions started: 0, 1, 2 */
  unsigned secondary_attempts;   /* restricted (other key type) sessions started: 0, 1, 2 */
  const char *retry_skipped;     /* why a transient first failure got no second session, or NULL */
  struct event *retry_timer;     /* the pause before the second attempt */
  int64_t session_start_ms;      /* of the running (or last) session */
  int64_t first_end_ms;          /* when the first attempt ended */
  struct probe_first_attempt first_attempt;
  struct probe_key_type_result key_types[PROBE_KEY_KIND_COUNT];
  bool pkix;                        /* the request asked for the WebPKI check */
  probe_slot_cb slot_cb;            /* non-NULL: a politeness slot (probe_slot), not a probe */
  bool slot_granted;                /* the slot holds its connection (until probe_slot_release) */
  bool slot_grant_pending;          /* granted, on the engine's granted list until its callback */
  TAILQ_ENTRY(probe_job) wait_link; /* address FIFO, the skipped list, or the granted list */
  TAILQ_ENTRY(probe_job) all_link;
};
TAILQ_HEAD(job_list, probe_job);

struct address_state {
  struct probe_engine *engine;
  int family;
  uint8_t bytes[16];
  unsigned active;
  unsigned refs; /* jobs of this address not yet delivered */
  int64_t next_start_ms;
  uint32_t gap_ms;
  unsigned refusals_in_row; /* sessions in a row that ended in 421 or a refused connection */
  bool given_up;            /* per_ip_give_up reached: jobs are skipped (until the state is evicted) */
  struct job_list waiting;
  bool runnable;
  TAILQ_ENTRY(address_state) runnable_link;
  struct event *gap_timer;
  bool idle; /* on the engine's idle list (refs == 0) */
  TAILQ_ENTRY(address_state) idle_link;
  struct address_state *hash_next;
};
TAILQ_HEAD(address_list, address_state);

struct probe_engine {
  struct event_base *base;
  struct probe_config config;
  char ehlo_name[EHLO_NAME_MAX_BYTES + 1];
  struct tls_client *tls;
  struct probe_blocklist *blocklist;
  struct address_state **buckets;
  size_t bucket_count, address_count;
  struct address_list runnable;
  struct address_list idle; /* no jobs; kept until their gap has passed */
  struct job_list skipped;
  struct job_list granted; /* slots granted, their callbacks not yet made */
  struct job_list all_jobs;
  struct event *dispatch_event; /* deferred dispatch and token refill wait */
  struct event *skipped_event;
  struct event *granted_event;
  X509_STORE *pkix_store; /* the WebPKI store of pkix requests */
  double tokens;
  int64_t tokens_ms;
  unsigned in_flight;
  struct probe_stats stats;
  size_t pending;
  char give_up_reason[PROBE_REASON_MAX_BYTES];
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_to_timeval(int64_t ms) {
  if (ms < 0) ms = 0;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

void probe_config_defaults(struct probe_config *config) {
  memset(config, 0, sizeof *config);
  config->smtp_port = 25;
  config->ehlo_name = NULL;
  config->connect_timeout_ms = 10000;
  config->greeting_timeout_ms = 60000;
  config->ehlo_timeout_ms = 30000;
  config->starttls_timeout_ms = 30000;
  config->handshake_timeout_ms = 30000;
  config->quit_timeout_ms = 2000;
  config->session_deadline_ms = 180000;
  config->retry_transient = true;
  config->retry_delay_ms = 5000;
  config->rate_per_second = 100;
  config->rate_burst = 10;
  config->per_ip = 1;
  config->per_ip_gap_ms = 1000;
  config->per_ip_backoff_max_ms = 60000;
  config->per_ip_give_up = 5;
  config->max_concurrent = 1000;
  config->allow_reserved = false;
  config->expiry_warn_days = 14;
  config->max_reply_line_bytes = 2048;
  config->max_reply_total_bytes = 65536;
  config->max_reply_lines = 128;
  config->probe_each_key_type = true;
}

enum tlsrpt_result probe_result_tlsrpt(enum probe_result result) {
  switch (result) {
  case PROBE_TLSA_MISMATCH:
    return TLSRPT_VALIDATION_FAILURE;
  case PROBE_NAME_MISMATCH:
    return TLSRPT_CERTIFICATE_HOST_MISMATCH;
  case PROBE_CERT_EXPIRED:
    return TLSRPT_CERTIFICATE_EXPIRED;
  case PROBE_NO_STARTTLS:
    return TLSRPT_STARTTLS_NOT_SUPPORTED;
  case PROBE_STARTTLS_REFUSED:
    return TLSRPT_STARTTLS_NOT_SUPPORTED;
  case PROBE_TLS_FAILED:
    return TLSRPT_VALIDATION_FAILURE;
  default:
    return TLSRPT_NONE;
  }
}

/* ---- address states ---- */

static void address_key(const struct sockaddr_storage *address, int *family, uint8_t bytes[16]) {
  memset(bytes, 0, 16);
  *family = address->ss_family;
  if (address->ss_family == AF_INET) {
    memcpy(bytes, &((const struct sockaddr_in *)address)->sin_addr, 4);
  } else {
    memcpy(bytes, &((const struct sockaddr_in6 *)address)->sin6_addr, 16);
  }
}

static size_t address_hash(int family, const uint8_t bytes[16]) {
  uint64_t hash = 1469598103934665603ULL ^ (uint64_t)family; /* FNV-1a */
  for (int i = 0; i < 16; i++) hash = (hash ^ bytes[i]) * 1099511628211ULL;
  return (size_t)hash;
}

static int grow_buckets(struct probe_engine *engine) {
  size_t count = engine->bucket_count == 0 ? 1024 : engine->bucket_count * 2;
  struct address_state **buckets = calloc(count, sizeof *buckets);
  if (buckets == NULL) return -1;
  for (size_t i = 0; i < engine->bucket_count; i++) {
    struct address_state *state = engine->buckets[i];
    while (state != NULL) {
      struct address_state *next = state->hash_next;
      size_t slot = address_hash(state->family, state->bytes) & (count - 1);
      state->hash_next = buckets[slot];
      buckets[slot] = state;
      state = next;
    }
  }
  free(engine->buckets);
  engine->buckets = buckets;
  engine->bucket_count = count;
  return 0;
}

static void on_gap_timer(evutil_socket_t fd, short what, void *arg);

static struct address_state *address_state_get(struct probe_engine *engine, const struct sockaddr_storage *address) {
  int family;
  uint8_t bytes[16];
  address_key(address, &family, bytes);
  if (engine->bucket_count > 0) {
    size_t slot = address_hash(family, bytes) & (engine->bucket_count - 1);
    for (struct address_state *state = engine->buckets[slot]; state != NULL; state = state->hash_next) {
      if (state->family == family && memcmp(state->bytes, bytes, 16) == 0) return state;
    }
  }
  if (engine->address_count >= engine->bucket_count && grow_buckets(engine) != 0) return NULL;
  struct address_state *state = calloc(1, sizeof *state);
  if (state == NULL) return NULL;
  state->gap_timer = evtimer_new(engine->base, on_gap_timer, state);
  if (state->gap_timer == NULL) {
    free(state);
    return NULL;
  }
  state->engine = engine;
  state->family = family;
  memcpy(state->bytes, bytes, 16);
  state->gap_ms = engine->config.per_ip_gap_ms;
  TAILQ_INIT(&state->waiting);
  size_t slot = address_hash(family, bytes) & (engine->bucket_count - 1);
  state->hash_next = engine->buckets[slot];
  engine->buckets[slot] = state;
  engine->address_count++;
  return state;
}

static void address_state_free(struct address_state *state) {
  event_free(state->gap_timer);
  free(state);
}

static void address_state_remove(struct probe_engine *engine, struct address_state *state) {
  size_t slot = address_hash(state->family, state->bytes) & (engine->bucket_count - 1);
  struct address_state **link = &engine->buckets[slot];
  while (*link != NULL && *link != state) link = &(*link)->hash_next;
  if (*link == state) *link = state->hash_next;
  engine->address_count--;
  address_state_free(state);
}

static void request_dispatch(struct probe_engine *engine) {
  event_active(engine->dispatch_event, EV_TIMEOUT, 1);
}

/* An address with nothing left to do is kept on the idle list until its
 * gap has passed, so that a later probe of it still waits; it is freed by a
 * sweep when the engine next has work (no timer: an idle engine leaves the
 * event loop free to end). */
static void sweep_idle(struct probe_engine *engine) {
  int64_t now = now_ms();
  while (!TAILQ_EMPTY(&engine->idle)) {
    struct address_state *state = TAILQ_FIRST(&engine->idle);
    if (state->next_start_ms > now) break;
    TAILQ_REMOVE(&engine->idle, state, idle_link);
    address_state_remove(engine, state);
  }
}

/* Puts the address on the runnable list if it may start a session now, or
 * arms its gap timer for when it may. */
static void address_update(struct address_state *state) {
  struct probe_engine *engine = state->engine;
  if (state->runnable) return;
  int64_t now = now_ms();
  if (state->refs == 0) {
    if (!state->idle) {
      state->idle = true;
      evtimer_del(state->gap_timer);
      TAILQ_INSERT_TAIL(&engine->idle, state, idle_link);
    }
    return;
  }
  if (TAILQ_EMPTY(&state->waiting) || state->active >= engine->config.per_ip) return;
  if (now < state->next_start_ms) {
    struct timeval tv = ms_to_timeval(state->next_start_ms - now);
    evtimer_add(state->gap_timer, &tv);
    return;
  }
  state->runnable = true;
  TAILQ_INSERT_TAIL(&engine->runnable, state, runnable_link);
  request_dispatch(engine);
}

static void on_gap_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct address_state *state = arg;
  address_update(state);
}

/* ---- jobs ---- */

static void job_free(struct probe_job *job) {
  if (job->retry_timer != NULL) event_free(job->retry_timer);
  smtp_session_free(job->session);
  smtp_session_free(job->primary);
  smtp_session_free(job->first);
  free(job->host_name);
  free(job->tlsa_base);
  for (size_t i = 0; i < job->reference_count; i++) free(job->reference_names[i]);
  for (size_t i = 0; i < job->tlsa_count; i++) tlsa_record_clear(&job->tlsa[i]);
  free(job->tlsa);
  free(job);
}

static enum probe_step step_of(enum smtp_step step) {
  switch (step) {
  case SMTP_STEP_CONNECT:
    return PROBE_STEP_CONNECT;
  case SMTP_STEP_GREETING:
    return PROBE_STEP_GREETING;
  case SMTP_STEP_EHLO:
    return PROBE_STEP_EHLO;
  case SMTP_STEP_STARTTLS:
    return PROBE_STEP_STARTTLS;
  case SMTP_STEP_HANDSHAKE:
    return PROBE_STEP_HANDSHAKE;
  case SMTP_STEP_QUIT:
    return PROBE_STEP_QUIT;
  case SMTP_STEP_DONE:
    return PROBE_STEP_DONE;
  default:
    return PROBE_STEP_NONE;
  }
}

static bool usable_tlsa(const struct probe_job *job) {
  for (size_t i = 0; i < job->tlsa_count; i++) {
    if (job->tlsa[i].usable) return true;
  }
  return false;
}

static void copy_name(char *out, const char *in) {
  snprintf(out, PROBE_NAME_MAX_BYTES, "%s", in);
}

static void deliver_slot_skipped(struct probe_job *job);

/* The PKIX verdict of a probe's reported session (MTA-STS, tls_pkix.h). */
static enum probe_pkix pkix_of(struct probe_engine *engine, const struct probe_job *job,
                               const struct smtp_session_outcome *o, char *reason, size_t reason_len) {
  reason[0] = '\0';
  if (o == NULL || !o->tls_up) {
    snprintf(reason, reason_len, "no TLS session: %s", o == NULL ? "not probed" : probe_result_name(o->result));
    return PROBE_PKIX_NO_TLS;
  }
  const struct tls_outcome *t = &o->tls;
  if (strcmp(t->version, "TLSv1.2") != 0 && strcmp(t->version, "TLSv1.3") != 0) {
    snprintf(reason, reason_len, "%s is below TLS 1.2", t->version);
    return PROBE_PKIX_TLS_VERSION;
  }
  if (engine->pkix_store == NULL) {
    char why[TLS_PKIX_REASON_MAX_BYTES];
    engine->pkix_store = tls_pkix_store_new(NULL, why, sizeof why);
    if (engine->pkix_store == NULL) {
      snprintf(reason, reason_len, "no trust store: %.200s", why);
      return PROBE_PKIX_INVALID;
    }
  }
  const uint8_t *der[TLS_MAX_CHAIN_CERTS];
  size_t der_len[TLS_MAX_CHAIN_CERTS];
  for (size_t i = 0; i < t->chain_count; i++) {
    der[i] = t->chain[i].der;
    der_len[i] = t->chain[i].der_len;
  }
  return tls_pkix_verify(engine->pkix_store, der, der_len, t->chain_count, job->host_name, time(NULL), reason,
                         reason_len);
}

/* Builds the report, calls back, frees the job. */
static void deliver(struct probe_job *job) {
  struct probe_engine *engine = job->engine;
  if (job->slot_cb != NULL) {
    deliver_slot_skipped(job);
    return;
  }
  char pkix_reason[TLS_PKIX_REASON_MAX_BYTES];
  struct probe_report report;
  struct probe_cert chain[PROBE_MAX_CHAIN_CERTS];
  const char *keywords[PROBE_MAX_EHLO_KEYWORDS];
  char reason[PROBE_REASON_MAX_BYTES + 64]; /* a session's reason and why it was not retried */
  memset(&report, 0, sizeof report);
  report.host_name = job->host_name;
  report.tlsa_base = job->tlsa_base;
  report.address = (const struct sockaddr *)&job->address;
  report.address_len = job->address_len;
  snprintf(report.address_text, sizeof report.address_text, "%s", job->address_text);
  report.banner = "";
  report.ehlo_keywords = keywords;
  report.chain = chain;
  report.matched_tlsa_index = -1;
  report.match_depth = -1;
  report.connect_ms = report.banner_ms = report.ehlo_ms = report.starttls_ms = report.handshake_ms = -1;
  memcpy(report.key_types, job->key_types, sizeof report.key_types);

  /* The last unrestricted session; the first attempt alone when its retry
   * never started. */
  const struct smtp_session *session = job->primary != NULL ? job->primary : job->session;
  if (session == NULL) session = job->first;
  if (session != NULL && session != job->first && job->first != NULL) {
    report.attempts = job->attempts;
    report.first = job->first_attempt;
    report.first_reason = smtp_session_outcome(job->first)->reason;
  } else {
    report.attempts = session != NULL ? 1 : 0;
  }
  if (job->skip_reason != NULL || session == NULL) {
    report.attempts = 0;
    report.result = PROBE_SKIPPED;
    report.reason = job->skip_reason != NULL ? job->skip_reason : "not probed";
    report.last_step = PROBE_STEP_NONE;
  } else {
    const struct smtp_session_outcome *o = smtp_session_outcome(session);
    report.result = o->result;
    report.reason = o->reason;
    if (job->retry_skipped != NULL) {
      snprintf(reason, sizeof reason, "%s (not retried: %s)", o->reason, job->retry_skipped);
      report.reason = reason;
    }
    report.last_step = step_of(o->last_step);
    report.smtp_code = o->smtp_code;
    report.banner = o->banner;
    report.banner_len = o->banner_len;
    for (size_t i = 0; i < o->ehlo_keyword_count; i++) keywords[i] = o->ehlo_keywords[i];
    report.ehlo_keyword_count = o->ehlo_keyword_count;
    report.starttls_offered = o->starttls_offered;
    report.connect_ms = o->connect_ms;
    report.banner_ms = o->banner_ms;
    report.ehlo_ms = o->ehlo_ms;
    report.starttls_ms = o->starttls_ms;
    report.handshake_ms = o->handshake_ms;
    report.tls_up = o->tls_up;
    if (o->tls_up) {
      const struct tls_outcome *t = &o->tls;
      copy_name(report.tls_version, t->version);
      copy_name(report.tls_cipher, t->cipher);
      copy_name(report.tls_group, t->group);
      copy_name(report.peer_signature_algorithm, t->peer_signature_algorithm);
      copy_name(report.leaf_key_type, t->leaf_key_type);
      report.verify_error = t->verify_error;
      report.matched_tlsa_index = t->matched_tlsa_index;
      report.match_depth = t->match_depth;
      report.tlsa_refused = t->tlsa_refused;
      for (size_t i = 0; i < t->chain_count; i++) {
        memcpy(chain[i].sha256, t->chain[i].sha256, 32);
        chain[i].der = t->chain[i].der;
        chain[i].der_len = t->chain[i].der_len;
      }
      report.chain_count = t->chain_count;
      report.chain_sent = t->chain_sent;
      report.has_leaf_spki_sha256 = t->has_leaf_spki_sha256;
      memcpy(report.leaf_spki_sha256, t->leaf_spki_sha256, 32);
      report.leaf_not_before = t->leaf_not_before;
      report.leaf_not_after = t->leaf_not_after;
      report.chain_not_after = t->chain_not_after;
      report.expires_soon = t->expires_soon;
    }
  }
  report.tlsrpt = probe_result_tlsrpt(report.result);
  report.pkix_reason = "";
  if (job->pkix) {
    const struct smtp_session_outcome *o = job->skip_reason == NULL && session != NULL ? smtp_session_outcome(session)
                                                                                       : NULL;
    report.pkix = pkix_of(engine, job, o, pkix_reason, sizeof pkix_reason);
    if (o == NULL && job->skip_reason != NULL) snprintf(pkix_reason, sizeof pkix_reason, "no TLS session: skipped");
    report.pkix_reason = pkix_reason;
  }
  const struct probe_key_type_result *rsa = &report.key_types[PROBE_KEY_RSA];
  const struct probe_key_type_result *ecdsa = &report.key_types[PROBE_KEY_ECDSA];
  report.partial_algorithm_coverage = usable_tlsa(job) && rsa->present && ecdsa->present &&
      ((rsa->result == PROBE_AUTHENTICATED) != (ecdsa->result == PROBE_AUTHENTICATED));

  engine->stats.completed++;
  if (report.result == PROBE_SKIPPED) engine->stats.skipped++;
  if (report.tlsa_refused > 0) engine->stats.tlsa_refused++;
  if ((unsigned)report.result < PROBE_RESULT_COUNT) engine->stats.results[report.result]++;
  job->done_cb(&report, job->arg);

  TAILQ_REMOVE(&engine->all_jobs, job, all_link);
  engine->pending--;
  struct address_state *state = job->address_state;
  job_free(job);
  if (state != NULL) {
    state->refs--;
    address_update(state);
  }
  sweep_idle(engine);
}

static void session_done(struct smtp_session *session, void *arg);

static void start_job_session(struct probe_engine *engine, struct probe_job *job) {
  if (job->slot_cb != NULL) {
    /* A politeness slot: counted as a session from now until released; its
     * owner hears of it from the deferred granted event. */
    engine->in_flight++;
    engine->stats.connections++;
    job->address_state->active++;
    job->session_start_ms = now_ms();
    job->slot_granted = true;
    job->slot_grant_pending = true;
    TAILQ_INSERT_TAIL(&engine->granted, job, wait_link);
    event_active(engine->granted_event, EV_TIMEOUT, 1);
    return;
  }
  struct smtp_session_config sc;
  memset(&sc, 0, sizeof sc);
  sc.base = engine->base;
  sc.tls = engine->tls;
  sc.address = job->address;
  sc.address_len = job->address_len;
  sc.ehlo_name = engine->ehlo_name;
  sc.connect_timeout_ms = engine->config.connect_timeout_ms;
  sc.greeting_timeout_ms = engine->config.greeting_timeout_ms;
  sc.ehlo_timeout_ms = engine->config.ehlo_timeout_ms;
  sc.starttls_timeout_ms = engine->config.starttls_timeout_ms;
  sc.handshake_timeout_ms = engine->config.handshake_timeout_ms;
  sc.quit_timeout_ms = engine->config.quit_timeout_ms;
  sc.deadline_ms = engine->config.session_deadline_ms;
  sc.limits.max_line_bytes = engine->config.max_reply_line_bytes;
  sc.limits.max_lines = engine->config.max_reply_lines;
  sc.max_total_bytes = engine->config.max_reply_total_bytes;
  sc.tls_input.sni = job->tlsa_base;
  sc.tls_input.reference_names = (const char *const *)job->reference_names;
  sc.tls_input.reference_count = job->reference_count;
  sc.tls_input.tlsa = job->tlsa;
  sc.tls_input.tlsa_count = job->tlsa_count;
  sc.tls_input.keys = job->keys;
  sc.expiry_warn_days = engine->config.expiry_warn_days;
  engine->in_flight++;
  engine->stats.connections++;
  job->address_state->active++;
  job->session_start_ms = now_ms();
  job->session = smtp_session_start(&sc, session_done, job);
  if (job->session == NULL) {
    /* Out of memory: nothing was sent. The probe is reported from the
     * deferred event (as not made, or with its earlier session's outcome),
     * never from inside dispatch, which still uses the address state. */
    engine->in_flight--;
    job->address_state->active--;
    if (job->primary == NULL && job->first == NULL) job->skip_reason = "out of memory: session not started";
    if (job->primary == NULL && job->first != NULL) job->retry_skipped = "out of memory: session not started";
    TAILQ_INSERT_TAIL(&engine->skipped, job, wait_link);
    event_active(engine->skipped_event, EV_TIMEOUT, 1);
    return;
  }
  if (job->phase == JOB_PRIMARY) {
    job->attempts++;
    if (job->first != NULL) {
      engine->stats.retries++;
      int64_t pause = job->session_start_ms - job->first_end_ms;
      job->first_attempt.pause_ms = pause > INT32_MAX ? INT32_MAX : (int32_t)pause;
    }
  } else {
    job->secondary_attempts++;
    if (job->secondary_attempts > 1) engine->stats.retries++;
  }
}

static void refill_tokens(struct probe_engine *engine, int64_t now);

void probe_engine_set_rate(struct probe_engine *engine, double rate_per_second, unsigned burst) {
  refill_tokens(engine, now_ms()); /* tokens earned at the old rate */
  engine->config.rate_per_second = rate_per_second;
  engine->config.rate_burst = burst > 0 ? burst : 1;
  if (engine->tokens > engine->config.rate_burst) engine->tokens = engine->config.rate_burst;
}

static void refill_tokens(struct probe_engine *engine, int64_t now) {
  if (engine->config.rate_per_second <= 0) return;
  double burst = engine->config.rate_burst > 0 ? engine->config.rate_burst : 1;
  engine->tokens += (double)(now - engine->tokens_ms) * engine->config.rate_per_second / 1000.0;
  if (engine->tokens > burst) engine->tokens = burst;
  engine->tokens_ms = now;
}

static void dispatch(struct probe_engine *engine) {
  int64_t now = now_ms();
  refill_tokens(engine, now);
  while (!TAILQ_EMPTY(&engine->runnable) && engine->in_flight < engine->config.max_concurrent) {
    if (engine->config.rate_per_second > 0 && engine->tokens < 1.0) {
      double wait_ms = (1.0 - engine->tokens) * 1000.0 / engine->config.rate_per_second;
      struct timeval tv = ms_to_timeval((int64_t)wait_ms + 1);
      evtimer_add(engine->dispatch_event, &tv);
      return;
    }
    struct address_state *state = TAILQ_FIRST(&engine->runnable);
    TAILQ_REMOVE(&engine->runnable, state, runnable_link);
    state->runnable = false;
    struct probe_job *job = TAILQ_FIRST(&state->waiting);
    if (job == NULL) continue;
    TAILQ_REMOVE(&state->waiting, job, wait_link);
    engine->stats.queued--;
    if (engine->config.rate_per_second > 0) engine->tokens -= 1.0;
    state->next_start_ms = now + state->gap_ms;
    start_job_session(engine, job);
    address_update(state);
  }
}

static void on_dispatch(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  dispatch(arg);
}

static void enqueue(struct probe_job *job, bool at_head) {
  struct address_state *state = job->address_state;
  if (at_head) {
    TAILQ_INSERT_HEAD(&state->waiting, job, wait_link);
  } else {
    TAILQ_INSERT_TAIL(&state->waiting, job, wait_link);
  }
  job->engine->stats.queued++;
  address_update(state);
}

static void record_key_type(struct probe_job *job, enum tls_key_kind kind, const struct smtp_session_outcome *o,
                            bool present) {
  enum probe_key_kind slot = kind == TLS_KEY_RSA ? PROBE_KEY_RSA : PROBE_KEY_ECDSA;
  struct probe_key_type_result *r = &job->key_types[slot];
  r->probed = true;
  r->present = present;
  r->result = o->result;
  r->matched_tlsa_index = present ? o->tls.matched_tlsa_index : -1;
  r->match_depth = present ? o->tls.match_depth : -1;
  if (present) {
    snprintf(r->leaf_key_type, sizeof r->leaf_key_type, "%s", o->tls.leaf_key_type);
    if (o->tls.chain_count > 0) {
      memcpy(r->leaf_sha256, o->tls.chain[0].sha256, 32);
      r->has_leaf_spki_sha256 = o->tls.has_leaf_spki_sha256;
      memcpy(r->leaf_spki_sha256, o->tls.leaf_spki_sha256, 32);
    }
  }
}

/* The address keeps refusing: every probe waiting for it is skipped now
 * (called back from the deferred skipped event), and so are new ones while
 * the state lives. */
static void give_up(struct address_state *state) {
  struct probe_engine *engine = state->engine;
  state->given_up = true;
  while (!TAILQ_EMPTY(&state->waiting)) {
    struct probe_job *job = TAILQ_FIRST(&state->waiting);
    TAILQ_REMOVE(&state->waiting, job, wait_link);
    engine->stats.queued--;
    /* A probe with a finished session is reported with it: a retry that
     * will not be made says so, a key-type session that will not be made
     * leaves that key type unprobed. */
    if (job->primary == NULL && job->first != NULL) job->retry_skipped = "the address was given up";
    else if (job->primary == NULL) job->skip_reason = engine->give_up_reason;
    TAILQ_INSERT_TAIL(&engine->skipped, job, wait_link);
  }
  event_active(engine->skipped_event, EV_TIMEOUT, 1);
}

/* A first session's failure that deserves a second chance: the network or a
 * momentarily busy server, not an answer. A reset during the TLS handshake
 * is not one (tls-failed: a server that drops the handshake usually always
 * does), nor is anything a reply said. */
static bool transient_failure(const struct smtp_session_outcome *o) {
  if (o->tls_up) return false;
  switch (o->result) {
  case PROBE_TIMEOUT:
  case PROBE_CONNECT_FAILED:
    return true;
  case PROBE_SMTP_FAILED:
    return o->dropped;
  default:
    return false;
  }
}

static void on_retry_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct probe_job *job = arg;
  struct probe_engine *engine = job->engine;
  if (job->address_state->given_up) {
    /* A key-type session that will not be made leaves that key type as its
     * first session found it; the report stays the unrestricted session's. */
    if (job->phase == JOB_PRIMARY) job->retry_skipped = "the address was given up";
    deliver(job);
    dispatch(engine);
    return;
  }
  enqueue(job, true);
}

/* Keeps the failed first session and sets the timer for the second.
 * Returns false (no retry) when the timer cannot be made. */
static bool schedule_retry(struct probe_job *job, struct smtp_session *session, int64_t now) {
  struct probe_engine *engine = job->engine;
  job->retry_timer = evtimer_new(engine->base, on_retry_timer, job);
  if (job->retry_timer == NULL) return false;
  const struct smtp_session_outcome *o = smtp_session_outcome(session);
  job->first = session;
  job->session = NULL;
  job->first_end_ms = now;
  job->first_attempt.result = o->result;
  job->first_attempt.step = step_of(o->last_step);
  int64_t elapsed = now - job->session_start_ms;
  job->first_attempt.elapsed_ms = elapsed > INT32_MAX ? INT32_MAX : (int32_t)elapsed;
  struct timeval tv = ms_to_timeval(engine->config.retry_delay_ms);
  evtimer_add(job->retry_timer, &tv);
  return true;
}

/* Drops the failed key-type session (its outcome is already recorded) and
 * sets the timer for its second. Returns false when the timer cannot be made. */
static bool schedule_secondary_retry(struct probe_job *job, struct smtp_session *session) {
  struct probe_engine *engine = job->engine;
  if (job->retry_timer == NULL) job->retry_timer = evtimer_new(engine->base, on_retry_timer, job);
  if (job->retry_timer == NULL) return false;
  smtp_session_free(session);
  job->session = NULL;
  struct timeval tv = ms_to_timeval(engine->config.retry_delay_ms);
  evtimer_add(job->retry_timer, &tv);
  return true;
}

/* A session (or a politeness slot's connection) to state's address ended:
 * the gap doubles after a 421 or a refused connection and shrinks back
 * after a clean end; enough refusals in a row give the address up. */
static void session_ended(struct address_state *state, bool refused, int64_t now) {
  struct probe_engine *engine = state->engine;
  engine->in_flight--;
  state->active--;
  uint32_t base_gap = engine->config.per_ip_gap_ms;
  if (refused) {
    uint64_t gap = (uint64_t)state->gap_ms * 2;
    if (gap < 1000) gap = 1000;
    if (gap < base_gap) gap = base_gap;
    if (gap > engine->config.per_ip_backoff_max_ms) gap = engine->config.per_ip_backoff_max_ms;
    state->gap_ms = (uint32_t)gap;
  } else if (state->gap_ms > base_gap) {
    state->gap_ms = state->gap_ms / 2 > base_gap ? state->gap_ms / 2 : base_gap;
  }
  /* The gap runs from the end of a session to the start of the next. */
  if (state->next_start_ms < now + state->gap_ms) state->next_start_ms = now + state->gap_ms;
  state->refusals_in_row = refused ? state->refusals_in_row + 1 : 0;
  if (engine->config.per_ip_give_up > 0 && state->refusals_in_row >= engine->config.per_ip_give_up) give_up(state);
}

static void session_done(struct smtp_session *session, void *arg) {
  struct probe_job *job = arg;
  struct probe_engine *engine = job->engine;
  struct address_state *state = job->address_state;
  const struct smtp_session_outcome *o = smtp_session_outcome(session);
  int64_t now = now_ms();
  session_ended(state, o->saw_421 || o->refused, now);

  if (job->phase == JOB_PRIMARY && job->attempts == 1 && engine->config.retry_transient && transient_failure(o)) {
    if (state->given_up) {
      job->retry_skipped = "the address was given up";
    } else if (schedule_retry(job, session, now)) {
      dispatch(engine);
      return;
    } else {
      job->retry_skipped = "out of memory";
    }
  }
  if (job->phase == JOB_PRIMARY) {
    bool second = engine->config.probe_each_key_type && o->tls_up && usable_tlsa(job) &&
        (o->tls.leaf_kind == TLS_KEY_RSA || o->tls.leaf_kind == TLS_KEY_ECDSA);
    if (second) {
      record_key_type(job, o->tls.leaf_kind, o, true);
      job->primary = session;
      job->session = NULL;
      job->phase = JOB_SECONDARY;
      job->keys = o->tls.leaf_kind == TLS_KEY_RSA ? TLS_KEYS_ECDSA : TLS_KEYS_RSA;
      enqueue(job, true);
      dispatch(engine);
      return;
    }
  } else {
    enum tls_key_kind wanted = job->keys == TLS_KEYS_RSA ? TLS_KEY_RSA : TLS_KEY_ECDSA;
    record_key_type(job, wanted, o, o->tls_up && o->tls.leaf_kind == wanted);
    /* The other key type's session crosses the same lossy path: a transient
     * failure gets the same second chance, or a lost segment would decide
     * whether the host is flagged partial-algorithm-coverage. */
    if (job->secondary_attempts == 1 && engine->config.retry_transient && transient_failure(o) && !state->given_up &&
        schedule_secondary_retry(job, session)) {
      dispatch(engine);
      return;
    }
  }
  deliver(job);
  dispatch(engine);
}

static void on_skipped(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct probe_engine *engine = arg;
  struct job_list batch;
  TAILQ_INIT(&batch);
  TAILQ_CONCAT(&batch, &engine->skipped, wait_link);
  while (!TAILQ_EMPTY(&batch)) {
    struct probe_job *job = TAILQ_FIRST(&batch);
    TAILQ_REMOVE(&batch, job, wait_link);
    deliver(job);
  }
}

/* ---- politeness slots (probe_engine_slot_request) ---- */

/* Unlinks a slot job from the engine and its address and frees it. */
static void slot_free(struct probe_job *job) {
  struct probe_engine *engine = job->engine;
  struct address_state *state = job->address_state;
  TAILQ_REMOVE(&engine->all_jobs, job, all_link);
  job_free(job);
  if (state != NULL) {
    state->refs--;
    address_update(state);
  }
}

/* A slot that may not connect: its owner is told why, the slot is gone. */
static void deliver_slot_skipped(struct probe_job *job) {
  probe_slot_cb cb = job->slot_cb;
  void *arg = job->arg;
  const char *reason = job->skip_reason != NULL ? job->skip_reason : "not contacted";
  char copy[PROBE_REASON_MAX_BYTES];
  snprintf(copy, sizeof copy, "%s", reason);
  struct probe_engine *engine = job->engine;
  slot_free(job);
  sweep_idle(engine);
  cb(NULL, copy, arg);
}

static void on_granted(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct probe_engine *engine = arg;
  struct job_list batch;
  TAILQ_INIT(&batch);
  TAILQ_CONCAT(&batch, &engine->granted, wait_link);
  while (!TAILQ_EMPTY(&batch)) {
    struct probe_job *job = TAILQ_FIRST(&batch);
    TAILQ_REMOVE(&batch, job, wait_link);
    job->slot_grant_pending = false;
    job->slot_cb((struct probe_slot *)job, NULL, job->arg);
  }
}

struct probe_slot *probe_engine_slot_request(struct probe_engine *engine, const struct sockaddr_storage *address,
                                             probe_slot_cb cb, void *arg) {
  if (cb == NULL || (address->ss_family != AF_INET && address->ss_family != AF_INET6)) return NULL;
  struct probe_job *job = calloc(1, sizeof *job);
  if (job == NULL) return NULL;
  job->engine = engine;
  job->slot_cb = cb;
  job->arg = arg;
  job->address = *address;
  job->address_len = address->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  const struct sockaddr *sa = (const struct sockaddr *)&job->address;
  const char *reserved = engine->config.allow_reserved ? NULL : probe_address_reserved(sa);
  if (reserved != NULL) {
    job->skip_reason = reserved;
  } else if (probe_blocklist_contains(engine->blocklist, sa)) {
    job->skip_reason = "address in the blocklist";
  } else {
    sweep_idle(engine);
    job->address_state = address_state_get(engine, &job->address);
    if (job->address_state == NULL) {
      free(job);
      return NULL;
    }
    struct address_state *state = job->address_state;
    if (state->idle) {
      state->idle = false;
      TAILQ_REMOVE(&engine->idle, state, idle_link);
    }
    state->refs++;
    if (state->given_up) job->skip_reason = engine->give_up_reason;
  }
  TAILQ_INSERT_TAIL(&engine->all_jobs, job, all_link);
  if (job->skip_reason != NULL) {
    TAILQ_INSERT_TAIL(&engine->skipped, job, wait_link);
    event_active(engine->skipped_event, EV_TIMEOUT, 1);
  } else {
    enqueue(job, false);
  }
  return (struct probe_slot *)job;
}

void probe_slot_release(struct probe_slot *slot, bool refused) {
  if (slot == NULL) return;
  struct probe_job *job = (struct probe_job *)slot;
  struct probe_engine *engine = job->engine;
  if (job->slot_granted) {
    if (job->slot_grant_pending) TAILQ_REMOVE(&engine->granted, job, wait_link);
    session_ended(job->address_state, refused, now_ms());
  } else if (job->skip_reason != NULL) {
    TAILQ_REMOVE(&engine->skipped, job, wait_link);
  } else {
    TAILQ_REMOVE(&job->address_state->waiting, job, wait_link);
    engine->stats.queued--;
  }
  slot_free(job);
  sweep_idle(engine);
  dispatch(engine);
}

/* ---- public ---- */

struct probe_engine *probe_engine_new(struct event_base *base, const struct probe_config *config, char *why,
                                      size_t why_len) {
  if (config->max_concurrent == 0 || config->per_ip == 0 || config->max_reply_line_bytes < 4 ||
      config->max_reply_lines == 0) {
    snprintf(why, why_len,
             "probe config: max_concurrent, per_ip, max_reply_lines must be > 0 "
             "and max_reply_line_bytes >= 4");
    return NULL;
  }
  struct probe_engine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  engine->base = base;
  engine->config = *config;
  /* probe/ehlo_name.h: never an address literal or localhost; labs
   * (--allow-reserved) may use a machine name without a dot. */
  if (!config->slots_only &&
      ehlo_name_choose(config->ehlo_name, config->allow_reserved, engine->ehlo_name, sizeof engine->ehlo_name, why,
                       why_len) != 0) {
    free(engine);
    return NULL;
  }
  engine->config.ehlo_name = engine->ehlo_name;
  TAILQ_INIT(&engine->runnable);
  TAILQ_INIT(&engine->idle);
  TAILQ_INIT(&engine->skipped);
  TAILQ_INIT(&engine->granted);
  TAILQ_INIT(&engine->all_jobs);
  engine->tokens = config->rate_burst > 0 ? config->rate_burst : 1;
  snprintf(engine->give_up_reason, sizeof engine->give_up_reason,
           "not contacted: the address refused %u sessions in a row (421 or connection refused)",
           config->per_ip_give_up);
  engine->tokens_ms = now_ms();
  engine->tls = tls_client_new(why, why_len);
  engine->blocklist = probe_blocklist_new();
  engine->dispatch_event = evtimer_new(base, on_dispatch, engine);
  engine->skipped_event = evtimer_new(base, on_skipped, engine);
  engine->granted_event = evtimer_new(base, on_granted, engine);
  /* A --ca-file is loaded now (a bad one is an error of the command line);
   * the system store only when a pkix request first needs it (it parses
   * every certificate of the system bundle). */
  bool store_failed = false;
  if (engine->tls != NULL && config->pkix_ca_file != NULL) {
    engine->pkix_store = tls_pkix_store_new(config->pkix_ca_file, why, why_len);
    store_failed = engine->pkix_store == NULL;
  }
  engine->config.pkix_ca_file = NULL; /* loaded; not kept */
  if (engine->tls == NULL || store_failed || engine->blocklist == NULL || engine->dispatch_event == NULL ||
      engine->skipped_event == NULL || engine->granted_event == NULL || grow_buckets(engine) != 0) {
    if (engine->tls != NULL && !store_failed) snprintf(why, why_len, "out of memory");
    probe_engine_free(engine);
    return NULL;
  }
  return engine;
}

int probe_engine_load_blocklist(struct probe_engine *engine, const char *path, char *why, size_t why_len) {
  return probe_blocklist_load(engine->blocklist, path, why, why_len);
}

static char *copy_string(const char *text) {
  return text != NULL ? strdup(text) : NULL;
}

int probe_engine_submit(struct probe_engine *engine, const struct probe_request *request, probe_done_cb done_cb,
                        void *arg) {
  if (engine->config.slots_only || request->host_name == NULL || done_cb == NULL ||
      (request->address.ss_family != AF_INET && request->address.ss_family != AF_INET6) ||
      (request->tlsa_count > 0 && request->tlsa == NULL)) {
    return -1;
  }
  struct probe_job *job = calloc(1, sizeof *job);
  if (job == NULL) return -1;
  job->engine = engine;
  job->done_cb = done_cb;
  job->arg = arg;
  job->host_name = copy_string(request->host_name);
  job->tlsa_base = copy_string(request->tlsa_base != NULL ? request->tlsa_base : request->host_name);
  bool failed = job->host_name == NULL || job->tlsa_base == NULL;
  for (size_t i = 0; !failed && i < request->reference_count && i < PROBE_MAX_REFERENCE_NAMES; i++) {
    if (request->reference_names[i] == NULL) continue;
    job->reference_names[job->reference_count] = copy_string(request->reference_names[i]);
    if (job->reference_names[job->reference_count] == NULL) failed = true;
    else job->reference_count++;
  }
  if (!failed && request->tlsa_count > 0) {
    job->tlsa = calloc(request->tlsa_count, sizeof *job->tlsa);
    failed = job->tlsa == NULL;
    for (size_t i = 0; !failed && i < request->tlsa_count; i++) {
      if (tlsa_record_copy(&request->tlsa[i], &job->tlsa[i]) != 0) failed = true;
      else job->tlsa_count++;
    }
  }
  if (failed) {
    job_free(job);
    return -1;
  }
  memset(&job->address, 0, sizeof job->address);
  if (request->address.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&job->address;
    *in = *(const struct sockaddr_in *)&request->address;
    in->sin_port = htons(engine->config.smtp_port);
    job->address_len = sizeof *in;
    inet_ntop(AF_INET, &in->sin_addr, job->address_text, sizeof job->address_text);
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&job->address;
    *in6 = *(const struct sockaddr_in6 *)&request->address;
    in6->sin6_port = htons(engine->config.smtp_port);
    job->address_len = sizeof *in6;
    inet_ntop(AF_INET6, &in6->sin6_addr, job->address_text, sizeof job->address_text);
  }
  job->pkix = request->pkix;
  job->phase = JOB_PRIMARY;
  job->keys = TLS_KEYS_ANY;
  for (int k = 0; k < PROBE_KEY_KIND_COUNT; k++) {
    job->key_types[k].matched_tlsa_index = -1;
    job->key_types[k].match_depth = -1;
  }

  const struct sockaddr *address = (const struct sockaddr *)&job->address;
  const char *reserved = engine->config.allow_reserved ? NULL : probe_address_reserved(address);
  if (reserved != NULL) {
    job->skip_reason = reserved;
  } else if (probe_blocklist_contains(engine->blocklist, address)) {
    job->skip_reason = "address in the blocklist";
  } else if (probe_blocklist_covering_name(engine->blocklist, request->host_name) != NULL) {
    job->skip_reason = "MX host name in the blocklist (opted out)";
  }
  if (job->skip_reason == NULL) {
    sweep_idle(engine);
    job->address_state = address_state_get(engine, &job->address);
    if (job->address_state == NULL) {
      job_free(job);
      return -1;
    }
  }
  TAILQ_INSERT_TAIL(&engine->all_jobs, job, all_link);
  engine->pending++;
  engine->stats.submitted++;
  if (job->skip_reason != NULL) {
    TAILQ_INSERT_TAIL(&engine->skipped, job, wait_link);
    event_active(engine->skipped_event, EV_TIMEOUT, 1);
    return 0;
  }
  struct address_state *state = job->address_state;
  if (state->idle) {
    state->idle = false;
    TAILQ_REMOVE(&engine->idle, state, idle_link);
  }
  state->refs++;
  if (state->given_up) {
    job->skip_reason = engine->give_up_reason;
    TAILQ_INSERT_TAIL(&engine->skipped, job, wait_link);
    event_active(engine->skipped_event, EV_TIMEOUT, 1);
    return 0;
  }
  enqueue(job, false);
  return 0;
}

void probe_engine_get_stats(const struct probe_engine *engine, struct probe_stats *stats) {
  *stats = engine->stats;
  stats->in_flight = engine->in_flight;
}

size_t probe_engine_pending(const struct probe_engine *engine) {
  return engine->pending;
}

void probe_engine_free(struct probe_engine *engine) {
  if (engine == NULL) return;
  while (!TAILQ_EMPTY(&engine->all_jobs)) {
    struct probe_job *job = TAILQ_FIRST(&engine->all_jobs);
    TAILQ_REMOVE(&engine->all_jobs, job, all_link);
    job_free(job);
  }
  for (size_t i = 0; i < engine->bucket_count; i++) {
    struct address_state *state = engine->buckets[i];
    while (state != NULL) {
      struct address_state *next = state->hash_next;
      address_state_free(state);
      state = next;
    }
  }
  free(engine->buckets);
  if (engine->dispatch_event != NULL) event_free(engine->dispatch_event);
  if (engine->skipped_event != NULL) event_free(engine->skipped_event);
  if (engine->granted_event != NULL) event_free(engine->granted_event);
  X509_STORE_free(engine->pkix_store);
  probe_blocklist_free(engine->blocklist);
  tls_client_free(engine->tls);
  free(engine);
}
