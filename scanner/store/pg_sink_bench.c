/* `danescan db bench` (see pg_sink_bench.h): synthetic records through the
 * real sink. */
#include "store/pg_sink_bench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/scan_row.h"
#include "record/result.h"
#include "record/sink.h"
#include "store/bench_model.h"
#include "store/pg_sink.h"
#include "util/clock.h"

#define BENCH_HOSTS_PER_DOMAIN 2
#define BENCH_ADDRESSES_PER_HOST 2

static uint8_t bench_tlsa_data[32];

static void bench_host(struct mx_host *host, struct host_address *addresses, struct tlsa_record *tlsa, char *name,
                       size_t name_len, unsigned long long domain, int index) {
  memset(host, 0, sizeof *host);
  snprintf(name, name_len, "mx%d.d%llu.bench.lab", index, domain);
  host->name = name;
  host->tlsa_base = name;
  host->a.done = host->aaaa.done = host->tlsa.done = true;
  host->a.rcode = host->aaaa.rcode = host->tlsa.rcode = 0;
  host->tlsa.has_ede = (domain % 97) == 0;
  host->tlsa.ede_code = 6;
  /* Hostile text on purpose (quotes, backslash, tab, newline, invalid
   * UTF-8): the COPY must take it. */
  static char hostile_ede_text[] = "it's \"bogus\" \\ \t\n\xff\xfe end"; /* borrowed, never freed */
  host->tlsa.ede_text = hostile_ede_text;
  host->status = (domain % 3) == 0 ? HOST_DANE_UNPROBED : HOST_NO_TLSA;
  host->rollover = ROLLOVER_SINGLE;
  host->flags = (domain % 5) == 0 ? MX_FLAG_TLSA_AT_ORIGINAL_NAME : 0;
  for (int a = 0; a < BENCH_ADDRESSES_PER_HOST; a++) {
    struct host_address *address = &addresses[a];
    memset(address, 0, sizeof *address);
    address->family = a == 0 ? AF_INET : AF_INET6;
    if (a == 0) {
      snprintf(address->text, sizeof address->text, "10.%llu.%llu.%d", (domain >> 8) & 255, domain & 255, index);
    } else {
      snprintf(address->text, sizeof address->text, "fd00::%llx:%llx:%x", (domain >> 16) & 0xffff, domain & 0xffff,
               index);
    }
    address->probe_result = PROBE_SKIPPED;
    address->probe_reason = "probe mode none";
  }
  host->addresses = addresses;
  host->address_count = BENCH_ADDRESSES_PER_HOST;
  memset(tlsa, 0, sizeof *tlsa);
  tlsa->usage = 3;
  tlsa->selector = 1;
  tlsa->matching_type = 1;
  tlsa->data = bench_tlsa_data;
  tlsa->data_len = sizeof bench_tlsa_data;
  tlsa->usable = true;
  host->tlsa_records = tlsa;
  host->tlsa_count = 1;
  host->tlsa_usable_count = 1;
}

/* The default records: two hosts of two addresses per domain, half of the
 * domains unprobed. */
static void bench_default_domain(struct domain_result *result, struct mx_host *hosts,
                                 struct host_address (*addresses)[BENCH_ADDRESSES_PER_HOST], struct tlsa_record *tlsa,
                                 char (*names)[64], unsigned long long d) {
  memset(result, 0, sizeof *result);
  snprintf(result->name, sizeof result->name, "d%llu.bench.lab", d);
  result->seq = d;
  result->line = d + 1;
  result->rank = -1;
  result->status = (d % 3) == 0 ? DOMAIN_DANE_UNPROBED : DOMAIN_NO_DANE;
  result->mx.done = true;
  result->mx.state = DNSSEC_SECURE;
  result->mx.rcode = 0;
  result->mx_dnssec = DNSSEC_SECURE;
  result->started_unix_ms = (int64_t)time(NULL) * 1000;
  for (int h = 0; h < BENCH_HOSTS_PER_DOMAIN; h++) {
    bench_host(&hosts[h], addresses[h], &tlsa[h], names[h], sizeof names[h], d, h);
    result->links[h].preference = (uint16_t)(10 * h);
    result->links[h].host = &hosts[h];
  }
  result->link_count = BENCH_HOSTS_PER_DOMAIN;
}

