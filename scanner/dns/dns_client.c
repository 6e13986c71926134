/* The DNS client's lookup state machine: first stage of every scan step (MX,
 * A/AAAA, TLSA all come through here). A lookup waits in a FIFO for a slot in
 * the adaptive window, is sent (dns_transport.c), and ends in one of the four
 * DNSSEC states of RESULTS.md:
 *
 *   NOERROR/NXDOMAIN        -> secure (AD) or insecure (no AD)
 *   SERVFAIL + DNSSEC EDE   -> bogus
 *   SERVFAIL, then CD=1 ok  -> bogus (the SERVFAIL is reported, never the
 *                              unvalidated CD=1 data)
 *   otherwise, after the fast attempts (timeouts back off, failover between
 *   resolvers) and the slow rounds -> failed
 *
 * The window grows on prompt answers and halves when a large share of first
 * attempts time out and on SERVFAIL bursts (AIMD, like massdns's auto-concurrency: more queries in flight than
 * a resolver can handle give fewer answers, massdns#117). Timeouts use
 * libevent common timeouts (a FIFO per duration, no heap entry per query). */
#include "dns/dns_client_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum dns_failure {
  DNS_FAILURE_NONE = 0,
  DNS_FAILURE_TIMEOUT,
  DNS_FAILURE_SERVFAIL,
  DNS_FAILURE_REFUSED,
  DNS_FAILURE_RCODE, /* FORMERR, NOTIMP or another rcode a query should not get */
  DNS_FAILURE_MALFORMED,
  DNS_FAILURE_TCP, /* TCP connection after TC=1 failed */
};

static const char *const dns_failure_words[] = {
    [DNS_FAILURE_NONE] = NULL,         [DNS_FAILURE_TIMEOUT] = "timeout", [DNS_FAILURE_SERVFAIL] = "servfail",
    [DNS_FAILURE_REFUSED] = "refused", [DNS_FAILURE_RCODE] = "bad-rcode", [DNS_FAILURE_MALFORMED] = "malformed",
    [DNS_FAILURE_TCP] = "tcp-failed",
};

/* A resolver that timed out this many times in a row gets no new lookups
 * (only failover traffic and one lookup in DNS_DOWN_PROBE_EVERY) until it
 * answers again: a dead resolver must not hold half of all lookups. */
#define DNS_DOWN_AFTER_TIMEOUTS 32u
#define DNS_DOWN_PROBE_EVERY 256u
/* A gap between a resolver's replies this long, with timeouts in it, is
 * reported as a silence (dns_resolver_stats). */
#define DNS_SILENCE_MIN_MS 1000u
/* Share (x1024) of first attempts timing out above which timeouts shrink
 * the window: half, as for SERVFAIL bursts. Random loss on the path (even
 * 30%) or a share of dead names is not congestion: with a quarter, 30%
 * loss held the window at the floor (8) and a 20000-domain scan crawled at
 * 12 queries/s. */
#define DNS_CONGESTION_TIMEOUT_SHARE 512u
/* First attempts a period needs before its timeouts may shrink the window. */
#define DNS_CONGESTION_MIN_COHORT 32u
/* A resolver is only called silent when at least this many queries sent
 * to it after its latest reply timed out (and at least DNS_SILENCE_MIN_MS
 * passed): at 26% of queries unanswered (10% loss of every packet), a few
 * unlucky lookups at the end of a scan made a working resolver "silent" for
 * 27 s. 16 in a row by chance is 0.26^16, about 4e-10. */
#define DNS_SILENCE_MIN_TIMEOUTS 16u

/* Upper bounds (ms) of the latency histogram's buckets, ~25% apart. */
static const uint32_t latency_bounds_ms[DNS_LATENCY_BUCKETS] = {
    1,    2,    3,    4,    5,    6,    8,    10,    12,    15,    20,    25,    30,    40,         50,
    60,   80,   100,  120,  150,  200,  250,  300,   400,   500,   600,   800,   1000,  1200,       1500,
    2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 15000, 20000, 30000, 60000, UINT32_MAX,
};

static void pump(struct dns_client *client);
static void send_attempt(struct dns_query *query, bool over_tcp);
static void complete(struct dns_query *query, enum dnssec_state state, ldns_pkt *packet, enum dns_failure failure,
                     bool over_tcp);
static void query_failed(struct dns_query *query, enum dns_failure failure);

/* ---- configuration ---------------------------------------------------- */

void dns_client_config_defaults(struct dns_client_config *config) {
  memset(config, 0, sizeof *config);
  config->query_timeout_ms = 2000;
  config->min_query_timeout_ms = 250;
  config->max_query_timeout_ms = 8000;
  config->max_attempts = 8;
  config->max_inflight = 10000;
  config->initial_inflight = 500;
  config->slow_retry_delay_ms = 5000;
  config->slow_retry_rounds = 2;
  config->slow_retry_max_inflight = 200;
  config->edns_buffer_bytes = 1232;
  config->udp_socket_count = 64;
  config->udp_socket_reopen_queries = 100000;
}

static int parse_port(const char *text, uint16_t *port) {
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value == 0 || value > 65535) {
    return -1;
  }
  *port = (uint16_t)value;
  return 0;
}

int dns_client_config_add_resolver(struct dns_client_config *config, const char *text, char *why, size_t why_len) {
  if (config->resolver_count >= DNS_MAX_RESOLVERS) {
    snprintf(why, why_len, "too many resolvers (at most %d)", DNS_MAX_RESOLVERS);
    return -1;
  }
  char address[INET6_ADDRSTRLEN + 1];
  const char *port_text = NULL;
  size_t text_len = strlen(text);
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || (size_t)(close - text - 1) >= sizeof address) {
      snprintf(why, why_len, "resolver '%s': bad [IPv6]:port form", text);
      return -1;
    }
    memcpy(address, text + 1, (size_t)(close - text - 1));
    address[close - text - 1] = '\0';
    if (close[1] == ':') {
      port_text = close + 2;
    } else if (close[1] != '\0') {
      snprintf(why, why_len, "resolver '%s': junk after ']'", text);
      return -1;
    }
  } else {
    const char *colon = strchr(text, ':');
    bool one_colon = colon != NULL && strchr(colon + 1, ':') == NULL;
    size_t address_len = one_colon ? (size_t)(colon - text) : text_len;
    if (address_len >= sizeof address) {
      snprintf(why, why_len, "resolver '%s': address too long", text);
      return -1;
    }
    memcpy(address, text, address_len);
    address[address_len] = '\0';
    if (one_colon) {
      port_text = colon + 1;
    }
  }
  uint16_t port = 53;
  if (port_text != NULL && parse_port(port_text, &port) != 0) {
    snprintf(why, why_len, "resolver '%s': bad port", text);
    return -1;
  }
  struct sockaddr_storage *ss = &config->resolvers[config->resolver_count];
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    config->resolver_lengths[config->resolver_count] = sizeof *sin;
  } else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    config->resolver_lengths[config->resolver_count] = sizeof *sin6;
  } else {
    snprintf(why, why_len, "resolver '%s': not an IPv4 or IPv6 address", text);
    return -1;
  }
  config->resolver_count++;
  return 0;
}

