/* The MTA-STS policy fetch (sts_fetch.h): the project's own minimal
 * HTTP/1.1 client over a bufferevent_openssl, not libevent's evhttp. One
 * GET, "Connection: close", and a response parser that enforces every cap
 * as bytes arrive: the header block (STS_FETCH_MAX_HEADER_BYTES, also the
 * trailers of a chunked body), the body (STS_POLICY_MAX_BYTES decoded; the
 * chunked framing around it is bounded too, since every chunk but the last
 * carries a byte and a chunk-size line is at most STS_FETCH_MAX_CHUNK_LINE),
 * and one timer per step
 * (connect, handshake, response: from the request to the end of the body,
 * so a drip-feeding server costs at most response_timeout_ms). evhttp's
 * client bounds headers and body size too, but its timeout is per read (a
 * byte every few seconds keeps it alive for ever), it would follow nothing
 * but still parse more than needed, and it hides the TCP/TLS steps the
 * failure text names; the own client is about as long as the glue evhttp
 * would need.
 *
 * A fetch is an entry in the fetcher's table keyed by domain: the first
 * sts_fetcher_fetch makes it and starts its attempts; later calls add a
 * waiter (before the end) or are answered from the stored result (after).
 * Each attempt takes a politeness slot of the probe engine for its address
 * (probe_engine_slot_request) and releases it when its connection closes.
 * Waiters are called back from one deferred event. */
#include "sts/sts_fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "probe/probe.h"
#include "util/growbuf.h"

#define STS_FETCH_MAX_HEADER_BYTES 16384 /* status line, header fields; also a chunked body's trailers */
#define STS_FETCH_MAX_HEADER_LINES 100
#define STS_FETCH_MAX_CHUNK_LINE 1024
#define STS_FETCH_MAX_CERT_LIST_BYTES (100 * 1024)
#define STS_FETCH_MAX_DOMAIN_BYTES 253

enum attempt_step { STEP_SLOT, STEP_CONNECT, STEP_HANDSHAKE, STEP_RESPONSE };
enum body_mode { BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };
enum chunk_state { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER };

struct fetch_entry;

struct waiter {
  struct fetch_entry *entry;
  sts_fetch_done_cb done_cb;
  void *arg;
  TAILQ_ENTRY(waiter) link;
};
TAILQ_HEAD(waiter_list, waiter);

/* One connection to one address of mta-sts.DOMAIN. */
struct attempt {
  struct fetch_entry *entry;
  struct sockaddr_storage address;
  socklen_t address_len;
  char address_text[64];
  struct probe_slot *slot;
  enum attempt_step step;
  evutil_socket_t fd;
  struct bufferevent *bev;
  struct event *timer;
  bool headers_done;
  size_t header_bytes;
  unsigned header_lines;
  int http_status;
  bool saw_content_type;
  bool text_plain;
  char media_type[64];
  enum body_mode body_mode;
  bool have_length;
  uint64_t content_length;
  size_t wire_body_bytes;
  enum chunk_state chunk_state;
  uint64_t chunk_left;
  char *body; /* decoded, at most STS_POLICY_MAX_BYTES (+1 to tell "over"); grows as it arrives */
  size_t body_len, body_cap;
  bool body_failed; /* out of memory growing it */
};

struct fetch_entry {
  struct sts_fetcher *fetcher;
  char *domain;
  char host[STS_FETCH_MAX_DOMAIN_BYTES + 16]; /* mta-sts.DOMAIN */
  bool done;
  struct sts_fetch_result result; /* body points into body_copy */
  char *body_copy;
  struct sockaddr_storage *addresses;
  size_t n_addresses, next_address;
  bool any_contacted;    /* an attempt got a slot: a failure is not SKIPPED */
  char skip_reason[128]; /* the last politeness skip */
  char last_failure[STS_FETCH_FAILURE_MAX_BYTES];
  struct attempt *attempt; /* running, or NULL */
  struct waiter_list waiters;
  struct fetch_entry *hash_next;
};

struct sts_fetcher {
  struct event_base *base;
  struct probe_engine *politeness;
  struct sts_fetch_config config;
  SSL_CTX *ctx;
  struct fetch_entry **buckets;
  size_t bucket_count, entry_count;
  struct waiter_list ready; /* results to call back */
  struct event *ready_event;
  size_t pending;
};

void sts_fetch_config_defaults(struct sts_fetch_config *config) {
  memset(config, 0, sizeof *config);
  config->ca_file = NULL;
  config->https_port = 443;
  config->connect_timeout_ms = 10000;
  config->handshake_timeout_ms = 10000;
  config->response_timeout_ms = 30000;
}

/* Copies text into out (out_len > 0), cut to fit. */
static void copy_text(char *out, size_t out_len, const char *text) {
  size_t len = strlen(text);
  if (len >= out_len) len = out_len - 1;
  memcpy(out, text, len);
  out[len] = '\0';
}

