/* libFuzzer target: replies from a hostile resolver, through the real DNS
 * client (dns/dns_client.c: reply checks, parse, TC, SERVFAIL and CD=1
 * repeat, REFUSED, EDE, DNSSEC state) into the real host resolver
 * (pipeline/host_resolver.c: A/AAAA collection, CNAME target, TLSA base
 * domain and fallback, TLSA collection, ancestor check, host status).
 *
 * The resolver is a UDP socket on 127.0.0.1 served by the harness on the
 * same event base: each query the client sends is answered with the next
 * reply of the input. A reply the client must drop (ID or question not its
 * query's) is followed at once by the next, so the client sees a spoofed
 * datagram and then the answer. Timeouts are 2 ms, so a dropped query costs
 * one retry, not a stall. When the input has no more replies, every
 * further query gets REFUSED, which ends each lookup at once. A TC=1 reply
 * sends the client to TCP on the same port, where nothing listens: the
 * connection is refused and the attempt fails (the TCP framing is the DNS
 * faults tests' job).
 *
 * Input: the MX host name (bytes up to the first NUL, as the pipeline
 * passes it: escapes allowed), then replies: control byte, 2 length bytes,
 * that many bytes (fewer at the end). Control bit 0: raw, the bytes are the
 * whole message and only the ID is set to the query's (the question may
 * then not match); else the bytes are the header after the ID (flags and
 * counts, QDCOUNT forced to 1) and the records after the question, and the
 * query's own question is put in between (names may point at it: offset
 * 12). Control bit 1: do not answer this query (timeout).
 *
 * Checks (abort on a broken one): the host becomes ready exactly once,
 * both address lookups are done, addresses are at most 64 with the family's
 * text, TLSA records at most 64 and usable_count counts the usable ones,
 * each record obeys tlsa.h, texts fit, the status is a host status. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/dns_client.h"
#include "dns/dns_message.h"
#include "pipeline/host_resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QUERY_MAX_BYTES 512

static struct event_base *base;
static int server_fd = -1;
static struct sockaddr_in server_address;
static struct event *server_event;

struct replies {
  const uint8_t *data;
  size_t size, pos;
  unsigned answered;
};
static struct replies replies;

/* Offset just past the question of a query we know is well formed (the
 * client built it: one uncompressed name, type, class). */
static size_t question_end(const uint8_t *query, size_t len) {
  size_t pos = 12;
  while (pos < len && query[pos] != 0) pos += 1u + query[pos];
  return pos + 1 + 4 <= len ? pos + 1 + 4 : 0;
}

/* Builds the reply to query from the next piece of the input into reply;
 * returns its length, 0 for a dropped query, or -1 when the input has no
 * more replies. */
static long next_reply(const uint8_t *query, size_t qend, uint8_t *reply) {
  if (replies.pos + 3 > replies.size) return -1;
  uint8_t control = replies.data[replies.pos];
  size_t len = (size_t)replies.data[replies.pos + 1] << 8 | replies.data[replies.pos + 2];
  replies.pos += 3;
  if (len > replies.size - replies.pos) len = replies.size - replies.pos;
  const uint8_t *bytes = replies.data + replies.pos;
  replies.pos += len;
  if (control & 2) return 0;
  if (control & 1) {
    memcpy(reply, bytes, len);
    if (len >= 2) memcpy(reply, query, 2);
    return (long)len;
  }
  memcpy(reply, query, 2);
  memset(reply + 2, 0, 10);
  memcpy(reply + 2, bytes, len < 10 ? len : 10);
  reply[4] = 0;
  reply[5] = 1; /* QDCOUNT */
  memcpy(reply + 12, query + 12, qend - 12);
  size_t reply_len = qend;
  if (len > 10) {
    memcpy(reply + reply_len, bytes + 10, len - 10);
    reply_len += len - 10;
  }
  return (long)reply_len;
}

