/* The SMTP client state machine of a probe (RFC 5321, RFC 3207). States
 * follow the steps of the conversation; each arms the session timer with its
 * own timeout, capped by the whole-session deadline. The session ends
 * through finish(), which closes the connection at once and delivers the
 * callback from the timer on the next loop pass, so no handler ever runs on
 * a freed session and the callback never runs inside smtp_session_start.
 *
 * After a 220 reply to STARTTLS the plain bufferevent is freed (it does not
 * own the socket) and a bufferevent_openssl takes the socket over. Bytes the
 * server sent after that 220 and before our ClientHello are discarded, never
 * fed to TLS or read as a reply: they are either garbage or an injection
 * attempt (the CVE-2011-0411 class of STARTTLS bugs). */
#include "smtp/smtp_session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

struct smtp_session {
  struct smtp_session_config config;
  smtp_session_done_cb done_cb;
  void *arg;
  enum smtp_step state;
  bool result_set;    /* outcome.result decided; later events do not change it */
  evutil_socket_t fd; /* owned while the session is plain text */
  struct bufferevent *bev;
  struct tls_verify_log verify_log;
  struct event *timer;
  struct smtp_reply reply;
  int64_t start_ms, step_start_ms;
  bool step_capped_by_deadline; /* the step's timer is the session deadline */
  size_t counted_bytes;         /* bytes in the input buffer already counted in bytes_read */
  struct smtp_session_outcome outcome;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int32_t step_elapsed_ms(const struct smtp_session *s) {
  int64_t elapsed = now_ms() - s->step_start_ms;
  return elapsed > INT32_MAX ? INT32_MAX : (int32_t)elapsed;
}

static void set_result(struct smtp_session *s, enum probe_result result, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void set_result(struct smtp_session *s, enum probe_result result, const char *format, ...) {
  if (s->result_set) return;
  s->result_set = true;
  s->outcome.result = result;
  va_list args;
  va_start(args, format);
  vsnprintf(s->outcome.reason, sizeof s->outcome.reason, format, args);
  va_end(args);
}

/* Arms the timer for the current step: its timeout or what is left of the
 * session deadline, whichever is shorter. */
static void arm_step(struct smtp_session *s, enum smtp_step step, uint32_t timeout_ms) {
  s->state = step;
  s->outcome.last_step = step;
  s->step_start_ms = now_ms();
  int64_t left = s->config.deadline_ms - (s->step_start_ms - s->start_ms);
  int64_t wait = timeout_ms < left ? timeout_ms : left;
  if (wait < 0) wait = 0;
  /* Decided here, not by comparing clocks when the timer fires: libevent may
   * fire a millisecond before our truncated clock reaches the deadline. */
  s->step_capped_by_deadline = left <= (int64_t)timeout_ms;
  struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
  evtimer_add(s->timer, &tv);
}

static void close_connection(struct smtp_session *s) {
  if (s->bev != NULL) {
    bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    if (s->outcome.tls_up) {
      SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
      if (ssl != NULL) SSL_shutdown(ssl); /* best effort close_notify */
      ERR_clear_error();
    }
    bufferevent_free(s->bev);
    s->bev = NULL;
  }
  if (s->fd >= 0) {
    evutil_closesocket(s->fd);
    s->fd = -1;
  }
}

/* Ends the session: closes now, calls back from the timer. The caller must
 * return without touching the connection. */
static void finish(struct smtp_session *s) {
  close_connection(s);
  s->state = SMTP_STEP_DONE;
  if (s->outcome.tls_up) s->outcome.last_step = SMTP_STEP_DONE;
  if (!s->result_set) set_result(s, PROBE_SMTP_FAILED, "session ended without a result");
  evtimer_del(s->timer);
  event_active(s->timer, EV_TIMEOUT, 1);
}

static void send_line(struct smtp_session *s, const char *line) {
  /* Anything the server sent beyond the reply we answered is unsolicited:
   * drop it so it cannot pose as the reply to our next command. */
  struct evbuffer *input = bufferevent_get_input(s->bev);
  evbuffer_drain(input, evbuffer_get_length(input));
  s->counted_bytes = 0;
  smtp_reply_reset(&s->reply);
  bufferevent_write(s->bev, line, strlen(line));
}

/* Sends QUIT (the result is already set) and waits for 221 or the timeout. */
static void start_quit(struct smtp_session *s) {
  enum smtp_step failed_step = s->outcome.last_step;
  send_line(s, "QUIT\r\n");
  arm_step(s, SMTP_STEP_QUIT, s->config.quit_timeout_ms);
  /* last_step tells where a plain-text verdict came from, not the QUIT */
  if (!s->outcome.tls_up) s->outcome.last_step = failed_step;
}

static void keep_banner(struct smtp_session *s) {
  size_t used = 0;
  for (unsigned i = 0; i < s->reply.kept_count; i++) {
    const char *line = s->reply.kept[i];
    size_t len = strlen(line);
    size_t room = sizeof s->outcome.banner - 1 - used;
    if (i > 0 && room > 0) {
      s->outcome.banner[used++] = '\n';
      room--;
    }
    if (len > room) len = room;
    memcpy(s->outcome.banner + used, line, len);
    used += len;
  }
  s->outcome.banner[used] = '\0';
  s->outcome.banner_len = used;
}

static void keep_ehlo_keywords(struct smtp_session *s) {
  s->outcome.ehlo_keyword_count = 0;
  for (unsigned i = 1; i < s->reply.kept_count && s->outcome.ehlo_keyword_count < SMTP_MAX_EHLO_KEYWORDS; i++) {
    char *out = s->outcome.ehlo_keywords[s->outcome.ehlo_keyword_count++];
    size_t len = strnlen(s->reply.kept[i], SMTP_EHLO_KEYWORD_MAX_BYTES - 1);
    memcpy(out, s->reply.kept[i], len);
    out[len] = '\0';
  }
  s->outcome.starttls_offered = s->reply.offers_starttls;
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short events, void *arg);

static void start_handshake(struct smtp_session *s) {
  char why[200];
  /* The plain bufferevent does not own the socket; freeing it leaves the
   * socket to the TLS bufferevent. */
  struct evbuffer *input = bufferevent_get_input(s->bev);
  evbuffer_drain(input, evbuffer_get_length(input));
  bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
  bufferevent_disable(s->bev, EV_READ | EV_WRITE);
  bufferevent_free(s->bev);
  s->bev = NULL;
  s->counted_bytes = 0;
  arm_step(s, SMTP_STEP_HANDSHAKE, s->config.handshake_timeout_ms);

  SSL *ssl = tls_session_new(s->config.tls, &s->config.tls_input, &s->verify_log, why, sizeof why);
  if (ssl == NULL) {
    set_result(s, PROBE_TLS_FAILED, "local TLS setup failed: %s", why);
    finish(s);
    return;
  }
  struct bufferevent *tls_bev = bufferevent_openssl_socket_new(s->config.base, s->fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                               BEV_OPT_CLOSE_ON_FREE);
  if (tls_bev == NULL) {
    SSL_free(ssl);
    set_result(s, PROBE_TLS_FAILED, "local TLS setup failed: bufferevent_openssl_socket_new");
    finish(s);
    return;
  }
  s->fd = -1; /* the TLS bufferevent closes it */
  s->bev = tls_bev;
  bufferevent_openssl_set_allow_dirty_shutdown(tls_bev, 1);
  bufferevent_setcb(tls_bev, on_read, NULL, on_event, s);
  bufferevent_setwatermark(tls_bev, EV_READ, 0, s->config.limits.max_line_bytes + 256);
  bufferevent_enable(tls_bev, EV_READ | EV_WRITE);
}

static void handshake_done(struct smtp_session *s) {
  s->outcome.handshake_ms = step_elapsed_ms(s);
  s->outcome.tls_up = true;
  SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
  tls_outcome_collect(ssl, &s->config.tls_input, &s->verify_log, s->config.expiry_warn_days, time(NULL),
                      &s->outcome.tls);
  set_result(s, s->outcome.tls.result, "%s", s->outcome.tls.reason);
  start_quit(s);
}

/* A complete reply in the current state. */
static void handle_reply(struct smtp_session *s) {
  int code = s->reply.code;
  if (s->state != SMTP_STEP_QUIT) s->outcome.smtp_code = code;
  if (code == 421) s->outcome.saw_421 = true;
  switch (s->state) {
  case SMTP_STEP_GREETING:
    s->outcome.banner_ms = step_elapsed_ms(s);
    keep_banner(s);
    if (code != 220) {
      set_result(s, PROBE_SMTP_FAILED, "greeting %d instead of 220", code);
      if (code == 421) {
        finish(s);
      } else {
        start_quit(s);
      }
      return;
    }
    {
      char line[300];
      snprintf(line, sizeof line, "EHLO %s\r\n", s->config.ehlo_name);
      send_line(s, line);
    }
    arm_step(s, SMTP_STEP_EHLO, s->config.ehlo_timeout_ms);
    return;
  case SMTP_STEP_EHLO:
    s->outcome.ehlo_ms = step_elapsed_ms(s);
    if (code != 250) {
      set_result(s, PROBE_SMTP_FAILED, "EHLO answered with %d", code);
      if (code == 421) {
        finish(s);
      } else {
        start_quit(s);
      }
      return;
    }
    keep_ehlo_keywords(s);
    if (!s->outcome.starttls_offered) {
      set_result(s, PROBE_NO_STARTTLS, "STARTTLS not offered in the EHLO reply");
      start_quit(s);
      return;
    }
    send_line(s, "STARTTLS\r\n");
    arm_step(s, SMTP_STEP_STARTTLS, s->config.starttls_timeout_ms);
    return;
  case SMTP_STEP_STARTTLS:
    s->outcome.starttls_ms = step_elapsed_ms(s);
    if (code == 220) {
      start_handshake(s);
      return;
    }
    if (code >= 400) {
      set_result(s, PROBE_STARTTLS_REFUSED, "STARTTLS answered with %d", code);
    } else {
      set_result(s, PROBE_SMTP_FAILED, "unexpected reply %d to STARTTLS", code);
    }
    if (code == 421) {
      finish(s);
    } else {
      start_quit(s);
    }
    return;
  case SMTP_STEP_QUIT:
    finish(s);
    return;
  default:
    return;
  }
}

static void protocol_error(struct smtp_session *s, const char *why) {
  if (s->state == SMTP_STEP_QUIT) {
    finish(s);
    return;
  }
  set_result(s, PROBE_SMTP_FAILED, "%s", why);
  finish(s);
}

static bool waiting_for_reply(enum smtp_step step) {
  return step == SMTP_STEP_GREETING || step == SMTP_STEP_EHLO || step == SMTP_STEP_STARTTLS || step == SMTP_STEP_QUIT;
}

static void on_read(struct bufferevent *bev, void *arg) {
  struct smtp_session *s = arg;
  struct evbuffer *input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  s->outcome.bytes_read += length - s->counted_bytes;
  s->counted_bytes = length;
  if (s->outcome.bytes_read > s->config.max_total_bytes) {
    char why[96];
    snprintf(why, sizeof why, "server sent more than %zu bytes", s->config.max_total_bytes);
    protocol_error(s, why);
    return;
  }
  while (waiting_for_reply(s->state)) {
    length = evbuffer_get_length(input);
    if (length == 0) break;
    const char *data = (const char *)evbuffer_pullup(input, -1);
    size_t consumed = 0;
    const char *why = NULL;
    enum smtp_reply_status status = smtp_reply_feed(&s->reply, &s->config.limits, data, length, &consumed, &why);
    evbuffer_drain(input, consumed);
    s->counted_bytes = evbuffer_get_length(input);
    if (status == SMTP_REPLY_ERROR) {
      protocol_error(s, why);
      return;
    }
    if (status == SMTP_REPLY_NEED_MORE) break;
    enum smtp_step before = s->state;
    handle_reply(s);
    /* A new command drained the input; a handshake or the end replaced the
     * bufferevent: either way this input buffer is done with. */
    if (s->state == before || s->state == SMTP_STEP_DONE || s->state == SMTP_STEP_HANDSHAKE) break;
    if (s->bev != bev) break;
    input = bufferevent_get_input(bev);
  }
}

static const char *step_noun(enum smtp_step step) {
  switch (step) {
  case SMTP_STEP_CONNECT:
    return "TCP connect";
  case SMTP_STEP_GREETING:
    return "greeting";
  case SMTP_STEP_EHLO:
    return "EHLO reply";
  case SMTP_STEP_STARTTLS:
    return "STARTTLS reply";
  case SMTP_STEP_HANDSHAKE:
    return "TLS handshake";
  case SMTP_STEP_QUIT:
    return "QUIT reply";
  default:
    return "step";
  }
}

static void tls_error_text(struct bufferevent *bev, char *out, size_t out_len) {
  unsigned long code = bufferevent_get_openssl_error(bev);
  if (code == 0) {
    out[0] = '\0';
    return;
  }
  if (ERR_GET_LIB(code) == 0 && code < 16) {
    /* libevent queues SSL_get_error() values when OpenSSL has none */
    snprintf(out, out_len, "%s",
             code == SSL_ERROR_SYSCALL   ? "connection closed or reset"
                 : code == SSL_ERROR_SSL ? "protocol error"
                                         : "TLS error");
  } else {
    char text[160];
    ERR_error_string_n(code, text, sizeof text);
    snprintf(out, out_len, "%s", text);
  }
  while (bufferevent_get_openssl_error(bev) != 0) {
  }
}

static void on_event(struct bufferevent *bev, short events, void *arg) {
  struct smtp_session *s = arg;
  int saved_errno = EVUTIL_SOCKET_ERROR();
  if (events & BEV_EVENT_CONNECTED) {
    if (s->state == SMTP_STEP_CONNECT) {
      s->outcome.connect_ms = step_elapsed_ms(s);
      arm_step(s, SMTP_STEP_GREETING, s->config.greeting_timeout_ms);
      bufferevent_enable(bev, EV_READ);
      return;
    }
    if (s->state == SMTP_STEP_HANDSHAKE) {
      handshake_done(s);
      return;
    }
    return;
  }
  if (!(events & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) return;
  bool eof = (events & BEV_EVENT_EOF) != 0;
  switch (s->state) {
  case SMTP_STEP_CONNECT:
    if (saved_errno == ECONNREFUSED) s->outcome.refused = true;
    set_result(s, PROBE_CONNECT_FAILED, "TCP connect failed: %s",
               saved_errno != 0 ? strerror(saved_errno) : "connection error");
    break;
  case SMTP_STEP_GREETING:
  case SMTP_STEP_EHLO:
  case SMTP_STEP_STARTTLS:
    if (!s->result_set) s->outcome.dropped = true;
    set_result(s, PROBE_SMTP_FAILED, "%s while waiting for the %s",
               eof ? "connection closed by the server" : "connection error", step_noun(s->state));
    break;
  case SMTP_STEP_HANDSHAKE: {
    char text[200];
    tls_error_text(bev, text, sizeof text);
    if (text[0] != '\0') {
      set_result(s, PROBE_TLS_FAILED, "TLS handshake failed: %s", text);
    } else {
      set_result(s, PROBE_TLS_FAILED, "TLS handshake failed: %s",
                 eof ? "connection closed by the server"
                     : (saved_errno != 0 ? strerror(saved_errno) : "connection error"));
    }
    break;
  }
  default:
    break;
  }
  finish(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct smtp_session *s = arg;
  if (s->state == SMTP_STEP_DONE) {
    s->done_cb(s, s->arg); /* may free s: nothing after this */
    return;
  }
  if (s->state == SMTP_STEP_QUIT) {
    finish(s);
    return;
  }
  bool deadline = s->step_capped_by_deadline || now_ms() - s->start_ms >= (int64_t)s->config.deadline_ms;
  set_result(s, PROBE_TIMEOUT, "%s: no %s within %d ms", deadline ? "session deadline" : "timeout", step_noun(s->state),
             step_elapsed_ms(s));
  finish(s);
}

struct smtp_session *smtp_session_start(const struct smtp_session_config *config, smtp_session_done_cb done_cb,
                                        void *arg) {
  struct smtp_session *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->config = *config;
  s->done_cb = done_cb;
  s->arg = arg;
  s->fd = -1;
  s->outcome.connect_ms = s->outcome.banner_ms = s->outcome.ehlo_ms = -1;
  s->outcome.starttls_ms = s->outcome.handshake_ms = -1;
  s->timer = evtimer_new(config->base, on_timer, s);
  if (s->timer == NULL) {
    free(s);
    return NULL;
  }
  smtp_reply_reset(&s->reply);
  s->start_ms = now_ms();
  arm_step(s, SMTP_STEP_CONNECT, config->connect_timeout_ms);

  const struct sockaddr *address = (const struct sockaddr *)&config->address;
  s->fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    set_result(s, PROBE_CONNECT_FAILED, "socket: %s", strerror(errno));
    finish(s);
    return s;
  }
  s->bev = bufferevent_socket_new(config->base, s->fd, 0);
  if (s->bev == NULL) {
    set_result(s, PROBE_CONNECT_FAILED, "bufferevent_socket_new failed");
    finish(s);
    return s;
  }
  bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
  bufferevent_setwatermark(s->bev, EV_READ, 0, config->limits.max_line_bytes + 256);
  if (bufferevent_socket_connect(s->bev, address, (int)config->address_len) != 0 && s->state != SMTP_STEP_DONE) {
    int error = errno;
    set_result(s, PROBE_CONNECT_FAILED, "TCP connect failed: %s", strerror(error));
    if (error == ECONNREFUSED) s->outcome.refused = true;
    finish(s);
  }
  return s;
}

const struct smtp_session_outcome *smtp_session_outcome(const struct smtp_session *session) {
  return &session->outcome;
}

void smtp_session_free(struct smtp_session *session) {
  if (session == NULL) return;
  close_connection(session);
  if (session->timer != NULL) event_free(session->timer);
  tls_outcome_clear(&session->outcome.tls);
  free(session);
}
