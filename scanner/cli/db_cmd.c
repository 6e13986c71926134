/* `danescan db ...` (see db_cmd.h). */
#include "cli/db_cmd.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "queue/queue_bench.h"
#include "record/result.h"
#include "queue/queue_db.h"
#include "db/pg_schema.h"
#include "store/pg_sink.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan db COMMAND [--db URL]\n"
          "  migrate                   create or upgrade the schema (no-op when current)\n"
          "  status                    schema version and stored scans\n"
          "  drop SCAN_ID              drop a scan whole (partitions, progress, scans row)\n"
          "  bench [--domains N] [--batch N] [--keep]\n"
          "                            rows/s through the writer (synthetic records)\n"
          "  bench-queue [--domains N] [--workers N] [--chunk-size N] [--keep]\n"
          "                            leases/s and domains/s the work queue hands out (no resolution)\n"
          "URL: libpq URL or conninfo (default $DANESCAN_DB, else the PG* environment).\n"
          "DANESCAN_SCHEMA_DIR overrides where the migrations are read from.\n");
}

struct db_args {
  const char *url;
  const char *scan_id;
  unsigned long long domains;
  unsigned long long batch;
  bool keep;
  unsigned workers;
  unsigned chunk_size;
};

static int parse_args(int argc, char **argv, struct db_args *args) {
  args->url = getenv("DANESCAN_DB");
  if (args->url == NULL) args->url = "";
  args->domains = 100000;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) args->url = argv[++i];
    else if (strncmp(argv[i], "--db=", 5) == 0) args->url = argv[i] + 5;
    else if (strcmp(argv[i], "--domains") == 0 && i + 1 < argc) args->domains = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) args->batch = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--keep") == 0) args->keep = true;
    else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) args->workers = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--chunk-size") == 0 && i + 1 < argc) args->chunk_size = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (argv[i][0] != '-' && args->scan_id == NULL) args->scan_id = argv[i];
    else {
      fprintf(stderr, "danescan db: unknown argument '%s'\n", argv[i]);
      return -1;
    }
  }
  return 0;
}

static PGconn *connect_db(const char *url) {
  PGconn *conn = PQconnectdb(url);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "danescan db: database: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return NULL;
  }
  PQclear(PQexec(conn, "SET client_min_messages = warning"));
  return conn;
}

static int cmd_migrate(const struct db_args *args) {
  char dir[PATH_MAX], why[1024];
  if (pg_schema_find_dir(dir, sizeof dir) != 0) {
    fprintf(stderr, "danescan db migrate: schema/migrations not found (set DANESCAN_SCHEMA_DIR)\n");
    return 1;
  }
  PGconn *conn = connect_db(args->url);
  if (conn == NULL) return 1;
  int applied = pg_schema_migrate(conn, dir, stdout, why, sizeof why);
  int version = applied >= 0 ? pg_schema_version(conn, why, sizeof why) : -1;
  PQfinish(conn);
  if (applied < 0 || version < 0) {
    fprintf(stderr, "danescan db migrate: %s\n", why);
    return 1;
  }
  printf("danescan: schema at version %d (%d migration%s applied)\n", version, applied, applied == 1 ? "" : "s");
  return 0;
}

