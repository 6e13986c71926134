/* The MTA-STS policy fetch (RFC 8461 section 3.3): one HTTPS GET of
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt on the scan's event loop.
 * SNI and the WebPKI name check use mta-sts.DOMAIN; the chain is verified
 * against the trust store of the config (--ca-file, default the system
 * store); redirects are not followed; only 200 with media type text/plain
 * and a body of at most STS_POLICY_MAX_BYTES is a fetched policy. Connect,
 * handshake and read timeouts bound each fetch, and the probe engine's
 * politeness (rate, per-address cap and gap, blocklist, special-purpose
 * addresses) applies to every connection, shared with the SMTP probes.
 * Each policy host is fetched at most once per fetcher: later requests for
 * the same DOMAIN get the first result.
 *
 * It does not resolve names (the caller passes the addresses of
 * mta-sts.DOMAIN it looked up), and it does not parse the policy or decide
 * the domain's mta_sts.status (sts_policy.h, pipeline/). */
#ifndef DANESCAN_STS_FETCH_H
#define DANESCAN_STS_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

struct probe_engine;

#define STS_POLICY_MAX_BYTES 65536 /* RFC 8461 3.2: 64 KiB */
#define STS_FETCH_FAILURE_MAX_BYTES 256

enum sts_fetch_outcome {
  STS_FETCH_OK,          /* 200, text/plain, body within the cap: body holds it */
  STS_FETCH_UNAVAILABLE, /* -> policy-unavailable: no address, connect, timeout, TLS, WebPKI,
                            status other than 200, redirect */
  STS_FETCH_INVALID,     /* -> policy-invalid: 200 but wrong media type or over the cap */
  STS_FETCH_SKIPPED,     /* politeness: blocklisted or special-purpose address (reason in failure) */
};

struct sts_fetch_result {
  enum sts_fetch_outcome outcome;
  int http_status;                           /* 0 when no response was read */
  char failure[STS_FETCH_FAILURE_MAX_BYTES]; /* why, for every outcome but OK; "" for OK */
  const char *body;                          /* OK only; owned by the fetcher, valid during the callback */
  size_t body_len;
};

struct sts_fetch_config {
  const char *ca_file;           /* PEM bundle; NULL: the system store */
  uint16_t https_port;           /* 443; other ports only for labs */
  uint32_t connect_timeout_ms;   /* 10000 */
  uint32_t handshake_timeout_ms; /* 10000 */
  uint32_t response_timeout_ms;  /* 30000: from the request to the end of the body (RFC 8461 3.3
                                   suggests a minute at most) */
};

void sts_fetch_config_defaults(struct sts_fetch_config *config);

typedef void (*sts_fetch_done_cb)(const struct sts_fetch_result *result, void *arg);

struct sts_fetcher;

/* politeness: the probe engine whose rate, caps and blocklist the fetches
 * share (borrowed, must outlive the fetcher). Returns NULL with why set. */
struct sts_fetcher *sts_fetcher_new(struct event_base *base, struct probe_engine *politeness,
                                    const struct sts_fetch_config *config, char *why, size_t why_len);

/* Fetches the policy of domain (the policy domain, without "mta-sts.") from
 * the given addresses of mta-sts.DOMAIN, tried in order until one answers
 * at the HTTP level. n_addresses 0 gives UNAVAILABLE ("mta-sts.DOMAIN has
 * no address"). done_cb runs exactly once, never from inside this call.
 * Returns 0, or -1 (out of memory) and done_cb will not run. */
int sts_fetcher_fetch(struct sts_fetcher *fetcher, const char *domain, const struct sockaddr_storage *addresses,
                      size_t n_addresses, sts_fetch_done_cb done_cb, void *arg);

/* Fetches in flight or queued. */
size_t sts_fetcher_pending(const struct sts_fetcher *fetcher);

void sts_fetcher_free(struct sts_fetcher *fetcher); /* NULL ok; pending callbacks do not run */

#endif