static void format_resolver(const struct sockaddr_storage *ss, char *out, size_t out_len) {
  char address[INET6_ADDRSTRLEN];
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &sin->sin_addr, address, sizeof address);
    snprintf(out, out_len, "%s:%u", address, ntohs(sin->sin_port));
  } else {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, address, sizeof address);
    snprintf(out, out_len, "[%s]:%u", address, ntohs(sin6->sin6_port));
  }
}

/* ---- helpers ---------------------------------------------------------- */

uint32_t dns_client_random_u32(struct dns_client *client) {
  /* IDs and ports must be unpredictable (RFC 5452): draw from the kernel's
   * CSPRNG, 4 KiB at a time so that it costs one syscall per 1024 values. */
  if (client->random_used + 4 > sizeof client->random_pool) {
    size_t got = 0;
    while (got < sizeof client->random_pool) {
      ssize_t n = getrandom(client->random_pool + got, sizeof client->random_pool - got, 0);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) {
          continue;
        }
        break;
      }
      got += (size_t)n;
    }
    client->random_used = 0;
  }
  uint32_t value;
  memcpy(&value, client->random_pool + client->random_used, sizeof value);
  client->random_used += sizeof value;
  return value;
}

static uint32_t elapsed_ms(const struct dns_client *client, const struct timeval *since) {
  struct timeval now;
  event_base_gettimeofday_cached(client->base, &now);
  int64_t ms = ((int64_t)(now.tv_sec - since->tv_sec) * 1000000 + (now.tv_usec - since->tv_usec)) / 1000;
  return ms < 0 ? 0 : (uint32_t)ms;
}

const struct timeval *dns_client_timeout_tv(struct dns_client *client, uint32_t ms) {
  for (unsigned i = 0; i < client->common_count; i++) {
    if (client->common[i].ms == ms) {
      return client->common[i].tv;
    }
  }
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  const struct timeval *common = event_base_init_common_timeout(client->base, &tv);
  if (common == NULL || client->common_count >= DNS_COMMON_TIMEOUTS_MAX) {
    /* Should not happen (a handful of distinct durations): use the longest
     * known so a query still times out. */
    return client->common_count > 0 ? client->common[client->common_count - 1].tv : common;
  }
  client->common[client->common_count].ms = ms;
  client->common[client->common_count].tv = common;
  client->common_count++;
  return common;
}

/* The timeout of the query's next attempt: the resolver's retry timeout
 * (latency-following, see latency_record), doubled for a slow round and
 * once per earlier attempt that met a silent resolver, at most
 * max_query_timeout_ms. */
uint32_t dns_client_attempt_timeout_ms(const struct dns_query *query) {
  const struct dns_client *client = query->client;
  const struct dns_client_config *config = &client->config;
  uint64_t ms = client->latency[query->resolver].retry_ms;
  if (query->in_slow_round) {
    ms *= 2;
  }
  for (unsigned i = 0; i < query->backoff && ms < config->max_query_timeout_ms; i++) {
    ms *= 2;
  }
  return ms > config->max_query_timeout_ms ? config->max_query_timeout_ms : (uint32_t)ms;
}

/* ---- latency ---------------------------------------------------------- */