/* "mta-sts.DOMAIN ADDRESS: why", cut to fit out. */
static void address_failure(char *out, size_t out_len, const char *host, const char *address, const char *why) {
  char text[STS_FETCH_MAX_DOMAIN_BYTES + 16 + 64 + STS_FETCH_FAILURE_MAX_BYTES + 32];
  snprintf(text, sizeof text, "%s %s: %s", host, address, why);
  copy_text(out, out_len, text);
}

static struct timeval ms_to_timeval(uint32_t ms) {
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

/* ---- the table of entries ---- */

static size_t name_hash(const char *name) {
  uint64_t hash = 1469598103934665603ULL; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
    hash = (hash ^ (uint64_t)tolower(*p)) * 1099511628211ULL;
  }
  return (size_t)hash;
}

static int grow_buckets(struct sts_fetcher *fetcher) {
  size_t count = fetcher->bucket_count == 0 ? 256 : fetcher->bucket_count * 2;
  struct fetch_entry **buckets = calloc(count, sizeof *buckets);
  if (buckets == NULL) return -1;
  for (size_t i = 0; i < fetcher->bucket_count; i++) {
    struct fetch_entry *entry = fetcher->buckets[i];
    while (entry != NULL) {
      struct fetch_entry *next = entry->hash_next;
      size_t slot = name_hash(entry->domain) & (count - 1);
      entry->hash_next = buckets[slot];
      buckets[slot] = entry;
      entry = next;
    }
  }
  free(fetcher->buckets);
  fetcher->buckets = buckets;
  fetcher->bucket_count = count;
  return 0;
}

static struct fetch_entry *entry_find(struct sts_fetcher *fetcher, const char *domain) {
  if (fetcher->bucket_count == 0) return NULL;
  size_t slot = name_hash(domain) & (fetcher->bucket_count - 1);
  for (struct fetch_entry *entry = fetcher->buckets[slot]; entry != NULL; entry = entry->hash_next) {
    if (strcasecmp(entry->domain, domain) == 0) return entry;
  }
  return NULL;
}

/* ---- results ---- */

static void on_ready(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct sts_fetcher *fetcher = arg;
  struct waiter_list batch;
  TAILQ_INIT(&batch);
  TAILQ_CONCAT(&batch, &fetcher->ready, link);
  while (!TAILQ_EMPTY(&batch)) {
    struct waiter *waiter = TAILQ_FIRST(&batch);
    TAILQ_REMOVE(&batch, waiter, link);
    fetcher->pending--;
    sts_fetch_done_cb done_cb = waiter->done_cb;
    void *cb_arg = waiter->arg;
    const struct sts_fetch_result *result = &waiter->entry->result;
    free(waiter);
    done_cb(result, cb_arg);
  }
}

static void attempt_free(struct attempt *attempt);

/* The entry's result is final: every waiter is called back (deferred). */
static void entry_finish(struct fetch_entry *entry, enum sts_fetch_outcome outcome, int http_status,
                         const char *failure) {
  struct sts_fetcher *fetcher = entry->fetcher;
  entry->done = true;
  entry->result.outcome = outcome;
  entry->result.http_status = http_status;
  copy_text(entry->result.failure, sizeof entry->result.failure, outcome == STS_FETCH_OK ? "" : failure);
  entry->result.body = outcome == STS_FETCH_OK ? (entry->body_copy != NULL ? entry->body_copy : "") : NULL;
  entry->result.body_len = outcome == STS_FETCH_OK ? entry->result.body_len : 0;
  free(entry->addresses);
  entry->addresses = NULL;
  entry->n_addresses = 0;
  TAILQ_CONCAT(&fetcher->ready, &entry->waiters, link);
  event_active(fetcher->ready_event, EV_TIMEOUT, 1);
}

static void start_next_address(struct fetch_entry *entry);

/* ---- one attempt ---- */

static void attempt_close(struct attempt *attempt) {
  if (attempt->bev != NULL) {
    bufferevent_free(attempt->bev); /* closes the socket (CLOSE_ON_FREE) */
    attempt->bev = NULL;
  }
  if (attempt->fd >= 0) {
    evutil_closesocket(attempt->fd);
    attempt->fd = -1;
  }
}

static void attempt_free(struct attempt *attempt) {
  if (attempt == NULL) return;
  attempt_close(attempt);
  if (attempt->timer != NULL) event_free(attempt->timer);
  /* A slot granted or still queued: either way the engine forgets it. */
  probe_slot_release(attempt->slot, false);
  free(attempt->body);
  free(attempt);
}

/* The attempt ended without an HTTP answer that decides: the next address
 * is tried, or the entry fails with this attempt's reason. */
