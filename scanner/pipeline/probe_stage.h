/* The STARTTLS stage of the pipeline: a host finisher (host_resolver.h)
 * that submits every address of a host to the probe engine (probe/probe.h),
 * keeps each report as a probe_detail on the address, and turns the results
 * into the host's final status (rules.c). Hosts are shared per scan, so each
 * (host name, address) pair is probed once per scan while the host stays
 * cached; a verdict is never shared across host names, because TLSA records,
 * SNI and reference identifiers belong to the name. Optionally writes the
 * PEM of every distinct certificate seen, once per scan. */
#ifndef DANESCAN_PIPELINE_PROBE_STAGE_H
#define DANESCAN_PIPELINE_PROBE_STAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline/host_resolver.h"
#include "record/result.h"
#include "probe/probe.h"

enum probe_mode { PROBE_MODE_NONE = 0, PROBE_MODE_DANE, PROBE_MODE_ALL };

/* Parses "none", "dane", "all". Returns 0 or -1. */
int probe_mode_parse(const char *word, enum probe_mode *out);


struct probe_stage_config {
  enum probe_mode mode;
  const char *certs_path; /* PEM side output, NULL = none */
  bool pkix;              /* MTA-STS (scan --mta-sts): every probe also checks its chain under the WebPKI */
  const char *ca_file;    /* WebPKI roots for ta-public-intermediate (pipeline/rollover.h);
                             NULL = the system store */
  unsigned warn_days;     /* leaf-expires-soon threshold (--expiry-warn-days) */
};

struct probe_stage;

/* Creates the stage on engine (borrowed). Returns NULL with why (out of
 * memory, the certs file or the CA file cannot be opened). After the probes
 * of a host with usable secure TLSA the stage judges its rollover
 * (pipeline/rollover.h). */
struct probe_stage *probe_stage_new(struct probe_engine *engine, const struct probe_stage_config *config, char *why,
                                    size_t why_len);

/* Flushes and closes the PEM output; returns 0 or -1 with why. Frees. */
int probe_stage_free(struct probe_stage *stage, char *why, size_t why_len);

/* The finisher to put in host_resolver_config (valid while stage lives). */
const struct host_finisher *probe_stage_finisher(struct probe_stage *stage);

/* Scan-wide coordination when several worker processes share one scan
 * (queue/work_queue.h implements it over PostgreSQL). Without one, this
 * process is the whole scan. Every callback is made later, once, from the
 * event loop, never from inside the call that asked. */
struct probe_borrowed_address {
  const char *address; /* host_address.text */
  enum probe_result result;
  const char *reason;             /* copied by the stage */
  unsigned attempts;              /* sessions the other worker made (0: not known) */
  enum probe_result first_result; /* the first of two attempts (attempts == 2) */
  enum probe_step first_step;
};
struct probe_borrowed_host {
  enum host_status status;      /* the final status another worker stored */
  unsigned flags;               /* its enum mx_host_flag bits */
  enum rollover_class rollover; /* its rollover class (judged from the chains it saw) */
  const struct probe_borrowed_address *addresses;
  size_t address_count;
};
struct probe_coordinator {
  void *ctx;
  /* Who probes host: borrowed == NULL: this process (claimed); else another
   * worker did and stored borrowed (valid during the callback only). */
  void (*claim_host)(void *ctx, struct mx_host *host,
                     void (*decided)(void *arg, const struct probe_borrowed_host *borrowed), void *arg);
  /* Waits for a scan-wide session slot of the address (--per-ip across all
   * workers, with --per-ip-gap-ms between sessions); granted(arg, slot). */
  void (*acquire_address)(void *ctx, const char *address, void (*granted)(void *arg, int slot), void *arg);
  void (*release_address)(void *ctx, const char *address, int slot);
  /* A host this process probed is final: store it where the other workers
   * look (called before the host's finisher completes). */
  void (*host_probed)(void *ctx, const struct mx_host *host);
};

/* Sets (or with NULL clears) the coordinator; copied. Call before the scan. */
void probe_stage_set_coordinator(struct probe_stage *stage, const struct probe_coordinator *coordinator);

struct probe_stage_stats {
  uint64_t hosts_probed;
  uint64_t addresses_probed;
  uint64_t certificates_written;
  uint64_t hosts_borrowed; /* probed by another worker, result reused */
};
void probe_stage_get_stats(const struct probe_stage *stage, struct probe_stage_stats *out);

#endif
