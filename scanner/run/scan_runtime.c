/* Shared wiring of `scan` and `check` (see scan_runtime.h). */
#include "run/scan_runtime.h"

#include <stdio.h>
#include <string.h>

#include "dns/resolver_check.h"
#include "util/log.h"

/* The pipeline's hook (pipeline/sts_stage.h) onto the fetcher. */
static int fetch_policy(void *ctx, const char *domain, const struct sockaddr_storage *addresses, size_t n_addresses,
                        sts_fetch_done_cb done_cb, void *arg) {
  return sts_fetcher_fetch(ctx, domain, addresses, n_addresses, done_cb, arg);
}

/* The pipeline's opt-out hook (pipeline/scan.h) onto the blocklist's names. */
static const char *opted_out(void *ctx, const char *domain) {
  return probe_blocklist_covering_name(ctx, domain);
}

int scan_runtime_open(struct scan_runtime *runtime, const struct scan_options *options, const char *certs_path,
                      const char *command) {
  (void)command; /* failures are logged (util/log.h) without it */
  char why[512] = "";
  int exit_code = 1;
  memset(runtime, 0, sizeof *runtime);
  runtime->base = event_base_new();
  if (runtime->base == NULL) {
    log_error("cannot create the event loop");
    goto fail;
  }
  runtime->dns = dns_client_new(runtime->base, &options->dns, why, sizeof why);
  if (runtime->dns == NULL) {
    log_error("%s", why);
    goto fail;
  }
  if (options->blocklist != NULL) {
    exit_code = 2;
    runtime->blocklist = probe_blocklist_new();
    if (runtime->blocklist == NULL) {
      log_error("out of memory");
      goto fail;
    }
    if (probe_blocklist_load(runtime->blocklist, options->blocklist, why, sizeof why) != 0) {
      log_error("%s", why);
      goto fail;
    }
    exit_code = 1;
  }
  if (resolver_check_run(runtime->base, runtime->dns, &options->check, true) != 0) {
    if (!options->insecure_resolver_ok) {
      exit_code = 3;
      goto fail;
    }
    log_warning("--insecure-resolver-ok: DNSSEC states in these results cannot be trusted");
  }
  if (options->probe != PROBE_MODE_NONE || options->scan.mta_sts) {
    exit_code = 2;
    struct probe_config engine_config = options->probe_config;
    /* --probe none with --mta-sts: the engine only gives the policy fetch
     * its politeness; no SMTP session, so no EHLO name is needed */
    engine_config.slots_only = options->probe == PROBE_MODE_NONE;
    runtime->engine = probe_engine_new(runtime->base, &engine_config, why, sizeof why);
    if (runtime->engine == NULL) {
      log_error("%s", why);
      goto fail;
    }
    if (options->blocklist != NULL &&
        probe_engine_load_blocklist(runtime->engine, options->blocklist, why, sizeof why) != 0) {
      log_error("%s", why);
      goto fail;
    }
  }
  if (options->probe != PROBE_MODE_NONE) {
    struct probe_stage_config stage_config = {.mode = options->probe,
                                              .certs_path = certs_path,
                                              .pkix = options->scan.mta_sts,
                                              .ca_file = options->ca_file,
                                              .warn_days = options->probe_config.expiry_warn_days};
    runtime->stage = probe_stage_new(runtime->engine, &stage_config, why, sizeof why);
    if (runtime->stage == NULL) {
      log_error("%s", why);
      goto fail;
    }
  }
  runtime->scan = options->scan;
  runtime->scan.ns_stats = &runtime->ns_lookup;
  if (runtime->blocklist != NULL) {
    runtime->scan.opted_out = opted_out;
    runtime->scan.opted_out_ctx = runtime->blocklist;
  }
  if (options->scan.mta_sts) {
    struct sts_fetch_config fetch_config;
    sts_fetch_config_defaults(&fetch_config);
    fetch_config.ca_file = options->probe_config.pkix_ca_file;
    runtime->fetcher = sts_fetcher_new(runtime->base, runtime->engine, &fetch_config, why, sizeof why);
    if (runtime->fetcher == NULL) {
      log_error("%s", why);
      goto fail;
    }
    runtime->policy_fetch = (struct sts_policy_fetch){runtime->fetcher, fetch_policy};
    runtime->scan.policy_fetch = &runtime->policy_fetch;
  }
  exit_code = 1;
  struct host_resolver_config host_config = {.max_cached_hosts = options->host_cache,
                                             .rrsig_warn_days = options->probe_config.expiry_warn_days,
                                             .finisher = runtime->stage != NULL ? probe_stage_finisher(runtime->stage)
                                                                                : NULL};
  runtime->hosts = host_resolver_new(runtime->dns, &host_config);
  if (runtime->hosts == NULL) {
    log_error("out of memory");
    goto fail;
  }
  if (strcmp(options->dnssec_hygiene, "none") != 0) {
    struct zone_cache_config zone_config = {.max_cached_zones = options->host_cache};
    runtime->zones = zone_cache_new(runtime->dns, &zone_config);
    if (runtime->zones == NULL) {
      fprintf(stderr, "danescan %s: out of memory\n", command);
      goto fail;
    }
    runtime->scan.zones = runtime->zones;
    runtime->scan.hygiene_all = strcmp(options->dnssec_hygiene, "all") == 0;
    runtime->scan.hygiene_warn_days = options->probe_config.expiry_warn_days;
  }
  return 0;

fail:
  scan_runtime_close(runtime, command);
  return exit_code;
}

int scan_runtime_close(struct scan_runtime *runtime, const char *command) {
  (void)command;
  char why[512] = "";
  int rc = 0;
  host_resolver_free(runtime->hosts);
  zone_cache_free(runtime->zones);
  sts_fetcher_free(runtime->fetcher);
  if (probe_stage_free(runtime->stage, why, sizeof why) != 0) {
    log_error("%s", why);
    rc = -1;
  }
  probe_engine_free(runtime->engine);
  probe_blocklist_free(runtime->blocklist);
  dns_client_free(runtime->dns);
  if (runtime->base != NULL) event_base_free(runtime->base);
  memset(runtime, 0, sizeof *runtime);
  return rc;
}
