/* Options of `danescan scan` (and of `check`, which shares most of them),
 * parsed into the config structs of the modules they steer. */
#ifndef DANESCAN_RUN_SCAN_OPTIONS_H
#define DANESCAN_RUN_SCAN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns_client.h"
#include "dns/resolver_check.h"
#include "input/input.h"
#include "pipeline/probe_stage.h"
#include "pipeline/scan.h"
#include "probe/probe.h"

struct scan_options {
  struct dns_client_config dns;
  struct resolver_check_config check;
  struct input_options input;
  struct scan_config scan;
  bool insecure_resolver_ok;
  size_t host_cache;
  const char *dnssec_hygiene; /* --dnssec-hygiene: "dane" (default), "all", "none" (pipeline/scan.h) */
  const char *probe_mode;     /* "none", "dane", "all" */
  enum probe_mode probe;
  bool probe_given; /* --probe was on the command line */
  struct probe_config probe_config;
  const char *blocklist;
  const char *contact;      /* --contact URL: the page about the scan and its opt-out */
  const char *metrics_file; /* --metrics-file: Prometheus text file (run/scan_metrics.h), with workers */
  const char *certs_path;   /* --certs: PEM of every certificate seen, once */
  const char *ca_file;      /* --ca-file: PEM bundle of the WebPKI roots, NULL = the system store */
  const char *output;       /* "-" = stdout */
  const char *metadata;
  const char *scan_id;
  const char *db_url; /* --db: PostgreSQL connection string, NULL = none */
  bool resume;        /* --resume: continue scan_id (set by `danescan resume`) */
  bool output_given;  /* --output was given (with --db, JSON Lines is optional) */
  bool quiet;         /* --quiet: no summary, log errors and warnings only (util/log.h) */
  unsigned verbose;   /* --verbose/-v, repeatable: log info, then debug too */
  /* Multi-worker scans through the database's work queue (queue/). */
  unsigned workers;      /* --workers: worker processes here; 0 = this process alone, no queue */
  bool workers_given;    /* else: the number of cores when --db is given */
  uint32_t chunk_size;   /* --chunk-size: names per leased chunk */
  uint32_t lease_ttl_ms; /* --lease-ttl-s: a lease not renewed this long is taken over */
  bool worker_process;   /* --worker-process (internal): be one worker of scan_id */
  const char *worker_id; /* --worker-id (internal): the worker's identity from its supervisor */
  bool join;             /* --join (internal, `danescan worker`): run workers, load nothing */
  char **inputs;         /* points into argv */
  size_t input_count;
};

/* Parses argv (argv[0] is the subcommand name). Returns 0, 1 when --help
 * was asked for, or -1 with a message in why. */
int scan_options_parse(struct scan_options *options, int argc, char **argv, char *why, size_t why_len);

/* MTA-STS needs the certificates of every MX host of a domain with a
 * policy, TLSA or not (MTA-STS.md: "the MX hosts of a domain whose policy is
 * valid are probed even when they publish no TLSA"). Until the probe stage
 * can add a host to the probes once a domain's policy is known, mta_sts with
 * the default --probe dane probes every MX host (as --probe all); an
 * explicit --probe stays as given (with dane or none, a valid policy whose
 * hosts were not probed is `cert-unchecked`, never `valid`). Called by
 * scan_options_parse; call again after setting scan.mta_sts later. */
void scan_options_settle_probe(struct scan_options *options);

void scan_options_free(struct scan_options *options);

#endif
