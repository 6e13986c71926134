/* A scripted DNS server for the DNS client's unit tests: UDP and TCP on
 * 127.0.0.1 with a kernel-chosen port, on the test's event base. Each query
 * is handed to the test's handler, which answers (fake_resolver_reply),
 * spoofs (wrong ID, wrong question, other source port) or drops it (does
 * nothing). Test files #include "fake_resolver.c" (tests/CMakeLists.txt
 * builds each test_*.c with unit.c only). Sends nothing off loopback. */
#ifndef DANESCAN_TESTS_FAKE_RESOLVER_H
#define DANESCAN_TESTS_FAKE_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <ldns/ldns.h>

struct fake_resolver;

struct fake_query {
  ldns_pkt *packet; /* the parsed query, owned by the fake */
  const uint8_t *wire;
  size_t len;
  bool over_tcp;
  unsigned index; /* 0 for the first query this resolver received */
  char name[256]; /* question name, lower case, with trailing dot */
  ldns_rr_type type;
  bool checking_disabled; /* CD bit */
  void *connection;       /* internal: TCP connection or NULL */
  struct sockaddr_storage from;
  socklen_t from_len;
};

typedef void (*fake_handler)(struct fake_resolver *fake, const struct fake_query *query, void *arg);

/* Starts a resolver on 127.0.0.1:<random port>. NULL on failure. */
struct fake_resolver *fake_resolver_new(struct event_base *base, fake_handler handler, void *arg);
void fake_resolver_free(struct fake_resolver *fake);

/* "127.0.0.1:port", for dns_client_config_add_resolver. */
const char *fake_resolver_address(const struct fake_resolver *fake);

/* Counters. */
unsigned fake_resolver_udp_queries(const struct fake_resolver *fake);
unsigned fake_resolver_tcp_queries(const struct fake_resolver *fake);
unsigned fake_resolver_cd_queries(const struct fake_resolver *fake);

/* A reply to query: same ID and question, QR, RA, RD copied, CD copied,
 * EDNS0 1232 with DO; rcode and AD as given; empty sections. */
ldns_pkt *fake_reply_new(const struct fake_query *query, ldns_pkt_rcode rcode, bool ad);
/* Appends an RR in presentation form to the answer section. */
void fake_reply_add_answer(ldns_pkt *reply, const char *rr_text);
/* Adds an RFC 8914 EDE option (text may be NULL). */
void fake_reply_set_ede(ldns_pkt *reply, uint16_t code, const char *text, size_t text_len);

/* Sends reply (consumed) the way the query came (UDP or TCP). */
void fake_resolver_reply(struct fake_resolver *fake, const struct fake_query *query, ldns_pkt *reply);
/* Sends raw bytes the way the query came. */
void fake_resolver_send_raw(struct fake_resolver *fake, const struct fake_query *query, const uint8_t *wire,
                            size_t len);
/* Sends raw bytes over UDP to the query's sender from another local port
 * (an off-path spoofer guessing the resolver's port wrong). */
void fake_resolver_send_from_other_port(struct fake_resolver *fake, const struct fake_query *query, const uint8_t *wire,
                                        size_t len);
/* Wire form of reply (not consumed); caller frees *wire. */
size_t fake_reply_wire(const ldns_pkt *reply, uint8_t **wire);

#endif