static unsigned latency_bucket(uint32_t ms) {
  unsigned low = 0, high = DNS_LATENCY_BUCKETS - 1;
  while (low < high) {
    unsigned mid = (low + high) / 2;
    if (ms <= latency_bounds_ms[mid]) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return low;
}

static uint32_t latency_quantile(const struct dns_latency *latency, uint32_t per_mille) {
  uint64_t want = ((uint64_t)latency->total * per_mille + 999) / 1000;
  uint64_t seen = 0;
  for (unsigned b = 0; b < DNS_LATENCY_BUCKETS; b++) {
    seen += latency->counts[b];
    if (seen >= want) {
      return latency_bounds_ms[b];
    }
  }
  return latency_bounds_ms[DNS_LATENCY_BUCKETS - 1];
}

/* One reply's latency (from its attempt's send, late replies included).
 * The retry timeout becomes 1.5 x the 99th percentile of the recent
 * replies, within [min_query_timeout_ms, query_timeout_ms]: a resolver
 * that answers in milliseconds gets a lost query back in a quarter of a
 * second, one behind 20-300 ms authorities waits for its long tail, and
 * one that drops what it cannot answer in 1.9 s (Unbound's discard-timeout)
 * is asked again right after that instead of after 2, 4 and 8 s. */
static void latency_record(struct dns_client *client, int resolver, uint32_t ms) {
  struct dns_latency *latency = &client->latency[resolver];
  latency->counts[latency_bucket(ms)]++;
  latency->total++;
  if (latency->total >= DNS_LATENCY_DECAY_SAMPLES) {
    latency->total = 0;
    for (unsigned b = 0; b < DNS_LATENCY_BUCKETS; b++) {
      latency->counts[b] /= 2;
      latency->total += latency->counts[b];
    }
  }
  if (++latency->since_update < DNS_LATENCY_UPDATE_EVERY || latency->total < DNS_LATENCY_MIN_SAMPLES) {
    return;
  }
  latency->since_update = 0;
  const struct dns_client_config *config = &client->config;
  latency->p50_ms = latency_quantile(latency, 500);
  latency->p99_ms = latency_quantile(latency, 990);
  uint64_t retry = (uint64_t)latency->p99_ms * 3 / 2;
  if (retry < config->min_query_timeout_ms) {
    retry = config->min_query_timeout_ms;
  }
  latency->retry_ms = retry > config->query_timeout_ms ? config->query_timeout_ms : (uint32_t)retry;
}

/* Little's law for the window's floor (busy_floor in the client). */
static void busy_record(struct dns_client *client, uint32_t ms) {
  uint32_t period = elapsed_ms(client, &client->busy_period_start);
  if (period >= client->config.query_timeout_ms) {
    client->busy_floor = (unsigned)(client->busy_sum_ms / period);
    client->busy_sum_ms = 0;
    event_base_gettimeofday_cached(client->base, &client->busy_period_start);
  }
  client->busy_sum_ms += ms;
}

/* ---- queues and lists ------------------------------------------------- */

static struct dns_queue *queue_of(struct dns_client *client, enum dns_queue_id id) {
  switch (id) {
  case DNS_QUEUE_RETRY:
    return &client->retry_queue;
  case DNS_QUEUE_SLOW:
    return &client->slow_queue;
  case DNS_QUEUE_FRESH:
    return &client->fresh_queue;
  default:
    return NULL;
  }
}

static void queue_push(struct dns_query *query, enum dns_queue_id id) {
  struct dns_queue *queue = queue_of(query->client, id);
  query->queue = id;
  query->phase = DNS_PHASE_QUEUED;
  query->queue_next = NULL;
  query->queue_prev = queue->tail;
  if (queue->tail != NULL) {
    queue->tail->queue_next = query;
  } else {
    queue->head = query;
  }
  queue->tail = query;
  queue->length++;
}

static void queue_remove(struct dns_query *query) {
  struct dns_queue *queue = queue_of(query->client, query->queue);
  if (queue == NULL) {
    return;
  }
  if (query->queue_prev != NULL) {
    query->queue_prev->queue_next = query->queue_next;
  } else {
    queue->head = query->queue_next;
  }
  if (query->queue_next != NULL) {
    query->queue_next->queue_prev = query->queue_prev;
  } else {
    queue->tail = query->queue_prev;
  }
  queue->length--;
  query->queue = DNS_QUEUE_NONE;
  query->queue_next = query->queue_prev = NULL;
}

static struct dns_query *queue_pop(struct dns_client *client, enum dns_queue_id id) {
  struct dns_query *query = queue_of(client, id)->head;
  if (query != NULL) {
    queue_remove(query);
  }
  return query;
}

static void live_insert(struct dns_query *query) {
  struct dns_client *client = query->client;
  query->live_prev = NULL;
  query->live_next = client->live;
  if (client->live != NULL) {
    client->live->live_prev = query;
  }
  client->live = query;
}

static void live_remove(struct dns_query *query) {
  if (query->live_prev != NULL) {
    query->live_prev->live_next = query->live_next;
  } else {
    query->client->live = query->live_next;
  }
  if (query->live_next != NULL) {
    query->live_next->live_prev = query->live_prev;
  }
  query->live_next = query->live_prev = NULL;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

static struct dns_query *query_alloc(struct dns_client *client) {
  struct dns_query *query = client->free_list;
  if (query != NULL) {
    client->free_list = query->queue_next;
    client->free_count--;
  } else {
    query = malloc(sizeof *query);
    if (query == NULL) {
      return NULL;
    }
  }
  memset(query, 0, sizeof *query);
  query->client = client;
  query->udp_socket = -1;
  event_assign(&query->timer, client->base, -1, 0, timer_cb, query);
  return query;
}

/* Closes the query's earlier attempts: their IDs are free again and their
 * sockets may be reopened. */
static void release_earlier(struct dns_query *query) {
  struct dns_client *client = query->client;
  for (unsigned i = 0; i < query->earlier_count; i++) {
    struct dns_earlier_attempt *earlier = &query->earlier[i];
    if (client->by_id[earlier->id] == query) {
      client->by_id[earlier->id] = NULL;
    }
    struct dns_udp_socket *sock = &client->udp[earlier->udp_socket];
    sock->inflight--;
    if (sock->draining && sock->inflight == 0) {
      client->reopen_pending = true;
    }
    client->earlier_total--;
  }
  query->earlier_count = 0;
}

static void query_release(struct dns_query *query) {
  struct dns_client *client = query->client;
  ldns_pkt_free(query->servfail);
  ldns_pkt_free(query->last_reply);
  query->servfail = query->last_reply = NULL;
  query->phase = DNS_PHASE_IDLE;
  query->queue_next = client->free_list;
  client->free_list = query;
  client->free_count++;
}

/* Undoes whatever the lookup is doing, without calling back. */
static void query_detach(struct dns_query *query) {
  struct dns_client *client = query->client;
  if (query->phase == DNS_PHASE_UDP || query->phase == DNS_PHASE_TCP) {
    dns_client_end_send(query);
  }
  event_del(&query->timer);
  queue_remove(query);
  release_earlier(query);
  if (query->in_slow_round) {
    query->in_slow_round = false;
    client->slow_active--;
  }
  live_remove(query);
}

/* ---- adaptive window -------------------------------------------------- */

static void window_decrease(struct dns_client *client) {
  /* One decrease per query timeout: the queries that time out after a loss
   * were mostly sent before it, and must not collapse the window to the
   * floor. */
  if (elapsed_ms(client, &client->last_decrease) < client->config.query_timeout_ms) {
    return;
  }
  event_base_gettimeofday_cached(client->base, &client->last_decrease);
  unsigned floor = DNS_MIN_WINDOW < client->config.max_inflight ? DNS_MIN_WINDOW : client->config.max_inflight;
  unsigned half = client->window / 2;
  unsigned busy = client->busy_floor < client->window ? client->busy_floor : client->window;
  unsigned target = half > busy ? half : busy;
  client->window = target < floor ? floor : target;
  client->slow_start_threshold = client->window;
  client->increase_credit = 0;
}

static void window_on_answer(struct dns_client *client, bool servfail, bool prompt) {
  /* Fraction of SERVFAIL among recent answers, x1024, decay 1/32. */
  client->servfail_ewma -= client->servfail_ewma / 32;
  if (servfail) {
    client->servfail_ewma += 1024 / 32;
    if (client->servfail_ewma > 512) {
      window_decrease(client);
    }
    return;
  }
  if (!prompt || client->window >= client->config.max_inflight) {
    return;
  }
  if (client->window < client->slow_start_threshold) {
    client->window++;
  } else if (++client->increase_credit >= client->window) {
    client->window++;
    client->increase_credit = 0;
  }
}

/* A timeout shrinks the window only as a sign of congestion: when more than
 * DNS_CONGESTION_TIMEOUT_SHARE (x1024, half) of the first attempts sent in
 * one period of query_timeout_ms have timed out (judged per cohort of
 * sends: a window's timeouts arrive together, long after its answers, and
 * any moving average over outcomes took such a burst at 30% random loss for
 * congestion).
 * A lookup's retries, and names whose authorities are slow or dead (a
 * validating resolver then sends nothing back: Unbound drops the request
 * after its discard-timeout, 1.9 s), say nothing about the resolver's load.
 * Halving the window on each of them (one halving per query timeout) held
 * it at the floor, filled with those lookups' retries: 600 dead names
 * starved 2000 healthy ones for 327 s. */
static struct dns_send_cohort *cohort_of(struct dns_client *client, const struct timeval *tv) {
  uint64_t ms = (uint64_t)tv->tv_sec * 1000 + (uint64_t)tv->tv_usec / 1000;
  uint64_t index = ms / client->config.query_timeout_ms;
  return &client->cohorts[index % DNS_SEND_COHORTS];
}

static void window_on_first_send(struct dns_client *client, const struct timeval *sent_at) {
  uint64_t ms = (uint64_t)sent_at->tv_sec * 1000 + (uint64_t)sent_at->tv_usec / 1000;
  uint64_t index = ms / client->config.query_timeout_ms;
  struct dns_send_cohort *cohort = cohort_of(client, sent_at);
  if (cohort->index != index) {
    memset(cohort, 0, sizeof *cohort);
    cohort->index = index;
  }
  cohort->sent++;
}

static void window_on_first_answer(struct dns_client *client, const struct timeval *sent_at, bool prompt) {
  uint64_t ms = (uint64_t)sent_at->tv_sec * 1000 + (uint64_t)sent_at->tv_usec / 1000;
  struct dns_send_cohort *cohort = cohort_of(client, sent_at);
  if (cohort->index == ms / client->config.query_timeout_ms) {
    cohort->answered++;
    cohort->answered_prompt += prompt;
  }
}

/* Congestion is many timeouts while the answers that do come are prompt (a
 * resolver dropping what it cannot take: Unbound beyond its wait-limit).
 * Many timeouts with slow answers is a slow resolver (a cold cache behind
 * lossy authorities, Unbound dropping what it has not answered in 1.9 s):
 * halving the window then only slowed the scan (10% loss of every packet,
 * cold start). */
static void window_on_first_timeout(struct dns_client *client, const struct timeval *sent_at) {
  uint64_t ms = (uint64_t)sent_at->tv_sec * 1000 + (uint64_t)sent_at->tv_usec / 1000;
  struct dns_send_cohort *cohort = cohort_of(client, sent_at);
  if (cohort->index != ms / client->config.query_timeout_ms || cohort->judged) {
    return;
  }
  cohort->timed_out++;
  /* A few first attempts say nothing (the start-up check's two lookups,
   * both lost to 10% loss, halved a cold scan's window before it began),
   * and none answered at all is a silent resolver, not a congested one. */
  bool answers_prompt = cohort->answered > 0 && cohort->answered_prompt * 2 >= cohort->answered;
  if (answers_prompt && cohort->sent >= DNS_CONGESTION_MIN_COHORT &&
      (uint64_t)cohort->timed_out * 1024 > (uint64_t)cohort->sent * DNS_CONGESTION_TIMEOUT_SHARE) {
    cohort->judged = true;
    window_decrease(client);
  }
}

/* ---- resolver choice -------------------------------------------------- */

static bool all_refused(const struct dns_query *query) {
  uint32_t all = (uint32_t)((1ull << query->client->config.resolver_count) - 1);
  return (query->refused_mask & all) == all;
}

static bool resolver_is_down(const struct dns_client *client, int resolver) {
  return client->resolver_timeouts[resolver] >= DNS_DOWN_AFTER_TIMEOUTS;
}

/* The next resolver for a retry: one that has not refused the lookup and is
 * not marked down; if every other one is down, any that has not refused.
 * (Retrying on a resolver known to be dead cost a full timeout per retry:
 * a lookup that ends failed took 30 s instead of 11 with one of two
 * resolvers gone.) */
static void rotate_resolver(struct dns_query *query) {
  if (query->pinned_resolver >= 0) {
    return;
  }
  struct dns_client *client = query->client;
  size_t count = client->config.resolver_count;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t step = 1; step <= count; step++) {
      int candidate = (int)((query->resolver + step) % count);
      if (!(query->refused_mask & (1u << candidate)) && (pass == 1 || !resolver_is_down(client, candidate))) {
        query->resolver = candidate;
        return;
      }
    }
  }
}