static void attempt_failed(struct attempt *attempt, bool refused, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void attempt_failed(struct attempt *attempt, bool refused, const char *format, ...) {
  struct fetch_entry *entry = attempt->entry;
  char why[STS_FETCH_FAILURE_MAX_BYTES];
  va_list ap;
  va_start(ap, format);
  vsnprintf(why, sizeof why, format, ap);
  va_end(ap);
  address_failure(entry->last_failure, sizeof entry->last_failure, entry->host, attempt->address_text, why);
  attempt_close(attempt);
  struct probe_slot *slot = attempt->slot;
  attempt->slot = NULL;
  probe_slot_release(slot, refused);
  entry->attempt = NULL;
  attempt_free(attempt);
  start_next_address(entry);
}

/* The attempt got an HTTP answer: it decides the entry. */
static void attempt_decided(struct attempt *attempt, enum sts_fetch_outcome outcome, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void attempt_decided(struct attempt *attempt, enum sts_fetch_outcome outcome, const char *format, ...) {
  struct fetch_entry *entry = attempt->entry;
  char why[STS_FETCH_FAILURE_MAX_BYTES];
  va_list ap;
  va_start(ap, format);
  vsnprintf(why, sizeof why, format, ap);
  va_end(ap);
  if (outcome == STS_FETCH_OK) {
    entry->body_copy = malloc(attempt->body_len + 1);
    if (entry->body_copy == NULL) {
      outcome = STS_FETCH_UNAVAILABLE;
      snprintf(why, sizeof why, "out of memory keeping the policy");
    } else {
      if (attempt->body_len > 0) memcpy(entry->body_copy, attempt->body, attempt->body_len);
      entry->body_copy[attempt->body_len] = '\0';
      entry->result.body_len = attempt->body_len;
    }
  }
  char failure[STS_FETCH_FAILURE_MAX_BYTES];
  address_failure(failure, sizeof failure, entry->host, attempt->address_text, why);
  entry->attempt = NULL;
  int status = attempt->http_status;
  attempt_free(attempt);
  entry_finish(entry, outcome, status, failure);
}

static void arm(struct attempt *attempt, enum attempt_step step, uint32_t timeout_ms) {
  attempt->step = step;
  struct timeval tv = ms_to_timeval(timeout_ms);
  evtimer_add(attempt->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct attempt *attempt = arg;
  const struct sts_fetch_config *config = &attempt->entry->fetcher->config;
  switch (attempt->step) {
  case STEP_CONNECT:
    attempt_failed(attempt, false, "timeout: TCP connect (%u ms)", config->connect_timeout_ms);
    return;
  case STEP_HANDSHAKE:
    attempt_failed(attempt, false, "timeout: TLS handshake (%u ms)", config->handshake_timeout_ms);
    return;
  default:
    attempt_failed(attempt, false, "timeout: HTTP response not complete after %u ms (%zu header, %zu body bytes)",
                   config->response_timeout_ms, attempt->header_bytes, attempt->wire_body_bytes);
    return;
  }
}

static void tls_error_text(struct bufferevent *bev, char *out, size_t out_len) {
  out[0] = '\0';
  SSL *ssl = bufferevent_openssl_get_ssl(bev);
  long verify = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
  unsigned long code;
  char text[160] = "";
  while ((code = bufferevent_get_openssl_error(bev)) != 0) {
    if (text[0] != '\0') continue;
    if (ERR_GET_LIB(code) == 0 && code < 16) {
      snprintf(text, sizeof text, "%s", code == SSL_ERROR_SYSCALL ? "connection closed or reset" : "TLS error");
    } else {
      ERR_error_string_n(code, text, sizeof text);
    }
  }
  ERR_clear_error();
  if (verify != X509_V_OK) {
    snprintf(out, out_len, "certificate not valid under the WebPKI trust store: %s",
             X509_verify_cert_error_string(verify));
  } else {
    snprintf(out, out_len, "%s", text[0] != '\0' ? text : "connection closed");
  }
}

/* ---- the response parser ---- */

/* Appends to the body, up to one byte over the cap. Returns false when the
 * body is over the cap (or memory ran out: body_failed). */
static bool append_body(struct attempt *attempt, const char *data, size_t len) {
  size_t room = STS_POLICY_MAX_BYTES + 1 - attempt->body_len;
  if (len > room) len = room;
  if (!growbuf_reserve(&attempt->body, &attempt->body_cap, attempt->body_len + len, 4096, &attempt->body_failed)) {
    return false;
  }
  memcpy(attempt->body + attempt->body_len, data, len);
  attempt->body_len += len;
  return attempt->body_len <= STS_POLICY_MAX_BYTES;
}

static void trim(char **start, char **end) {
  while (*start < *end && (**start == ' ' || **start == '\t')) (*start)++;
  while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r')) (*end)--;
}

/* The status line. Returns false (attempt ended) when it is not HTTP. */
static bool parse_status_line(struct attempt *attempt, const char *line) {
  int major, minor, status;
  char space;
  if (sscanf(line, "HTTP/%1d.%1d %3d%c", &major, &minor, &status, &space) < 3 || status < 100 || status > 999) {
    attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "not an HTTP response (status line \"%.40s\")", line);
    return false;
  }
  attempt->http_status = status;
  return true;
}

/* One header field. Returns false when the attempt ended. */
static bool parse_header(struct attempt *attempt, char *line) {
  char *colon = strchr(line, ':');
  if (colon == NULL) {
    attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "malformed HTTP header line \"%.40s\"", line);
    return false;
  }
  char *name = line, *name_end = colon, *value = colon + 1, *value_end = line + strlen(line);
  trim(&name, &name_end);
  trim(&value, &value_end);
  *name_end = '\0';
  *value_end = '\0';
  if (strcasecmp(name, "Content-Type") == 0) {
    attempt->saw_content_type = true;
    char *semicolon = strchr(value, ';');
    char *type_end = semicolon != NULL ? semicolon : value_end;
    trim(&value, &type_end);
    size_t len = (size_t)(type_end - value);
    snprintf(attempt->media_type, sizeof attempt->media_type, "%.*s", (int)len, value);
    attempt->text_plain = len == 10 && strncasecmp(value, "text/plain", 10) == 0;
  } else if (strcasecmp(name, "Content-Length") == 0) {
    uint64_t length = 0;
    bool ok = *value != '\0';
    for (const char *p = value; ok && *p != '\0'; p++) {
      if (!isdigit((unsigned char)*p) || length > UINT64_MAX / 10 - 10) ok = false;
      else length = length * 10 + (uint64_t)(*p - '0');
    }
    if (!ok || (attempt->have_length && length != attempt->content_length)) {
      attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "bad Content-Length \"%.40s\"", value);
      return false;
    }
    attempt->have_length = true;
    attempt->content_length = length;
  } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
    /* Only "chunked" is understood (no Accept-Encoding, TE was sent). */
    if (strcasecmp(value, "chunked") != 0) {
      attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "unsupported Transfer-Encoding \"%.40s\"", value);
      return false;
    }
    attempt->body_mode = BODY_CHUNKED;
  }
  return true;
}

