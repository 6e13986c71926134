/* danescan-labsmtp: the lab's SMTP server for probe tests and benchmarks.
 * One process plays one behaviour (--mode) on any number of listening
 * addresses: a normal STARTTLS server with RSA and/or ECDSA certificate
 * chains, or one of the misbehaving servers a scanner must survive (garbage,
 * silence, a huge banner, an endless multi-line greeting or EHLO reply, a
 * slow drip, 554 or 421 greetings, 454 to STARTTLS, no STARTTLS, TLS alerts
 * or garbage after STARTTLS, disconnects, a greeting or EHLO reply dripped
 * byte by byte, silence after STARTTLS/QUIT or inside the TLS handshake).
 * It records what clients do (early talking, EHLO name, SNI, any
 * MAIL/RCPT/DATA) in a log file for tests to assert on, and on every
 * connect (with the listening address reached, "to=ADDR") and close the
 * connections open at that moment ("active=N", "max_active=N") with a
 * monotonic time stamp ("t=MS"), so tests can check a client's concurrency
 * and gaps from the server's side.
 *
 * Usage: danescan-labsmtp --mode MODE --listen ADDR:PORT [--listen ...]
 *          [--cert CHAIN.pem --key KEY.pem]... [--port-file FILE] [--log FILE]
 *          [--greeting-delay-ms N] [--drip-ms N] [--max-tls 1.2|1.3] [--name HOST]
 *          [--tls-reply-delay-ms N]  (delays the EHLO and QUIT replies inside
 *          TLS: the benchmark holds that many TLS sessions open at once)
 * Drip modes send one byte every --drip-ms (default 200): slow-drip an endless
 * greeting, drip-greeting a complete one (then behaves normally), drip-ehlo
 * a normal greeting and a dripped EHLO reply. starttls-silent never answers
 * STARTTLS, tls-silent answers 220 and then never speaks TLS, quit-silent
 * completes TLS and never answers QUIT (all keep the connection open).
 * starttls-inject sends a plaintext "221" right behind its 220 to STARTTLS
 * and, like quit-silent, never answers QUIT inside TLS. reset-after-ehlo
 * greets and answers EHLO with a TCP RST (SO_LINGER 0).
 * --first-mode MODE: the first connection to each listening address (the
 * first --first-count N) plays MODE instead of --mode, later ones --mode: a
 * server that fails once and then works (a scanner's retry).
 * --first-skip K: the first K connections play --mode, the next --first-count
 * play --first-mode (a server whose second session fails: a scanner's
 * second key-type session).
 * PORT 0 picks a free port; --port-file then receives "ADDR PORT" lines
 * (written to FILE.tmp and renamed once every listener is up). IPv6 as
 * [::1]:PORT. Test tool: exits on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_LISTENERS 4096
#define MAX_CERTS 4
#define MAX_LINE_BYTES 4096
#define HUGE_BANNER_BYTES (1024 * 1024)

enum mode {
  MODE_NORMAL,
  MODE_NO_STARTTLS,
  MODE_STARTTLS_454,
  MODE_GREETING_554,
  MODE_GREETING_421,
  MODE_SILENT,
  MODE_GARBAGE,
  MODE_HUGE_BANNER,
  MODE_ENDLESS_MULTILINE,
  MODE_SLOW_DRIP,
  MODE_DISCONNECT,
  MODE_DISCONNECT_AFTER_EHLO,
  MODE_TLS_ALERT,
  MODE_TLS_GARBAGE,
  MODE_TLS_CLOSE,
  MODE_EHLO_554,
  MODE_PIPELINED_GARBAGE,
  MODE_DRIP_GREETING,
  MODE_DRIP_EHLO,
  MODE_STARTTLS_SILENT,
  MODE_TLS_SILENT,
  MODE_QUIT_SILENT,
  MODE_ENDLESS_EHLO,
  MODE_STARTTLS_INJECT,
  MODE_RESET_AFTER_EHLO,
  MODE_COUNT
};
static const char *const mode_names[MODE_COUNT] = {
    "normal",           "no-starttls",       "starttls-454",
    "greeting-554",     "greeting-421",      "silent",
    "garbage",          "huge-banner",       "endless-multiline",
    "slow-drip",        "disconnect",        "disconnect-after-ehlo",
    "tls-alert",        "tls-garbage",       "tls-close",
    "ehlo-554",         "pipelined-garbage", "drip-greeting",
    "drip-ehlo",        "starttls-silent",   "tls-silent",
    "quit-silent",      "endless-ehlo",      "starttls-inject",
    "reset-after-ehlo",
};

struct server {
  struct event_base *base;
  enum mode mode;
  enum mode first_mode;      /* --first-mode: played by the first first_count connections to each address */
  unsigned long first_count; /* 0: every connection plays mode */
  unsigned long first_skip;  /* --first-skip: connections before the first_count ones */
  SSL_CTX *ssl_ctx;
  FILE *log;
  const char *name;
  unsigned greeting_delay_ms;
  unsigned drip_ms;
  unsigned tls_reply_delay_ms; /* benchmarks: hold TLS sessions open this long */
  unsigned long connections;
  unsigned long active, max_active; /* connections open now / at most so far */
};