static int initial_resolver(struct dns_client *client) {
  size_t count = client->config.resolver_count;
  unsigned start = client->next_resolver++;
  bool probe = start % DNS_DOWN_PROBE_EVERY == 0;
  for (size_t step = 0; step < count; step++) {
    int candidate = (int)((start + step) % count);
    if (probe || !resolver_is_down(client, candidate)) {
      return candidate;
    }
  }
  return (int)(start % count);
}

static const struct timeval *quiet_since(const struct dns_client *client, int resolver) {
  return timerisset(&client->last_reply_at[resolver]) ? &client->last_reply_at[resolver] : &client->created;
}

/* A resolver's timeouts in a row and its down/up events (the summary says
 * which resolver failed and for how long). */
static void resolver_timed_out(struct dns_client *client, int resolver, const struct timeval *sent_at) {
  struct dns_resolver_stats *rs = &client->resolver_stats[resolver];
  rs->timeouts++;
  if (client->timeouts_since_reply[resolver] < UINT32_MAX) {
    client->timeouts_since_reply[resolver]++;
  }
  /* A query sent before the resolver's latest reply says nothing about it
   * being down now (after a restart, the queries sent during the outage
   * time out in bursts while fresh ones are answered): counting them made
   * a working resolver flap down and up. */
  if (timerisset(&client->last_reply_at[resolver]) && timercmp(sent_at, &client->last_reply_at[resolver], <)) {
    return;
  }
  if (client->resolver_timeouts[resolver] < UINT32_MAX) {
    client->resolver_timeouts[resolver]++;
  }
  if (client->resolver_timeouts[resolver] >= DNS_DOWN_AFTER_TIMEOUTS && !rs->down_now) {
    rs->down_now = true;
    rs->down_events++;
    rs->last_down_ms = 0;
    event_base_gettimeofday_cached(client->base, &client->down_since[resolver]);
  }
}

static void resolver_answered(struct dns_client *client, int resolver) {
  struct dns_resolver_stats *rs = &client->resolver_stats[resolver];
  rs->replies++;
  bool unanswered = client->resolver_timeouts[resolver] >= DNS_SILENCE_MIN_TIMEOUTS;
  client->resolver_timeouts[resolver] = 0;
  if (client->timeouts_since_reply[resolver] > 0) {
    uint32_t gap = elapsed_ms(client, quiet_since(client, resolver));
    if (gap >= DNS_SILENCE_MIN_MS && unanswered) {
      rs->silences++;
      rs->longest_silence_ms = gap > rs->longest_silence_ms ? gap : rs->longest_silence_ms;
    }
    client->timeouts_since_reply[resolver] = 0;
  }
  event_base_gettimeofday_cached(client->base, &client->last_reply_at[resolver]);
  if (rs->down_now) {
    rs->down_now = false;
    rs->up_events++;
    rs->last_down_ms = elapsed_ms(client, &client->down_since[resolver]);
    rs->down_ms_total += rs->last_down_ms;
  }
}

/* ---- sending ---------------------------------------------------------- */

static uint16_t pick_id(struct dns_client *client) {
  for (unsigned tries = 0; tries < 32; tries++) {
    uint16_t id = (uint16_t)dns_client_random_u32(client);
    if (client->by_id[id] == NULL) {
      return id;
    }
  }
  /* In-flight queries are capped well below 65536, so a free ID exists. */
  uint16_t id = (uint16_t)dns_client_random_u32(client);
  while (client->by_id[id] != NULL) {
    id++;
  }
  return id;
}

