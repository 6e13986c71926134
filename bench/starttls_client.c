/* starttls_client: the minimal OpenSSL client the probe benchmark compares
 * danescan against (bench/bench_probe.sh). `openssl s_time` cannot speak
 * SMTP STARTTLS, so this does by hand, per probe, what a danescan probe does
 * on the wire against danescan-labsmtp in normal mode, and nothing more:
 *
 *   TCP connect, read the 220 greeting, EHLO, read the 250 reply (STARTTLS
 *   must be offered), STARTTLS, read 220, TLS handshake with SNI and
 *   OpenSSL's DANE verification, check the DANE verdict, QUIT inside TLS,
 *   read 221, close_notify, close.
 *
 * danescan sends no EHLO inside TLS (scanner/smtp/smtp_session.c goes from
 * the handshake straight to QUIT); --tls-ehlo adds one for comparison with
 * clients that do.
 *
 * TLS settings are those of danescan's unrestricted context
 * (scanner/tls/tls_dane.c, TLS_KEYS_ANY, i.e. `--no-key-types`): TLS 1.2 to
 * 1.3, OpenSSL's default groups, ciphers and signature algorithms, security
 * level 1, no session cache or tickets, DANE-EE name checks off and no
 * partial wildcards. What it leaves out is what a minimal client does not
 * need: danescan's recording of the chain, key type, parameters and expiry,
 * its reply limits, timers and per-address scheduling.
 *
 * One thread, non-blocking sockets, one poll() loop holding up to C probes
 * at once (danescan runs one libevent loop the same way). Prints on stderr:
 *   summary probes=N done=N authenticated=A failed=F elapsed_s=S
 *           probes_per_s=P cpu_s=S cpu_ms_per_probe=M maxrss_kb=K
 * with CPU = getrusage(RUSAGE_SELF) user+sys of the whole process, the same
 * measure and format as danescan-probe's summary.
 *
 * Usage: starttls_client [--port N] [--host NAME] [--tlsa "U S M HEX"]...
 *          [--ehlo NAME] [--repeat N] [--max-concurrent C] [--timeout-ms T]
 *          [--tls-ehlo] [--verbose] ADDRESS
 * Bench tool: exits 2 on bad arguments, 1 when a probe failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_TLSA 16
#define MAX_TLSA_DATA_BYTES 64   /* SHA-512 is the longest digest; full keys are not needed here */
#define REPLY_BUFFER_BYTES 8192  /* labsmtp's replies are a few hundred bytes */
#define MAX_LINE_BYTES 512       /* RFC 5321 4.5.3.1.5 reply line limit */
#define DEFAULT_TIMEOUT_MS 20000 /* per probe, all steps together */
#define POLL_TICK_MS 1000        /* how often deadlines are checked when idle */

enum step { CONNECTING, GREETING, EHLO, STARTTLS, HANDSHAKE, TLS_EHLO, QUIT, IDLE };

struct tlsa {
  uint8_t usage, selector, mtype;
  unsigned char data[MAX_TLSA_DATA_BYTES];
  size_t len;
};

struct options {
  struct sockaddr_storage address;
  socklen_t address_len;
  const char *host;
  char ehlo[256];
  struct tlsa tlsa[MAX_TLSA];
  size_t tlsa_count;
  unsigned long repeat;
  unsigned long concurrency;
  long timeout_ms;
  bool tls_ehlo;
  bool verbose;
};

struct probe {
  enum step step;
  int fd;
  SSL *ssl;
  int64_t deadline_ms;
  short events; /* what poll() should wait for */
  char in[REPLY_BUFFER_BYTES];
  size_t in_len;
  const char *out; /* a command line not yet fully written */
  size_t out_len;
  bool offers_starttls;
};

struct totals {
  unsigned long started, done, authenticated, failed;
};

static SSL_CTX *ctx;
static struct options opt;
static struct totals totals;
static char ehlo_line[300];

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void) {
  fprintf(stderr,
          "usage: starttls_client [--port N] [--host NAME] [--tlsa \"U S M HEX\"]...\n"
          "         [--ehlo NAME] [--repeat N] [--max-concurrent C] [--timeout-ms T]\n"
          "         [--tls-ehlo] [--verbose] ADDRESS\n");
  exit(2);
}