enum conn_state { CONN_PRE_GREETING, CONN_COMMANDS, CONN_SWITCHING, CONN_TLS, CONN_CLOSING, CONN_ALERTING };

/* One listening address: its own count of connections (--first-mode). */
struct listener_ctx {
  struct server *server;
  unsigned long connections;
};

struct conn {
  struct server *server;
  enum mode mode; /* of this connection: --mode, or --first-mode for an address's first ones */
  struct bufferevent *bev;
  evutil_socket_t fd;
  bool plain_owns_fd;
  enum conn_state state;
  bool tls;
  enum { DELAYED_NONE, DELAYED_EHLO, DELAYED_QUIT } delayed; /* reply the timer sends */
  struct event *timer;
  unsigned long counter;
  const char *endless_code; /* endless multi-line reply being written: "220", "250" */
  bool half_close;          /* shutdown(SHUT_WR) when the output is written */
  const char *drip;         /* drip modes: text being sent one byte per tick */
  size_t drip_len;
  char drip_text[512];
  char peer[64];
};

static void log_line(struct server *server, const struct conn *conn, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void log_line(struct server *server, const struct conn *conn, const char *format, ...) {
  if (server->log == NULL) return;
  va_list args;
  va_start(args, format);
  fprintf(server->log, "%s ", conn != NULL ? conn->peer : "-");
  vfprintf(server->log, format, args);
  fputc('\n', server->log);
  fflush(server->log);
  va_end(args);
}

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_free(struct conn *conn) {
  struct server *server = conn->server;
  server->active--;
  log_line(server, conn, "close active=%lu t=%lld", server->active, monotonic_ms());
  if (conn->timer != NULL) event_free(conn->timer);
  if (conn->bev != NULL) {
    bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
    bufferevent_free(conn->bev);
  }
  if (conn->plain_owns_fd && conn->fd >= 0) evutil_closesocket(conn->fd);
  free(conn);
}

static void send_text(struct conn *conn, const char *text) {
  bufferevent_write(conn->bev, text, strlen(text));
}

/* Closes once the output has been written. */
static void close_after_flush(struct conn *conn);

static void on_write_drained(struct bufferevent *bev, void *arg);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short events, void *arg);

static void close_after_flush(struct conn *conn) {
  conn->state = CONN_CLOSING;
  if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
    conn_free(conn);
    return;
  }
  bufferevent_disable(conn->bev, EV_READ);
  bufferevent_setcb(conn->bev, NULL, on_write_drained, on_event, conn);
}

static void write_more_multiline(struct conn *conn) {
  char line[128];
  for (int i = 0; i < 64; i++) {
    snprintf(line, sizeof line, "%s-endless reply line %lu of a hostile server\r\n", conn->endless_code,
             conn->counter++);
    send_text(conn, line);
  }
}

