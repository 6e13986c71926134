/* Unit tests of the probe engine's policy: special-purpose addresses, the
 * CIDR blocklist, rollover classes, TLS-RPT mapping and config checks (pure
 * parts), and the second attempt after a transient failure, against a
 * scripted SMTP server on 127.0.0.1 in the test's own event loop (each
 * connection gets the next action of a script: close at once, answer EHLO
 * with a RST, stay silent, greet with 554). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "pipeline/rules.h"
#include "probe/probe.h"
#include "probe/probe_address.h"
#include "unit.h"

static struct sockaddr_storage addr(const char *text) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  } else {
    fprintf(stderr, "bad test address %s\n", text);
    abort();
  }
  return ss;
}

static const char *reserved(const char *text) {
  struct sockaddr_storage ss = addr(text);
  return probe_address_reserved((const struct sockaddr *)&ss);
}

static void test_reserved_v4(void) {
  const char *special[] = {"0.1.2.3",        "10.0.0.1",    "10.255.255.255", "100.64.0.1",      "100.127.255.255",
                           "127.0.0.1",      "169.254.1.1", "172.16.0.1",     "172.31.255.255",  "192.0.0.8",
                           "192.0.2.55",     "192.88.99.1", "192.168.1.1",    "198.18.0.1",      "198.19.255.255",
                           "198.51.100.7",   "203.0.113.9", "224.0.0.1",      "239.255.255.255", "240.0.0.1",
                           "255.255.255.255"};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
    if (reserved(special[i]) == NULL) fprintf(stderr, "not reserved: %s\n", special[i]);
    CHECK(reserved(special[i]) != NULL);
  }
  const char *global[] = {"1.1.1.1",    "8.8.8.8",     "100.63.255.255",  "100.128.0.0", "172.15.255.255",
                          "172.32.0.0", "192.0.1.1",   "192.0.3.1",       "192.169.0.1", "198.17.255.255",
                          "198.20.0.0", "203.0.114.1", "223.255.255.255", "11.0.0.1"};
  for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
    if (reserved(global[i]) != NULL) fprintf(stderr, "reserved: %s\n", global[i]);
    CHECK(reserved(global[i]) == NULL);
  }
  CHECK_STR(reserved("127.0.0.1"), "loopback 127.0.0.0/8 (RFC 1122)");
}

static void test_reserved_v6(void) {
  const char *special[] = {"::",      "::1",     "::ffff:8.8.8.8",   "64:ff9b::808:808", "64:ff9b:1::1",
                           "100::1",  "2001::1", "2001:1ff:ffff::1", "2001:db8::1",      "2002:808:808::1",
                           "3fff::1", "fc00::1", "fd12:3456::1",     "fe80::1",          "febf::1",
                           "ff02::1", "1234::1", "4000::1",          "e000::1"};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
    if (reserved(special[i]) == NULL) fprintf(stderr, "not reserved: %s\n", special[i]);
    CHECK(reserved(special[i]) != NULL);
  }
  const char *global[] = {"2001:200::1", "2001:4860:4860::8888", "2a00:1450::1", "2600::1", "3ffe::1", "2003::1"};
  for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
    if (reserved(global[i]) != NULL) fprintf(stderr, "reserved: %s -> %s\n", global[i], reserved(global[i]));
    CHECK(reserved(global[i]) == NULL);
  }
  CHECK_STR(reserved("::ffff:127.0.0.1"), "IPv4-mapped ::ffff:0:0/96 (RFC 4291)");
  CHECK_STR(reserved("2001:db8::1"), "documentation 2001:db8::/32 (RFC 3849)");
}

static bool blocked(const struct probe_blocklist *list, const char *text) {
  struct sockaddr_storage ss = addr(text);
  return probe_blocklist_contains(list, (const struct sockaddr *)&ss);
}

static void test_blocklist(void) {
  struct probe_blocklist *list = probe_blocklist_new();
  const char *why = NULL;
  CHECK_INT(probe_blocklist_add_text(list, "198.51.100.0/24", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "8.8.8.8", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "2001:db8:1::/48", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "0.0.0.0/0", &why) == 0 ? 1 : 0, 1);
  CHECK_INT(probe_blocklist_count(list), 4);
  probe_blocklist_free(list);

  list = probe_blocklist_new();
  CHECK_INT(probe_blocklist_add_text(list, "198.51.100.0/24", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "8.8.8.8", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "2001:db8:1::/48", &why), 0);
  CHECK_INT(probe_blocklist_add_text(list, "2a00::/12", &why), 0);
  CHECK(blocked(list, "198.51.100.0"));
  CHECK(blocked(list, "198.51.100.255"));
  CHECK(!blocked(list, "198.51.101.0"));
  CHECK(!blocked(list, "198.51.99.255"));
  CHECK(blocked(list, "8.8.8.8"));
  CHECK(!blocked(list, "8.8.8.9"));
  CHECK(blocked(list, "2001:db8:1:ffff::1"));
  CHECK(!blocked(list, "2001:db8:2::1"));
  CHECK(blocked(list, "2a0f:ffff::1"));
  CHECK(!blocked(list, "2a10::1"));
  /* families are kept apart: an IPv4 prefix never matches IPv6 */
  CHECK(!blocked(list, "::c633:6401"));
  /* bad prefixes */
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.1/8", &why), -1);
  CHECK_STR(why, "host bits set beyond the prefix length");
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.0/33", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "2001:db8::/129", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "example.com", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.0/", &why), -1);
  CHECK_INT(probe_blocklist_add_text(list, "10.0.0.0/8x", &why), -1);
  CHECK_INT(probe_blocklist_count(list), 4);
  probe_blocklist_free(list);
  probe_blocklist_free(NULL);
}