static int parse_tlsa(const char *text, struct tlsa *t) {
  unsigned u, s, m;
  char hex[2 * MAX_TLSA_DATA_BYTES + 2];
  if (sscanf(text, "%u %u %u %129s", &u, &s, &m, hex) != 4 || u > 255 || s > 255 || m > 255) return -1;
  size_t len = strlen(hex);
  if (len % 2 != 0 || len / 2 > MAX_TLSA_DATA_BYTES) return -1;
  for (size_t i = 0; i < len / 2; i++) {
    unsigned byte;
    if (sscanf(hex + 2 * i, "%2x", &byte) != 1) return -1;
    t->data[i] = (unsigned char)byte;
  }
  t->usage = (uint8_t)u;
  t->selector = (uint8_t)s;
  t->mtype = (uint8_t)m;
  t->len = len / 2;
  return 0;
}

/* danescan's unrestricted client context (tls_dane.c client_context). */
static SSL_CTX *make_context(void) {
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  if (c == NULL) return NULL;
  SSL_CTX_set_security_level(c, 1);
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 || SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_dane_enable(c) <= 0) {
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL); /* a DANE failure aborts the handshake */
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  return c;
}

static SSL *make_session(int fd) {
  SSL *ssl = SSL_new(ctx);
  if (ssl == NULL) return NULL;
  if (SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, opt.host) != 1 || SSL_dane_enable(ssl, opt.host) <= 0) {
    SSL_free(ssl);
    return NULL;
  }
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (size_t i = 0; i < opt.tlsa_count; i++) {
    const struct tlsa *t = &opt.tlsa[i];
    if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) < 0) {
      SSL_free(ssl);
      return NULL;
    }
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

static void end_probe(struct probe *p, bool ok, const char *why) {
  if (p->ssl != NULL) {
    if (ok) SSL_shutdown(p->ssl); /* best effort close_notify, as danescan */
    SSL_free(p->ssl);
    p->ssl = NULL;
  }
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  p->step = IDLE;
  totals.done++;
  if (!ok) {
    totals.failed++;
    if (opt.verbose) fprintf(stderr, "probe failed: %s\n", why);
  }
  ERR_clear_error();
}

static void start_probe(struct probe *p) {
  memset(p, 0, sizeof *p);
  p->fd = -1;
  p->step = CONNECTING;
  p->deadline_ms = now_ms() + opt.timeout_ms;
  p->events = POLLOUT;
  totals.started++;
  p->fd = socket(opt.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0) {
    end_probe(p, false, "socket");
    return;
  }
  if (connect(p->fd, (const struct sockaddr *)&opt.address, opt.address_len) != 0 && errno != EINPROGRESS) {
    end_probe(p, false, "connect");
  }
}

/* Queues a plain-text command and tries to write it. */
static int send_plain(struct probe *p, const char *line) {
  p->out = line;
  p->out_len = strlen(line);
  p->in_len = 0;
  while (p->out_len > 0) {
    ssize_t n = write(p->fd, p->out, p->out_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p->out += n;
    p->out_len -= (size_t)n;
  }
  return 0;
}

/* Same inside TLS; SSL_write writes whole records or asks to be retried. */
static int send_tls(struct probe *p, const char *line) {
  p->out = line;
  p->out_len = strlen(line);
  p->in_len = 0;
  return 0;
}

/* 1: a complete reply is in p->in (code in *code), 0: need more, -1: bad. */
static int complete_reply(struct probe *p, int *code) {
  size_t start = 0;
  p->offers_starttls = false;
  for (;;) {
    char *end = memchr(p->in + start, '\n', p->in_len - start);
    if (end == NULL) return p->in_len - start > MAX_LINE_BYTES ? -1 : 0;
    const char *line = p->in + start;
    size_t len = (size_t)(end - line);
    if (len > 0 && line[len - 1] == '\r') len--;
    if (len < 3 || line[0] < '2' || line[0] > '5') return -1;
    if (len >= 8 && strncasecmp(line + 4, "STARTTLS", 8) == 0 && (len == 12 || line[12] == ' ')) {
      p->offers_starttls = true;
    }
    if (len == 3 || line[3] == ' ') {
      *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      return 1;
    }
    if (line[3] != '-') return -1;
    start = (size_t)(end - p->in) + 1;
  }
}

static bool dane_authenticated(SSL *ssl) {
  return SSL_get_verify_result(ssl) == X509_V_OK && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0;
}

/* Moves a plain-text probe on after a complete reply. */
static void plain_reply(struct probe *p, int code) {
  switch (p->step) {
  case GREETING:
    if (code != 220) break;
    p->step = EHLO;
    if (send_plain(p, ehlo_line) != 0) break;
    return;
  case EHLO:
    if (code != 250 || !p->offers_starttls) break;
    p->step = STARTTLS;
    if (send_plain(p, "STARTTLS\r\n") != 0) break;
    return;
  case STARTTLS:
    if (code != 220) break;
    p->step = HANDSHAKE;
    p->ssl = make_session(p->fd);
    if (p->ssl == NULL) break;
    return;
  default:
    break;
  }
  end_probe(p, false, "unexpected reply");
}

static void run_tls(struct probe *p);

static void run_plain(struct probe *p) {
  while (p->out_len > 0) {
    ssize_t n = write(p->fd, p->out, p->out_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      p->events = POLLOUT;
      return;
    }
    if (n <= 0) {
      end_probe(p, false, "write");
      return;
    }
    p->out += n;
    p->out_len -= (size_t)n;
  }
  ssize_t n = read(p->fd, p->in + p->in_len, sizeof p->in - p->in_len);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    p->events = POLLIN;
    return;
  }
  if (n <= 0) {
    end_probe(p, false, "read");
    return;
  }
  p->in_len += (size_t)n;
  int code = 0;
  int status = complete_reply(p, &code);
  if (status < 0 || (status == 0 && p->in_len == sizeof p->in)) {
    end_probe(p, false, "bad reply");
    return;
  }
  if (status == 0) return; /* still POLLIN */
  plain_reply(p, code);
  if (p->step == IDLE) return;
  if (p->step == HANDSHAKE) {
    run_tls(p); /* sends the ClientHello now */
    return;
  }
  p->events = p->out_len > 0 ? POLLOUT : POLLIN;
}