static void start_tls(struct conn *conn) {
  struct server *server = conn->server;
  bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
  bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
  bufferevent_free(conn->bev);
  conn->bev = NULL;
  if (conn->mode == MODE_TLS_ALERT) {
    /* answers the ClientHello with an alert (on_read): sent before it, the
     * alert would be discarded by a client as bytes between the 220 and its
     * handshake */
    conn->bev = bufferevent_socket_new(server->base, conn->fd, 0);
    bufferevent_setcb(conn->bev, on_read, NULL, on_event, conn);
    bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
    conn->state = CONN_ALERTING;
    return;
  }
  if (conn->mode == MODE_TLS_GARBAGE) {
    static const char garbage[] = "this is not TLS at all\r\n\x01\x02\x03\x04\x05\x06\x07\x08";
    ssize_t ignored = write(conn->fd, garbage, sizeof garbage - 1);
    (void)ignored;
    log_line(server, conn, "tls-garbage-sent");
    /* leave the connection open so the client must notice by itself */
    conn->bev = bufferevent_socket_new(server->base, conn->fd, 0);
    bufferevent_setcb(conn->bev, on_read, NULL, on_event, conn);
    bufferevent_enable(conn->bev, EV_READ);
    conn->state = CONN_CLOSING;
    return;
  }
  if (conn->mode == MODE_TLS_CLOSE) {
    log_line(server, conn, "tls-close");
    conn_free(conn);
    return;
  }
  if (conn->mode == MODE_TLS_SILENT) {
    /* read (the ClientHello) and never answer: the client's handshake timeout */
    log_line(server, conn, "tls-silent");
    conn->bev = bufferevent_socket_new(server->base, conn->fd, 0);
    bufferevent_setcb(conn->bev, on_read, NULL, on_event, conn);
    bufferevent_enable(conn->bev, EV_READ);
    conn->state = CONN_CLOSING;
    return;
  }
  SSL *ssl = SSL_new(server->ssl_ctx);
  conn->bev = bufferevent_openssl_socket_new(server->base, conn->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
  if (conn->bev == NULL) {
    SSL_free(ssl);
    conn_free(conn);
    return;
  }
  conn->plain_owns_fd = false;
  conn->tls = true;
  conn->state = CONN_TLS;
  bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
  bufferevent_setcb(conn->bev, on_read, NULL, on_event, conn);
  bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

static void on_write_drained(struct bufferevent *bev, void *arg) {
  (void)bev;
  struct conn *conn = arg;
  if (conn->state == CONN_CLOSING && conn->half_close) {
    conn->half_close = false;
    shutdown(conn->fd, SHUT_WR); /* on_event frees conn at the client's EOF */
  } else if (conn->state == CONN_CLOSING) {
    conn_free(conn);
  } else if (conn->state == CONN_SWITCHING) {
    start_tls(conn);
  } else if (conn->endless_code != NULL && conn->state == CONN_COMMANDS) {
    write_more_multiline(conn);
  }
}

static void ehlo_reply(struct conn *conn) {
  struct server *server = conn->server;
  char text[512];
  bool offer = !conn->tls && conn->mode != MODE_NO_STARTTLS;
  snprintf(text, sizeof text, "250-%s hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n%s250 8BITMIME\r\n", server->name,
           offer ? "250-STARTTLS\r\n" : "");
  send_text(conn, text);
  if (conn->mode == MODE_PIPELINED_GARBAGE) {
    /* unsolicited lines after the reply: must not pass for the next reply */
    send_text(conn, "220 this is not the reply to your next command\r\n");
  }
}

static void arm_timer_ms(struct conn *conn, unsigned ms) {
  struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
  evtimer_add(conn->timer, &tv);
}

/* Drip modes: text goes out one byte per --drip-ms tick (on_timer). */
static void start_drip(struct conn *conn, const char *text) {
  snprintf(conn->drip_text, sizeof conn->drip_text, "%s", text);
  conn->drip = conn->drip_text;
  conn->drip_len = strlen(conn->drip_text);
  conn->counter = 0;
  arm_timer_ms(conn, conn->server->drip_ms);
}

/* --tls-reply-delay-ms: the timer sends the reply to this command later. */
static void delay_reply(struct conn *conn, int which) {
  unsigned delay = conn->server->tls_reply_delay_ms;
  struct timeval tv = {delay / 1000, (suseconds_t)(delay % 1000) * 1000};
  conn->delayed = which;
  evtimer_add(conn->timer, &tv);
}

/* Returns true to keep reading lines; false when conn is gone or switching. */
static bool handle_command(struct conn *conn, char *line) {
  struct server *server = conn->server;
  char verb[16] = "";
  size_t n = strcspn(line, " ");
  if (n >= sizeof verb) n = sizeof verb - 1;
  memcpy(verb, line, n);
  verb[n] = '\0';
  log_line(server, conn, "cmd %s%s t=%lld", verb, conn->tls ? " tls" : "", monotonic_ms());
  if (strcasecmp(verb, "EHLO") == 0 || strcasecmp(verb, "HELO") == 0) {
    log_line(server, conn, "ehlo %s", line[n] == ' ' ? line + n + 1 : "");
    if (conn->mode == MODE_DISCONNECT_AFTER_EHLO) {
      conn_free(conn);
      return false;
    }
    if (conn->mode == MODE_RESET_AFTER_EHLO) {
      /* SO_LINGER 0: close() sends a RST instead of a FIN */
      struct linger linger = {1, 0};
      setsockopt(conn->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
      log_line(server, conn, "reset");
      conn_free(conn);
      return false;
    }
    if (conn->mode == MODE_EHLO_554) {
      send_text(conn, "554 5.7.1 go away\r\n");
      return true;
    }
    if (conn->mode == MODE_ENDLESS_EHLO && strcasecmp(verb, "EHLO") == 0) {
      conn->endless_code = "250";
      bufferevent_setcb(conn->bev, on_read, on_write_drained, on_event, conn);
      write_more_multiline(conn);
    } else if (conn->mode == MODE_DRIP_EHLO && !conn->tls && strcasecmp(verb, "EHLO") == 0) {
      char text[512];
      snprintf(text, sizeof text, "250-%s hello\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n", server->name);
      start_drip(conn, text);
    } else if (conn->tls && server->tls_reply_delay_ms > 0 && strcasecmp(verb, "EHLO") == 0) {
      delay_reply(conn, DELAYED_EHLO);
    } else if (strcasecmp(verb, "HELO") == 0) {
      send_text(conn, "250 hello\r\n");
    } else {
      ehlo_reply(conn);
    }
  } else if (strcasecmp(verb, "STARTTLS") == 0 && !conn->tls && conn->mode != MODE_NO_STARTTLS) {
    if (conn->mode == MODE_STARTTLS_454) {
      send_text(conn, "454 4.7.0 TLS not available due to local problem\r\n");
      return true;
    }
    if (conn->mode == MODE_STARTTLS_SILENT) {
      log_line(server, conn, "starttls-ignored");
      return true;
    }
    if (conn->mode == MODE_STARTTLS_INJECT) {
      /* plaintext after the 220, in the same segment: a client that kept it
       * would read it inside TLS as the reply to its next command */
      send_text(conn, "220 2.0.0 Ready to start TLS\r\n221 2.0.0 injected before TLS\r\n");
    } else {
      send_text(conn, "220 2.0.0 Ready to start TLS\r\n");
    }
    conn->state = CONN_SWITCHING;
    bufferevent_disable(conn->bev, EV_READ);
    bufferevent_setcb(conn->bev, NULL, on_write_drained, on_event, conn);
    return false;
  } else if (strcasecmp(verb, "QUIT") == 0 && conn->tls &&
             (conn->mode == MODE_QUIT_SILENT || conn->mode == MODE_STARTTLS_INJECT)) {
    log_line(server, conn, "quit-ignored");
    return true;
  } else if (strcasecmp(verb, "QUIT") == 0 && conn->tls && server->tls_reply_delay_ms > 0) {
    delay_reply(conn, DELAYED_QUIT);
    return false;
  } else if (strcasecmp(verb, "QUIT") == 0) {
    send_text(conn, "221 2.0.0 Bye\r\n");
    close_after_flush(conn);
    return false;
  } else if (strcasecmp(verb, "MAIL") == 0 || strcasecmp(verb, "RCPT") == 0 || strcasecmp(verb, "DATA") == 0) {
    log_line(server, conn, "forbidden %s", verb);
    send_text(conn, "502 5.5.1 not in the lab\r\n");
  } else if (strcasecmp(verb, "NOOP") == 0 || strcasecmp(verb, "RSET") == 0) {
    send_text(conn, "250 2.0.0 Ok\r\n");
  } else {
    send_text(conn, "502 5.5.2 Error: command not recognized\r\n");
  }
  return true;
}

static void on_read(struct bufferevent *bev, void *arg) {
  struct conn *conn = arg;
  struct evbuffer *input = bufferevent_get_input(bev);
  if (conn->state == CONN_PRE_GREETING) {
    log_line(conn->server, conn, "early-talker");
    evbuffer_drain(input, evbuffer_get_length(input));
    return;
  }
  if (conn->state == CONN_ALERTING) {
    /* A TLS 1.2 fatal handshake_failure alert record */
    static const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    evbuffer_drain(input, evbuffer_get_length(input));
    bufferevent_write(bev, alert, sizeof alert);
    log_line(conn->server, conn, "tls-alert-sent");
    /* Half-close once written and read until the client closes: a close()
     * with unread client bytes would send a RST, and a RST makes the
     * client's kernel drop the alert before the client reads it. */
    conn->state = CONN_CLOSING;
    conn->half_close = true;
    bufferevent_setcb(bev, on_read, on_write_drained, on_event, conn);
    return;
  }
  if (conn->state == CONN_CLOSING || conn->mode == MODE_SILENT) {
    evbuffer_drain(input, evbuffer_get_length(input));
    return;
  }
  for (;;) {
    size_t len = 0;
    char *line = evbuffer_readln(input, &len, EVBUFFER_EOL_CRLF);
    if (line == NULL) {
      if (evbuffer_get_length(input) > MAX_LINE_BYTES) {
        conn_free(conn);
      }
      return;
    }
    bool more = handle_command(conn, line);
    free(line);
    if (!more) return; /* conn gone, closing or switching to TLS */
  }
}

static void on_event(struct bufferevent *bev, short events, void *arg) {
  (void)bev;
  struct conn *conn = arg;
  if (events & BEV_EVENT_CONNECTED) {
    if (conn->tls) {
      SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
      const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      log_line(conn->server, conn, "tls-ok %s %s sni=%s", SSL_get_version(ssl),
               SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)), sni != NULL ? sni : "-");
    }
    return;
  }
  if (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
    if (conn->tls && (events & BEV_EVENT_ERROR)) {
      unsigned long code = bufferevent_get_openssl_error(conn->bev);
      char text[160] = "";
      if (code != 0) ERR_error_string_n(code, text, sizeof text);
      log_line(conn->server, conn, "tls-error %s", text);
    }
    conn_free(conn);
  }
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct conn *conn = arg;
  struct server *server = conn->server;
  if (conn->delayed == DELAYED_EHLO) {
    conn->delayed = DELAYED_NONE;
    ehlo_reply(conn);
    return;
  }
  if (conn->delayed == DELAYED_QUIT) {
    conn->delayed = DELAYED_NONE;
    send_text(conn, "221 2.0.0 Bye\r\n");
    close_after_flush(conn);
    return;
  }
  if (conn->mode == MODE_SLOW_DRIP) {
    static const char drip[] = "220-slow drip greeting that never ends\r\n";
    char byte = drip[conn->counter++ % (sizeof drip - 1)];
    bufferevent_write(conn->bev, &byte, 1);
    arm_timer_ms(conn, server->drip_ms);
    return;
  }
  if (conn->drip != NULL) {
    bufferevent_write(conn->bev, conn->drip + conn->counter++, 1);
    if (conn->counter < conn->drip_len) {
      arm_timer_ms(conn, server->drip_ms);
    } else {
      conn->drip = NULL;
      log_line(server, conn, "drip-done");
    }
    return;
  }
  /* greeting after the delay */
  conn->state = CONN_COMMANDS;
  char text[256];
  switch (conn->mode) {
  case MODE_GREETING_554:
    send_text(conn, "554 5.3.2 lab server refuses service\r\n");
    break;
  case MODE_GREETING_421:
    send_text(conn, "421 4.3.2 lab server busy, try later\r\n");
    close_after_flush(conn);
    return;
  case MODE_GARBAGE:
    send_text(conn, "\x16\x03\x01 garbage instead of a greeting \xff\xfe\r\nmore garbage\r\n");
    break;
  case MODE_HUGE_BANNER: {
    send_text(conn, "220 ");
    char *filler = malloc(HUGE_BANNER_BYTES);
    if (filler != NULL) {
      memset(filler, 'x', HUGE_BANNER_BYTES);
      bufferevent_write(conn->bev, filler, HUGE_BANNER_BYTES);
      free(filler);
    }
    send_text(conn, "\r\n");
    break;
  }
  case MODE_ENDLESS_MULTILINE:
    conn->endless_code = "220";
    bufferevent_setcb(conn->bev, on_read, on_write_drained, on_event, conn);
    write_more_multiline(conn);
    break;
  case MODE_DRIP_GREETING:
    snprintf(text, sizeof text, "220 %s ESMTP dripped\r\n", server->name);
    start_drip(conn, text);
    break;
  default:
    snprintf(text, sizeof text, "220 %s ESMTP danescan lab\r\n", server->name);
    send_text(conn, text);
    break;
  }
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *peer, int peer_len,
                      void *arg) {
  (void)listener;
  (void)peer_len;
  struct listener_ctx *ctx = arg;
  struct server *server = ctx->server;
  server->connections++;
  ctx->connections++;
  struct conn *conn = calloc(1, sizeof *conn);
  if (conn == NULL) {
    evutil_closesocket(fd);
    return;
  }
  conn->mode = ctx->connections > server->first_skip && ctx->connections <= server->first_skip + server->first_count
      ? server->first_mode
      : server->mode;
  server->active++;
  if (server->active > server->max_active) server->max_active = server->active;
  conn->server = server;
  conn->fd = fd;
  conn->plain_owns_fd = true;
  char host[INET6_ADDRSTRLEN] = "?";
  if (peer->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)peer)->sin_addr, host, sizeof host);
    snprintf(conn->peer, sizeof conn->peer, "%s:%u", host, ntohs(((struct sockaddr_in *)peer)->sin_port));
  } else {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)peer)->sin6_addr, host, sizeof host);
    snprintf(conn->peer, sizeof conn->peer, "[%s]:%u", host, ntohs(((struct sockaddr_in6 *)peer)->sin6_port));
  }
  /* the listening address the client reached (one process may serve many) */
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  char to[INET6_ADDRSTRLEN] = "?";
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) {
    if (local.ss_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)&local)->sin_addr, to, sizeof to);
    } else {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&local)->sin6_addr, to, sizeof to);
    }
  }
  log_line(server, conn, "connect mode=%s to=%s active=%lu max_active=%lu t=%lld", mode_names[conn->mode], to,
           server->active, server->max_active, monotonic_ms());
  if (conn->mode == MODE_DISCONNECT) {
    log_line(server, conn, "disconnect");
    evutil_closesocket(fd);
    conn->fd = -1;
    conn_free(conn);
    return;
  }
  conn->bev = bufferevent_socket_new(server->base, fd, 0);
  conn->timer = evtimer_new(server->base, on_timer, conn);
  if (conn->bev == NULL || conn->timer == NULL) {
    conn_free(conn);
    return;
  }
  bufferevent_setcb(conn->bev, on_read, NULL, on_event, conn);
  bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
  if (conn->mode == MODE_SILENT) {
    conn->state = CONN_COMMANDS;
    return;
  }
  unsigned delay = conn->mode == MODE_SLOW_DRIP ? server->drip_ms : server->greeting_delay_ms;
  struct timeval tv = {delay / 1000, (suseconds_t)(delay % 1000) * 1000};
  evtimer_add(conn->timer, &tv);
}

