/* Inside the DNS client: the state shared by the lookup state machine
 * (dns_client.c) and the transports (dns_transport.c: UDP socket pool,
 * TCP after TC=1). Not for other modules. */
#ifndef DANESCAN_DNS_CLIENT_INTERNAL_H
#define DANESCAN_DNS_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "dns/dns_client.h"
#include "dns/dns_message.h"

#define DNS_ID_COUNT 65536u
/* IDs are unique across all queries in flight, so in-flight queries must
 * stay well below 65536 for a random free ID to be found quickly. */
#define DNS_MAX_INFLIGHT_LIMIT 30000u
#define DNS_MAX_UDP_SOCKETS 1024u
#define DNS_RECV_BATCH 32u             /* datagrams per recvmmsg call */
#define DNS_SEND_BATCH 64u             /* datagrams queued for one sendmmsg call at most */
#define DNS_RECV_BATCHES_PER_WAKEUP 8u /* then yield to other events */
#define DNS_RANDOM_POOL_BYTES 4096u
#define DNS_MIN_WINDOW 8u
#define DNS_COMMON_TIMEOUTS_MAX 64u
#define DNS_CD_LOST_MAX 2u /* lost CD=1 repeats that give a round its repeat back, per lookup */
/* Earlier attempts of a lookup whose IDs stay open after they timed out,
 * so that a late reply to one of them still answers the lookup (a
 * resolver that is slow, not deaf, then costs no extra round). Kept only
 * while the IDs in use stay below DNS_EARLIER_ID_LIMIT. */
#define DNS_EARLIER_ATTEMPTS 3u
#define DNS_EARLIER_ID_LIMIT 40000u
/* Reply latencies per resolver: a histogram on a ~25% log scale, halved
 * when it holds DNS_LATENCY_DECAY_SAMPLES (so it follows the latest few
 * thousand replies); the retry timeout follows its 99th percentile once it
 * holds DNS_LATENCY_MIN_SAMPLES. */
#define DNS_LATENCY_BUCKETS 44u
#define DNS_LATENCY_DECAY_SAMPLES 4096u
#define DNS_LATENCY_MIN_SAMPLES 64u
#define DNS_LATENCY_UPDATE_EVERY 32u

enum dns_phase {
  DNS_PHASE_IDLE = 0,  /* being set up or on the free list */
  DNS_PHASE_QUEUED,    /* on one of the send queues */
  DNS_PHASE_UDP,       /* UDP query in flight */
  DNS_PHASE_TCP,       /* TCP query in flight (after TC=1) */
  DNS_PHASE_SLOW_WAIT, /* waiting slow_retry_delay_ms before a slow round */
};

enum dns_queue_id { DNS_QUEUE_NONE = 0, DNS_QUEUE_RETRY, DNS_QUEUE_SLOW, DNS_QUEUE_FRESH };

struct dns_query;

struct dns_latency {
  uint32_t counts[DNS_LATENCY_BUCKETS];
  uint32_t total;
  uint32_t since_update;
  uint32_t p50_ms, p99_ms; /* bucket upper bounds; 0 until enough samples */
  uint32_t retry_ms;       /* first-attempt timeout now in use */
};

/* An attempt that timed out but still listens for its reply. It keeps its
 * by_id slot and its socket's inflight count until released. */
struct dns_earlier_attempt {
  uint16_t id;
  int udp_socket;
  int resolver;
  struct timeval sent_at;
};

struct dns_queue {
  struct dns_query *head, *tail;
  unsigned length;
};

struct dns_udp_socket {
  struct dns_client *client;
  int fd;
  int family;
  struct event *read_event;
  unsigned inflight; /* queries sent on it and not yet finished */
  uint64_t sent;     /* since it was (re)opened */
  bool draining;     /* reopen when inflight reaches 0 */
};

/* The UDP sockets' batches (dns_transport.c). Queries of one pass of the
 * event loop are queued and sent together at its end: one sendmmsg per
 * socket instead of one sendto per query. All queries of a batch go out on
 * the batch's socket (one per address family, chosen at random as a single
 * query's was). Replies are read with recvmmsg into headers set up once. */
struct dns_outgoing {
  int socket;   /* index in client->udp */
  int resolver; /* destination */
  size_t len;
  uint8_t wire[DNS_QUERY_MAX_BYTES];
};

