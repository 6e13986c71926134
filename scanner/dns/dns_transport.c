/* Transports of the DNS client: a pool of non-blocking UDP sockets, each on
 * its own random source port (with the random ID, about 32 bits an off-path
 * spoofer must guess, RFC 5452 section 10), drained with recvmmsg in batches
 * when readable; and one TCP connection per query that came back with TC=1
 * (RFC 7766, 2-byte length framing, at most 65535 bytes by construction).
 * A datagram is handed to the state machine only if its sender, socket, ID
 * and question match a query in flight; others are counted as mismatched.
 *
 * UDP queries are queued and sent at the end of the event loop's pass, one
 * sendmmsg per socket: the queries of one pass share a socket picked at
 * random for the pass (each query's port is still a uniformly random one of
 * the pool). A cold-cache scan sent one sendto per query at a few queries
 * per pass, and system calls were most of the scanner's CPU (issue 15). */
#include "dns/dns_client_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Kernel receive buffer asked for each UDP socket: bursts of answers at
 * tens of thousands per second must not overflow between two wakeups. */
#define DNS_UDP_RECEIVE_BUFFER_BYTES (4 * 1024 * 1024)
#define DNS_RECV_BUFFER_MIN_BYTES 4096u
#define DNS_BIND_TRIES 16u

static void udp_read_cb(evutil_socket_t fd, short what, void *arg);
static void flush_cb(evutil_socket_t fd, short what, void *arg);

static int open_udp_socket(struct dns_client *client, struct dns_udp_socket *sock, char *why, size_t why_len) {
  int fd = socket(sock->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, why_len, "UDP socket: %s", strerror(errno));
    return -1;
  }
  int size = DNS_UDP_RECEIVE_BUFFER_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (sock->family == AF_INET6) {
    int on = 1;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  struct sockaddr_storage local;
  socklen_t local_len;
  bool bound = false;
  for (unsigned tries = 0; tries < DNS_BIND_TRIES && !bound; tries++) {
    uint16_t port = (uint16_t)(1024 + dns_client_random_u32(client) % (65536 - 1024));
    memset(&local, 0, sizeof local);
    if (sock->family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&local;
      sin->sin_family = AF_INET;
      sin->sin_port = htons(port);
      local_len = sizeof *sin;
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&local;
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(port);
      local_len = sizeof *sin6;
    }
    bound = bind(fd, (struct sockaddr *)&local, local_len) == 0;
  }
  /* Without bind, the first sendto picks a kernel-randomised ephemeral
   * port, which is still random. */
  sock->read_event = event_new(client->base, fd, EV_READ | EV_PERSIST, udp_read_cb, sock);
  if (sock->read_event == NULL || event_add(sock->read_event, NULL) != 0) {
    snprintf(why, why_len, "UDP socket: cannot register with the event loop");
    if (sock->read_event != NULL) {
      event_free(sock->read_event);
      sock->read_event = NULL;
    }
    close(fd);
    return -1;
  }
  sock->fd = fd;
  sock->inflight = 0;
  sock->sent = 0;
  sock->draining = false;
  return 0;
}

static void close_udp_socket(struct dns_udp_socket *sock) {
  if (sock->read_event != NULL) {
    event_free(sock->read_event);
    sock->read_event = NULL;
  }
  if (sock->fd >= 0) {
    close(sock->fd);
    sock->fd = -1;
  }
}