static int parse_listen(const char *text, struct sockaddr_storage *out, int *out_len) {
  char host[128];
  const char *colon;
  memset(out, 0, sizeof *out);
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':') return -1;
    size_t n = (size_t)(close - text - 1);
    if (n >= sizeof host) return -1;
    memcpy(host, text + 1, n);
    host[n] = '\0';
    colon = close + 1;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return -1;
    in6->sin6_port = htons((uint16_t)atoi(colon + 1));
    *out_len = sizeof *in6;
    return 0;
  }
  colon = strrchr(text, ':');
  if (colon == NULL || (size_t)(colon - text) >= sizeof host) return -1;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  struct sockaddr_in *in = (struct sockaddr_in *)out;
  in->sin_family = AF_INET;
  if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return -1;
  in->sin_port = htons((uint16_t)atoi(colon + 1));
  *out_len = sizeof *in;
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: danescan-labsmtp --mode MODE --listen ADDR:PORT [...] [--cert F --key F]... "
          "[--port-file F] [--log F] [--greeting-delay-ms N] [--drip-ms N] [--max-tls 1.2|1.3] "
          "[--name HOST] [--tls-reply-delay-ms N] [--first-mode MODE [--first-count N] [--first-skip K]]\nmodes:");
  for (int i = 0; i < MODE_COUNT; i++) fprintf(stderr, " %s", mode_names[i]);
  fputc('\n', stderr);
  exit(2);
}

