/* libFuzzer target: the SMTP session state machine (smtp/smtp_session.c)
 * against a server whose every byte, and where the bytes are cut, comes
 * from the fuzz input.
 *
 * The real session runs on a real libevent base and connects over a real
 * stream socket. It is an AF_UNIX socket (the session code is the same for
 * any stream address; no ports, no TIME_WAIT at thousands of sessions a
 * second). The harness is the server, in the same thread: between passes of
 * the event loop it writes the next piece of the input and reads what the
 * client sent. In TLS mode it also completes a real TLS handshake (a
 * self-signed P-256 certificate made at start) once the client has sent
 * STARTTLS and the piece after it (the server's reply) is written; later
 * pieces then go inside TLS, so the QUIT step after a handshake runs too.
 *
 * Input: byte 0 = mode: bit 0 TLS server, bit 1 the TLSA record matches the
 * server key (else it does not), bits 2-3 max_line_bytes (512, 64, 2048,
 * 16), bit 4 max_total_bytes 4096 (else 64 KiB), bit 5 close by reset
 * (else by FIN). Then pieces: 2 header bytes h0 h1, length
 * (h0 & 0x3f) << 8 | h1, then that many bytes (fewer at the end); h0 bit 7:
 * let the client run until it sends something (bounded) before this piece;
 * h0 bit 6: close the connection after it. After the last piece the server
 * closes.
 *
 * Checks (abort on a broken one): the callback runs exactly once, and only
 * from the loop; the client says nothing before a greeting line arrived and
 * sends only EHLO, STARTTLS and QUIT in plain text; the outcome's texts are
 * NUL-terminated and within their arrays, banner_len is the banner's
 * length, EHLO keywords are at most SMTP_MAX_EHLO_KEYWORDS; the result is a
 * probe result; tls_up implies STARTTLS was offered; the code is 0 or a
 * reply code. */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtp/smtp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENT_TEXT_MAX 4096 /* plain-text bytes from the client kept for the checks */
#define YIELD_PASSES 16      /* loop passes a "wait for the client" piece allows */

static struct event_base *base;
static struct tls_client *tls;
static SSL_CTX *server_ctx;
static uint8_t server_spki_sha256[32];
static int listen_fd = -1;
static struct sockaddr_un listen_address;
static socklen_t listen_address_len;

static SSL_CTX *make_server_ctx(void) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (key == NULL || cert == NULL || ctx == NULL) abort();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 365);
  X509_set_pubkey(cert, key);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx.fuzz.test", -1, -1, 0);
  X509_set_issuer_name(cert, name);
  if (X509_sign(cert, key, EVP_sha256()) <= 0) abort();
  if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) abort();
  unsigned char *spki = NULL;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
  if (len <= 0) abort();
  unsigned int digest_len = 0;
  EVP_Digest(spki, (size_t)len, server_spki_sha256, &digest_len, EVP_sha256(), NULL);
  OPENSSL_free(spki);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

static void init_once(void) {
  if (base != NULL) return;
  signal(SIGPIPE, SIG_IGN); /* as main.c: probe.h requires it */
  base = event_base_new();
  char why[256];
  tls = tls_client_new(why, sizeof why);
  if (base == NULL || tls == NULL) abort();
  server_ctx = make_server_ctx();
  /* Linux abstract address: nothing in the file system to clean up, gone
   * with the process (libFuzzer does not always exit through atexit). */
  listen_address.sun_family = AF_UNIX;
  int n = snprintf(listen_address.sun_path + 1, sizeof listen_address.sun_path - 1, "danescan-fuzz-smtp-%ld",
                   (long)getpid());
  listen_address_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&listen_address, listen_address_len) != 0 ||
      listen(listen_fd, 16) != 0) {
    abort();
  }
}

struct server {
  int fd;
  SSL *ssl;
  bool accepted;      /* the one connection of the session was accepted */
  bool tls_wanted;    /* mode: handshake after STARTTLS */
  bool starttls_seen; /* the client sent STARTTLS: stop reading plain text */
  bool tls_pending;   /* the reply to STARTTLS is out: accept TLS now */
  bool tls_up;
  unsigned tls_passes; /* loop passes spent in the handshake */
  bool sent_newline;   /* a whole line has been written */
  size_t client_bytes; /* bytes received from the client, all kinds */
  char client_text[CLIENT_TEXT_MAX + 1];
  size_t client_text_len;
};

struct client_state {
  struct smtp_session *session;
  unsigned callbacks;
  bool in_start;
};

static void done_cb(struct smtp_session *session, void *arg) {
  struct client_state *state = arg;
  if (state->in_start || session != state->session) abort();
  state->callbacks++;
}