static void send_attempt(struct dns_query *query, bool over_tcp) {
  struct dns_client *client = query->client;
  if (over_tcp || query->checking_disabled) {
    /* A late UDP reply could not stand for a TCP or CD=1 answer. */
    release_earlier(query);
  }
  query->id = pick_id(client);
  client->by_id[query->id] = query;
  size_t len = dns_message_build_query(client->send_buffer, query->id, query->qname, query->qname_len, query->qtype,
                                       query->checking_disabled, client->config.edns_buffer_bytes);
  query->sent++;
  if (query->sent > 1) {
    client->stats.retries++;
  }
  client->stats.queries_sent++;
  client->resolver_stats[query->resolver].queries_sent++;
  query->counted_as_retry = query->fast_failures > 0 || query->in_slow_round;
  if (query->counted_as_retry) {
    client->retry_inflight++;
  }
  client->stats.inflight++;
  event_base_gettimeofday_cached(client->base, &query->sent_at);
  if (query->sent == 1) {
    window_on_first_send(client, &query->sent_at);
  }
  query->timeout_ms = dns_client_attempt_timeout_ms(query);
  event_add(&query->timer, dns_client_timeout_tv(client, query->timeout_ms));
  if (over_tcp) {
    query->phase = DNS_PHASE_TCP;
    /* On failure (no socket), the attempt times out like a lost datagram. */
    (void)dns_transport_start_tcp(query, client->send_buffer, len);
  } else {
    query->phase = DNS_PHASE_UDP;
    (void)dns_transport_send_udp(query, client->send_buffer, len);
  }
}

void dns_client_end_send(struct dns_query *query) {
  struct dns_client *client = query->client;
  if (client->by_id[query->id] == query) {
    client->by_id[query->id] = NULL;
  }
  event_del(&query->timer);
  if (query->udp_socket >= 0) {
    struct dns_udp_socket *sock = &client->udp[query->udp_socket];
    sock->inflight--;
    if (sock->draining && sock->inflight == 0) {
      client->reopen_pending = true;
    }
    query->udp_socket = -1;
  }
  dns_transport_close_tcp(query);
  client->stats.inflight--;
  if (query->counted_as_retry) {
    query->counted_as_retry = false;
    client->retry_inflight--;
  }
  query->phase = DNS_PHASE_IDLE;
}

static void pump(struct dns_client *client) {
  if (client->dying) {
    return;
  }
  if (client->reopen_pending) {
    client->reopen_pending = false;
    dns_transport_reopen_drained(client);
  }
  /* Retries (and slow rounds) go first, but hold at most half of the
   * window while fresh lookups wait, and fresh lookups always keep the
   * other half, even while retries sent before the window shrank still hold
   * more: lookups whose names do not answer (dead authorities) otherwise
   * fill it with retries, each waiting out a backed-off timeout, and every
   * other lookup waits behind them (2000 healthy domains took 327 s behind
   * 600 dead names, then 10 s with only the first rule).
   * An earlier attempt that still listens for a late reply holds no place
   * in the window: counting it until its lookup ended deadlocked the window
   * (lookups waiting to send the retry that would end them). */
  for (;;) {
    unsigned half = client->window / 2 > 0 ? client->window / 2 : 1;
    unsigned retries = client->retry_inflight;
    unsigned fresh_inflight = client->stats.inflight - retries;
    bool fresh_waiting = client->fresh_queue.head != NULL;
    bool retries_may_go = client->stats.inflight < client->window && (!fresh_waiting || retries < half);
    bool fresh_may_go = fresh_inflight < client->window - (retries < half ? retries : half);
    struct dns_query *query = retries_may_go ? queue_pop(client, DNS_QUEUE_RETRY) : NULL;
    if (query == NULL && retries_may_go && client->slow_queue.head != NULL &&
        client->slow_active < client->config.slow_retry_max_inflight) {
      query = queue_pop(client, DNS_QUEUE_SLOW);
      query->in_slow_round = true;
      query->cd_used_this_round = false;
      client->slow_active++;
    }
    if (query == NULL && fresh_may_go) {
      query = queue_pop(client, DNS_QUEUE_FRESH);
    }
    if (query == NULL) {
      break;
    }
    send_attempt(query, false);
  }
}

/* ---- outcomes --------------------------------------------------------- */


static void complete(struct dns_query *query, enum dnssec_state state, ldns_pkt *packet, enum dns_failure failure,
                     bool over_tcp) {
  struct dns_client *client = query->client;
  event_del(&query->timer);
  queue_remove(query);
  release_earlier(query);
  if (query->in_slow_round) {
    query->in_slow_round = false;
    client->slow_active--;
  }
  live_remove(query);

  struct dns_ede ede;
  dns_message_extract_ede(packet, &ede);
  struct dns_answer answer = {
      .state = state,
      .rcode = packet != NULL ? (int)ldns_pkt_get_rcode(packet) : -1,
      .packet = packet,
      .has_ede = ede.present,
      .ede_code = ede.code,
      .ede_text = ede.text,
      .failure = state == DNSSEC_FAILED ? dns_failure_words[failure] : NULL,
      .attempts = query->sent,
      .slow_retried = query->slow_retried,
      .used_tcp = over_tcp,
      .elapsed_ms = elapsed_ms(client, &query->started),
      .resolver_index = packet != NULL ? query->resolver : -1,
  };
  if (answer.failure == NULL && state == DNSSEC_FAILED) {
    answer.failure = "failed";
  }
  client->stats.lookups_done++;
  if (state == DNSSEC_FAILED) {
    client->stats.failed++;
  } else if (state == DNSSEC_BOGUS) {
    client->stats.bogus++;
  }
  if (!client->dying) {
    query->callback(&answer, query->arg);
  }
  if (packet != query->servfail && packet != query->last_reply) {
    ldns_pkt_free(packet);
  }
  query_release(query);
}

static void query_failed(struct dns_query *query, enum dns_failure failure) {
  ldns_pkt *packet = query->last_reply;
  query->last_reply = NULL;
  if (packet != NULL) {
    failure = (enum dns_failure)query->last_reply_failure; /* the resolver's word, not a later loss */
  }
  complete(query, DNSSEC_FAILED, packet, failure, false);
}

static void enter_slow_wait(struct dns_query *query) {
  struct dns_client *client = query->client;
  if (!query->slow_retried) {
    query->slow_retried = true;
    client->stats.slow_retried++;
  }
  /* The fast round's attempts are seconds old: their IDs and sockets are
   * freed while this one waits (a late answer is the slow round's job). */
  release_earlier(query);
  rotate_resolver(query);
  query->phase = DNS_PHASE_SLOW_WAIT;
  event_add(&query->timer, dns_client_timeout_tv(client, client->config.slow_retry_delay_ms));
}