static void on_signal(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  event_base_loopbreak(arg);
}

int main(int argc, char **argv) {
  struct server server;
  memset(&server, 0, sizeof server);
  server.mode = MODE_NORMAL;
  server.name = "mx.lab.example";
  server.drip_ms = 200;
  const char *listens[MAX_LISTENERS];
  size_t listen_count = 0;
  const char *certs[MAX_CERTS], *keys[MAX_CERTS];
  size_t cert_count = 0, key_count = 0;
  const char *port_file = NULL, *log_file = NULL, *max_tls = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (value == NULL) usage();
    i++;
    if (strcmp(arg, "--mode") == 0 || strcmp(arg, "--first-mode") == 0) {
      int found = -1;
      for (int m = 0; m < MODE_COUNT; m++) {
        if (strcmp(value, mode_names[m]) == 0) found = m;
      }
      if (found < 0) usage();
      if (strcmp(arg, "--mode") == 0) {
        server.mode = (enum mode)found;
      } else {
        server.first_mode = (enum mode)found;
        if (server.first_count == 0) server.first_count = 1;
      }
    } else if (strcmp(arg, "--first-skip") == 0) {
      server.first_skip = strtoul(value, NULL, 10);
    } else if (strcmp(arg, "--first-count") == 0) {
      server.first_count = strtoul(value, NULL, 10);
    } else if (strcmp(arg, "--listen") == 0 && listen_count < MAX_LISTENERS) {
      listens[listen_count++] = value;
    } else if (strcmp(arg, "--cert") == 0 && cert_count < MAX_CERTS) {
      certs[cert_count++] = value;
    } else if (strcmp(arg, "--key") == 0 && key_count < MAX_CERTS) {
      keys[key_count++] = value;
    } else if (strcmp(arg, "--port-file") == 0) {
      port_file = value;
    } else if (strcmp(arg, "--log") == 0) {
      log_file = value;
    } else if (strcmp(arg, "--greeting-delay-ms") == 0) {
      server.greeting_delay_ms = (unsigned)atoi(value);
    } else if (strcmp(arg, "--drip-ms") == 0) {
      server.drip_ms = (unsigned)atoi(value);
    } else if (strcmp(arg, "--max-tls") == 0) {
      max_tls = value;
    } else if (strcmp(arg, "--tls-reply-delay-ms") == 0) {
      server.tls_reply_delay_ms = (unsigned)atoi(value);
    } else if (strcmp(arg, "--name") == 0) {
      server.name = value;
    } else {
      usage();
    }
  }
  if (listen_count == 0 || cert_count != key_count) usage();
  signal(SIGPIPE, SIG_IGN);

  server.ssl_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_security_level(server.ssl_ctx, 0);
  SSL_CTX_set_min_proto_version(server.ssl_ctx, TLS1_2_VERSION);
  if (max_tls != NULL && strcmp(max_tls, "1.2") == 0) {
    SSL_CTX_set_max_proto_version(server.ssl_ctx, TLS1_2_VERSION);
  }
  for (size_t i = 0; i < cert_count; i++) {
    if (SSL_CTX_use_certificate_chain_file(server.ssl_ctx, certs[i]) != 1 ||
        SSL_CTX_use_PrivateKey_file(server.ssl_ctx, keys[i], SSL_FILETYPE_PEM) != 1) {
      fprintf(stderr, "labsmtp: cannot load %s / %s\n", certs[i], keys[i]);
      ERR_print_errors_fp(stderr);
      return 1;
    }
  }
  if (log_file != NULL) {
    server.log = fopen(log_file, "a");
    if (server.log == NULL) {
      perror(log_file);
      return 1;
    }
  }
  server.base = event_base_new();
  FILE *ports = NULL;
  char tmp_name[4096];
  if (port_file != NULL) {
    snprintf(tmp_name, sizeof tmp_name, "%s.tmp", port_file);
    ports = fopen(tmp_name, "w");
    if (ports == NULL) {
      perror(tmp_name);
      return 1;
    }
  }
  struct evconnlistener **listeners = calloc(listen_count, sizeof *listeners);
  struct listener_ctx *contexts = calloc(listen_count, sizeof *contexts);
  for (size_t i = 0; i < listen_count; i++) {
    struct sockaddr_storage address;
    int address_len;
    if (parse_listen(listens[i], &address, &address_len) != 0) {
      fprintf(stderr, "labsmtp: bad listen address %s\n", listens[i]);
      return 2;
    }
    contexts[i].server = &server;
    listeners[i] = evconnlistener_new_bind(server.base, on_accept, &contexts[i],
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096, (struct sockaddr *)&address,
                                           address_len);
    if (listeners[i] == NULL) {
      fprintf(stderr, "labsmtp: cannot listen on %s: %s\n", listens[i], strerror(errno));
      return 1;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    getsockname(evconnlistener_get_fd(listeners[i]), (struct sockaddr *)&bound, &bound_len);
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (bound.ss_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, host, sizeof host);
      port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    } else {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, host, sizeof host);
      port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    if (ports != NULL) fprintf(ports, "%s %u\n", host, port);
  }
  if (ports != NULL) {
    fclose(ports);
    rename(tmp_name, port_file);
  }
  struct event *sigterm = evsignal_new(server.base, SIGTERM, on_signal, server.base);
  struct event *sigint = evsignal_new(server.base, SIGINT, on_signal, server.base);
  event_add(sigterm, NULL);
  event_add(sigint, NULL);
  event_base_dispatch(server.base);
  for (size_t i = 0; i < listen_count; i++) evconnlistener_free(listeners[i]);
  free(listeners);
  free(contexts);
  event_free(sigterm);
  event_free(sigint);
  event_base_free(server.base);
  SSL_CTX_free(server.ssl_ctx);
  if (server.log != NULL) fclose(server.log);
  return 0;
}
