/* A realistic synthetic survey for `danescan db bench --realistic` (report
 * and diff scaling, bench/bench_report.sh): domain results shaped like a
 * large zone scan, made without any network. It does not resolve or probe
 * anything; each domain's record is a pure function of (seed, domain number,
 * variant), so two scans made with variants 0 and 1 differ in about 1 % of
 * the domains (the second scan "derived" from the first), and an MX host
 * shared by many domains is the same record every time it appears.
 *
 * The mix (percent of domains, before the changed 1 %):
 *   25 % without MX: nxdomain 6, no-mail 15.7, null-mx 1, lookup-failed 2,
 *        dnssec-bogus 0.3;
 *   75 % with MX: 62 % of them at a shared provider picked with a Zipf-like
 *        long tail (a provider's rank ~ 1/r), 38 % self-hosted (a host of
 *        their own); about 9 % have a secure MX RRset; about 3 % end with an
 *        MX host that publishes secure TLSA (mostly DANE-EE 3 1 1, some with
 *        a DANE-TA 2 1 1 record beside it), most dane-valid, some failing;
 *   TLDs: 40 of them, com first, with a skewed share each.
 * Probes: every address of a host with secure addresses is probed (results
 * by the host's status); leaf certificates are one of BENCH_MODEL_KEY_TYPES
 * fixed SHA-256 values (bench_report.sh inserts those certificates rows). */
#ifndef DANESCAN_STORE_BENCH_MODEL_H
#define DANESCAN_STORE_BENCH_MODEL_H

#include <stdint.h>

#include "record/probe_detail.h"
#include "record/result.h"

#define BENCH_MODEL_MAX_HOSTS 2
#define BENCH_MODEL_MAX_ADDRESSES 2
#define BENCH_MODEL_MAX_TLSA 2
#define BENCH_MODEL_KEY_TYPES 3

/* The storage one domain's record points into; reused for every domain
 * (the sink copies what it needs when the record is written). */
struct bench_model_domain {
  struct domain_result result;
  struct mx_host hosts[BENCH_MODEL_MAX_HOSTS];
  struct host_address addresses[BENCH_MODEL_MAX_HOSTS][BENCH_MODEL_MAX_ADDRESSES];
  struct probe_detail probes[BENCH_MODEL_MAX_HOSTS][BENCH_MODEL_MAX_ADDRESSES];
  uint8_t leaf_sha256[BENCH_MODEL_MAX_HOSTS][BENCH_MODEL_MAX_ADDRESSES][32];
  struct tlsa_record tlsa[BENCH_MODEL_MAX_HOSTS][BENCH_MODEL_MAX_TLSA];
  char host_names[BENCH_MODEL_MAX_HOSTS][sizeof "mail." + 256]; /* "mail." + a domain name */
};

/* Fills out with domain number domain (0-based; also its seq) of a survey
 * of total domains, in scan variant variant (0: the first scan; v > 0
 * changes about 1 % of the domains, a different 1 % per v). */
void bench_model_domain(struct bench_model_domain *out, uint64_t domain, uint64_t total, unsigned variant);

/* The SHA-256 value of the leaf certificate of key type index k
 * (0 .. BENCH_MODEL_KEY_TYPES - 1): byte 0 is k + 1, the rest 0xbe. */
void bench_model_leaf_sha256(unsigned k, uint8_t out[32]);

#endif
