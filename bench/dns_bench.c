/* Micro-benchmark of the DNS client: fires N lookups of distinct names at a
 * resolver with at most C outstanding, and prints lookups/s, queries/s and
 * CPU microseconds per query of this process (getrusage: user + system), so
 * the client's cost can be told from the resolver's. Only ever point it at a
 * resolver you run yourself (127.0.0.1); see bench/README.md.
 *
 *   dns_bench --resolver 127.0.0.1:5399 --count 200000 --concurrency 5000 \
 *             --pattern 'n%u.bench.test' --type A
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "dns/dns_client.h"

struct bench {
  struct event_base *base;
  struct dns_client *client;
  const char *pattern;
  ldns_rr_type type;
  uint64_t count, started, done;
  uint64_t concurrency;
  uint64_t states[DNSSEC_STATE_COUNT];
  uint64_t tcp;
  int start_errors;
};

static void start_more(struct bench *bench);

static void on_answer(const struct dns_answer *answer, void *arg) {
  struct bench *bench = arg;
  bench->done++;
  bench->states[answer->state]++;
  bench->tcp += answer->used_tcp;
  start_more(bench);
  if (bench->done == bench->count) {
    event_base_loopbreak(bench->base);
  }
}

static void start_more(struct bench *bench) {
  while (bench->started < bench->count && bench->started - bench->done < bench->concurrency) {
    char name[256];
    snprintf(name, sizeof name, bench->pattern, (unsigned)bench->started);
    bench->started++;
    if (dns_lookup(bench->client, name, bench->type, -1, on_answer, bench) != 0) {
      bench->start_errors++;
      bench->done++;
    }
  }
}

static double seconds_of(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void usage(void) {
  fprintf(stderr,
          "usage: dns_bench --resolver IP[:port] [--count N] [--concurrency C]\n"
          "                 [--pattern 'n%%u.bench.test'] [--type A] [--initial W]\n"
          "                 [--timeout-ms T] [--sockets S]\n");
}

int main(int argc, char **argv) {
  struct dns_client_config config;
  dns_client_config_defaults(&config);
  struct bench bench = {.pattern = "n%u.bench.test", .type = LDNS_RR_TYPE_A, .count = 100000, .concurrency = 5000};
  static const struct option options[] = {{"resolver", required_argument, NULL, 'r'},
                                          {"count", required_argument, NULL, 'n'},
                                          {"concurrency", required_argument, NULL, 'c'},
                                          {"pattern", required_argument, NULL, 'p'},
                                          {"type", required_argument, NULL, 't'},
                                          {"initial", required_argument, NULL, 'i'},
                                          {"timeout-ms", required_argument, NULL, 'T'},
                                          {"sockets", required_argument, NULL, 's'},
                                          {NULL, 0, NULL, 0}};
  char why[256];
  int option;
  unsigned initial = 0;
  while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
    switch (option) {
    case 'r':
      if (dns_client_config_add_resolver(&config, optarg, why, sizeof why) != 0) {
        fprintf(stderr, "dns_bench: %s\n", why);
        return 2;
      }
      break;
    case 'n':
      bench.count = strtoull(optarg, NULL, 10);
      break;
    case 'c':
      bench.concurrency = strtoull(optarg, NULL, 10);
      break;
    case 'p':
      bench.pattern = optarg;
      break;
    case 't':
      bench.type = ldns_get_rr_type_by_name(optarg);
      break;
    case 'i':
      initial = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'T':
      config.query_timeout_ms = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 's':
      config.udp_socket_count = (unsigned)strtoul(optarg, NULL, 10);
      break;
    default:
      usage();
      return 2;
    }
  }
  if (config.resolver_count == 0 || bench.count == 0 || bench.concurrency == 0) {
    usage();
    return 2;
  }
  config.max_inflight = (unsigned)bench.concurrency;
  config.initial_inflight = initial != 0 ? initial : (unsigned)bench.concurrency;
  bench.base = event_base_new();
  bench.client = dns_client_new(bench.base, &config, why, sizeof why);
  if (bench.client == NULL) {
    fprintf(stderr, "dns_bench: %s\n", why);
    return 1;
  }
  struct rusage before, after;
  struct timespec wall_before, wall_after;
  getrusage(RUSAGE_SELF, &before);
  clock_gettime(CLOCK_MONOTONIC, &wall_before);
  start_more(&bench);
  if (bench.done < bench.count) {
    event_base_dispatch(bench.base);
  }
  clock_gettime(CLOCK_MONOTONIC, &wall_after);
  getrusage(RUSAGE_SELF, &after);

  struct dns_client_stats stats;
  dns_client_get_stats(bench.client, &stats);
  double wall = (double)(wall_after.tv_sec - wall_before.tv_sec) +
      (double)(wall_after.tv_nsec - wall_before.tv_nsec) / 1e9;
  double user = seconds_of(after.ru_utime) - seconds_of(before.ru_utime);
  double sys = seconds_of(after.ru_stime) - seconds_of(before.ru_stime);
  double queries = (double)stats.queries_sent;
  printf("lookups %llu in %.3f s: %.0f lookups/s, %.0f queries/s\n", (unsigned long long)bench.done, wall,
         (double)bench.done / wall, queries / wall);
  printf("cpu: user %.3f s, sys %.3f s: %.2f us/query (user %.2f, sys %.2f)\n", user, sys, (user + sys) * 1e6 / queries,
         user * 1e6 / queries, sys * 1e6 / queries);
  printf("states: secure %llu insecure %llu bogus %llu failed %llu; tcp %llu; start errors %d\n",
         (unsigned long long)bench.states[DNSSEC_SECURE], (unsigned long long)bench.states[DNSSEC_INSECURE],
         (unsigned long long)bench.states[DNSSEC_BOGUS], (unsigned long long)bench.states[DNSSEC_FAILED],
         (unsigned long long)bench.tcp, bench.start_errors);
  printf("client: queries %llu retries %llu timeouts %llu servfails %llu mismatched %llu "
         "slow_retried %llu window %u\n",
         (unsigned long long)stats.queries_sent, (unsigned long long)stats.retries, (unsigned long long)stats.timeouts,
         (unsigned long long)stats.servfails, (unsigned long long)stats.mismatched,
         (unsigned long long)stats.slow_retried, stats.window);
  dns_client_free(bench.client);
  event_base_free(bench.base);
  return stats.failed == 0 ? 0 : 1;
}