static void test_blocklist_file(void) {
  struct probe_blocklist *list = probe_blocklist_new();
  char why[256];
  FILE *good = tmpfile();
  fputs("# comment\n\n  192.0.2.0/24   # doc\n2001:db8::/32\n\t10.1.2.3\n", good);
  rewind(good);
  CHECK_INT(probe_blocklist_read(list, good, "good.txt", why, sizeof why), 0);
  fclose(good);
  CHECK_INT(probe_blocklist_count(list), 3);
  CHECK(blocked(list, "10.1.2.3"));
  FILE *bad = tmpfile();
  fputs("172.16.0.0/12\n172.16.0.0/99\n", bad);
  rewind(bad);
  CHECK_INT(probe_blocklist_read(list, bad, "bad.txt", why, sizeof why), -1);
  fclose(bad);
  CHECK(strncmp(why, "bad.txt:2: IPv4 prefix length over 32", 37) == 0);
  /* nothing of a bad file is added */
  CHECK_INT(probe_blocklist_count(list), 3);
  CHECK(!blocked(list, "172.16.0.1"));
  probe_blocklist_free(list);
}

static struct tlsa_record record(uint8_t usage) {
  static uint8_t digest[32];
  struct tlsa_record r = {usage, 1, 1, 32, digest, false, NULL};
  tlsa_record_classify(&r);
  return r;
}

static void test_rollover(void) {
  struct tlsa_record set[4];
  memset(set, 0, sizeof set);
  CHECK_INT(rules_rollover_class(set, 0), ROLLOVER_NONE);
  set[0] = record(3);
  CHECK_INT(rules_rollover_class(set, 1), ROLLOVER_SINGLE);
  set[0] = record(2);
  CHECK_INT(rules_rollover_class(set, 1), ROLLOVER_SINGLE);
  set[0] = record(3);
  set[1] = record(3);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_CURRENT_NEXT);
  set[1] = record(2);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_CURRENT_ISSUER);
  set[0] = record(2);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_ISSUER);
  /* unusable records do not count */
  set[0] = record(1);
  set[1] = record(0);
  CHECK_INT(rules_rollover_class(set, 2), ROLLOVER_NONE);
  set[2] = record(3);
  CHECK_INT(rules_rollover_class(set, 3), ROLLOVER_SINGLE);
  set[3] = record(3);
  set[3].data_len = 31; /* digest of the wrong length */
  tlsa_record_classify(&set[3]);
  CHECK_INT(rules_rollover_class(set, 4), ROLLOVER_SINGLE);
  CHECK_STR(rollover_class_name(rules_rollover_class(set, 2)), "none");
}