static void attempt_failed(struct dns_query *query, enum dns_failure failure) {
  struct dns_client *client = query->client;
  query->checking_disabled = false;
  if (query->servfail != NULL) {
    ldns_pkt_free(query->last_reply);
    query->last_reply = query->servfail;
    query->last_reply_failure = (int)DNS_FAILURE_SERVFAIL;
    query->servfail = NULL;
  }
  /* A SERVFAIL or REFUSED the resolver sent stays the lookup's failure
   * when later attempts are lost: under 10% loss, the same failing name
   * otherwise ended "timeout" or "servfail" by chance. */
  if (failure != DNS_FAILURE_TIMEOUT && failure != DNS_FAILURE_MALFORMED && failure != DNS_FAILURE_TCP &&
      query->last_reply != NULL) {
    query->last_reply_failure = (int)failure;
  }
  bool rejected = failure == DNS_FAILURE_REFUSED || failure == DNS_FAILURE_RCODE;
  if (rejected && (query->pinned_resolver >= 0 || all_refused(query))) {
    query_failed(query, failure);
    return;
  }
  if (query->in_slow_round) {
    query->in_slow_round = false;
    client->slow_active--;
    query->slow_rounds++;
    if (query->slow_rounds < client->config.slow_retry_rounds) {
      query->last_failure = dns_failure_words[failure];
      enter_slow_wait(query);
    } else {
      query_failed(query, failure);
    }
    return;
  }
  query->fast_failures++;
  if (query->fast_failures < client->config.max_attempts) {
    rotate_resolver(query);
    queue_push(query, DNS_QUEUE_RETRY);
  } else if (client->config.slow_retry_rounds > 0) {
    enter_slow_wait(query);
  } else {
    query_failed(query, failure);
  }
}

void dns_client_tcp_failed(struct dns_query *query) {
  dns_client_end_send(query);
  attempt_failed(query, DNS_FAILURE_TCP);
}

void dns_client_reply_malformed(struct dns_query *query) {
  query->client->stats.malformed++;
  dns_client_end_send(query);
  attempt_failed(query, DNS_FAILURE_MALFORMED);
}

void dns_client_handle_reply(struct dns_query *query, const uint8_t *wire, size_t len, bool over_tcp) {
  struct dns_client *client = query->client;
  uint32_t latency = elapsed_ms(client, &query->sent_at);
  bool prompt = latency * 2 < query->timeout_ms;
  if (!over_tcp) {
    latency_record(client, query->resolver, latency);
  }
  busy_record(client, latency);
  resolver_answered(client, query->resolver);
  if (!over_tcp && (wire[2] & DNS_FLAG2_TC)) {
    /* RFC 7766: a truncated UDP answer is retried over TCP, same resolver,
     * same CD flag. */
    client->stats.truncated++;
    dns_client_end_send(query);
    send_attempt(query, true);
    return;
  }
  ldns_pkt *packet = NULL;
  if (ldns_wire2pkt(&packet, wire, len) != LDNS_STATUS_OK || packet == NULL) {
    client->stats.malformed++;
    dns_client_end_send(query);
    attempt_failed(query, DNS_FAILURE_MALFORMED);
    return;
  }
  dns_client_end_send(query);
  ldns_pkt_rcode rcode = ldns_pkt_get_rcode(packet);
  bool answered = rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN;
  if (rcode == LDNS_RCODE_SERVFAIL) {
    client->stats.servfails++;
  }
  window_on_answer(client, rcode == LDNS_RCODE_SERVFAIL, prompt);
  if (query->sent == 1 && !over_tcp) {
    window_on_first_answer(client, &query->sent_at, prompt);
  }

  if (query->checking_disabled) {
    /* The CD=1 repeat of a SERVFAIL: if the resolver can get the data
     * without validating, the SERVFAIL was a validation failure. The
     * unvalidated data is evidence only, never reported. */
    ldns_pkt_free(packet);
    if (answered) {
      ldns_pkt *servfail = query->servfail;
      query->servfail = NULL;
      complete(query, DNSSEC_BOGUS, servfail, DNS_FAILURE_NONE, over_tcp);
    } else {
      attempt_failed(query, DNS_FAILURE_SERVFAIL);
    }
    return;
  }
  if (answered) {
    struct dns_ede ede;
    dns_message_extract_ede(packet, &ede);
    complete(query, dns_message_answer_state(ldns_pkt_ad(packet), &ede), packet, DNS_FAILURE_NONE, over_tcp);
    return;
  }
  if (rcode == LDNS_RCODE_SERVFAIL) {
    struct dns_ede ede;
    dns_message_extract_ede(packet, &ede);
    if (ede.present && dns_ede_is_dnssec_failure(ede.code)) {
      complete(query, DNSSEC_BOGUS, packet, DNS_FAILURE_NONE, over_tcp);
      return;
    }
    /* A resolver that says it could not reach the authorities (EDE 22,
     * 23) has not validated anything: a CD=1 repeat that then succeeds
     * would only show that the network recovered, not that the data is
     * bogus. Retry instead. */
    bool network_failure = ede.present && (ede.code == 22 || ede.code == 23);
    if (!query->cd_used_this_round && !network_failure) {
      query->cd_used_this_round = true;
      query->servfail = packet;
      query->checking_disabled = true;
      client->stats.cd_requeries++;
      send_attempt(query, false);
      return;
    }
    ldns_pkt_free(query->last_reply);
    query->last_reply = packet;
    attempt_failed(query, DNS_FAILURE_SERVFAIL);
    return;
  }
  /* REFUSED, FORMERR, NOTIMP, ...: this resolver will not answer this
   * question; try the others. */
  if (rcode == LDNS_RCODE_REFUSED) {
    client->stats.refused++;
  }
  query->refused_mask |= 1u << query->resolver;
  ldns_pkt_free(query->last_reply);
  query->last_reply = packet;
  attempt_failed(query, rcode == LDNS_RCODE_REFUSED ? DNS_FAILURE_REFUSED : DNS_FAILURE_RCODE);
}

/* Ends the attempt in flight after its timeout. A plain UDP attempt keeps
 * listening (earlier[]) while IDs allow: the oldest kept one makes room. */
