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

#include "db/db.h"
#include "db/pg_schema.h"
#include "db/scan_row.h"
#include "queue/queue_bench.h"
#include "queue/queue_db.h"
#include "store/pg_sink_bench.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan db COMMAND [--db URL]\n"
          "  migrate                   create or upgrade the schema (no-op when current)\n"
          "  status                    schema version and stored scans\n"
          "  drop SCAN_ID              drop a scan whole (partitions, progress, scans row)\n"
          "  bench [--domains N] [--batch N] [--keep] [--realistic [--variant V]] [--scan-id ID]\n"
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
  bool realistic;
  unsigned variant;
  const char *bench_scan_id;
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
    else if (strcmp(argv[i], "--realistic") == 0) args->realistic = true;
    else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc) args->variant = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--scan-id") == 0 && i + 1 < argc) args->bench_scan_id = argv[++i];
    else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) args->workers = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--chunk-size") == 0 && i + 1 < argc)
      args->chunk_size = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (argv[i][0] != '-' && args->scan_id == NULL) args->scan_id = argv[i];
    else {
      fprintf(stderr, "danescan db: unknown argument '%s'\n", argv[i]);
      return -1;
    }
  }
  return 0;
}

static PGconn *connect_db(const char *url) {
  char why[512];
  PGconn *conn = db_connect(url, "SET client_min_messages = warning", why, sizeof why);
  if (conn == NULL) fprintf(stderr, "danescan db: %s\n", why);
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
  if (latest >= 0) printf("migrations read from %s\n", dir);
  if (version == 0) {
    PQfinish(conn);
    return 0;
  }
  if (db_scan_list(conn, stdout, why, sizeof why) != DB_OK) {
    fprintf(stderr, "danescan db status: %s\n", why);
    PQfinish(conn);
    return 1;
  }
  PQfinish(conn);
  return 0;
}

static int cmd_drop(const struct db_args *args) {
  if (args->scan_id == NULL) {
    fprintf(stderr, "danescan db drop: which scan?\n");
    return 2;
  }
  PGconn *conn = connect_db(args->url);
  if (conn == NULL) return 1;
  char why[512];
  int rc = db_scan_drop(conn, args->scan_id, why, sizeof why);
  if (rc != DB_OK) fprintf(stderr, "danescan db drop: %s\n", why);
  PQfinish(conn);
  if (rc == 0) printf("danescan: scan %s dropped\n", args->scan_id);
  return rc == 0 ? 0 : 1;
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
  if (strcmp(argv[1], "bench") == 0) {
    struct pg_sink_bench_options options = {
        .domains = args.domains,
        .batch = (size_t)args.batch,
        .keep = args.keep,
        .realistic = args.realistic,
        .variant = args.variant,
        .scan_id = args.bench_scan_id,
    };
    return pg_sink_bench(args.url, &options) == 0 ? 0 : 1;
  }
  if (strcmp(argv[1], "bench-queue") == 0) {
    return queue_bench_main(args.url, args.domains, args.workers > 0 ? args.workers : 16,
                            args.chunk_size > 0 ? args.chunk_size : QUEUE_DEFAULT_CHUNK_DOMAINS, args.keep);
  }
  fprintf(stderr, "danescan db: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