static void test_tlsrpt(void) {
  CHECK_INT(probe_result_tlsrpt(PROBE_AUTHENTICATED), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_NAME_MISMATCH), TLSRPT_CERTIFICATE_HOST_MISMATCH);
  CHECK_INT(probe_result_tlsrpt(PROBE_CERT_EXPIRED), TLSRPT_CERTIFICATE_EXPIRED);
  CHECK_INT(probe_result_tlsrpt(PROBE_NO_STARTTLS), TLSRPT_STARTTLS_NOT_SUPPORTED);
  CHECK_INT(probe_result_tlsrpt(PROBE_STARTTLS_REFUSED), TLSRPT_STARTTLS_NOT_SUPPORTED);
  CHECK_INT(probe_result_tlsrpt(PROBE_TLSA_MISMATCH), TLSRPT_VALIDATION_FAILURE);
  CHECK_INT(probe_result_tlsrpt(PROBE_TLS_FAILED), TLSRPT_VALIDATION_FAILURE);
  CHECK_INT(probe_result_tlsrpt(PROBE_CONNECT_FAILED), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_TIMEOUT), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_UNAUTHENTICATED_TLS), TLSRPT_NONE);
  CHECK_INT(probe_result_tlsrpt(PROBE_SKIPPED), TLSRPT_NONE);
}

struct collected {
  int calls;
  enum probe_result result;
  char reason[128];
};

static void collect(const struct probe_report *report, void *arg) {
  struct collected *c = arg;
  c->calls++;
  c->result = report->result;
  snprintf(c->reason, sizeof c->reason, "%s", report->reason);
}

static void test_engine_skips(void) {
  struct event_base *base = event_base_new();
  struct probe_config config;
  probe_config_defaults(&config);
  CHECK_INT(config.smtp_port, 25);
  CHECK_INT(config.per_ip, 1);
  CHECK(config.greeting_timeout_ms >= 30000);
  config.ehlo_name = "unit.test"; /* the default needs an FQDN (test_ehlo_name) */
  char why[256];
  struct probe_engine *engine = probe_engine_new(base, &config, why, sizeof why);
  CHECK(engine != NULL);
  struct probe_request request;
  memset(&request, 0, sizeof request);
  request.host_name = "mx.example";
  request.address = addr("10.1.2.3");
  request.address_len = sizeof(struct sockaddr_in);
  struct collected c = {0, PROBE_AUTHENTICATED, ""};
  CHECK_INT(probe_engine_submit(engine, &request, collect, &c), 0);
  CHECK_INT(c.calls, 0); /* never from inside submit */
  CHECK_INT(probe_engine_pending(engine), 1);
  event_base_dispatch(base);
  CHECK_INT(c.calls, 1);
  CHECK_INT(c.result, PROBE_SKIPPED);
  CHECK_STR(c.reason, "private-use 10.0.0.0/8 (RFC 1918)");
  CHECK_INT(probe_engine_pending(engine), 0);
  /* an invalid request: no callback, -1 */
  request.address.ss_family = AF_UNIX;
  CHECK_INT(probe_engine_submit(engine, &request, collect, &c), -1);
  struct probe_stats stats;
  probe_engine_get_stats(engine, &stats);
  CHECK_INT(stats.submitted, 1);
  CHECK_INT(stats.skipped, 1);
  CHECK_INT(stats.connections, 0);
  /* free with a probe still queued: no callback */
  request.address = addr("10.1.2.4");
  CHECK_INT(probe_engine_submit(engine, &request, collect, &c), 0);
  probe_engine_free(engine);
  CHECK_INT(c.calls, 1);
  probe_engine_free(NULL);
  /* a bad EHLO name and a zero limit are refused */
  config.ehlo_name = "bad name\r\nMAIL FROM:<>";
  CHECK(probe_engine_new(base, &config, why, sizeof why) == NULL);
  /* an engine that only lends politeness slots (the MTA-STS fetch of a
   * --probe none scan) chooses no EHLO name, so a refused one (here
   * localhost; on a machine without an FQDN, the default) does not stop
   * it, and it refuses SMTP probes */
  config.ehlo_name = "localhost";
  CHECK(probe_engine_new(base, &config, why, sizeof why) == NULL);
  config.slots_only = true;
  struct probe_engine *slots = probe_engine_new(base, &config, why, sizeof why);
  CHECK(slots != NULL);
  request.address = addr("10.1.2.5");
  if (slots != NULL) CHECK_INT(probe_engine_submit(slots, &request, collect, &c), -1);
  probe_engine_free(slots);
  config.slots_only = false;
  config.ehlo_name = NULL;
  config.max_concurrent = 0;
  CHECK(probe_engine_new(base, &config, why, sizeof why) == NULL);
  event_base_free(base);
}

/* ---- the second attempt, against a scripted server ---- */

enum server_action { ACT_CLOSE, ACT_RESET_ON_EHLO, ACT_SILENT, ACT_GREET_554 };