static int cmd_status(const struct db_args *args) {
  char why[1024], dir[PATH_MAX];
  PGconn *conn = connect_db(args->url);
  if (conn == NULL) return 1;
  int version = pg_schema_version(conn, why, sizeof why);
  int latest = pg_schema_find_dir(dir, sizeof dir) == 0 ? pg_schema_latest(dir) : -1;
  if (version < 0) {
    fprintf(stderr, "danescan db status: %s\n", why);
    PQfinish(conn);
    return 1;
  }
  printf("schema version %d", version);
  if (latest >= 0) printf(" (this danescan has %d%s)", latest, latest > version ? ": run 'danescan db migrate'" : "");
  printf("\n");
  if (version == 0) {
    PQfinish(conn);
    return 0;
  }
  PGresult *res = PQexec(conn,
                         "SELECT s.id, to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
                         " coalesce(to_char(s.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'running/killed'),"
                         " coalesce(s.complete::text, '?'), s.runs,"
                         " (SELECT coalesce(sum(domain_rows), 0) FROM scan_batches b WHERE b.scan_id = s.id)"
                         " FROM scans s ORDER BY s.started_at");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    fprintf(stderr, "danescan db status: %s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return 1;
  }
  printf("%-36s %-19s %-19s %-8s %4s %10s\n", "scan", "started (UTC)", "ended (UTC)", "complete", "runs", "domains");
  for (int i = 0; i < PQntuples(res); i++) {
    printf("%-36s %-19s %-19s %-8s %4s %10s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
           PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
  }
  PQclear(res);
  PQfinish(conn);
  return 0;
}

static int drop_scan(PGconn *conn, const char *scan_id) {
  const char *params[1] = {scan_id};
  PGresult *res = PQexecParams(conn, "SELECT danescan_drop_scan($1)", 1, NULL, params, NULL, NULL, 0);
  int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
  if (rc != 0) fprintf(stderr, "danescan db drop: %s", PQerrorMessage(conn));
  PQclear(res);
  return rc;
}

static int cmd_drop(const struct db_args *args) {
  if (args->scan_id == NULL) {
    fprintf(stderr, "danescan db drop: which scan?\n");
    return 2;
  }
  PGconn *conn = connect_db(args->url);
  if (conn == NULL) return 1;
  int rc = drop_scan(conn, args->scan_id);
  PQfinish(conn);
  if (rc == 0) printf("danescan: scan %s dropped\n", args->scan_id);
  return rc == 0 ? 0 : 1;
}

/* ---- bench: synthetic records through the real sink ---- */

#define BENCH_HOSTS_PER_DOMAIN 2
#define BENCH_ADDRESSES_PER_HOST 2

static uint8_t bench_tlsa_data[32];

static void bench_host(struct mx_host *host, struct host_address *addresses, struct tlsa_record *tlsa,
                       char *name, size_t name_len, unsigned long long domain, int index) {
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
      snprintf(address->text, sizeof address->text, "fd00::%llx:%llx:%x", (domain >> 16) & 0xffff,
               domain & 0xffff, index);
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

static int cmd_bench(const struct db_args *args) {
  char scan_id[64];
  snprintf(scan_id, sizeof scan_id, "bench-%ld-%d", (long)time(NULL), (int)getpid());
  char *argv_stored[] = {"db", "bench"};
  struct pg_sink_config config = {
      .conninfo = args->url,
      .scan_id = scan_id,
      .argc = 2,
      .argv = argv_stored,
      .batch_domains = (size_t)args->batch,
      .log = stderr,
  };
  struct result_sink sink;
  char why[1024];
  if (pg_sink_open(&sink, &config, why, sizeof why) != 0) {
    fprintf(stderr, "danescan db bench: %s\n", why);
    return 1;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct domain_result *result = calloc(1, sizeof *result);
  struct mx_host hosts[BENCH_HOSTS_PER_DOMAIN];
  struct host_address addresses[BENCH_HOSTS_PER_DOMAIN][BENCH_ADDRESSES_PER_HOST];
  struct tlsa_record tlsa[BENCH_HOSTS_PER_DOMAIN];
  char names[BENCH_HOSTS_PER_DOMAIN][64];
  int rc = 0;
  uint64_t waits = 0;
  for (unsigned long long d = 0; result != NULL && d < args->domains && rc == 0; d++) {
    while (!sink.can_accept(sink.state)) {
      struct timespec pause = {0, 200 * 1000};
      nanosleep(&pause, NULL);
      waits++;
    }
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
    rc = sink.write(sink.state, result, why, sizeof why);
  }
  free(result);
  /* Hand over the last batch, then wait until the writer committed every
   * domain (or failed: close reports it). */
  struct pg_sink_stats stats;
  if (rc == 0) sink.flush(sink.state, why, sizeof why);
  for (;;) {
    pg_sink_get_stats(sink.state, &stats);
    if (rc != 0 || stats.domains_committed >= args->domains) break;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (t1.tv_sec - t0.tv_sec > 900) break; /* the writer failed: close says why */
    struct timespec pause = {0, 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (sink.close(sink.state, why, sizeof why) != 0 && rc == 0) rc = -1;
  if (rc != 0) {
    fprintf(stderr, "danescan db bench: %s\n", why);
    return 1;
  }
  double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("danescan db bench: %llu domains, %llu rows in %.2f s: %.0f rows/s, %.0f domains/s "
         "(%llu batches, writer busy %.2f s, %llu backpressure waits, scan %s)\n",
         (unsigned long long)stats.domains_committed, (unsigned long long)stats.rows_committed, seconds,
         (double)stats.rows_committed / seconds, (double)stats.domains_committed / seconds,
         (unsigned long long)stats.batches_committed, stats.writer_busy_s, (unsigned long long)waits, scan_id);
  if (!args->keep) {
    PGconn *conn = connect_db(args->url);
    if (conn != NULL) {
      drop_scan(conn, scan_id);
      PQfinish(conn);
    }
  }
  return 0;
}

int db_cmd_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  struct db_args args = {0};
  if (parse_args(argc, argv, &args) != 0) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "migrate") == 0) return cmd_migrate(&args);
  if (strcmp(argv[1], "status") == 0) return cmd_status(&args);
  if (strcmp(argv[1], "drop") == 0) return cmd_drop(&args);
  if (strcmp(argv[1], "bench") == 0) return cmd_bench(&args);
  if (strcmp(argv[1], "bench-queue") == 0) {
    return queue_bench_main(args.url, args.domains, args.workers > 0 ? args.workers : 16,
                            args.chunk_size > 0 ? args.chunk_size : QUEUE_DEFAULT_CHUNK_DOMAINS, args.keep);
  }
  fprintf(stderr, "danescan db: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