/* Sets the poll events for an SSL call that wants to be retried; false on a real error. */
static bool tls_retry(struct probe *p, int ret) {
  int error = SSL_get_error(p->ssl, ret);
  if (error == SSL_ERROR_WANT_READ) p->events = POLLIN;
  else if (error == SSL_ERROR_WANT_WRITE) p->events = POLLOUT;
  else return false;
  return true;
}

static void run_tls(struct probe *p) {
  if (p->step == HANDSHAKE) {
    int ret = SSL_do_handshake(p->ssl);
    if (ret != 1) {
      if (!tls_retry(p, ret)) end_probe(p, false, "handshake");
      return;
    }
    if (!dane_authenticated(p->ssl)) {
      end_probe(p, false, "not DANE-authenticated");
      return;
    }
    totals.authenticated++;
    if (opt.verbose) {
      int group = SSL_get_negotiated_group(p->ssl);
      fprintf(stderr, "authenticated: %s %s group=%s dane_depth=%d\n", SSL_get_version(p->ssl),
              SSL_CIPHER_get_name(SSL_get_current_cipher(p->ssl)),
              group > 0 && SSL_group_to_name(p->ssl, group) != NULL ? SSL_group_to_name(p->ssl, group) : "?",
              SSL_get0_dane_authority(p->ssl, NULL, NULL));
    }
    p->step = opt.tls_ehlo ? TLS_EHLO : QUIT;
    send_tls(p, opt.tls_ehlo ? ehlo_line : "QUIT\r\n");
  }
  while (p->out_len > 0) {
    int ret = SSL_write(p->ssl, p->out, (int)p->out_len);
    if (ret <= 0) {
      if (!tls_retry(p, ret)) end_probe(p, false, "SSL_write");
      return;
    }
    p->out_len = 0;
  }
  for (;;) {
    if (p->in_len == sizeof p->in) {
      end_probe(p, false, "reply too long");
      return;
    }
    int ret = SSL_read(p->ssl, p->in + p->in_len, (int)(sizeof p->in - p->in_len));
    if (ret <= 0) {
      if (!tls_retry(p, ret)) end_probe(p, false, "SSL_read");
      return;
    }
    p->in_len += (size_t)ret;
    int code = 0;
    int status = complete_reply(p, &code);
    if (status < 0) {
      end_probe(p, false, "bad reply inside TLS");
      return;
    }
    if (status == 0) continue;
    if (p->step == TLS_EHLO && code == 250) {
      p->step = QUIT;
      send_tls(p, "QUIT\r\n");
      run_tls(p);
      return;
    }
    end_probe(p, p->step == QUIT && code == 221, "QUIT reply");
    return;
  }
}

static void advance(struct probe *p) {
  if (p->step == CONNECTING) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      end_probe(p, false, "connect");
      return;
    }
    p->step = GREETING;
    p->events = POLLIN; /* the server speaks first */
    return;
  }
  if (p->step == GREETING || p->step == EHLO || p->step == STARTTLS) run_plain(p);
  else run_tls(p);
}