#define SCRIPT_MAX 8

struct script_conn {
  struct script_server *server;
  evutil_socket_t fd;
  struct event *read_event;
  enum server_action action;
};

struct script_server {
  struct event_base *base;
  struct evconnlistener *listener;
  uint16_t port;
  enum server_action script[SCRIPT_MAX];
  size_t script_len;
  size_t accepted;
  int64_t accepted_ms[SCRIPT_MAX];
  struct script_conn *conns[SCRIPT_MAX];
};

static int64_t test_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void script_conn_close(struct script_conn *conn) {
  if (conn->read_event != NULL) event_free(conn->read_event);
  conn->read_event = NULL;
  if (conn->fd >= 0) close(conn->fd);
  conn->fd = -1;
}

static void on_script_read(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct script_conn *conn = arg;
  char buffer[512];
  ssize_t n = read(fd, buffer, sizeof buffer);
  if (n <= 0) {
    script_conn_close(conn); /* the client closed */
    return;
  }
  if (conn->action == ACT_RESET_ON_EHLO && n >= 4 && memcmp(buffer, "EHLO", 4) == 0) {
    struct linger linger = {1, 0}; /* close() sends a RST */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    script_conn_close(conn);
  }
}

static void on_script_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *peer, int peer_len,
                             void *arg) {
  (void)listener;
  (void)peer;
  (void)peer_len;
  struct script_server *server = arg;
  size_t index = server->accepted++;
  if (index >= SCRIPT_MAX) {
    close(fd);
    return;
  }
  server->accepted_ms[index] = test_now_ms();
  enum server_action action = index < server->script_len ? server->script[index] : ACT_CLOSE;
  if (action == ACT_CLOSE) {
    close(fd);
    return;
  }
  struct script_conn *conn = calloc(1, sizeof *conn);
  conn->server = server;
  conn->fd = fd;
  conn->action = action;
  server->conns[index] = conn;
  static const char greeting_220[] = "220 unit.test ESMTP\r\n";
  static const char greeting_554[] = "554 unit.test no service\r\n";
  ssize_t written = 0;
  if (action == ACT_RESET_ON_EHLO) written = write(fd, greeting_220, sizeof greeting_220 - 1);
  if (action == ACT_GREET_554) written = write(fd, greeting_554, sizeof greeting_554 - 1);
  (void)written;
  conn->read_event = event_new(server->base, fd, EV_READ | EV_PERSIST, on_script_read, conn);
  event_add(conn->read_event, NULL);
}

/* Listens on 127.0.0.1 (a free port); the script's actions are taken by the
 * connections in order. */
static void script_server_start(struct script_server *server, struct event_base *base, const enum server_action *script,
                                size_t script_len) {
  memset(server, 0, sizeof *server);
  server->base = base;
  memcpy(server->script, script, script_len * sizeof *script);
  server->script_len = script_len;
  struct sockaddr_in in;
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server->listener = evconnlistener_new_bind(base, on_script_accept, server, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                             16, (struct sockaddr *)&in, sizeof in);
  CHECK(server->listener != NULL);
  socklen_t len = sizeof in;
  getsockname(evconnlistener_get_fd(server->listener), (struct sockaddr *)&in, &len);
  server->port = ntohs(in.sin_port);
}

static void script_server_stop(struct script_server *server) {
  for (size_t i = 0; i < SCRIPT_MAX; i++) {
    if (server->conns[i] == NULL) continue;
    script_conn_close(server->conns[i]);
    free(server->conns[i]);
  }
  if (server->listener != NULL) evconnlistener_free(server->listener);
}

/* A port on 127.0.0.1 where nothing listens: connections are refused. */
static uint16_t closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in in;
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof in;
  CHECK(bind(fd, (struct sockaddr *)&in, sizeof in) == 0);
  getsockname(fd, (struct sockaddr *)&in, &len);
  close(fd);
  return ntohs(in.sin_port);
}

struct retry_report {
  int calls;
  enum probe_result result;
  enum probe_step step;
  unsigned attempts;
  struct probe_first_attempt first;
  char first_reason[256];
  char reason[384];
};

static void collect_retry(const struct probe_report *report, void *arg) {
  struct retry_report *r = arg;
  r->calls++;
  r->result = report->result;
  r->step = report->last_step;
  r->attempts = report->attempts;
  r->first = report->first;
  snprintf(r->first_reason, sizeof r->first_reason, "%s", report->first_reason ? report->first_reason : "(null)");
  snprintf(r->reason, sizeof r->reason, "%s", report->reason);
}