int dns_transport_open(struct dns_client *client, char *why, size_t why_len) {
  bool need4 = false, need6 = false;
  for (size_t i = 0; i < client->config.resolver_count; i++) {
    if (client->config.resolvers[i].ss_family == AF_INET) {
      need4 = true;
    } else {
      need6 = true;
    }
  }
  unsigned per_family = client->config.udp_socket_count;
  client->udp_count = per_family * ((need4 ? 1u : 0u) + (need6 ? 1u : 0u));
  client->udp = calloc(client->udp_count, sizeof *client->udp);
  client->recv_buffer_bytes = client->config.edns_buffer_bytes > DNS_RECV_BUFFER_MIN_BYTES
      ? client->config.edns_buffer_bytes
      : DNS_RECV_BUFFER_MIN_BYTES;
  client->recv_buffers = malloc(DNS_RECV_BATCH * client->recv_buffer_bytes);
  client->batches = calloc(1, sizeof *client->batches);
  if (client->udp == NULL || client->recv_buffers == NULL || client->batches == NULL) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  struct dns_udp_batches *batches = client->batches;
  batches->batch_socket[0] = batches->batch_socket[1] = -1;
  batches->flush_event = event_new(client->base, -1, 0, flush_cb, client);
  if (batches->flush_event == NULL) {
    snprintf(why, why_len, "UDP sockets: cannot register with the event loop");
    return -1;
  }
  for (unsigned i = 0; i < DNS_RECV_BATCH; i++) {
    batches->recv_vectors[i].iov_base = client->recv_buffers + i * client->recv_buffer_bytes;
    batches->recv_vectors[i].iov_len = client->recv_buffer_bytes;
    batches->recv_messages[i].msg_hdr.msg_name = &batches->recv_senders[i];
    batches->recv_messages[i].msg_hdr.msg_iov = &batches->recv_vectors[i];
    batches->recv_messages[i].msg_hdr.msg_iovlen = 1;
  }
  client->udp4_first = 0;
  client->udp4_count = need4 ? per_family : 0;
  client->udp6_first = client->udp4_count;
  client->udp6_count = need6 ? per_family : 0;
  for (unsigned i = 0; i < client->udp_count; i++) {
    client->udp[i].fd = -1;
  }
  for (unsigned i = 0; i < client->udp_count; i++) {
    struct dns_udp_socket *sock = &client->udp[i];
    sock->client = client;
    sock->family = i < client->udp6_first ? AF_INET : AF_INET6;
    if (open_udp_socket(client, sock, why, why_len) != 0) {
      return -1;
    }
  }
  return 0;
}

void dns_transport_close(struct dns_client *client) {
  if (client->udp != NULL) {
    for (unsigned i = 0; i < client->udp_count; i++) {
      close_udp_socket(&client->udp[i]);
    }
  }
  free(client->udp);
  client->udp = NULL;
  free(client->recv_buffers);
  client->recv_buffers = NULL;
  if (client->batches != NULL) {
    if (client->batches->flush_event != NULL) {
      event_free(client->batches->flush_event); /* queued datagrams are dropped */
    }
    free(client->batches);
    client->batches = NULL;
  }
}

/* Drops the queued datagrams of a socket about to close: its queries have
 * all finished (a draining socket closes when none is in flight). */
static void drop_queued(struct dns_client *client, int socket_index) {
  struct dns_udp_batches *batches = client->batches;
  unsigned kept = 0;
  for (unsigned i = 0; i < batches->outgoing_count; i++) {
    if (batches->outgoing[i].socket != socket_index) {
      if (kept != i) {
        batches->outgoing[kept] = batches->outgoing[i];
      }
      kept++;
    }
  }
  batches->outgoing_count = kept;
  for (unsigned family = 0; family < 2; family++) {
    if (batches->batch_socket[family] == socket_index) {
      batches->batch_socket[family] = -1;
    }
  }
}

void dns_transport_reopen_drained(struct dns_client *client) {
  for (unsigned i = 0; i < client->udp_count; i++) {
    struct dns_udp_socket *sock = &client->udp[i];
    if (sock->draining && sock->inflight == 0) {
      char why[128];
      drop_queued(client, (int)i);
      close_udp_socket(sock);
      if (open_udp_socket(client, sock, why, sizeof why) != 0) {
        /* Keep the slot closed; sends skip it (fd -1). */
        sock->draining = false;
      }
    }
  }
}