static void on_query(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  (void)arg;
  uint8_t query[QUERY_MAX_BYTES];
  struct sockaddr_storage from;
  socklen_t from_len = sizeof from;
  ssize_t n = recvfrom(fd, query, sizeof query, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
  if (n < 12) return;
  size_t qend = question_end(query, (size_t)n);
  if (qend == 0) abort(); /* the client sent a broken query */
  const uint8_t *qname = query + 12;
  size_t qname_len = qend - 4 - 12;
  uint16_t qtype = (uint16_t)(query[qend - 4] << 8 | query[qend - 3]);
  static uint8_t reply[65536 + QUERY_MAX_BYTES];
  for (;;) {
    long len = next_reply(query, qend, reply);
    if (len == 0) return; /* dropped: the client times out */
    if (len < 0) {
      /* Out of replies: REFUSED (QR, RD, RA) with the question, no records. */
      memcpy(reply, query, qend);
      reply[2] = 0x81;
      reply[3] = 0x85;
      memset(reply + 6, 0, 6);
      len = (long)qend;
    }
    replies.answered++;
    sendto(fd, reply, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from, from_len);
    /* A reply the client will drop as not its own (a spoofing attempt, as
     * it sees it) is followed at once by the next one, rather than by a
     * timeout: the client must then take that one. */
    if (len >= 12 && memcmp(reply, query, 2) == 0 &&
        dns_message_reply_matches(reply, (size_t)len, qname, qname_len, qtype)) {
      return;
    }
  }
}

static void init_once(void) {
  if (base != NULL) return;
  base = event_base_new();
  server_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (base == NULL || server_fd < 0) abort();
  server_address.sin_family = AF_INET;
  server_address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof server_address;
  if (bind(server_fd, (struct sockaddr *)&server_address, len) != 0 ||
      getsockname(server_fd, (struct sockaddr *)&server_address, &len) != 0) {
    abort();
  }
  server_event = event_new(base, server_fd, EV_READ | EV_PERSIST, on_query, NULL);
  if (server_event == NULL || event_add(server_event, NULL) != 0) abort();
}

static void on_ready(struct mx_host *host, void *arg) {
  (void)host;
  unsigned *calls = arg;
  (*calls)++;
}

static void check_fact(const struct dns_fact *fact) {
  if (fact->ede_text != NULL && strlen(fact->ede_text) >= RESULT_EDE_TEXT_MAX_BYTES) abort();
  if (fact->done && (unsigned)fact->state > DNSSEC_FAILED) abort();
}

static void check_host(const struct mx_host *host) {
  if (!host->a.done || !host->aaaa.done) abort();
  check_fact(&host->a);
  check_fact(&host->aaaa);
  check_fact(&host->tlsa);
  check_fact(&host->tlsa_target);
  check_fact(&host->ancestor);
  if (host->address_count > 64) abort();
  for (size_t i = 0; i < host->address_count; i++) {
    const struct host_address *address = &host->addresses[i];
    if (address->family != AF_INET && address->family != AF_INET6) abort();
    if (memchr(address->text, '\0', sizeof address->text) == NULL || address->text[0] == '\0') abort();
  }
  if (host->tlsa_count > 64 || host->tlsa_usable_count > host->tlsa_count) abort();
  size_t usable = 0;
  for (size_t i = 0; i < host->tlsa_count; i++) {
    const struct tlsa_record *record = &host->tlsa_records[i];
    if (record->usable) {
      usable++;
      if ((record->usage != 2 && record->usage != 3) || record->selector > 1 || record->matching_type > 2 ||
          record->unusable_reason != NULL) {
        abort();
      }
    } else if (record->unusable_reason == NULL) {
      abort();
    }
  }
  if (usable != host->tlsa_usable_count) abort();
  if (host->tlsa_count > 0 && host->tlsa_base == NULL) abort();
  if (host->cname_target != NULL && strlen(host->cname_target) > 1024) abort();
  if ((unsigned)host->status >= HOST_STATUS_COUNT) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  const uint8_t *nul = memchr(data, '\0', size < 256 ? size : 256);
  if (nul == NULL || nul == data) return 0;
  char name[256];
  memcpy(name, data, (size_t)(nul - data) + 1);
  replies = (struct replies){.data = nul + 1, .size = size - (size_t)(nul + 1 - data)};
  uint8_t stale[QUERY_MAX_BYTES];
  while (recv(server_fd, stale, sizeof stale, MSG_DONTWAIT) >= 0) {
    /* a query of the previous input's client: not this input's */
  }

  struct dns_client_config config;
  dns_client_config_defaults(&config);
  memcpy(&config.resolvers[0], &server_address, sizeof server_address);
  config.resolver_lengths[0] = sizeof server_address;
  config.resolver_count = 1;
  config.query_timeout_ms = 2;
  config.max_query_timeout_ms = 2;
  config.max_attempts = 2;
  config.slow_retry_rounds = 0;
  config.udp_socket_count = 1;
  char why[256];
  struct dns_client *dns = dns_client_new(base, &config, why, sizeof why);
  if (dns == NULL) abort();
  struct host_resolver_config resolver_config = {.max_cached_hosts = 4, .finisher = NULL};
  struct host_resolver *resolver = host_resolver_new(dns, &resolver_config);
  if (resolver == NULL) abort();

  unsigned calls = 0;
  struct mx_host *host = NULL;
  int rc = host_resolver_hold(resolver, name, on_ready, &calls, &host);
  if (rc < 0) abort();
  if (rc == 0) {
    /* Each lookup ends within 2 attempts of 2 ms plus the CD=1 repeats. */
    while (calls == 0) event_base_loop(base, EVLOOP_ONCE);
    if (calls != 1) abort();
  }
  if (getenv("FUZZ_HOST_VERBOSE") != NULL) {
    /* For reproducing: what the pipeline made of the replies. */
    fprintf(stderr, "%s: %s, %zu addresses, %zu TLSA (%zu usable), cname %s, base %s, %u replies\n", name,
            host_status_name(host->status), host->address_count, host->tlsa_count, host->tlsa_usable_count,
            host->cname_target ? host->cname_target : "-", host->tlsa_base ? host->tlsa_base : "-", replies.answered);
    struct dns_client_stats stats;
    dns_client_get_stats(dns, &stats);
    fprintf(stderr, "queries %llu, timeouts %llu, mismatched %llu, malformed %llu, truncated %llu\n",
            (unsigned long long)stats.queries_sent, (unsigned long long)stats.timeouts,
            (unsigned long long)stats.mismatched, (unsigned long long)stats.malformed,
            (unsigned long long)stats.truncated);
  }
  check_host(host);
  host_resolver_release(resolver, host);
  host_resolver_free(resolver);
  dns_client_free(dns);
  /* Replies still on their way to the closed client socket are dropped;
   * let the freed client's deferred work run now. */
  event_base_loop(base, EVLOOP_NONBLOCK);
  if (calls > 1) abort();
  return 0;
}
