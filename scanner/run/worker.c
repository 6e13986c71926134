/* One worker process of a queued scan (see worker.h). */
#include "run/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "db/db.h"
#include "db/db_retry.h"
#include "db/scan_row.h"
#include "pipeline/scan.h"
#include "queue/queue_db.h"
#include "queue/work_queue.h"
#include "run/scan_metadata.h"
#include "run/scan_runtime.h"
#include "store/jsonl.h"
#include "store/pg_sink.h"
#include "util/log.h"

struct worker_context {
  struct scan *scan;
  struct scan_runtime *runtime;
  void *pg_state;
  unsigned rate_burst;
};

static void worker_counters(void *ctx, struct queue_worker_counters *out) {
  struct worker_context *worker = ctx;
  memset(out, 0, sizeof *out);
  if (worker->scan != NULL) {
    struct scan_stats stats;
    scan_get_stats(worker->scan, &stats);
    out->domains = stats.domains_done;
  }
  struct dns_client_stats dns;
  dns_client_get_stats(worker->runtime->dns, &dns);
  out->dns_queries = dns.queries_sent;
  out->dns_retries = dns.retries;
  out->dns_timeouts = dns.timeouts;
  if (worker->runtime->engine != NULL) {
    struct probe_stats probes;
    probe_engine_get_stats(worker->runtime->engine, &probes);
    out->probes = probes.completed;
    out->connections = probes.connections;
  }
  struct scan_counters counters;
  scan_counters_from_runtime(worker->runtime, &counters);
  scan_counters_detail_json(&counters, out->detail_json, sizeof out->detail_json);
}

static void worker_set_rate(void *ctx, double rate) {
  struct worker_context *worker = ctx;
  if (worker->runtime->engine == NULL) return;
  /* The burst is shared too, so the scan-wide burst stays --rate's. */
  double share = rate > 0 ? rate : 1;
  unsigned burst = worker->rate_burst;
  probe_engine_set_rate(worker->runtime->engine, share, burst);
}

static void worker_store_host(void *ctx, const struct mx_host *host) {
  struct worker_context *worker = ctx;
  if (worker->pg_state != NULL) pg_sink_add_host(worker->pg_state, host);
}