/* Fast lab timings: every step 300 ms, a retry after delay_ms. */
static void retry_config(struct probe_config *config, uint16_t port, uint32_t delay_ms) {
  probe_config_defaults(config);
  CHECK(config->retry_transient);
  CHECK_INT(config->retry_delay_ms, 5000);
  config->smtp_port = port;
  config->allow_reserved = true;
  config->ehlo_name = "unit.test";
  config->rate_per_second = 0;
  config->per_ip_gap_ms = 0;
  config->connect_timeout_ms = config->greeting_timeout_ms = config->ehlo_timeout_ms = 300;
  config->starttls_timeout_ms = config->handshake_timeout_ms = 300;
  config->quit_timeout_ms = 50;
  config->retry_delay_ms = delay_ms;
}

/* Probes 127.0.0.1 once per report slot (all submitted at once). */
static void run_probes(struct event_base *base, const struct probe_config *config, struct retry_report *reports,
                       size_t count, struct probe_stats *stats) {
  char why[256];
  struct probe_engine *engine = probe_engine_new(base, config, why, sizeof why);
  CHECK(engine != NULL);
  if (engine == NULL) return;
  struct probe_request request;
  memset(&request, 0, sizeof request);
  request.host_name = "mx.unit.test";
  request.address = addr("127.0.0.1");
  request.address_len = sizeof(struct sockaddr_in);
  for (size_t i = 0; i < count; i++) CHECK_INT(probe_engine_submit(engine, &request, collect_retry, &reports[i]), 0);
  while (probe_engine_pending(engine) > 0) event_base_loop(base, EVLOOP_ONCE);
  if (stats != NULL) probe_engine_get_stats(engine, stats);
  probe_engine_free(engine);
}

/* libevent measures its timers on CLOCK_MONOTONIC_COARSE (one kernel tick,
 * 4 ms at HZ=250) unless the base asks for precise timers, and these tests read
 * CLOCK_MONOTONIC truncated to ms: a 200 ms timer was seen to end 198 ms after
 * the probe's own time stamp (1 run in 30 under load), and a greeting timeout
 * plus a gap ended 699 ms apart at the server. Lower bounds on timer delays
 * allow that much; a delay or gap not kept at all is still far below them. */
#define TIMER_SLACK_MS 10