static void retire_attempt(struct dns_query *query) {
  struct dns_client *client = query->client;
  bool keep = query->phase == DNS_PHASE_UDP && !query->checking_disabled && query->udp_socket >= 0 &&
      client->by_id[query->id] == query && client->earlier_total + client->stats.inflight < DNS_EARLIER_ID_LIMIT;
  if (!keep) {
    dns_client_end_send(query);
    return;
  }
  if (query->earlier_count == DNS_EARLIER_ATTEMPTS) {
    struct dns_earlier_attempt oldest = query->earlier[0];
    memmove(&query->earlier[0], &query->earlier[1], (DNS_EARLIER_ATTEMPTS - 1) * sizeof query->earlier[0]);
    query->earlier_count--;
    client->by_id[oldest.id] = NULL;
    struct dns_udp_socket *sock = &client->udp[oldest.udp_socket];
    sock->inflight--;
    if (sock->draining && sock->inflight == 0) {
      client->reopen_pending = true;
    }
    client->earlier_total--;
  }
  query->earlier[query->earlier_count++] = (struct dns_earlier_attempt){
      .id = query->id, .udp_socket = query->udp_socket, .resolver = query->resolver, .sent_at = query->sent_at};
  client->earlier_total++;
  /* dns_client_end_send without giving up the ID or the socket's count. */
  event_del(&query->timer);
  query->udp_socket = -1;
  client->stats.inflight--;
  if (query->counted_as_retry) {
    query->counted_as_retry = false;
    client->retry_inflight--;
  }
  query->phase = DNS_PHASE_IDLE;
}

void dns_client_handle_late_reply(struct dns_query *query, unsigned i, const uint8_t *wire, size_t len) {
  struct dns_client *client = query->client;
  struct dns_earlier_attempt earlier = query->earlier[i];
  memmove(&query->earlier[i], &query->earlier[i + 1], (query->earlier_count - i - 1) * sizeof query->earlier[0]);
  query->earlier_count--;
  client->earlier_total--;
  client->stats.late_replies++;
  /* Stop what the lookup does now: an attempt in flight, a place in a
   * send queue or the wait before a slow round. */
  if (query->phase == DNS_PHASE_UDP || query->phase == DNS_PHASE_TCP) {
    dns_client_end_send(query);
  } else if (query->phase == DNS_PHASE_QUEUED) {
    queue_remove(query);
  } else {
    event_del(&query->timer);
  }
  /* The earlier attempt becomes the one in flight (its ID and socket
   * count were kept), and the reply is handled as any other. */
  query->id = earlier.id;
  query->udp_socket = earlier.udp_socket;
  query->resolver = earlier.resolver;
  query->sent_at = earlier.sent_at;
  query->checking_disabled = false;
  query->phase = DNS_PHASE_UDP;
  client->stats.inflight++;
  dns_client_handle_reply(query, wire, len, false);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct dns_query *query = arg;
  struct dns_client *client = query->client;
  dns_client_enter(client);
  if (query->phase == DNS_PHASE_SLOW_WAIT) {
    queue_push(query, DNS_QUEUE_SLOW);
  } else if (query->phase == DNS_PHASE_UDP || query->phase == DNS_PHASE_TCP) {
    client->stats.timeouts++;
    resolver_timed_out(client, query->resolver, &query->sent_at);
    if (query->sent == 1) {
      window_on_first_timeout(client, &query->sent_at);
    }
    /* Silent: the resolver answered nothing at all since this attempt
     * went out (dead or restarting, not one lost datagram): back off. */
    const struct timeval *last = &client->last_reply_at[query->resolver];
    if (!timerisset(last) || timercmp(last, &query->sent_at, <)) {
      query->backoff++;
    }
    bool was_repeat = query->checking_disabled;
    /* A lost CD=1 repeat is no evidence either way: the round gets its
     * repeat back, so under loss a bogus name is still told from a failed
     * one when a later attempt SERVFAILs (bounded: DNS_CD_LOST_MAX). */
    if (was_repeat && query->cd_lost < DNS_CD_LOST_MAX) {
      query->cd_lost++;
      query->cd_used_this_round = false;
    }
    retire_attempt(query);
    /* A CD=1 repeat that times out still leaves the SERVFAIL it followed. */
    attempt_failed(query, was_repeat ? DNS_FAILURE_SERVFAIL : DNS_FAILURE_TIMEOUT);
  }
  dns_client_leave(client);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct dns_client *client = arg;
  dns_client_enter(client);
  dns_client_leave(client);
}

/* ---- client lifetime -------------------------------------------------- */

static void client_destroy(struct dns_client *client) {
  while (client->live != NULL) {
    struct dns_query *query = client->live;
    query_detach(query);
    query_release(query);
  }
  while (client->free_list != NULL) {
    struct dns_query *query = client->free_list;
    client->free_list = query->queue_next;
    free(query);
  }
  dns_transport_close(client);
  if (client->pump_event != NULL) {
    event_free(client->pump_event);
  }
  free(client->by_id);
  free(client);
}

void dns_client_enter(struct dns_client *client) {
  client->busy++;
}

void dns_client_leave(struct dns_client *client) {
  pump(client);
  client->busy--;
  if (client->busy == 0 && client->dying) {
    client_destroy(client);
  }
}

static int check_config(const struct dns_client_config *config, char *why, size_t why_len) {
  if (config->resolver_count == 0 || config->resolver_count > DNS_MAX_RESOLVERS) {
    snprintf(why, why_len, "no resolver configured");
    return -1;
  }
  for (size_t i = 0; i < config->resolver_count; i++) {
    sa_family_t family = config->resolvers[i].ss_family;
    if (family != AF_INET && family != AF_INET6) {
      snprintf(why, why_len, "resolver %zu: not an IPv4 or IPv6 address", i);
      return -1;
    }
  }
  if (config->query_timeout_ms == 0 || config->max_query_timeout_ms == 0) {
    snprintf(why, why_len, "query timeout must be positive");
    return -1;
  }
  if (config->max_inflight == 0) {
    snprintf(why, why_len, "max_inflight must be positive");
    return -1;
  }
  if (config->edns_buffer_bytes < 512) {
    snprintf(why, why_len, "EDNS buffer must be at least 512 bytes");
    return -1;
  }
  return 0;
}

