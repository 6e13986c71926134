/* The scan driver: streams names from the input, runs each domain's journey
 * (MX lookup, and the optional NS lookup -> hosts -> status -> sinks) with at most `concurrency` domains
 * in flight, shows progress, and returns when the input is exhausted and
 * every admitted domain is written. It owns the domain tasks; it borrows the
 * event base, DNS client, input reader, host resolver and sinks. */
#ifndef DANESCAN_PIPELINE_SCAN_H
#define DANESCAN_PIPELINE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "dns/dns_client.h"
#include "input/input.h"
#include "pipeline/host_resolver.h"
#include "pipeline/ns_lookup.h"
#include "pipeline/sts_stage.h"
#include "pipeline/zone_cache.h"
#include "record/sink.h"

#define SCAN_MAX_SINKS 4

struct scan_config {
  unsigned concurrency; /* domains in flight */
  bool islands;         /* DNSKEY check for insecure domains */
  bool progress;        /* live progress line on progress_stream */
  FILE *progress_stream;
  uint32_t progress_interval_ms;
  uint32_t flush_interval_ms; /* sinks flushed at least this often */
  /* Resume: names whose input ordinal is already stored are not scanned
   * again. NULL: scan everything. */
  bool (*skip_seq)(void *ctx, uint64_t seq);
  void *skip_ctx;
  /* MTA-STS and TLS-RPT (pipeline/sts_stage.h) for every domain with mail;
   * policy_fetch (borrowed) fetches the policies. */
  bool mta_sts;
  const struct sts_policy_fetch *policy_fetch;
  /* Opt-out (--blocklist names): returns the listed name that covers domain
   * (itself or a parent), or NULL. A covered valid name is never looked up:
   * it is written at once as `skipped` with skip_reason "blocklist". NULL:
   * no opt-out. */
  const char *(*opted_out)(void *ctx, const char *domain);
  void *opted_out_ctx;
  /* DNSSEC hygiene (issue 19) of the zones that matter: zones (borrowed) is
   * the per-scan zone cache, NULL for none. A domain with a host whose TLSA
   * RRset is secure and not empty (a DANE domain) gets its MX RRset's zone
   * and those TLSA RRsets' zones; with hygiene_all every domain with a
   * secure MX RRset gets its MX zone too. rrsig-expires-soon: within
   * hygiene_warn_days (--expiry-warn-days). */
  struct zone_cache *zones;
  bool hygiene_all;
  unsigned hygiene_warn_days;
  /* --ns-lookup (pipeline/ns_lookup.h): a valid, looked-up name whose input
   * gave no NS targets gets one NS lookup beside its MX lookup, and its
   * answer becomes result.ns (ns_source lookup); the domain is written when
   * both are back. ns_stats (borrowed, may be NULL) counts them. */
  bool ns_lookup;
  struct ns_lookup_stats *ns_stats;
};

void scan_config_defaults(struct scan_config *config);

struct scan_stats {
  uint64_t domains_done;
  uint64_t by_status[DOMAIN_STATUS_COUNT];
  uint64_t mx_hosts_total; /* host links written */
  uint64_t skipped_done;   /* names skipped because a resumed scan had them */
  unsigned in_flight;
  double elapsed_s;
  bool interrupted; /* stopped by a signal before the end */
  bool input_done;  /* the input (or source) said it has no more names */
  bool input_error; /* the input ended with an I/O error */
  bool sink_error;
  char error[512]; /* first fatal error, "" if none */
};

/* Where the names come from when not from an input_reader: the work queue
 * of a multi-worker scan (queue/work_queue.h). next returns 1 with a name,
 * 0 at the end, 2 when none is available yet (the source calls wake once
 * one is, or at the end), -1 on a fatal error with why. */
struct scan_source {
  void *state;
  int (*next)(void *state, struct input_name *out, char *why, size_t why_len);
  void (*set_wakeup)(void *state, void (*wake)(void *arg), void *arg);
};

struct scan;

/* All pointers are borrowed and must outlive the scan. */
struct scan *scan_new(struct event_base *base, const struct scan_config *config, struct dns_client *dns,
                      struct host_resolver *hosts, struct input_reader *input, struct result_sink *sinks,
                      size_t sink_count);
void scan_free(struct scan *scan);

/* Takes names from source instead of the input reader (which may then be
 * NULL in scan_new). Call before scan_run; source is copied. */
void scan_set_source(struct scan *scan, const struct scan_source *source);

/* Runs the event loop until done. Returns 0 when every input name was
 * scanned and written, -1 when the scan stopped early (signal, input error,
 * sink error: see stats.error). Results already written stay written. */
int scan_run(struct scan *scan);

void scan_get_stats(const struct scan *scan, struct scan_stats *out);

#endif