static void test_retry_transient(void) {
  struct event_base *base = event_base_new();
  struct probe_config config;
  struct probe_stats stats;

  /* closed before the greeting, then a 554: the second attempt's result is
   * the probe's, with the first one's beside it; the pause is the delay */
  struct script_server server;
  enum server_action close_then_554[] = {ACT_CLOSE, ACT_GREET_554};
  script_server_start(&server, base, close_then_554, 2);
  retry_config(&config, server.port, 200);
  struct retry_report r = {0};
  run_probes(base, &config, &r, 1, &stats);
  CHECK_INT(r.calls, 1);
  CHECK_INT(r.result, PROBE_SMTP_FAILED);
  CHECK_INT(r.attempts, 2);
  CHECK_INT(r.first.result, PROBE_SMTP_FAILED);
  CHECK_INT(r.first.step, PROBE_STEP_GREETING);
  CHECK_STR(r.first_reason, "connection closed by the server while waiting for the greeting");
  /* upper bounds with room for a loaded machine (CI), still well below the
   * default 5 s delay and the step timeouts */
  CHECK(r.first.pause_ms >= 200 - TIMER_SLACK_MS && r.first.pause_ms < 4000);
  CHECK(r.first.elapsed_ms >= 0 && r.first.elapsed_ms < 2000);
  CHECK_INT(server.accepted, 2);
  CHECK(server.accepted_ms[1] - server.accepted_ms[0] >= 200 - TIMER_SLACK_MS);
  CHECK_INT(stats.connections, 2);
  CHECK_INT(stats.retries, 1);
  script_server_stop(&server);

  /* a reply is not transient: a 554 greeting is not retried */
  enum server_action greet_554[] = {ACT_GREET_554, ACT_GREET_554};
  script_server_start(&server, base, greet_554, 2);
  retry_config(&config, server.port, 50);
  memset(&r, 0, sizeof r);
  run_probes(base, &config, &r, 1, NULL);
  CHECK_INT(r.result, PROBE_SMTP_FAILED);
  CHECK_INT(r.attempts, 1);
  CHECK_STR(r.first_reason, "(null)");
  CHECK_INT(server.accepted, 1);
  script_server_stop(&server);

  /* a RST in answer to EHLO is transient; silent twice ends in timeout */
  enum server_action reset_then_silent[] = {ACT_RESET_ON_EHLO, ACT_SILENT};
  script_server_start(&server, base, reset_then_silent, 2);
  retry_config(&config, server.port, 50);
  memset(&r, 0, sizeof r);
  run_probes(base, &config, &r, 1, NULL);
  CHECK_INT(r.result, PROBE_TIMEOUT);
  CHECK_INT(r.step, PROBE_STEP_GREETING);
  CHECK_INT(r.attempts, 2);
  CHECK_INT(r.first.result, PROBE_SMTP_FAILED);
  CHECK_INT(r.first.step, PROBE_STEP_EHLO);
  script_server_stop(&server);

  /* the retry waits for the address's gap when that is longer */
  enum server_action silent_twice[] = {ACT_SILENT, ACT_SILENT};
  script_server_start(&server, base, silent_twice, 2);
  retry_config(&config, server.port, 50);
  config.per_ip_gap_ms = 400;
  memset(&r, 0, sizeof r);
  run_probes(base, &config, &r, 1, NULL);
  CHECK_INT(r.result, PROBE_TIMEOUT);
  CHECK_INT(r.attempts, 2);
  CHECK_INT(r.first.result, PROBE_TIMEOUT);
  CHECK(r.first.pause_ms >= 400);
  /* without the gap: 300 + 50 */
  CHECK(server.accepted_ms[1] - server.accepted_ms[0] >= 300 + 400 - TIMER_SLACK_MS);
  script_server_stop(&server);

  /* --no-probe-retry: one session */
  enum server_action close_once[] = {ACT_CLOSE, ACT_GREET_554};
  script_server_start(&server, base, close_once, 2);
  retry_config(&config, server.port, 50);
  config.retry_transient = false;
  memset(&r, 0, sizeof r);
  run_probes(base, &config, &r, 1, NULL);
  CHECK_INT(r.result, PROBE_SMTP_FAILED);
  CHECK_INT(r.attempts, 1);
  CHECK_INT(server.accepted, 1);
  script_server_stop(&server);
  event_base_free(base);
}

static void test_retry_give_up(void) {
  struct event_base *base = event_base_new();
  struct probe_config config;
  struct probe_stats stats;
  uint16_t port = closed_port();

  /* refused twice: both sessions count towards the give-up (2), so the
   * second probe of the address is skipped */
  retry_config(&config, port, 50);
  config.per_ip_give_up = 2;
  config.per_ip_backoff_max_ms = 100;
  struct retry_report r[2];
  memset(r, 0, sizeof r);
  run_probes(base, &config, r, 2, &stats);
  CHECK_INT(r[0].result, PROBE_CONNECT_FAILED);
  CHECK_INT(r[0].attempts, 2);
  CHECK_INT(r[0].first.result, PROBE_CONNECT_FAILED);
  CHECK_INT(r[0].first.step, PROBE_STEP_CONNECT);
  CHECK(r[0].first.pause_ms >= 100); /* the backed-off gap, longer than the delay */
  CHECK_INT(r[1].result, PROBE_SKIPPED);
  CHECK_INT(r[1].attempts, 0);
  CHECK_INT(stats.connections, 2);

  /* given up after the first session: no retry, and the reason says so */
  retry_config(&config, port, 50);
  config.per_ip_give_up = 1;
  memset(r, 0, sizeof r);
  run_probes(base, &config, r, 1, &stats);
  CHECK_INT(r[0].result, PROBE_CONNECT_FAILED);
  CHECK_INT(r[0].attempts, 1);
  CHECK(strstr(r[0].reason, "(not retried: the address was given up)") != NULL);
  CHECK_INT(stats.connections, 1);
  event_base_free(base);
}

UNIT_MAIN(UNIT_TEST(test_reserved_v4), UNIT_TEST(test_reserved_v6), UNIT_TEST(test_blocklist),
          UNIT_TEST(test_blocklist_file), UNIT_TEST(test_rollover), UNIT_TEST(test_tlsrpt),
          UNIT_TEST(test_engine_skips), UNIT_TEST(test_retry_transient), UNIT_TEST(test_retry_give_up))