static int pick_socket(struct dns_client *client, int family) {
  unsigned first = family == AF_INET ? client->udp4_first : client->udp6_first;
  unsigned count = family == AF_INET ? client->udp4_count : client->udp6_count;
  if (count == 0) {
    return -1;
  }
  unsigned start = dns_client_random_u32(client) % count;
  int fallback = -1;
  for (unsigned step = 0; step < count; step++) {
    unsigned index = first + (start + step) % count;
    struct dns_udp_socket *sock = &client->udp[index];
    if (sock->fd < 0) {
      continue;
    }
    if (!sock->draining) {
      return (int)index;
    }
    if (fallback < 0) {
      fallback = (int)index;
    }
  }
  return fallback;
}

/* Sends the queued datagrams of one socket, in order. sendmmsg stops at the
 * first datagram that fails (returning how many went, or -1 if it was the
 * first): that one is lost, as a failed sendto's was, and the rest go in the
 * next call. */
static void send_batch(int fd, struct mmsghdr *messages, unsigned count) {
  unsigned done = 0;
  while (done < count) {
    int sent = fd >= 0 ? sendmmsg(fd, messages + done, count - done, 0) : -1;
    done += sent > 0 ? (unsigned)sent : 0;
    if (done < count) {
      done++; /* this one failed: its query times out */
    }
  }
}

/* Sends every queued datagram, one sendmmsg per socket (a batch normally
 * uses one socket per family). */
static void flush(struct dns_client *client) {
  struct dns_udp_batches *batches = client->batches;
  bool taken[DNS_SEND_BATCH] = {false};
  for (unsigned first = 0; first < batches->outgoing_count; first++) {
    if (taken[first]) {
      continue;
    }
    int socket_index = batches->outgoing[first].socket;
    unsigned count = 0;
    for (unsigned i = first; i < batches->outgoing_count; i++) {
      struct dns_outgoing *out = &batches->outgoing[i];
      if (taken[i] || out->socket != socket_index) {
        continue;
      }
      taken[i] = true;
      batches->send_vectors[count] = (struct iovec){.iov_base = out->wire, .iov_len = out->len};
      batches->send_messages[count].msg_hdr = (struct msghdr){
          .msg_name = &client->config.resolvers[out->resolver],
          .msg_namelen = client->config.resolver_lengths[out->resolver],
          .msg_iov = &batches->send_vectors[count],
          .msg_iovlen = 1,
      };
      count++;
    }
    send_batch(client->udp[socket_index].fd, batches->send_messages, count);
  }
  batches->outgoing_count = 0;
  batches->batch_socket[0] = batches->batch_socket[1] = -1;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  flush(arg);
}

int dns_transport_send_udp(struct dns_query *query, const uint8_t *wire, size_t len) {
  struct dns_client *client = query->client;
  struct dns_udp_batches *batches = client->batches;
  if (batches->outgoing_count == DNS_SEND_BATCH) {
    flush(client);
  }
  const struct sockaddr_storage *to = &client->config.resolvers[query->resolver];
  int *batch_socket = &batches->batch_socket[to->ss_family == AF_INET ? 0 : 1];
  if (*batch_socket < 0 || client->udp[*batch_socket].draining) {
    *batch_socket = pick_socket(client, to->ss_family);
  }
  int index = *batch_socket;
  if (index < 0) {
    return -1;
  }
  struct dns_udp_socket *sock = &client->udp[index];
  query->udp_socket = index;
  sock->inflight++;
  sock->sent++;
  if (client->config.udp_socket_reopen_queries > 0 && sock->sent >= client->config.udp_socket_reopen_queries) {
    sock->draining = true;
  }
  struct dns_outgoing *out = &batches->outgoing[batches->outgoing_count++];
  out->socket = index;
  out->resolver = query->resolver;
  out->len = len;
  memcpy(out->wire, wire, len);
  if (batches->outgoing_count == 1) {
    /* Runs after the callbacks already active in this pass of the loop
     * (libevent appends to the active queue of the same priority). */
    event_active(batches->flush_event, EV_TIMEOUT, 1);
  }
  return 0;
}