struct dns_udp_batches {
  struct dns_outgoing outgoing[DNS_SEND_BATCH];
  unsigned outgoing_count;
  int batch_socket[2];       /* per family (IPv4, IPv6): socket of this batch, -1 before its first query */
  struct event *flush_event; /* active while queries wait: runs after the pass's other callbacks */
  struct mmsghdr send_messages[DNS_SEND_BATCH];
  struct iovec send_vectors[DNS_SEND_BATCH];
  struct mmsghdr recv_messages[DNS_RECV_BATCH];
  struct iovec recv_vectors[DNS_RECV_BATCH];
  struct sockaddr_storage recv_senders[DNS_RECV_BATCH];
};

struct dns_tcp {
  int fd;
  struct event *event;
  uint8_t out[2 + DNS_QUERY_MAX_BYTES];
  size_t out_len, out_done;
  uint8_t length_bytes[2];
  size_t length_done;
  uint8_t *in; /* reply body, in_len bytes once the length is read */
  size_t in_len, in_done;
};

struct dns_query {
  struct dns_client *client;
  struct dns_query *queue_next, *queue_prev; /* send queue or free list */
  enum dns_queue_id queue;
  struct dns_query *live_next, *live_prev; /* every lookup not yet done */
  struct event timer;                      /* attempt timeout or slow-round delay */
  enum dns_phase phase;

  dns_answer_cb callback;
  void *arg;
  uint8_t qname[DNS_NAME_MAX_BYTES];
  uint8_t qname_len;
  uint16_t qtype;

  int pinned_resolver;   /* -1: client chooses and fails over */
  int resolver;          /* resolver of the current/next attempt */
  uint32_t refused_mask; /* resolvers that refused this lookup */

  uint16_t id;            /* of the query in flight */
  int udp_socket;         /* index in client->udp, -1 if none */
  struct dns_tcp *tcp;    /* while over TCP */
  bool checking_disabled; /* the query in flight has CD=1 */
  bool cd_used_this_round;
  uint8_t cd_lost; /* lost CD=1 repeats; each gives the round its repeat back (DNS_CD_LOST_MAX) */
  bool in_slow_round;
  bool slow_retried;
  bool used_tcp;
  bool counted_as_retry;  /* the query in flight counts in retry_inflight */
  unsigned fast_failures; /* failed attempts of the fast round */
  unsigned backoff;       /* attempts that timed out while their resolver
                             answered nothing at all: each doubles the
                             next timeout (a lost query alone does not) */
  uint32_t timeout_ms;    /* of the attempt in flight */
  struct dns_earlier_attempt earlier[DNS_EARLIER_ATTEMPTS];
  unsigned earlier_count;
  unsigned slow_rounds;   /* slow rounds done */
  unsigned sent;          /* queries sent, all kinds */
  struct timeval started; /* dns_lookup() */
  struct timeval sent_at; /* current query */

  ldns_pkt *servfail;     /* the SERVFAIL a CD=1 repeat is checking */
  ldns_pkt *last_reply;   /* latest unusable reply, reported with failed */
  int last_reply_failure; /* its failure (enum dns_failure, dns_client.c) */
  const char *last_failure;
};

/* First attempts sent in one period of query_timeout_ms and how many of
 * them timed out (the window's congestion signal, dns_client.c). */
#define DNS_SEND_COHORTS 4u
struct dns_send_cohort {
  uint64_t index; /* send time / query_timeout_ms */
  unsigned sent, timed_out;
  unsigned answered, answered_prompt; /* replies to those first attempts, and
                                         those in under half their timeout */
  bool judged;                        /* already shrank the window */
};

struct dns_common_timeout {
  uint32_t ms;
  const struct timeval *tv;
};

struct dns_client {
  struct event_base *base;
  struct dns_client_config config;

  struct dns_udp_socket *udp; /* config.udp_socket_count per family used */
  unsigned udp_count;
  unsigned udp4_first, udp4_count, udp6_first, udp6_count;
  uint8_t *recv_buffers; /* DNS_RECV_BATCH * recv_buffer_bytes */
  size_t recv_buffer_bytes;
  bool reopen_pending;
  struct dns_udp_batches *batches;

  struct dns_query **by_id; /* DNS_ID_COUNT slots: query in flight per ID */
  struct dns_queue retry_queue, slow_queue, fresh_queue;
  struct dns_query *free_list;
  unsigned free_count;
  struct dns_query *live; /* every lookup not yet called back */
  unsigned next_resolver;