static int parse_args(int argc, char **argv) {
  opt.host = "mx.lab.example";
  opt.repeat = 1;
  opt.concurrency = 1;
  opt.timeout_ms = DEFAULT_TIMEOUT_MS;
  unsigned long port = 25;
  const char *address = NULL;
  if (gethostname(opt.ehlo, sizeof opt.ehlo) != 0) snprintf(opt.ehlo, sizeof opt.ehlo, "localhost");
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) {
      address = arg;
      continue;
    }
    if (strcmp(arg, "--tls-ehlo") == 0) {
      opt.tls_ehlo = true;
      continue;
    }
    if (strcmp(arg, "--verbose") == 0) {
      opt.verbose = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    unsigned long number = strtoul(value, NULL, 10);
    if (strcmp(arg, "--port") == 0) port = number;
    else if (strcmp(arg, "--host") == 0) opt.host = value;
    else if (strcmp(arg, "--ehlo") == 0) snprintf(opt.ehlo, sizeof opt.ehlo, "%s", value);
    else if (strcmp(arg, "--repeat") == 0) opt.repeat = number;
    else if (strcmp(arg, "--max-concurrent") == 0) opt.concurrency = number;
    else if (strcmp(arg, "--timeout-ms") == 0) opt.timeout_ms = (long)number;
    else if (strcmp(arg, "--tlsa") == 0 && opt.tlsa_count < MAX_TLSA) {
      if (parse_tlsa(value, &opt.tlsa[opt.tlsa_count++]) != 0) usage();
    } else usage();
  }
  if (address == NULL || port == 0 || port > 65535 || opt.concurrency == 0 || opt.tlsa_count == 0) usage();
  struct sockaddr_in *in = (struct sockaddr_in *)&opt.address;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&opt.address;
  if (inet_pton(AF_INET, address, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    opt.address_len = sizeof *in;
  } else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    opt.address_len = sizeof *in6;
  } else {
    usage();
  }
  snprintf(ehlo_line, sizeof ehlo_line, "EHLO %s\r\n", opt.ehlo);
  return 0;
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  ctx = make_context();
  if (ctx == NULL) {
    fprintf(stderr, "starttls_client: TLS context setup failed\n");
    return 1;
  }
  size_t slots = opt.concurrency < opt.repeat ? opt.concurrency : opt.repeat;
  struct probe *probes = calloc(slots, sizeof *probes);
  struct pollfd *fds = calloc(slots, sizeof *fds);
  size_t *which = calloc(slots, sizeof *which);
  if (probes == NULL || fds == NULL || which == NULL) return 1;
  for (size_t i = 0; i < slots; i++) {
    probes[i].step = IDLE;
    probes[i].fd = -1;
  }
  while (totals.done < opt.repeat) {
    size_t n = 0;
    for (size_t i = 0; i < slots; i++) {
      struct probe *p = &probes[i];
      if (p->step == IDLE && totals.started < opt.repeat) start_probe(p);
      if (p->step == IDLE) continue;
      fds[n].fd = p->fd;
      fds[n].events = p->events;
      fds[n].revents = 0;
      which[n++] = i;
    }
    if (n == 0) continue;
    int ready = poll(fds, n, POLL_TICK_MS);
    if (ready < 0 && errno != EINTR) {
      perror("poll");
      return 1;
    }
    int64_t now = now_ms();
    for (size_t k = 0; k < n; k++) {
      struct probe *p = &probes[which[k]];
      if (fds[k].revents != 0) advance(p);
      else if (now > p->deadline_ms) end_probe(p, false, "timeout");
    }
  }
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  double elapsed = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
  struct rusage usage_self;
  getrusage(RUSAGE_SELF, &usage_self);
  double cpu = (double)usage_self.ru_utime.tv_sec + (double)usage_self.ru_utime.tv_usec / 1e6 +
      (double)usage_self.ru_stime.tv_sec + (double)usage_self.ru_stime.tv_usec / 1e6;
  fprintf(stderr,
          "summary probes=%lu done=%lu authenticated=%lu failed=%lu elapsed_s=%.3f probes_per_s=%.1f "
          "cpu_s=%.3f cpu_ms_per_probe=%.3f maxrss_kb=%ld\n",
          opt.repeat, totals.done, totals.authenticated, totals.failed, elapsed,
          elapsed > 0 ? (double)totals.done / elapsed : 0.0, cpu,
          totals.done > 0 ? cpu * 1000.0 / (double)totals.done : 0.0, usage_self.ru_maxrss);
  SSL_CTX_free(ctx);
  free(probes);
  free(fds);
  free(which);
  return totals.failed == 0 && totals.done == opt.repeat ? 0 : 1;
}
