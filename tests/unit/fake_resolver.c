/* Scripted in-process DNS server for unit tests (see fake_resolver.h). */
#include "fake_resolver.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

struct fake_resolver {
  struct event_base *base;
  fake_handler handler;
  void *arg;
  int udp_fd, tcp_fd, spoof_fd;
  struct event *udp_event, *tcp_event;
  char address[64];
  unsigned udp_queries, tcp_queries, cd_queries, received;
  struct fake_connection *connections;
};

const char *fake_resolver_address(const struct fake_resolver *fake) {
  return fake->address;
}
unsigned fake_resolver_udp_queries(const struct fake_resolver *fake) {
  return fake->udp_queries;
}
unsigned fake_resolver_tcp_queries(const struct fake_resolver *fake) {
  return fake->tcp_queries;
}
unsigned fake_resolver_cd_queries(const struct fake_resolver *fake) {
  return fake->cd_queries;
}

static void fake_dispatch(struct fake_resolver *fake, const uint8_t *wire, size_t len, bool over_tcp, void *connection,
                          const struct sockaddr_storage *from, socklen_t from_len) {
  struct fake_query query;
  memset(&query, 0, sizeof query);
  if (ldns_wire2pkt(&query.packet, wire, len) != LDNS_STATUS_OK) {
    return;
  }
  query.wire = wire;
  query.len = len;
  query.over_tcp = over_tcp;
  query.index = fake->received++;
  query.connection = connection;
  if (from != NULL) {
    query.from = *from;
    query.from_len = from_len;
  }
  ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(query.packet), 0);
  if (question != NULL) {
    char *name = ldns_rdf2str(ldns_rr_owner(question));
    snprintf(query.name, sizeof query.name, "%s", name != NULL ? name : "");
    free(name);
    for (char *p = query.name; *p; p++) {
      *p = (char)tolower((unsigned char)*p);
    }
    query.type = ldns_rr_get_type(question);
  }
  query.checking_disabled = ldns_pkt_cd(query.packet);
  if (over_tcp) {
    fake->tcp_queries++;
  } else {
    fake->udp_queries++;
  }
  if (query.checking_disabled) {
    fake->cd_queries++;
  }
  fake->handler(fake, &query, fake->arg);
  ldns_pkt_free(query.packet);
}

static void fake_udp_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct fake_resolver *fake = arg;
  for (;;) {
    uint8_t buffer[65536];
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, buffer, sizeof buffer, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
    if (n <= 0) {
      return;
    }
    fake_dispatch(fake, buffer, (size_t)n, false, NULL, &from, from_len);
  }
}

struct fake_connection {
  struct fake_resolver *fake;
  struct bufferevent *bev;
  struct fake_connection *next, *prev;
};

static void fake_conn_close(struct fake_connection *conn) {
  if (conn->prev != NULL) {
    conn->prev->next = conn->next;
  } else {
    conn->fake->connections = conn->next;
  }
  if (conn->next != NULL) {
    conn->next->prev = conn->prev;
  }
  bufferevent_free(conn->bev);
  free(conn);
}

static void fake_conn_read(struct bufferevent *bev, void *arg) {
  struct fake_connection *conn = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  for (;;) {
    uint8_t length[2];
    if (evbuffer_copyout(in, length, 2) < 2) {
      return;
    }
    size_t len = (size_t)((length[0] << 8) | length[1]);
    if (evbuffer_get_length(in) < len + 2) {
      return;
    }
    uint8_t *wire = malloc(len + 2);
    evbuffer_remove(in, wire, len + 2);
    fake_dispatch(conn->fake, wire + 2, len, true, conn, NULL, 0);
    free(wire);
  }
}

static void fake_conn_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    fake_conn_close(arg);
  }
}