  struct event *pump_event;
  bool pump_scheduled;
  unsigned busy; /* handlers on the stack */
  bool dying;    /* dns_client_free called from a callback */

  /* Adaptive window (AIMD, massdns-style auto-concurrency). */
  unsigned window;
  unsigned slow_start_threshold;
  unsigned increase_credit;
  uint32_t servfail_ewma; /* fraction of SERVFAIL answers, x1024 */
  struct dns_send_cohort cohorts[DNS_SEND_COHORTS];
  struct timeval last_decrease;
  unsigned slow_active;                          /* lookups in a slow round, sending */
  unsigned retry_inflight;                       /* queries in flight of lookups that already
                                                    failed an attempt (at most half the window
                                                    while fresh lookups wait) */
  unsigned resolver_timeouts[DNS_MAX_RESOLVERS]; /* in a row, reset by a reply */
  struct dns_resolver_stats resolver_stats[DNS_MAX_RESOLVERS];
  struct timeval down_since[DNS_MAX_RESOLVERS];    /* while resolver_stats[i].down_now */
  struct timeval last_reply_at[DNS_MAX_RESOLVERS]; /* zero: none yet */
  struct timeval created;
  unsigned timeouts_since_reply[DNS_MAX_RESOLVERS];

  struct dns_latency latency[DNS_MAX_RESOLVERS];
  unsigned earlier_total; /* earlier attempts still listening, all lookups */
  /* What keeps the resolvers busy (Little's law): the sum of the reply
   * latencies of one period (query_timeout_ms) over its length is the
   * number of answered queries the resolvers held at once on average. A
   * timeout-driven decrease never takes the window below it. */
  uint64_t busy_sum_ms;
  struct timeval busy_period_start;
  unsigned busy_floor;

  struct dns_common_timeout common[DNS_COMMON_TIMEOUTS_MAX];
  unsigned common_count;

  uint8_t random_pool[DNS_RANDOM_POOL_BYTES];
  size_t random_used;

  uint8_t send_buffer[DNS_QUERY_MAX_BYTES];
  struct dns_client_stats stats;
};

/* dns_client.c, for the transports. An event handler brackets its work
 * with enter/leave: leave sends what the window allows and destroys the
 * client if dns_client_free was called meanwhile (the handler must not touch
 * the client after leave). */
void dns_client_enter(struct dns_client *client);
void dns_client_leave(struct dns_client *client);
uint32_t dns_client_random_u32(struct dns_client *client);
void dns_client_handle_reply(struct dns_query *query, const uint8_t *wire, size_t len, bool over_tcp);
/* A reply to the query's earlier attempt i (same ID, socket and resolver
 * address): it answers the lookup as if
 * it had come in time, and whatever the lookup was doing meanwhile (a
 * later attempt, waiting for one) ends. */
void dns_client_handle_late_reply(struct dns_query *query, unsigned i, const uint8_t *wire, size_t len);
/* The query's TCP connection failed (reset, EOF, bad reply): ends the
 * attempt like a lost reply. */
void dns_client_tcp_failed(struct dns_query *query);
/* A reply that matched the query but cannot be used (datagram cut short). */
void dns_client_reply_malformed(struct dns_query *query);
void dns_client_end_send(struct dns_query *query);
const struct timeval *dns_client_timeout_tv(struct dns_client *client, uint32_t ms);
uint32_t dns_client_attempt_timeout_ms(const struct dns_query *query);

/* dns_transport.c */
int dns_transport_open(struct dns_client *client, char *why, size_t why_len);
void dns_transport_close(struct dns_client *client);
/* Queues the query's current attempt for a UDP socket; the datagram is sent
 * at the end of the event loop's pass (or at once when DNS_SEND_BATCH are
 * queued). Returns 0, or -1 when no socket is open. A send that fails later
 * is not reported: the caller treats both as a lost datagram (the attempt
 * times out). */
int dns_transport_send_udp(struct dns_query *query, const uint8_t *wire, size_t len);
/* Starts a TCP query; returns 0 or -1 (nothing is left open). */
int dns_transport_start_tcp(struct dns_query *query, const uint8_t *wire, size_t len);
/* Closes the query's TCP connection, if any. */
void dns_transport_close_tcp(struct dns_query *query);
/* Reopens draining sockets whose last query has finished. */
void dns_transport_reopen_drained(struct dns_client *client);

#endif