static void server_close(struct server *server, bool reset) {
  server->tls_pending = false;
  if (server->fd < 0) return;
  if (server->ssl != NULL) {
    SSL_free(server->ssl);
    server->ssl = NULL;
  }
  if (reset) {
    /* Unread data makes close() reset an AF_UNIX peer's read too. */
    shutdown(server->fd, SHUT_RDWR);
  }
  close(server->fd);
  server->fd = -1;
}

/* Reads what the client sent. Plain text is kept for the checks up to the
 * client's STARTTLS; in TLS mode the socket is then left to the handshake. */
static void server_read(struct server *server) {
  if (server->fd < 0) return;
  char buffer[4096];
  for (;;) {
    ssize_t n;
    if (server->tls_up) {
      n = SSL_read(server->ssl, buffer, sizeof buffer);
      if (n <= 0) {
        ERR_clear_error();
        return;
      }
    } else {
      if (server->starttls_seen && server->tls_wanted) return;
      n = recv(server->fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) return;
      if (server->client_bytes == 0 && !server->sent_newline) abort(); /* spoke first */
      if (!server->starttls_seen) {
        size_t keep = (size_t)n;
        if (keep > CLIENT_TEXT_MAX - server->client_text_len) keep = CLIENT_TEXT_MAX - server->client_text_len;
        memcpy(server->client_text + server->client_text_len, buffer, keep);
        server->client_text_len += keep;
        server->client_text[server->client_text_len] = '\0';
        char *starttls = strstr(server->client_text, "STARTTLS\r\n");
        if (starttls != NULL) {
          /* What follows is TLS, not text. */
          server->starttls_seen = true;
          server->client_text_len = (size_t)(starttls - server->client_text) + 10;
          server->client_text[server->client_text_len] = '\0';
        }
      }
    }
    server->client_bytes += (size_t)n;
  }
}

#define TLS_MAX_PASSES 64 /* a client that is not handshaking sends nothing */

static void server_accept_tls(struct server *server) {
  if (++server->tls_passes > TLS_MAX_PASSES) {
    server_close(server, false);
    return;
  }
  if (server->ssl == NULL) {
    server->ssl = SSL_new(server_ctx);
    if (server->ssl == NULL || SSL_set_fd(server->ssl, server->fd) != 1) abort();
  }
  int rc = SSL_accept(server->ssl);
  if (rc == 1) {
    server->tls_up = true;
    server->tls_pending = false;
    return;
  }
  int error = SSL_get_error(server->ssl, rc);
  ERR_clear_error();
  if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
    server_close(server, false); /* the client gave up on the handshake */
  }
}