/* The header block ended: the verdicts that need no body. Returns false
 * when the attempt ended. */
static bool headers_complete(struct attempt *attempt) {
  int status = attempt->http_status;
  if (status >= 300 && status < 400) {
    attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "HTTP %d: redirect not followed (RFC 8461 3.3)", status);
    return false;
  }
  if (status != 200) {
    attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "HTTP %d instead of 200", status);
    return false;
  }
  if (!attempt->saw_content_type) {
    attempt_decided(attempt, STS_FETCH_INVALID, "no media type (Content-Type), must be text/plain");
    return false;
  }
  if (!attempt->text_plain) {
    attempt_decided(attempt, STS_FETCH_INVALID, "media type \"%s\", must be text/plain", attempt->media_type);
    return false;
  }
  if (attempt->body_mode != BODY_CHUNKED) attempt->body_mode = attempt->have_length ? BODY_LENGTH : BODY_CLOSE;
  if (attempt->body_mode == BODY_LENGTH && attempt->content_length > STS_POLICY_MAX_BYTES) {
    attempt_decided(attempt, STS_FETCH_INVALID, "policy of %llu bytes is over the %d byte limit",
                    (unsigned long long)attempt->content_length, STS_POLICY_MAX_BYTES);
    return false;
  }
  attempt->headers_done = true;
  return true;
}

static void body_over(struct attempt *attempt) {
  if (attempt->body_failed) {
    attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "out of memory reading the policy");
    return;
  }
  attempt_decided(attempt, STS_FETCH_INVALID, "policy over the %d byte limit", STS_POLICY_MAX_BYTES);
}

static void body_complete(struct attempt *attempt) {
  attempt_decided(attempt, STS_FETCH_OK, "%s", "");
}

/* Reads header lines. Returns false when the attempt ended or needs more. */
static bool read_headers(struct attempt *attempt, struct evbuffer *input) {
  while (!attempt->headers_done) {
    size_t len = 0;
    char *line = evbuffer_readln(input, &len, EVBUFFER_EOL_CRLF);
    if (line == NULL) {
      if (attempt->header_bytes + evbuffer_get_length(input) > STS_FETCH_MAX_HEADER_BYTES) {
        attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "response header over %d bytes", STS_FETCH_MAX_HEADER_BYTES);
      }
      return false;
    }
    attempt->header_bytes += len + 2;
    attempt->header_lines++;
    if (attempt->header_bytes > STS_FETCH_MAX_HEADER_BYTES || attempt->header_lines > STS_FETCH_MAX_HEADER_LINES) {
      free(line);
      attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "response header over %d bytes or %d lines",
                      STS_FETCH_MAX_HEADER_BYTES, STS_FETCH_MAX_HEADER_LINES);
      return false;
    }
    bool ok;
    if (attempt->http_status == 0) ok = parse_status_line(attempt, line);
    else if (len == 0) ok = headers_complete(attempt);
    else ok = parse_header(attempt, line);
    free(line);
    if (!ok) return false;
  }
  return true;
}