static bool same_sender(const struct sockaddr_storage *from, const struct sockaddr_storage *want) {
  if (from->ss_family != want->ss_family) {
    return false;
  }
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    const struct sockaddr_in *b = (const struct sockaddr_in *)want;
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
  const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)want;
  return a->sin6_port == b->sin6_port && memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
}

static void udp_datagram(struct dns_client *client, int socket_index, const uint8_t *wire, size_t len,
                         const struct sockaddr_storage *from, int flags) {
  if (len < DNS_HEADER_BYTES) {
    client->stats.mismatched++;
    return;
  }
  uint16_t id = dns_message_id(wire);
  struct dns_query *query = client->by_id[id];
  if (query == NULL) {
    client->stats.mismatched++;
    return;
  }
  if (query->phase == DNS_PHASE_UDP && query->id == id) {
    if (query->udp_socket != socket_index || !same_sender(from, &client->config.resolvers[query->resolver]) ||
        !dns_message_reply_matches(wire, len, query->qname, query->qname_len, query->qtype)) {
      client->stats.mismatched++;
      return;
    }
    if (flags & MSG_TRUNC) {
      dns_client_reply_malformed(query);
      return;
    }
    dns_client_handle_reply(query, wire, len, false);
    return;
  }
  /* A late reply to an attempt that timed out but still listens. */
  for (unsigned i = 0; i < query->earlier_count; i++) {
    const struct dns_earlier_attempt *earlier = &query->earlier[i];
    if (earlier->id != id) {
      continue;
    }
    if (earlier->udp_socket != socket_index || !same_sender(from, &client->config.resolvers[earlier->resolver]) ||
        !dns_message_reply_matches(wire, len, query->qname, query->qname_len, query->qtype) || (flags & MSG_TRUNC)) {
      break;
    }
    dns_client_handle_late_reply(query, i, wire, len);
    return;
  }
  client->stats.mismatched++;
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct dns_udp_socket *sock = arg;
  struct dns_client *client = sock->client;
  int socket_index = (int)(sock - client->udp);
  /* Set up once (dns_transport_open); recvmmsg writes only the lengths and
   * flags, and a datagram is handled before the next call reuses its buffer. */
  struct mmsghdr *messages = client->batches->recv_messages;
  const struct iovec *vectors = client->batches->recv_vectors;
  const struct sockaddr_storage *senders = client->batches->recv_senders;
  dns_client_enter(client);
  for (unsigned batch = 0; batch < DNS_RECV_BATCHES_PER_WAKEUP && !client->dying; batch++) {
    for (unsigned i = 0; i < DNS_RECV_BATCH; i++) {
      messages[i].msg_hdr.msg_namelen = sizeof senders[i];
    }
    int received = recvmmsg(fd, messages, DNS_RECV_BATCH, MSG_DONTWAIT, NULL);
    if (received <= 0) {
      break; /* EAGAIN, or an ICMP error queued on the socket: nothing to do */
    }
    for (int i = 0; i < received && !client->dying; i++) {
      udp_datagram(client, socket_index, vectors[i].iov_base, messages[i].msg_len, &senders[i],
                   messages[i].msg_hdr.msg_flags);
    }
    if ((unsigned)received < DNS_RECV_BATCH) {
      break;
    }
  }
  dns_client_leave(client);
}

/* ---- TCP -------------------------------------------------------------- */

static void tcp_cb(evutil_socket_t fd, short what, void *arg);