static void server_write(struct server *server, const uint8_t *bytes, size_t len) {
  if (server->fd < 0 || len == 0) return;
  if (memchr(bytes, '\n', len) != NULL) server->sent_newline = true;
  if (server->tls_up) {
    int n = SSL_write(server->ssl, bytes, (int)len);
    if (n <= 0) ERR_clear_error();
    return;
  }
  /* A full socket buffer (client stopped reading) drops the rest: the
   * client is then ending the session anyway. */
  (void)send(server->fd, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  /* A whole line after STARTTLS is the reply; if it is 220 the client
   * starts TLS (if not, the handshake fails on its plain QUIT). */
  if (server->starttls_seen && server->tls_wanted && memchr(bytes, '\n', len) != NULL) {
    server->tls_pending = true;
  }
}

/* The plain-text commands the client may send (smtp_session.h). */
static void check_client_text(const struct server *server) {
  const char *p = server->client_text;
  const char *end = p + server->client_text_len;
  while (p < end) {
    const char *newline = memchr(p, '\n', (size_t)(end - p));
    size_t len = newline != NULL ? (size_t)(newline - p) + 1 : (size_t)(end - p);
    bool ok = (len == strlen("EHLO fuzz.test\r\n") && memcmp(p, "EHLO fuzz.test\r\n", len) == 0) ||
        (len == 10 && memcmp(p, "STARTTLS\r\n", len) == 0) || (len == 6 && memcmp(p, "QUIT\r\n", len) == 0);
    if (!ok && newline != NULL) abort();
    p += len;
  }
}

static void check_text(const char *text, size_t size) {
  if (memchr(text, '\0', size) == NULL) abort();
}

static void check_outcome(const struct smtp_session_outcome *outcome) {
  if ((unsigned)outcome->result >= PROBE_RESULT_COUNT) abort();
  check_text(outcome->reason, sizeof outcome->reason);
  check_text(outcome->banner, sizeof outcome->banner);
  if (outcome->banner_len != strlen(outcome->banner)) abort();
  if (outcome->ehlo_keyword_count > SMTP_MAX_EHLO_KEYWORDS) abort();
  for (size_t i = 0; i < outcome->ehlo_keyword_count; i++) {
    check_text(outcome->ehlo_keywords[i], sizeof outcome->ehlo_keywords[i]);
  }
  if (outcome->smtp_code != 0 && (outcome->smtp_code < 200 || outcome->smtp_code > 599)) abort();
  if (outcome->tls_up && !outcome->starttls_offered) abort();
  if (outcome->result == PROBE_NO_STARTTLS && outcome->starttls_offered) abort();
  if (outcome->last_step > SMTP_STEP_DONE) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  if (size < 1) return 0;
  uint8_t mode = data[0];
  static const size_t line_limits[] = {512, 64, 2048, 16};
  struct tlsa_record record = {.usage = 3, .selector = 1, .matching_type = 1, .data_len = 32};
  uint8_t digest[32];
  memcpy(digest, server_spki_sha256, sizeof digest);
  if (!(mode & 2)) digest[0] ^= 0xff;
  record.data = digest;
  tlsa_record_classify(&record);
  static const char *const reference_names[] = {"mx.fuzz.test"};

  struct smtp_session_config config;
  memset(&config, 0, sizeof config);
  config.base = base;
  config.tls = tls;
  memcpy(&config.address, &listen_address, sizeof listen_address);
  config.address_len = listen_address_len;
  config.ehlo_name = "fuzz.test";
  /* Short steps: a session the input leaves waiting ends within 1 s. */
  config.connect_timeout_ms = config.greeting_timeout_ms = config.ehlo_timeout_ms = 200;
  config.starttls_timeout_ms = config.handshake_timeout_ms = config.quit_timeout_ms = 200;
  config.deadline_ms = 1000;
  config.limits.max_line_bytes = line_limits[(mode >> 2) & 3];
  config.limits.max_lines = 100;
  config.max_total_bytes = (mode & 16) ? 4096 : 65536;
  config.tls_input = (struct tls_dane_input){.sni = "mx.fuzz.test",
                                             .reference_names = reference_names,
                                             .reference_count = 1,
                                             .tlsa = &record,
                                             .tlsa_count = 1,
                                             .keys = TLS_KEYS_ANY};
  config.expiry_warn_days = 30;

  struct client_state state = {.in_start = true};
  state.session = smtp_session_start(&config, done_cb, &state);
  if (state.session == NULL) abort();
  state.in_start = false;

  static struct server server;
  memset(&server, 0, sizeof server);
  server.fd = -1;
  server.tls_wanted = (mode & 1) != 0;
  bool reset = (mode & 32) != 0;
  size_t pos = 1;
  while (state.callbacks == 0) {
    if (!server.accepted) {
      server.fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (server.fd < 0 && errno != EAGAIN) abort();
      if (server.fd < 0) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        continue;
      }
      server.accepted = true;
    }
    if (server.tls_pending && server.fd >= 0) server_accept_tls(&server);
    if (pos < size && server.fd >= 0 && !server.tls_pending) {
      if (size - pos < 2) {
        server_write(&server, data + pos, size - pos);
        pos = size;
        continue;
      }
      uint8_t h0 = data[pos], h1 = data[pos + 1];
      size_t len = (size_t)(h0 & 0x3f) << 8 | h1;
      pos += 2;
      if (len > size - pos) len = size - pos;
      if (h0 & 0x80) {
        size_t before = server.client_bytes;
        for (int i = 0; i < YIELD_PASSES && server.client_bytes == before && state.callbacks == 0; i++) {
          event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
          server_read(&server);
        }
      }
      server_write(&server, data + pos, len);
      pos += len;
      if (h0 & 0x40) {
        server_close(&server, reset);
        pos = size + 1; /* nothing more, and no new connection */
      }
      event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
      server_read(&server);
      continue;
    }
    if (pos >= size && server.fd >= 0 && !server.tls_pending) {
      server_read(&server);
      server_close(&server, reset);
      pos = size + 1;
    }
    /* Waiting: for the client's handshake bytes or the end of the session. */
    event_base_loop(base, server.tls_pending ? EVLOOP_ONCE | EVLOOP_NONBLOCK : EVLOOP_ONCE);
    server_read(&server);
  }
  server_read(&server);
  check_client_text(&server);
  const struct smtp_session_outcome *outcome = smtp_session_outcome(state.session);
  if (getenv("FUZZ_SMTP_VERBOSE") != NULL) {
    /* For reproducing: what the session made of the input. */
    fprintf(stderr, "result %s step %d code %d tls_up %d: %s\n", probe_result_name(outcome->result),
            (int)outcome->last_step, outcome->smtp_code, (int)outcome->tls_up, outcome->reason);
  }
  check_outcome(outcome);
  server_close(&server, false);
  smtp_session_free(state.session);
  /* Let nothing of this session run into the next. */
  event_base_loop(base, EVLOOP_NONBLOCK);
  if (state.callbacks != 1) abort();
  int stale;
  while ((stale = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) close(stale);
  return 0;
}
