/* The machinery `scan` and `check` share: the event loop, the DNS client
 * (after the resolver validation check), the probe engine and stage for the
 * probe mode, and the host resolver wired to them. Opening reports every
 * failure once, as an error line of the log (util/log.h). */
#ifndef DANESCAN_RUN_SCAN_RUNTIME_H
#define DANESCAN_RUN_SCAN_RUNTIME_H

#include <event2/event.h>

#include "run/scan_options.h"
#include "dns/dns_client.h"
#include "pipeline/host_resolver.h"
#include "pipeline/probe_stage.h"
#include "pipeline/sts_stage.h"
#include "pipeline/zone_cache.h"
#include "probe/probe.h"
#include "probe/probe_address.h"
#include "sts/sts_fetch.h"

struct scan_runtime {
  struct event_base *base;
  struct dns_client *dns;
  struct probe_engine *engine; /* NULL with --probe none and no --mta-sts */
  struct probe_stage *stage;   /* NULL with --probe none */
  struct host_resolver *hosts;
  struct zone_cache *zones;    /* DNSSEC hygiene per zone; NULL with --dnssec-hygiene none */
  struct sts_fetcher *fetcher; /* --mta-sts: the policy fetch, on the engine's politeness; else NULL */
  struct sts_policy_fetch policy_fetch;
  struct probe_blocklist *blocklist; /* --blocklist: its names opt domains out; NULL without */
  struct ns_lookup_stats ns_lookup;  /* --ns-lookup counters (scan.ns_stats points here) */
  struct scan_config scan;           /* options->scan with policy_fetch and opted_out: what scan_new takes */
};

/* Opens everything for options (with options->scan.mta_sts the probe
 * engine is opened even with --probe none: the policy fetches share its
 * politeness) (certs_path: PEM side output or NULL). The --blocklist file
 * is read in every probe mode: a domain its names cover is never looked up
 * (scan_config.opted_out).
 * Returns 0, or the exit code to end with: 1 setup failure, 2 bad option or
 * file, 3 a resolver does not validate DNSSEC. On failure whatever was
 * opened is closed again. */
int scan_runtime_open(struct scan_runtime *runtime, const struct scan_options *options, const char *certs_path,
                      const char *command);

/* Frees in dependency order (hosts hold probe details the stage frees).
 * Returns 0, or -1 if the PEM side output could not be completed (reported). */
int scan_runtime_close(struct scan_runtime *runtime, const char *command);

#endif
