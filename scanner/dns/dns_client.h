/* Asynchronous DNS stub client on libevent: sends queries to one or more
 * validating recursive resolvers and hands back each answer with its DNSSEC
 * state (RESULTS.md). It builds and parses messages with ldns, retries, fails
 * over between resolvers, retries over TCP on TC=1, repeats a SERVFAIL with
 * CD=1 to tell bogus from failure, keeps RFC 8914 extended errors, and adapts
 * how many queries it keeps in flight to what the resolvers answer promptly.
 * It does not validate DNSSEC itself (it trusts the resolver's AD bit), does
 * not follow CNAMEs (the resolver does) and does not cache.
 *
 * DNSSEC state (RESULTS.md): NOERROR/NXDOMAIN with AD is secure, without AD
 * insecure (bogus if an EDE 5-12 says validation failed: a resolver in
 * permissive mode; EDE 1/2 stay insecure, RFC 4035 5.2). SERVFAIL with a
 * DNSSEC EDE (1,2,5-12) is bogus at once; otherwise it is repeated once per
 * round with CD=1 and is bogus if that succeeds (the SERVFAIL is reported,
 * never the CD=1 data; a repeat whose reply is lost gives the round its
 * repeat back, twice per lookup at most, so loss does not turn bogus into
 * failed), except when the SERVFAIL carries EDE 22/23 (no
 * reachable authority, network error): then there is no CD=1 repeat, since
 * its success would only show the network recovered. Everything else ends
 * failed. A reply counts only if sender address and port, socket, ID and
 * question (name case-insensitively, type, class) match; others are
 * counted as mismatched and the query keeps waiting.
 *
 * Retries follow the resolver's observed latency (RFC 6298 in spirit, for
 * a recursive resolver whose answer times range from microseconds to
 * seconds): an attempt times out after 1.5 x the 99th percentile of that
 * resolver's recent reply times, within [min_query_timeout_ms,
 * query_timeout_ms] (query_timeout_ms until 64 replies are known), and
 * the next attempt waits as long again; only
 * attempts that met a silent resolver (no reply to anything since they
 * were sent) double the next timeout. An attempt that timed out keeps
 * listening (up to 3 per lookup, until the lookup ends or waits for a slow
 * round): its late reply answers the lookup, so a slow resolver costs a
 * repeated query, never a lost answer (the repeat costs a recursive
 * resolver little: it joins the work in progress). The retry timeout starts
 * at query_timeout_ms: with 1 s, a cold scan's first window of lookups
 * timed out and was repeated while Unbound still held it, beyond its
 * wait-limit (1,000 waiting queries per client), which dropped the excess
 * (1,314 timeouts in 23,318 queries at 20-300 ms authority delay). The
 * window grows on prompt answers and halves on SERVFAIL bursts and when
 * more than half of the first attempts of one period time out while most
 * of that period's answers came promptly (a resolver dropping what it
 * cannot take, not a slow one), but never below the number of answered
 * queries the resolvers held at once in the last period (Little's law):
 * slow answers never starve a busy resolver. */
#ifndef DANESCAN_DNS_CLIENT_H
#define DANESCAN_DNS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "record/status.h"

#define DNS_MAX_RESOLVERS 16
#define DNS_EDE_TEXT_MAX_BYTES 256

struct dns_client;

struct dns_client_config {
  struct sockaddr_storage resolvers[DNS_MAX_RESOLVERS];
  socklen_t resolver_lengths[DNS_MAX_RESOLVERS];
  size_t resolver_count;
  uint32_t query_timeout_ms;          /* longest first-attempt timeout (latency-following below it) */
  uint32_t min_query_timeout_ms;      /* shortest attempt timeout */
  uint32_t max_query_timeout_ms;      /* cap on a backed-off or slow-round timeout */
  unsigned max_attempts;              /* fast attempts (over all resolvers) before slow retry */
  unsigned max_inflight;              /* hard cap on queries in flight */
  unsigned initial_inflight;          /* adaptive window starts here (<= max_inflight) */
  uint32_t slow_retry_delay_ms;       /* wait before a lookup's slow (second-chance) round */
  unsigned slow_retry_rounds;         /* slow rounds before the lookup is recorded failed */
  unsigned slow_retry_max_inflight;   /* cap on slow-round lookups in flight */
  uint16_t edns_buffer_bytes;         /* advertised EDNS0 UDP size (1232) */
  unsigned udp_socket_count;          /* UDP sockets, each on a random source port */
  unsigned udp_socket_reopen_queries; /* a socket moves to a new random port
                                         after this many queries; 0: never */
};