int dns_transport_start_tcp(struct dns_query *query, const uint8_t *wire, size_t len) {
  struct dns_client *client = query->client;
  const struct sockaddr_storage *to = &client->config.resolvers[query->resolver];
  int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (connect(fd, (const struct sockaddr *)to, client->config.resolver_lengths[query->resolver]) != 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  struct dns_tcp *tcp = calloc(1, sizeof *tcp);
  if (tcp == NULL) {
    close(fd);
    return -1;
  }
  tcp->fd = fd;
  tcp->out[0] = (uint8_t)(len >> 8);
  tcp->out[1] = (uint8_t)len;
  memcpy(tcp->out + 2, wire, len);
  tcp->out_len = len + 2;
  tcp->event = event_new(client->base, fd, EV_WRITE | EV_PERSIST, tcp_cb, query);
  if (tcp->event == NULL || event_add(tcp->event, NULL) != 0) {
    if (tcp->event != NULL) {
      event_free(tcp->event);
    }
    free(tcp);
    close(fd);
    return -1;
  }
  query->tcp = tcp;
  query->used_tcp = true;
  return 0;
}

void dns_transport_close_tcp(struct dns_query *query) {
  struct dns_tcp *tcp = query->tcp;
  if (tcp == NULL) {
    return;
  }
  if (tcp->event != NULL) {
    event_free(tcp->event);
  }
  close(tcp->fd);
  free(tcp->in);
  free(tcp);
  query->tcp = NULL;
}

/* Returns 1 when the whole reply is in, 0 to wait, -1 on error or EOF. */
static int tcp_read(struct dns_tcp *tcp) {
  for (;;) {
    uint8_t *target;
    size_t want;
    if (tcp->length_done < 2) {
      target = tcp->length_bytes + tcp->length_done;
      want = 2 - tcp->length_done;
    } else {
      target = tcp->in + tcp->in_done;
      want = tcp->in_len - tcp->in_done;
    }
    ssize_t n = recv(tcp->fd, target, want, 0);
    if (n == 0) {
      return -1;
    }
    if (n < 0) {
      return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    if (tcp->length_done < 2) {
      tcp->length_done += (size_t)n;
      if (tcp->length_done == 2) {
        tcp->in_len = (size_t)((tcp->length_bytes[0] << 8) | tcp->length_bytes[1]);
        if (tcp->in_len < DNS_HEADER_BYTES) {
          return -1;
        }
        tcp->in = malloc(tcp->in_len); /* at most 65535 bytes */
        if (tcp->in == NULL) {
          return -1;
        }
      }
    } else {
      tcp->in_done += (size_t)n;
      if (tcp->in_done == tcp->in_len) {
        return 1;
      }
    }
  }
}

static void tcp_cb(evutil_socket_t fd, short what, void *arg) {
  struct dns_query *query = arg;
  struct dns_client *client = query->client;
  struct dns_tcp *tcp = query->tcp;
  dns_client_enter(client);
  if (what & EV_WRITE) {
    ssize_t n = send(fd, tcp->out + tcp->out_done, tcp->out_len - tcp->out_done, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      dns_client_tcp_failed(query);
    } else {
      tcp->out_done += n > 0 ? (size_t)n : 0;
      if (tcp->out_done == tcp->out_len) {
        event_free(tcp->event);
        tcp->event = event_new(client->base, fd, EV_READ | EV_PERSIST, tcp_cb, query);
        if (tcp->event == NULL || event_add(tcp->event, NULL) != 0) {
          dns_client_tcp_failed(query);
        }
      }
    }
  } else if (what & EV_READ) {
    int status = tcp_read(tcp);
    if (status < 0) {
      dns_client_tcp_failed(query);
    } else if (status > 0) {
      uint8_t *body = tcp->in;
      size_t len = tcp->in_len;
      tcp->in = NULL;
      if (dns_message_id(body) != query->id ||
          !dns_message_reply_matches(body, len, query->qname, query->qname_len, query->qtype)) {
        client->stats.mismatched++;
        dns_client_tcp_failed(query);
      } else {
        dns_client_handle_reply(query, body, len, true);
      }
      free(body);
    }
  }
  dns_client_leave(client);
}