struct dns_client *dns_client_new(struct event_base *base, const struct dns_client_config *config, char *why,
                                  size_t why_len) {
  if (base == NULL || config == NULL) {
    snprintf(why, why_len, "no event base or configuration");
    return NULL;
  }
  if (check_config(config, why, why_len) != 0) {
    return NULL;
  }
  struct dns_client *client = calloc(1, sizeof *client);
  if (client == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  client->base = base;
  client->config = *config;
  struct dns_client_config *c = &client->config;
  if (c->max_inflight > DNS_MAX_INFLIGHT_LIMIT) {
    c->max_inflight = DNS_MAX_INFLIGHT_LIMIT;
  }
  if (c->initial_inflight == 0 || c->initial_inflight > c->max_inflight) {
    c->initial_inflight = c->max_inflight;
  }
  if (c->max_query_timeout_ms < c->query_timeout_ms) {
    c->max_query_timeout_ms = c->query_timeout_ms;
  }
  if (c->max_attempts == 0) {
    c->max_attempts = 1;
  }
  if (c->slow_retry_max_inflight == 0) {
    c->slow_retry_max_inflight = 1;
  }
  if (c->udp_socket_count == 0) {
    c->udp_socket_count = 1;
  }
  if (c->udp_socket_count > DNS_MAX_UDP_SOCKETS) {
    c->udp_socket_count = DNS_MAX_UDP_SOCKETS;
  }
  for (size_t i = 0; i < c->resolver_count; i++) {
    format_resolver(&c->resolvers[i], client->resolver_stats[i].name, sizeof client->resolver_stats[i].name);
  }
  client->window = c->initial_inflight;
  event_base_gettimeofday_cached(base, &client->created);
  client->busy_period_start = client->created;
  if (c->min_query_timeout_ms == 0 || c->min_query_timeout_ms > c->query_timeout_ms) {
    c->min_query_timeout_ms = c->query_timeout_ms;
  }
  /* Until a resolver's latency is known: query_timeout_ms. A cold scan
   * starts with a window of lookups that all take long (1 s made most of
   * them time out and repeat at once). */
  for (size_t i = 0; i < DNS_MAX_RESOLVERS; i++) {
    client->latency[i].retry_ms = c->query_timeout_ms;
  }
  client->slow_start_threshold = c->max_inflight;
  client->random_used = sizeof client->random_pool; /* fill on first use */
  client->by_id = calloc(DNS_ID_COUNT, sizeof *client->by_id);
  client->pump_event = event_new(base, -1, 0, pump_cb, client);
  if (client->by_id == NULL || client->pump_event == NULL) {
    snprintf(why, why_len, "out of memory");
    client_destroy(client);
    return NULL;
  }
  if (dns_transport_open(client, why, why_len) != 0) {
    client_destroy(client);
    return NULL;
  }
  return client;
}

void dns_client_free(struct dns_client *client) {
  if (client == NULL) {
    return;
  }
  if (client->busy > 0) {
    client->dying = true; /* destroyed when the handler on the stack returns */
    return;
  }
  client_destroy(client);
}

int dns_lookup(struct dns_client *client, const char *name, ldns_rr_type type, int resolver_index,
               dns_answer_cb callback, void *arg) {
  if (client == NULL || client->dying || callback == NULL || resolver_index >= (int)client->config.resolver_count) {
    return -1;
  }
  uint8_t qname[DNS_NAME_MAX_BYTES];
  size_t qname_len = dns_message_encode_name(name, qname);
  if (qname_len == 0) {
    return -1;
  }
  struct dns_query *query = query_alloc(client);
  if (query == NULL) {
    return -1;
  }
  memcpy(query->qname, qname, qname_len);
  query->qname_len = (uint8_t)qname_len;
  query->qtype = (uint16_t)type;
  query->callback = callback;
  query->arg = arg;
  query->pinned_resolver = resolver_index < 0 ? -1 : resolver_index;
  query->resolver = resolver_index < 0 ? initial_resolver(client) : resolver_index;
  event_base_gettimeofday_cached(client->base, &query->started);
  live_insert(query);
  queue_push(query, DNS_QUEUE_FRESH);
  client->stats.lookups_started++;
  /* Sending happens from the loop, so the callback can never run inside
   * dns_lookup, and a burst of lookups goes out in one pass. */
  event_active(client->pump_event, EV_TIMEOUT, 1);
  return 0;
}

size_t dns_client_cancel(struct dns_client *client, void *arg) {
  if (client == NULL) {
    return 0;
  }
  size_t cancelled = 0;
  struct dns_query *query = client->live;
  while (query != NULL) {
    struct dns_query *next = query->live_next;
    if (query->arg == arg) {
      query_detach(query);
      query_release(query);
      client->stats.cancelled++;
      cancelled++;
    }
    query = next;
  }
  return cancelled;
}

void dns_client_get_stats(const struct dns_client *client, struct dns_client_stats *out) {
  *out = client->stats;
  out->window = client->window;
  out->queued = client->retry_queue.length + client->slow_queue.length + client->fresh_queue.length;
  out->resolver_count = client->config.resolver_count;
  for (size_t i = 0; i < client->config.resolver_count; i++) {
    out->resolvers[i] = client->resolver_stats[i];
    out->resolvers[i].latency_p50_ms = client->latency[i].p50_ms;
    out->resolvers[i].latency_p99_ms = client->latency[i].p99_ms;
    out->resolvers[i].retry_after_ms = client->latency[i].retry_ms;
    if (out->resolvers[i].down_now) {
      /* The down period so far; the client's clock is the loop's cache. */
      uint32_t so_far = elapsed_ms(client, &client->down_since[i]);
      out->resolvers[i].last_down_ms = so_far;
      out->resolvers[i].down_ms_total += so_far;
    }
    uint32_t quiet = elapsed_ms(client, quiet_since(client, (int)i));
    if (client->resolver_timeouts[i] >= DNS_SILENCE_MIN_TIMEOUTS && quiet >= DNS_SILENCE_MIN_MS) {
      out->resolvers[i].silent_now = true;
      out->resolvers[i].silences++;
      if (quiet > out->resolvers[i].longest_silence_ms) {
        out->resolvers[i].longest_silence_ms = quiet;
      }
    }
  }
}

void dns_client_stats_print_resolvers(FILE *out, const struct dns_client_stats *stats) {
  for (size_t i = 0; i < stats->resolver_count; i++) {
    const struct dns_resolver_stats *rs = &stats->resolvers[i];
    fprintf(out, "  resolver %s: %llu queries, %llu replies, %llu timeouts, ", rs->name,
            (unsigned long long)rs->queries_sent, (unsigned long long)rs->replies, (unsigned long long)rs->timeouts);
    if (rs->latency_p99_ms > 0) {
      fprintf(out, "replies within %u ms (half) / %u ms (99%%), retry after %u ms, ", rs->latency_p50_ms,
              rs->latency_p99_ms, rs->retry_after_ms);
    }
    if (rs->silences > 0) {
      fprintf(out, "silent %llu times (longest %.1f s%s), ", (unsigned long long)rs->silences,
              rs->longest_silence_ms / 1000.0, rs->silent_now ? ", silent now" : "");
    }
    if (rs->down_events == 0) {
      fprintf(out, "never down\n");
    } else if (rs->down_now) {
      fprintf(out, "down %llu times, down now, for %.1f s\n", (unsigned long long)rs->down_events,
              rs->last_down_ms / 1000.0);
    } else {
      fprintf(out, "down %llu times, last down for %.1f s\n", (unsigned long long)rs->down_events,
              rs->last_down_ms / 1000.0);
    }
  }
}

size_t dns_client_resolver_count(const struct dns_client *client) {
  return client->config.resolver_count;
}

const char *dns_client_resolver_name(const struct dns_client *client, size_t i) {
  return i < client->config.resolver_count ? client->resolver_stats[i].name : "?";
}