/* Fills defaults: timeout 2000 ms (250 ms at least), max 8000 ms, 8
 * attempts, 10000 in flight, initial window 500, slow retry after 5000 ms,
 * 2 slow rounds, 200 slow in flight, EDNS 1232, 64 UDP sockets each
 * reopened after 100000 queries. Resolvers are left empty.
 *
 * Worst case per lookup, from its first query (time waiting for the window
 * not included): the fast round sends max_attempts queries, attempt k with
 * timeout t_k = r * 2^s_k capped at max_query_timeout_ms (t_max), where r
 * is the resolver's retry timeout (at most query_timeout_ms) and s_k the
 * earlier attempts that met a silent resolver, plus at most three CD=1
 * repeats after a SERVFAIL (one, and one more for each of at most two that
 * were lost) and a TCP retry per TC=1 reply, each bounded by the same
 * timeout; then slow_retry_rounds rounds of one query (plus its CD=1 repeat
 * and TCP retry) with timeout min(2r * 2^s, t_max), each after
 * slow_retry_delay_ms. Bound: sum_k(2 * t_k) + 4 * t_max (fast) + rounds
 * * (delay + 4 * t_max) (slow); with defaults and a resolver that answers
 * (r <= 2 s, s = 0) a name that only times out ends after at most 8 * 2 +
 * 2 * (5 + 4) = 34 s (48 s before the timeout followed latency; 1.5 s +
 * 2 * 5.5 s = 12.5 s when the resolver answers within 160 ms); behind a
 * silent resolver the timeouts double up to t_max. A lookup that stays in
 * the slow queue waits for a slot among slow_retry_max_inflight. */
void dns_client_config_defaults(struct dns_client_config *config);

/* Parses "IP" or "IP:port" / "[IPv6]:port" (port 53 by default) into the
 * next resolver slot. Returns 0, or -1 with a message in why. */
int dns_client_config_add_resolver(struct dns_client_config *config, const char *text, char *why, size_t why_len);

/* What the caller gets for one lookup. Everything it points to is owned by
 * the client and valid only during the callback; copy what you keep. */
struct dns_answer {
  enum dnssec_state state; /* secure/insecure/bogus/failed per RESULTS.md */
  int rcode;               /* LDNS_RCODE_* of the answer used, -1 if none */
  const ldns_pkt *packet;  /* the answer used (for failed: may be NULL) */
  bool has_ede;            /* RFC 8914 extended error present */
  uint16_t ede_code;
  const char *ede_text; /* "" when the EDE had no text; NUL-terminated, sanitised */
  const char *failure;  /* for failed: short reason ("timeout", "servfail",
                           "refused", "malformed", ...); NULL otherwise */
  unsigned attempts;    /* queries sent for this lookup, CD=1 repeat included */
  bool slow_retried;    /* needed at least one slow round */
  bool used_tcp;        /* answer came over TCP after TC=1 */
  uint32_t elapsed_ms;  /* from dns_lookup() to the callback */
  int resolver_index;   /* resolver that gave the answer used, -1 if none */
};

typedef void (*dns_answer_cb)(const struct dns_answer *answer, void *arg);

/* Creates a client on base. Returns NULL with a message in why on failure
 * (no resolver, socket errors). The client does not own base. */
struct dns_client *dns_client_new(struct event_base *base, const struct dns_client_config *config, char *why,
                                  size_t why_len);

/* Cancels every pending lookup without calling back, closes sockets and
 * frees. dns_client_free(NULL) is a no-op. It may be called from inside an
 * answer callback: no callback runs after it, and the memory is released
 * when the client's event handler returns. */
void dns_client_free(struct dns_client *client);

/* Starts a lookup of name/type (class IN) with RD, DO and EDNS0. name is a
 * presentation-format domain name, with or without the trailing dot. The
 * callback runs exactly once, later, from the event loop (never from inside
 * dns_lookup), unless the client is freed first. Lookups beyond the in-flight
 * window wait in a queue inside the client (the caller bounds how many it
 * starts). Returns 0, or -1 if name cannot be encoded (nothing is called
 * back then). resolver_index -1 lets the client choose and fail over; a
 * value >= 0 pins every attempt to that resolver (for resolver checks). */