/* Decodes chunked framing. Returns false when the attempt ended or needs more. */
static bool read_chunked(struct attempt *attempt, struct evbuffer *input) {
  for (;;) {
    if (attempt->chunk_state == CHUNK_DATA) {
      size_t have = evbuffer_get_length(input);
      if (have == 0) return false;
      size_t take = have < attempt->chunk_left ? have : (size_t)attempt->chunk_left;
      char buffer[4096];
      while (take > 0) {
        size_t n = take < sizeof buffer ? take : sizeof buffer;
        evbuffer_remove(input, buffer, n);
        attempt->wire_body_bytes += n;
        take -= n;
        attempt->chunk_left -= n;
        if (!append_body(attempt, buffer, n)) {
          body_over(attempt);
          return false;
        }
      }
      if (attempt->chunk_left == 0) attempt->chunk_state = CHUNK_DATA_END;
      continue;
    }
    size_t len = 0;
    char *line = evbuffer_readln(input, &len, EVBUFFER_EOL_CRLF);
    if (line == NULL) {
      if (evbuffer_get_length(input) > STS_FETCH_MAX_CHUNK_LINE) {
        attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "chunked framing line over %d bytes", STS_FETCH_MAX_CHUNK_LINE);
      }
      return false;
    }
    attempt->wire_body_bytes += len + 2;
    enum chunk_state state = attempt->chunk_state;
    if (state == CHUNK_DATA_END) {
      bool empty = len == 0;
      free(line);
      if (!empty) {
        attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "chunked framing: no line end after a chunk");
        return false;
      }
      attempt->chunk_state = CHUNK_SIZE;
    } else if (state == CHUNK_SIZE) {
      uint64_t size = 0;
      size_t digits = 0;
      for (const char *p = line; isxdigit((unsigned char)*p) && digits < 16; p++, digits++) {
        size = size * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10);
      }
      char after = line[digits];
      free(line);
      if (digits == 0 || (after != '\0' && after != ';' && after != ' ' && after != '\t')) {
        attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "chunked framing: bad chunk size line");
        return false;
      }
      if (size > STS_POLICY_MAX_BYTES) {
        body_over(attempt);
        return false;
      }
      attempt->chunk_left = size;
      attempt->chunk_state = size == 0 ? CHUNK_TRAILER : CHUNK_DATA;
    } else { /* trailer fields, up to the empty line */
      free(line);
      attempt->header_bytes += len + 2;
      if (attempt->header_bytes > STS_FETCH_MAX_HEADER_BYTES) {
        attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "response header over %d bytes", STS_FETCH_MAX_HEADER_BYTES);
        return false;
      }
      if (len == 0) {
        body_complete(attempt);
        return false;
      }
    }
  }
}

static void on_read(struct bufferevent *bev, void *arg) {
  struct attempt *attempt = arg;
  struct evbuffer *input = bufferevent_get_input(bev);
  if (!attempt->headers_done && !read_headers(attempt, input)) return;
  if (attempt->body_mode == BODY_CHUNKED) {
    read_chunked(attempt, input);
    return;
  }
  /* Identity body: by length, or up to the close. */
  size_t have;
  while ((have = evbuffer_get_length(input)) > 0) {
    size_t want = have;
    if (attempt->body_mode == BODY_LENGTH) {
      uint64_t left = attempt->content_length - attempt->body_len;
      if (want > left) want = (size_t)left;
    }
    char chunk[4096];
    if (want > sizeof chunk) want = sizeof chunk;
    if (want == 0) break;
    evbuffer_remove(input, chunk, want);
    attempt->wire_body_bytes += want;
    if (!append_body(attempt, chunk, want)) {
      body_over(attempt);
      return;
    }
    if (attempt->body_mode == BODY_LENGTH && attempt->body_len == attempt->content_length) break;
  }
  if (attempt->body_mode == BODY_LENGTH && attempt->body_len == attempt->content_length) body_complete(attempt);
}

static void send_request(struct attempt *attempt) {
  struct fetch_entry *entry = attempt->entry;
  evbuffer_add_printf(bufferevent_get_output(attempt->bev),
                      "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                      "Host: %s\r\n"
                      "User-Agent: danescan (MTA-STS policy fetch)\r\n"
                      "Accept: text/plain\r\n"
                      "Connection: close\r\n"
                      "\r\n",
                      entry->host);
  arm(attempt, STEP_RESPONSE, entry->fetcher->config.response_timeout_ms);
}