static void fake_accept_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct fake_resolver *fake = arg;
  int conn_fd = accept(fd, NULL, NULL);
  if (conn_fd < 0) {
    return;
  }
  evutil_make_socket_nonblocking(conn_fd);
  struct fake_connection *conn = calloc(1, sizeof *conn);
  conn->fake = fake;
  conn->next = fake->connections;
  if (conn->next != NULL) {
    conn->next->prev = conn;
  }
  fake->connections = conn;
  conn->bev = bufferevent_socket_new(fake->base, conn_fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(conn->bev, fake_conn_read, NULL, fake_conn_event, conn);
  bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

/* Binds UDP to a kernel-chosen loopback port and TCP to the same number;
 * returns 0, or -1 if that TCP port is taken (the caller tries again). */
static int fake_bind(struct fake_resolver *fake, struct sockaddr_in *sin) {
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fake->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int size = 8 * 1024 * 1024;
  setsockopt(fake->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  setsockopt(fake->udp_fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  socklen_t len = sizeof *sin;
  if (bind(fake->udp_fd, (struct sockaddr *)sin, sizeof *sin) != 0 ||
      getsockname(fake->udp_fd, (struct sockaddr *)sin, &len) != 0) {
    close(fake->udp_fd);
    return -1;
  }
  fake->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  setsockopt(fake->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(fake->tcp_fd, (struct sockaddr *)sin, sizeof *sin) != 0 || listen(fake->tcp_fd, 64) != 0) {
    close(fake->tcp_fd);
    close(fake->udp_fd);
    return -1;
  }
  return 0;
}

struct fake_resolver *fake_resolver_new(struct event_base *base, fake_handler handler, void *arg) {
  struct fake_resolver *fake = calloc(1, sizeof *fake);
  fake->base = base;
  fake->handler = handler;
  fake->arg = arg;
  struct sockaddr_in sin;
  int tries = 0;
  while (fake_bind(fake, &sin) != 0) {
    if (++tries == 50) {
      fprintf(stderr, "fake_resolver: no free UDP+TCP port pair on 127.0.0.1\n");
      abort(); /* a test without its resolver cannot say anything */
    }
  }
  struct sockaddr_in spoof = sin;
  spoof.sin_port = 0;
  fake->spoof_fd = socket(AF_INET, SOCK_DGRAM, 0);
  bind(fake->spoof_fd, (struct sockaddr *)&spoof, sizeof spoof);
  snprintf(fake->address, sizeof fake->address, "127.0.0.1:%u", ntohs(sin.sin_port));
  fake->udp_event = event_new(base, fake->udp_fd, EV_READ | EV_PERSIST, fake_udp_cb, fake);
  fake->tcp_event = event_new(base, fake->tcp_fd, EV_READ | EV_PERSIST, fake_accept_cb, fake);
  event_add(fake->udp_event, NULL);
  event_add(fake->tcp_event, NULL);
  return fake;
}

void fake_resolver_free(struct fake_resolver *fake) {
  if (fake == NULL) {
    return;
  }
  while (fake->connections != NULL) {
    fake_conn_close(fake->connections);
  }
  event_free(fake->udp_event);
  event_free(fake->tcp_event);
  close(fake->udp_fd);
  close(fake->tcp_fd);
  close(fake->spoof_fd);
  free(fake);
}

ldns_pkt *fake_reply_new(const struct fake_query *query, ldns_pkt_rcode rcode, bool ad) {
  ldns_pkt *reply = ldns_pkt_new();
  ldns_pkt_set_id(reply, ldns_pkt_id(query->packet));
  ldns_pkt_set_qr(reply, true);
  ldns_pkt_set_ra(reply, true);
  ldns_pkt_set_rd(reply, ldns_pkt_rd(query->packet));
  ldns_pkt_set_cd(reply, ldns_pkt_cd(query->packet));
  ldns_pkt_set_ad(reply, ad);
  ldns_pkt_set_rcode(reply, (uint8_t)rcode);
  ldns_rr_list *questions = ldns_rr_list_clone(ldns_pkt_question(query->packet));
  ldns_rr_list_free(ldns_pkt_question(reply));
  ldns_pkt_set_question(reply, questions);
  ldns_pkt_set_qdcount(reply, (uint16_t)ldns_rr_list_rr_count(questions));
  ldns_pkt_set_edns_udp_size(reply, 1232);
  ldns_pkt_set_edns_do(reply, true);
  return reply;
}

void fake_reply_add_answer(ldns_pkt *reply, const char *rr_text) {
  ldns_rr *rr = NULL;
  if (ldns_rr_new_frm_str(&rr, rr_text, 300, NULL, NULL) == LDNS_STATUS_OK) {
    ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, rr);
  }
}

void fake_reply_set_ede(ldns_pkt *reply, uint16_t code, const char *text, size_t text_len) {
  size_t len = 4 + 2 + text_len;
  uint8_t *data = malloc(len);
  data[0] = 0;
  data[1] = LDNS_EDNS_EDE;
  data[2] = (uint8_t)((2 + text_len) >> 8);
  data[3] = (uint8_t)(2 + text_len);
  data[4] = (uint8_t)(code >> 8);
  data[5] = (uint8_t)code;
  if (text_len > 0) {
    memcpy(data + 6, text, text_len);
  }
  ldns_pkt_set_edns_data(reply, ldns_rdf_new(LDNS_RDF_TYPE_UNKNOWN, len, data));
}

size_t fake_reply_wire(const ldns_pkt *reply, uint8_t **wire) {
  size_t len = 0;
  *wire = NULL;
  if (ldns_pkt2wire(wire, reply, &len) != LDNS_STATUS_OK) {
    return 0;
  }
  return len;
}

void fake_resolver_send_raw(struct fake_resolver *fake, const struct fake_query *query, const uint8_t *wire,
                            size_t len) {
  if (query->over_tcp) {
    struct fake_connection *conn = query->connection;
    uint8_t length[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    bufferevent_write(conn->bev, length, 2);
    bufferevent_write(conn->bev, wire, len);
  } else {
    sendto(fake->udp_fd, wire, len, 0, (const struct sockaddr *)&query->from, query->from_len);
  }
}

void fake_resolver_reply(struct fake_resolver *fake, const struct fake_query *query, ldns_pkt *reply) {
  uint8_t *wire = NULL;
  size_t len = fake_reply_wire(reply, &wire);
  if (len > 0) {
    fake_resolver_send_raw(fake, query, wire, len);
  }
  free(wire);
  ldns_pkt_free(reply);
}

void fake_resolver_send_from_other_port(struct fake_resolver *fake, const struct fake_query *query, const uint8_t *wire,
                                        size_t len) {
  sendto(fake->spoof_fd, wire, len, 0, (const struct sockaddr *)&query->from, query->from_len);
}