int dns_lookup(struct dns_client *client, const char *name, ldns_rr_type type, int resolver_index,
               dns_answer_cb callback, void *arg);

/* Cancels, without calling back, every pending lookup started with this
 * callback argument (for a caller that goes away before its answers).
 * Returns how many were cancelled. Linear in the lookups pending. */
size_t dns_client_cancel(struct dns_client *client, void *arg);

/* Per-resolver counters. A resolver is marked down after 32 timeouts in a
 * row of queries sent since its latest reply (DNS_DOWN_AFTER_TIMEOUTS; it
 * then gets only failover traffic and an occasional probe lookup) and up
 * again by its next reply. A silence is a gap of at least 1 s
 * (DNS_SILENCE_MIN_MS) between two of its replies, or since its latest one,
 * in which at least 16 queries sent after its latest reply timed out
 * (DNS_SILENCE_MIN_TIMEOUTS): no answers at all, not a slow resolver nor a
 * few unlucky lookups. An outage too short to mark the resolver down (a
 * restart) still shows there. */
#define DNS_RESOLVER_LABEL_MAX_BYTES 64
struct dns_resolver_stats {
  char name[DNS_RESOLVER_LABEL_MAX_BYTES]; /* "127.0.0.1:53", "[::1]:5301" */
  uint64_t queries_sent;                   /* UDP and TCP queries sent to it */
  uint64_t replies;                        /* replies that matched a query of it */
  uint64_t timeouts;                       /* its queries that timed out */
  uint64_t down_events;                    /* times it was marked down */
  uint64_t up_events;                      /* times it answered again after that */
  uint64_t down_ms_total;                  /* time spent marked down (until now if down) */
  uint32_t last_down_ms;                   /* length of the latest down period (so far) */
  bool down_now;
  uint64_t silences; /* silences, the current one included */
  uint32_t longest_silence_ms;
  bool silent_now;
  uint32_t latency_p50_ms, latency_p99_ms; /* recent replies (bucket bounds), 0: too few yet */
  uint32_t retry_after_ms;                 /* first-attempt timeout in use */
};

/* Counters since dns_client_new, for the progress line and the summary. */
struct dns_client_stats {
  uint64_t lookups_started;
  uint64_t lookups_done; /* called back */
  uint64_t cancelled;    /* dropped by dns_client_cancel, not called back */
  uint64_t queries_sent; /* every datagram or TCP query */
  uint64_t retries;      /* queries beyond the first of a lookup */
  uint64_t timeouts;     /* queries that timed out */
  uint64_t truncated;    /* TC=1 answers retried over TCP */
  uint64_t servfails;    /* SERVFAIL answers received */
  uint64_t cd_requeries; /* CD=1 repeats after SERVFAIL */
  uint64_t refused;      /* REFUSED answers */
  uint64_t malformed;    /* replies dropped as unparsable */
  uint64_t mismatched;   /* replies dropped: wrong address/port/ID/question */
  uint64_t late_replies; /* replies to an attempt that had timed out, used */
  uint64_t slow_retried; /* lookups that needed a slow round */
  uint64_t failed;       /* lookups recorded failed */
  uint64_t bogus;        /* lookups recorded bogus */
  unsigned inflight;     /* queries in flight now */
  unsigned window;       /* current adaptive window */
  unsigned queued;       /* lookups waiting for the window */
  size_t resolver_count;
  struct dns_resolver_stats resolvers[DNS_MAX_RESOLVERS];
};
void dns_client_get_stats(const struct dns_client *client, struct dns_client_stats *out);

/* Writes one summary line per resolver to out, e.g.
 *   "  resolver 127.0.0.1:5301: 1234 queries, 1200 replies, 56 timeouts,
 *    silent 1 times (longest 2.4 s), down 2 times, last down for 3.1 s"
 * (no silence part when there was none; "never down" when it was not;
 * "down now, for 3.1 s" when it still is). */
void dns_client_stats_print_resolvers(FILE *out, const struct dns_client_stats *stats);

/* Number of resolvers configured. */
size_t dns_client_resolver_count(const struct dns_client *client);

/* Text form of resolver i ("127.0.0.1:53"), owned by the client. */
const char *dns_client_resolver_name(const struct dns_client *client, size_t i);

#endif