static void on_event(struct bufferevent *bev, short events, void *arg);

static void start_handshake(struct attempt *attempt) {
  struct fetch_entry *entry = attempt->entry;
  struct sts_fetcher *fetcher = entry->fetcher;
  bufferevent_free(attempt->bev); /* plain: does not own the socket */
  attempt->bev = NULL;
  arm(attempt, STEP_HANDSHAKE, fetcher->config.handshake_timeout_ms);
  SSL *ssl = SSL_new(fetcher->ctx);
  if (ssl == NULL || SSL_set_tlsext_host_name(ssl, entry->host) != 1 || SSL_set1_host(ssl, entry->host) != 1) {
    SSL_free(ssl);
    attempt_failed(attempt, false, "local TLS setup failed");
    return;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  struct bufferevent *tls_bev = bufferevent_openssl_socket_new(fetcher->base, attempt->fd, ssl,
                                                               BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
  if (tls_bev == NULL) {
    SSL_free(ssl);
    attempt_failed(attempt, false, "local TLS setup failed: bufferevent_openssl_socket_new");
    return;
  }
  attempt->fd = -1;
  attempt->bev = tls_bev;
  bufferevent_openssl_set_allow_dirty_shutdown(tls_bev, 1);
  bufferevent_setcb(tls_bev, on_read, NULL, on_event, attempt);
  /* Above the header cap, so that an over-long header line is seen whole. */
  bufferevent_setwatermark(tls_bev, EV_READ, 0, STS_FETCH_MAX_HEADER_BYTES + 4096);
  bufferevent_enable(tls_bev, EV_READ | EV_WRITE);
}

static void on_event(struct bufferevent *bev, short events, void *arg) {
  struct attempt *attempt = arg;
  int saved_errno = EVUTIL_SOCKET_ERROR();
  if (events & BEV_EVENT_CONNECTED) {
    if (attempt->step == STEP_CONNECT) {
      start_handshake(attempt);
    } else if (attempt->step == STEP_HANDSHAKE) {
      send_request(attempt);
    }
    return;
  }
  if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  if (attempt->step == STEP_CONNECT) {
    attempt_failed(attempt, saved_errno == ECONNREFUSED, "TCP connect failed: %s",
                   saved_errno != 0 ? evutil_socket_error_to_string(saved_errno) : "closed");
    return;
  }
  if (attempt->step == STEP_HANDSHAKE) {
    char text[256];
    tls_error_text(bev, text, sizeof text);
    attempt_failed(attempt, false, "TLS handshake failed: %s", text);
    return;
  }
  /* STEP_RESPONSE: the server closed. Bytes still buffered are read first. */
  struct fetch_entry *entry = attempt->entry;
  on_read(bev, attempt);
  if (entry->done) return; /* decided by what was buffered (the attempt is gone) */
  if (attempt->headers_done && attempt->body_mode == BODY_CLOSE && (events & BEV_EVENT_EOF)) {
    body_complete(attempt);
    return;
  }
  if (attempt->http_status == 0 && attempt->header_bytes == 0) {
    char text[256];
    tls_error_text(bev, text, sizeof text);
    attempt_failed(attempt, false, "no HTTP response (%s)", events & BEV_EVENT_EOF ? "closed" : text);
    return;
  }
  attempt_decided(attempt, STS_FETCH_UNAVAILABLE, "connection closed before the response was complete");
}

/* The politeness slot for the attempt's address: connect, or move on. */
static void on_slot(struct probe_slot *slot, const char *skip_reason, void *arg) {
  struct attempt *attempt = arg;
  struct fetch_entry *entry = attempt->entry;
  struct sts_fetcher *fetcher = entry->fetcher;
  if (skip_reason != NULL) {
    attempt->slot = NULL; /* already gone */
    snprintf(entry->skip_reason, sizeof entry->skip_reason, "%s", skip_reason);
    char why[STS_FETCH_FAILURE_MAX_BYTES];
    snprintf(why, sizeof why, "not contacted: %s", skip_reason);
    address_failure(entry->last_failure, sizeof entry->last_failure, entry->host, attempt->address_text, why);
    entry->attempt = NULL;
    attempt_free(attempt);
    start_next_address(entry);
    return;
  }
  attempt->slot = slot;
  entry->any_contacted = true;
  const struct sockaddr *address = (const struct sockaddr *)&attempt->address;
  attempt->fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (attempt->fd < 0) {
    attempt_failed(attempt, false, "socket: %s", strerror(errno));
    return;
  }
  attempt->bev = bufferevent_socket_new(fetcher->base, attempt->fd, 0);
  if (attempt->bev == NULL) {
    attempt_failed(attempt, false, "out of memory: bufferevent_socket_new");
    return;
  }
  bufferevent_setcb(attempt->bev, NULL, NULL, on_event, attempt);
  arm(attempt, STEP_CONNECT, fetcher->config.connect_timeout_ms);
  /* On -1 no callback has run (libevent reports a refused connect later,
   * from the loop). */
  if (bufferevent_socket_connect(attempt->bev, address, (int)attempt->address_len) != 0) {
    int error = errno;
    attempt_failed(attempt, error == ECONNREFUSED, "TCP connect failed: %s", strerror(error));
  }
}

static void start_next_address(struct fetch_entry *entry) {
  struct sts_fetcher *fetcher = entry->fetcher;
  while (entry->next_address < entry->n_addresses) {
    struct attempt *attempt = calloc(1, sizeof *attempt);
    if (attempt != NULL) attempt->timer = evtimer_new(fetcher->base, on_timer, attempt);
    if (attempt == NULL || attempt->timer == NULL) {
      free(attempt);
      entry_finish(entry, STS_FETCH_UNAVAILABLE, 0, "out of memory");
      return;
    }
    attempt->entry = entry;
    attempt->fd = -1;
    attempt->address = entry->addresses[entry->next_address++];
    if (attempt->address.ss_family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)&attempt->address;
      in->sin_port = htons(fetcher->config.https_port);
      attempt->address_len = sizeof *in;
      inet_ntop(AF_INET, &in->sin_addr, attempt->address_text, sizeof attempt->address_text);
    } else {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&attempt->address;
      in6->sin6_port = htons(fetcher->config.https_port);
      attempt->address_len = sizeof *in6;
      inet_ntop(AF_INET6, &in6->sin6_addr, attempt->address_text, sizeof attempt->address_text);
    }
    attempt->step = STEP_SLOT;
    entry->attempt = attempt;
    attempt->slot = probe_engine_slot_request(fetcher->politeness, &attempt->address, on_slot, attempt);
    if (attempt->slot != NULL) return;
    address_failure(entry->last_failure, sizeof entry->last_failure, entry->host, attempt->address_text,
                    "not contacted: bad address or out of memory");
    entry->attempt = NULL;
    attempt_free(attempt);
  }
  /* Every address tried. */
  if (entry->n_addresses == 0) {
    char failure[STS_FETCH_FAILURE_MAX_BYTES];
    char text[sizeof entry->host + 32];
    snprintf(text, sizeof text, "%s has no address", entry->host);
    copy_text(failure, sizeof failure, text);
    entry_finish(entry, STS_FETCH_UNAVAILABLE, 0, failure);
  } else if (!entry->any_contacted && entry->skip_reason[0] != '\0') {
    char failure[STS_FETCH_FAILURE_MAX_BYTES];
    copy_text(failure, sizeof failure, entry->last_failure);
    entry_finish(entry, STS_FETCH_SKIPPED, 0, failure);
  } else {
    char failure[STS_FETCH_FAILURE_MAX_BYTES];
    copy_text(failure, sizeof failure, entry->last_failure);
    entry_finish(entry, STS_FETCH_UNAVAILABLE, 0, failure);
  }
}

/* ---- public ---- */

struct sts_fetcher *sts_fetcher_new(struct event_base *base, struct probe_engine *politeness,
                                    const struct sts_fetch_config *config, char *why, size_t why_len) {
  if (base == NULL || politeness == NULL || config->https_port == 0) {
    snprintf(why, why_len, "sts fetch: event base, probe engine and a port are required");
    return NULL;
  }
  struct sts_fetcher *fetcher = calloc(1, sizeof *fetcher);
  if (fetcher == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  fetcher->base = base;
  fetcher->politeness = politeness;
  fetcher->config = *config;
  fetcher->config.ca_file = NULL; /* loaded below; not kept */
  TAILQ_INIT(&fetcher->ready);
  fetcher->ready_event = evtimer_new(base, on_ready, fetcher);
  fetcher->ctx = SSL_CTX_new(TLS_client_method());
  if (fetcher->ready_event == NULL || fetcher->ctx == NULL || grow_buckets(fetcher) != 0) {
    snprintf(why, why_len, "out of memory");
    sts_fetcher_free(fetcher);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(fetcher->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(fetcher->ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_max_cert_list(fetcher->ctx, STS_FETCH_MAX_CERT_LIST_BYTES);
  SSL_CTX_set_session_cache_mode(fetcher->ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(fetcher->ctx, SSL_OP_NO_TICKET);
  X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(fetcher->ctx), X509_PURPOSE_SSL_SERVER);
  int loaded = config->ca_file != NULL ? SSL_CTX_load_verify_file(fetcher->ctx, config->ca_file)
                                       : SSL_CTX_set_default_verify_paths(fetcher->ctx);
  if (loaded != 1) {
    ERR_clear_error();
    if (config->ca_file != NULL) snprintf(why, why_len, "%s: cannot load a PEM certificate bundle", config->ca_file);
    else snprintf(why, why_len, "cannot use the system trust store (OpenSSL default paths)");
    sts_fetcher_free(fetcher);
    return NULL;
  }
  return fetcher;
}

static bool valid_domain(const char *domain) {
  size_t len = strlen(domain);
  if (len == 0 || len > STS_FETCH_MAX_DOMAIN_BYTES) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)domain[i];
    if (!isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

int sts_fetcher_fetch(struct sts_fetcher *fetcher, const char *domain, const struct sockaddr_storage *addresses,
                      size_t n_addresses, sts_fetch_done_cb done_cb, void *arg) {
  if (domain == NULL || done_cb == NULL) return -1;
  struct waiter *waiter = calloc(1, sizeof *waiter);
  if (waiter == NULL) return -1;
  waiter->done_cb = done_cb;
  waiter->arg = arg;
  /* A trailing dot names the same host. */
  char name[STS_FETCH_MAX_DOMAIN_BYTES + 2];
  snprintf(name, sizeof name, "%s", domain);
  size_t name_len = strlen(name);
  if (name_len > 1 && name[name_len - 1] == '.') name[name_len - 1] = '\0';
  struct fetch_entry *entry = entry_find(fetcher, name);
  if (entry == NULL) {
    if (fetcher->entry_count >= fetcher->bucket_count && grow_buckets(fetcher) != 0) {
      free(waiter);
      return -1;
    }
    entry = calloc(1, sizeof *entry);
    if (entry == NULL || (entry->domain = strdup(name)) == NULL ||
        (n_addresses > 0 && (entry->addresses = calloc(n_addresses, sizeof *addresses)) == NULL)) {
      if (entry != NULL) free(entry->domain);
      free(entry);
      free(waiter);
      return -1;
    }
    entry->fetcher = fetcher;
    TAILQ_INIT(&entry->waiters);
    snprintf(entry->host, sizeof entry->host, "mta-sts.%s", name);
    if (n_addresses > 0) memcpy(entry->addresses, addresses, n_addresses * sizeof *addresses);
    entry->n_addresses = n_addresses;
    size_t slot = name_hash(entry->domain) & (fetcher->bucket_count - 1);
    entry->hash_next = fetcher->buckets[slot];
    fetcher->buckets[slot] = entry;
    fetcher->entry_count++;
    waiter->entry = entry;
    TAILQ_INSERT_TAIL(&entry->waiters, waiter, link);
    fetcher->pending++;
    if (!valid_domain(entry->domain)) {
      char failure[STS_FETCH_FAILURE_MAX_BYTES];
      snprintf(failure, sizeof failure, "\"%.200s\" is not a host name", entry->domain);
      entry_finish(entry, STS_FETCH_UNAVAILABLE, 0, failure);
    } else {
      start_next_address(entry); /* calls back only from events */
    }
    return 0;
  }
  waiter->entry = entry;
  fetcher->pending++;
  if (entry->done) {
    TAILQ_INSERT_TAIL(&fetcher->ready, waiter, link);
    event_active(fetcher->ready_event, EV_TIMEOUT, 1);
  } else {
    TAILQ_INSERT_TAIL(&entry->waiters, waiter, link);
  }
  return 0;
}

size_t sts_fetcher_pending(const struct sts_fetcher *fetcher) {
  return fetcher->pending;
}

void sts_fetcher_free(struct sts_fetcher *fetcher) {
  if (fetcher == NULL) return;
  for (size_t i = 0; i < fetcher->bucket_count; i++) {
    struct fetch_entry *entry = fetcher->buckets[i];
    while (entry != NULL) {
      struct fetch_entry *next = entry->hash_next;
      attempt_free(entry->attempt);
      while (!TAILQ_EMPTY(&entry->waiters)) {
        struct waiter *waiter = TAILQ_FIRST(&entry->waiters);
        TAILQ_REMOVE(&entry->waiters, waiter, link);
        free(waiter);
      }
      free(entry->addresses);
      free(entry->body_copy);
      free(entry->domain);
      free(entry);
      entry = next;
    }
  }
  while (!TAILQ_EMPTY(&fetcher->ready)) {
    struct waiter *waiter = TAILQ_FIRST(&fetcher->ready);
    TAILQ_REMOVE(&fetcher->ready, waiter, link);
    free(waiter);
  }
  free(fetcher->buckets);
  if (fetcher->ready_event != NULL) event_free(fetcher->ready_event);
  SSL_CTX_free(fetcher->ctx);
  free(fetcher);
}