int pg_sink_bench(const char *url, const struct pg_sink_bench_options *options) {
  unsigned long long domains = options->domains;
  char scan_id[80];
  if (options->scan_id != NULL) snprintf(scan_id, sizeof scan_id, "%s", options->scan_id);
  else snprintf(scan_id, sizeof scan_id, "bench-%ld-%d", (long)time(NULL), (int)getpid());
  char *argv_stored[] = {"db", "bench"};
  /* Scans of the same synthetic input share its name, so trend.sql lists
   * them together. */
  char input_name[64];
  snprintf(input_name, sizeof input_name, "bench-%s-%llu", options->realistic ? "realistic" : "plain", domains);
  const char *input_names[1] = {input_name};
  struct pg_sink_config config = {
      .conninfo = url,
      .scan_id = scan_id,
      .argc = 2,
      .argv = argv_stored,
      .batch_domains = options->batch,
      .input_names = input_names,
      .input_count = 1,
      .log = stderr,
  };
  struct result_sink sink;
  char why[1024];
  if (pg_sink_open(&sink, &config, why, sizeof why) != 0) {
    fprintf(stderr, "danescan db bench: %s\n", why);
    return 1;
  }
  double t0 = clock_now_s();
  struct bench_model_domain *model = calloc(1, sizeof *model);
  struct domain_result *result = calloc(1, sizeof *result);
  struct mx_host hosts[BENCH_HOSTS_PER_DOMAIN];
  struct host_address addresses[BENCH_HOSTS_PER_DOMAIN][BENCH_ADDRESSES_PER_HOST];
  struct tlsa_record tlsa[BENCH_HOSTS_PER_DOMAIN];
  char names[BENCH_HOSTS_PER_DOMAIN][64];
  int rc = 0;
  uint64_t waits = 0;
  for (unsigned long long d = 0; result != NULL && model != NULL && d < domains && rc == 0; d++) {
    while (!sink.can_accept(sink.state)) {
      struct timespec pause = {0, 200 * 1000};
      nanosleep(&pause, NULL);
      waits++;
    }
    if (options->realistic) {
      bench_model_domain(model, d, domains, options->variant);
      rc = sink.write(sink.state, &model->result, why, sizeof why);
    } else {
      bench_default_domain(result, hosts, addresses, tlsa, names, d);
      rc = sink.write(sink.state, result, why, sizeof why);
    }
  }
  free(result);
  free(model);
  /* Hand over the last batch, then wait until the writer committed every
   * domain (or failed: close reports it). */
  struct pg_sink_stats stats;
  /* A realistic scan ends complete, as a finished survey does: its report
   * summaries are computed when the scans row is finished (db/scan_row.h). */
  if (rc == 0 && options->realistic) pg_sink_set_outcome(sink.state, true, NULL);
  if (rc == 0) sink.flush(sink.state, why, sizeof why);
  double flushed = clock_now_s();
  for (;;) {
    pg_sink_get_stats(sink.state, &stats);
    if (rc != 0 || stats.domains_committed >= domains) break;
    if (clock_now_s() - flushed > 900) break; /* the writer failed: close says why */
    clock_sleep_ms(1);
  }
  double t1 = clock_now_s();
  if (sink.close(sink.state, why, sizeof why) != 0 && rc == 0) rc = -1;
  if (rc != 0) {
    fprintf(stderr, "danescan db bench: %s\n", why);
    return 1;
  }
  double seconds = t1 - t0;
  printf("danescan db bench: %llu domains, %llu rows in %.2f s: %.0f rows/s, %.0f domains/s "
         "(%llu batches, writer busy %.2f s, %llu backpressure waits, scan %s)\n",
         (unsigned long long)stats.domains_committed, (unsigned long long)stats.rows_committed, seconds,
         (double)stats.rows_committed / seconds, (double)stats.domains_committed / seconds,
         (unsigned long long)stats.batches_committed, stats.writer_busy_s, (unsigned long long)waits, scan_id);
  if (!options->keep) {
    PGconn *conn = db_connect(url, "SET client_min_messages = warning", why, sizeof why);
    if (conn == NULL || db_scan_drop(conn, scan_id, why, sizeof why) != DB_OK)
      fprintf(stderr, "danescan db bench: %s\n", why);
    PQfinish(conn);
  }
  return 0;
}
