/* danescan-sts-fetch: drives the MTA-STS policy fetcher (sts/sts_fetch.h)
 * from the command line for the integration tests. Prints one line per
 * result on stdout, in callback order:
 *   domain=D outcome=ok|unavailable|invalid|skipped http=N body_len=N body_sha256=HEX|- failure="..."
 * and a summary (elapsed, peak RSS, connections) on stderr.
 *
 * Usage: danescan-sts-fetch [options] DOMAIN=ADDRESS[,ADDRESS...]... [--then DOMAIN=ADDRESS...]
 *   --port N (443)  --ca-file FILE  --connect-timeout-ms N  --handshake-timeout-ms N
 *   --response-timeout-ms N  --allow-reserved  --blocklist FILE  --per-ip N  --gap-ms N
 *   --rate R  --body-dir DIR (writes each OK body to DIR/DOMAIN)
 * The fetches after --then start once every fetch before it was called back
 * (answered from the fetcher's table). "DOMAIN=" fetches with no address.
 * Test tool: exits 2 on bad arguments. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/sha.h>

#include "probe/probe.h"
#include "sts/sts_fetch.h"

#define MAX_ITEMS 64
#define MAX_ADDRESSES 8

struct item {
  char domain[256];
  struct sockaddr_storage addresses[MAX_ADDRESSES];
  size_t n_addresses;
  bool then;
};

struct run {
  struct sts_fetcher *fetcher;
  struct item items[MAX_ITEMS];
  size_t count, done, first_round, started;
  const char *body_dir;
  int failures;
};

static const char *outcome_name(enum sts_fetch_outcome outcome) {
  switch (outcome) {
  case STS_FETCH_OK:
    return "ok";
  case STS_FETCH_UNAVAILABLE:
    return "unavailable";
  case STS_FETCH_INVALID:
    return "invalid";
  case STS_FETCH_SKIPPED:
    return "skipped";
  }
  return "?";
}

static void start_items(struct run *run, bool then);

static void print_result(const struct sts_fetch_result *result, const void *arg) {
  const struct item *item = arg;
  printf("domain=%s outcome=%s http=%d body_len=%zu body_sha256=", item->domain, outcome_name(result->outcome),
         result->http_status, result->body_len);
  if (result->body != NULL) {
    unsigned char digest[32];
    SHA256((const unsigned char *)result->body, result->body_len, digest);
    for (int i = 0; i < 32; i++) printf("%02x", digest[i]);
  } else {
    printf("-");
  }
  printf(" failure=\"%s\"\n", result->failure);
  fflush(stdout);
}

static struct run the_run;

static void on_done_item(const struct sts_fetch_result *result, void *arg) {
  struct item *item = arg;
  print_result(result, item);
  struct run *run = &the_run;
  if (run->body_dir != NULL && result->body != NULL) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", run->body_dir, item->domain);
    FILE *out = fopen(path, "w");
    if (out != NULL) {
      fwrite(result->body, 1, result->body_len, out);
      fclose(out);
    }
  }
  run->done++;
  if (run->done == run->first_round && run->started < run->count) start_items(run, true);
}

static void start_items(struct run *run, bool then) {
  for (size_t i = 0; i < run->count; i++) {
    struct item *item = &run->items[i];
    if (item->then != then) continue;
    run->started++;
    if (sts_fetcher_fetch(run->fetcher, item->domain, item->addresses, item->n_addresses, on_done_item, item) != 0) {
      fprintf(stderr, "danescan-sts-fetch: fetch of %s refused\n", item->domain);
      run->failures++;
    }
  }
}

static int parse_item(const char *text, struct item *item) {
  const char *equals = strchr(text, '=');
  if (equals == NULL || (size_t)(equals - text) >= sizeof item->domain) return -1;
  memset(item, 0, sizeof *item);
  memcpy(item->domain, text, (size_t)(equals - text));
  char list[1024];
  snprintf(list, sizeof list, "%s", equals + 1);
  char *save = NULL;
  for (char *token = strtok_r(list, ",", &save); token != NULL; token = strtok_r(NULL, ",", &save)) {
    if (item->n_addresses >= MAX_ADDRESSES) return -1;
    struct sockaddr_storage *ss = &item->addresses[item->n_addresses];
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, token, &in->sin_addr) == 1) in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, token, &in6->sin6_addr) == 1) in6->sin6_family = AF_INET6;
    else return -1;
    item->n_addresses++;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: danescan-sts-fetch [options] DOMAIN=ADDRESS[,ADDRESS...]... (see the file header)\n");
  exit(2);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  struct probe_config probe_config;
  probe_config_defaults(&probe_config);
  probe_config.slots_only = true;   /* only politeness slots for the fetch: no SMTP, no EHLO name */
  probe_config.rate_per_second = 0; /* unlimited unless --rate */
  probe_config.per_ip_gap_ms = 0;
  struct sts_fetch_config config;
  sts_fetch_config_defaults(&config);
  const char *blocklist = NULL;
  struct run *run = &the_run;
  bool then = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) {
      if (run->count >= MAX_ITEMS || parse_item(arg, &run->items[run->count]) != 0) usage();
      run->items[run->count].then = then;
      if (!then) run->first_round++;
      run->count++;
      continue;
    }
    if (strcmp(arg, "--allow-reserved") == 0) {
      probe_config.allow_reserved = true;
      continue;
    }
    if (strcmp(arg, "--then") == 0) {
      then = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    unsigned long number = strtoul(value, NULL, 10);
    if (strcmp(arg, "--port") == 0) config.https_port = (uint16_t)number;
    else if (strcmp(arg, "--ca-file") == 0) config.ca_file = value;
    else if (strcmp(arg, "--connect-timeout-ms") == 0) config.connect_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--handshake-timeout-ms") == 0) config.handshake_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--response-timeout-ms") == 0) config.response_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--blocklist") == 0) blocklist = value;
    else if (strcmp(arg, "--per-ip") == 0) probe_config.per_ip = (unsigned)number;
    else if (strcmp(arg, "--gap-ms") == 0) probe_config.per_ip_gap_ms = (uint32_t)number;
    else if (strcmp(arg, "--rate") == 0) probe_config.rate_per_second = strtod(value, NULL);
    else if (strcmp(arg, "--body-dir") == 0) run->body_dir = value;
    else usage();
  }
  if (run->count == 0) usage();
  signal(SIGPIPE, SIG_IGN);
  struct event_base *base = event_base_new();
  char why[512];
  struct probe_engine *engine = probe_engine_new(base, &probe_config, why, sizeof why);
  if (engine == NULL) {
    fprintf(stderr, "danescan-sts-fetch: %s\n", why);
    return 1;
  }
  if (blocklist != NULL && probe_engine_load_blocklist(engine, blocklist, why, sizeof why) != 0) {
    fprintf(stderr, "danescan-sts-fetch: %s\n", why);
    return 1;
  }
  run->fetcher = sts_fetcher_new(base, engine, &config, why, sizeof why);
  if (run->fetcher == NULL) {
    fprintf(stderr, "danescan-sts-fetch: %s\n", why);
    probe_engine_free(engine);
    event_base_free(base);
    return 1;
  }
  double start = now_seconds();
  start_items(run, false);
  if (run->first_round == 0) start_items(run, true);
  event_base_dispatch(base);
  double elapsed = now_seconds() - start;
  struct probe_stats stats;
  probe_engine_get_stats(engine, &stats);
  struct rusage usage_self;
  getrusage(RUSAGE_SELF, &usage_self);
  fprintf(stderr, "summary fetches=%zu done=%zu pending=%zu connections=%llu elapsed_s=%.3f maxrss_kb=%ld\n",
          run->count, run->done, sts_fetcher_pending(run->fetcher), (unsigned long long)stats.connections, elapsed,
          usage_self.ru_maxrss);
  sts_fetcher_free(run->fetcher);
  probe_engine_free(engine);
  event_base_free(base);
  return run->done == run->count && run->failures == 0 ? 0 : 1;
}