int scan_worker_main(const struct scan_options *options) {
  char why[512] = "";
  char worker_id[200];
  if (options->worker_id != NULL) {
    snprintf(worker_id, sizeof worker_id, "%s", options->worker_id);
  } else {
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    unsigned char r[3] = {0};
    RAND_bytes(r, sizeof r);
    snprintf(worker_id, sizeof worker_id, "%s:%d:%02x%02x%02x", host, (int)getpid(), r[0], r[1], r[2]);
  }
  PGconn *conn = db_connect(options->db_url, NULL, why, sizeof why);
  if (conn == NULL) {
    log_error("%s", why);
    return 1;
  }
  struct db_scan_info info;
  int rc = db_scan_info(conn, options->scan_id, &info, why, sizeof why);
  PQfinish(conn);
  if (rc != 0 || !info.exists || info.chunk_size == 0) {
    log_error("%s", rc != 0 ? why : "the scan has no work queue");
    return 2;
  }

  struct scan_runtime runtime;
  int exit_code = scan_runtime_open(&runtime, options, options->certs_path, "worker");
  if (exit_code != 0) return exit_code;
  exit_code = 1;
  struct worker_context context = {.runtime = &runtime};
  /* Each worker gets its share of the burst; at least one token. */
  context.rate_burst = 1;
  struct work_queue_config queue_config = {
      .conninfo = options->db_url,
      .scan_id = options->scan_id,
      .worker_id = worker_id,
      .lease_ttl_ms = options->lease_ttl_ms,
      .heartbeat_ms = QUEUE_HEARTBEAT_MS,
      .prefetch_names = options->scan.concurrency + info.chunk_size,
      .per_ip = options->probe_config.per_ip,
      .per_ip_gap_ms = options->probe_config.per_ip_gap_ms,
      .total_rate = options->probe_config.rate_per_second,
      .min_workers = options->workers > 0 ? options->workers : 1,
      .retry_timeout_ms = db_retry_timeout_ms(),
      .log = stderr,
      .counters = worker_counters,
      .set_rate = worker_set_rate,
      .store_host = worker_store_host,
      .ctx = &context,
  };
  struct work_queue *queue = work_queue_open(runtime.base, &queue_config, why, sizeof why);
  struct result_sink sinks[SCAN_MAX_SINKS];
  size_t sink_count = 0;
  struct scan *scan = NULL;
  const char *exit_status = "failed";
  char failure[600] = "";
  if (queue == NULL) {
    log_error("%s", why);
    goto out;
  }
  if (runtime.engine != NULL) {
    /* Until the first heartbeat says how many workers run: a cautious
     * share, as if every local worker of a default scan ran. */
    unsigned configured = options->probe_config.rate_burst > 0 ? options->probe_config.rate_burst : 1;
    unsigned workers = options->workers > 0 ? options->workers : 1;
    context.rate_burst = configured / workers > 0 ? configured / workers : 1;
    probe_engine_set_rate(runtime.engine, options->probe_config.rate_per_second / workers, context.rate_burst);
  }
  if (options->output_given) {
    if (jsonl_sink_open_append(&sinks[sink_count], options->output, options->scan_id, why, sizeof why) != 0) {
      log_error("%s", why);
      goto out;
    }
    sink_count++;
  }
  /* Each batch commits with the queue's bookkeeping (queue_db.h). */
  struct queue_batch_fence fence = {
      .scan_id = options->scan_id, .worker_id = worker_id, .chunk_size = info.chunk_size > 0 ? info.chunk_size : 1};
  struct pg_sink_batch_hook hook;
  queue_db_batch_hook(&fence, &hook);
  struct pg_sink_config pg_config = {
      .conninfo = options->db_url,
      .scan_id = options->scan_id,
      .log = stderr,
      .attach = true,
      .first_batch_no = work_queue_worker_no(queue) << 32,
      .batch_hook = &hook,
  };
  if (pg_sink_open(&sinks[sink_count], &pg_config, why, sizeof why) != 0) {
    log_error("%s", why);
    goto out;
  }
  context.pg_state = sinks[sink_count].state;
  sink_count++;
  scan = scan_new(runtime.base, &runtime.scan, runtime.dns, runtime.hosts, NULL, sinks, sink_count);
  if (scan == NULL) {
    log_error("out of memory");
    goto out;
  }
  struct scan_source source = {.state = queue, .next = work_queue_next, .set_wakeup = work_queue_set_wakeup};
  scan_set_source(scan, &source);
  if (runtime.stage != NULL) probe_stage_set_coordinator(runtime.stage, work_queue_coordinator(queue));
  context.scan = scan;
  rc = scan_run(scan);
  struct scan_stats stats;
  scan_get_stats(scan, &stats);
  for (size_t i = 0; i < sink_count; i++) {
    if (sinks[i].close(sinks[i].state, why, sizeof why) != 0) {
      log_error("worker %s: %s", worker_id, why);
      rc = -1;
      if (stats.error[0] == '\0') snprintf(stats.error, sizeof stats.error, "%s", why);
    }
  }
  sink_count = 0;
  context.pg_state = NULL;
  if (rc == 0) {
    exit_status = "done";
    exit_code = 0;
  } else {
    snprintf(failure, sizeof failure, "%s: %s", stats.interrupted ? "stopped" : "failed", stats.error);
    exit_status = failure;
    if (!stats.interrupted) log_error("worker %s: %s", worker_id, stats.error);
  }

out:
  for (size_t i = 0; i < sink_count; i++) sinks[i].close(sinks[i].state, why, sizeof why);
  context.pg_state = NULL;
  /* Sinks first: every commit lands before the leases are given back. */
  if (queue != NULL && work_queue_close(queue, exit_status, why, sizeof why) != 0) {
    log_error("worker %s: %s", worker_id, why);
  }
  scan_free(scan);
  if (scan_runtime_close(&runtime, "worker") != 0 && exit_code == 0) exit_code = 1;
  return exit_code;
}
