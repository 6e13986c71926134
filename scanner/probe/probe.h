/* The STARTTLS probe engine: given (MX host name, TLSA base, reference
 * identifiers, TLSA RRset, one address) it connects, speaks SMTP up to
 * STARTTLS, completes a TLS handshake with OpenSSL's DANE verification
 * (RFC 7672), says QUIT and reports one probe_report per request. It queues
 * requests and applies the politeness policy (overall connection rate, per-
 * address concurrency and gap, back-off after 421 or refused connections,
 * special-purpose address and CIDR blocklist skipping). A probe whose first
 * session fails transiently gets one more session after a pause.
 * It does not resolve names, does not deduplicate (host, address) pairs (the
 * pipeline submits each pair once per scan), and does not derive host or
 * domain statuses (pipeline/); it never sends MAIL, RCPT or DATA. */
#ifndef DANESCAN_PROBE_H
#define DANESCAN_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "record/probe_detail.h"
#include "record/status.h"
#include "record/tlsa.h"

#define PROBE_MAX_CHAIN_CERTS 16        /* chain entries reported; more are counted, not kept */
#define PROBE_BANNER_MAX_BYTES 1024     /* greeting bytes kept in the report (all lines) */
#define PROBE_MAX_EHLO_KEYWORDS 32      /* EHLO keyword lines kept */
#define PROBE_EHLO_KEYWORD_MAX_BYTES 64 /* each kept keyword line, truncated */
#define PROBE_REASON_MAX_BYTES 256
#define PROBE_MAX_REFERENCE_NAMES 8

/* Per-step timeouts (docs/RELIABILITY.md, "Per-step timeouts"). RFC 5321
 * 4.5.3.2 asks a mail client to wait at least 5 minutes for the greeting and
 * for the replies to MAIL and RCPT (mail clients use the same for EHLO and
 * STARTTLS), because a message that is not sent waits in the queue for its
 * next try (often 15-60 minutes). A scanner's failed step costs only a second
 * attempt of the probe 5 s later (retry_transient), and the wait holds a
 * session slot (and, for an address shared by many MX names, every later probe
 * of that address, per_ip), so it waits less: 10 s for the TCP connect (Linux
 * resends a SYN after 1, 3 and 7 s, so a lost SYN still connects), 60 s for
 * the greeting (deliberate greeting delays are seconds: Postfix postscreen
 * holds it up to 6 s, sendmail's greet_pause a few seconds; a server that
 * needs over a minute twice in a row is unreachable for this survey's purpose,
 * and the record keeps both attempts), 30 s for each reply of a command and
 * for the TLS handshake (a server answers those at once once it has greeted).
 * The session deadline (180 s) caps one session's steps together; with the
 * defaults the steps add up to 162 s, so it only binds when a step timeout is
 * raised. Both bounds apply to each attempt alone.
 *
 * Worst case per (host, address) with the defaults: 3 sessions (the first, its
 * retry after a transient failure, and the key-type session after a
 * handshake), each at most 162 s, plus retry_delay_ms (5 s), plus the
 * politeness waits before the two later sessions (per_ip_gap_ms, backed off up
 * to per_ip_backoff_max_ms 60 s, and the queue of other probes of the same
 * address): 491 s + waits. */
struct probe_config {
  uint16_t smtp_port;             /* 25; other ports only for labs */
  const char *ehlo_name;          /* copied; NULL: this machine's host name (gethostname) */
  uint32_t connect_timeout_ms;    /* 10000 */
  uint32_t greeting_timeout_ms;   /* 60000 (RFC 5321 4.5.3.2 allows 5 min; see above) */
  uint32_t ehlo_timeout_ms;       /* 30000 */
  uint32_t starttls_timeout_ms;   /* 30000 */
  uint32_t handshake_timeout_ms;  /* 30000 */
  uint32_t quit_timeout_ms;       /* 2000: wait for 221, then close anyway */
  uint32_t session_deadline_ms;   /* 180000: whole session, all steps together (each attempt its own) */
  bool retry_transient;           /* true: when the first session of a probe ends in `timeout`,
                                     `connect-failed`, or `smtp-failed` because the server closed or
                                     reset the connection before TLS (no reply said so), the probe
                                     gets a second session; the report is that of the second, with
                                     the first's result, step and reason. Never retried: any result
                                     from a reply or from TLS (a 4xx/5xx, no STARTTLS, a failed or
                                     completed handshake), and the key-type session */
  uint32_t retry_delay_ms;        /* 5000: from the first session's end until the second joins the
                                     head of its address's queue; every politeness rule then applies
                                     as to any session (rate, per-address cap, gap and back-off,
                                     give-up). Long enough for the kernel's SYN retries and a
                                     momentary overload to pass, short against a scan */
  double rate_per_second;         /* 100: new connections per second, all addresses (token bucket) */
  unsigned rate_burst;            /* 10: token bucket depth */
  unsigned per_ip;                /* 1: concurrent sessions to one address */
  uint32_t per_ip_gap_ms;         /* 1000: minimum gap between session starts to one address */
  uint32_t per_ip_backoff_max_ms; /* 60000: gap grows (doubles) after 421/refused up to this */
  unsigned per_ip_give_up;        /* 5: after this many sessions in a row end in 421 or a refused
                                     connection, the address's other probes are `skipped` (with the
                                     reason) instead of waiting out the back-off each: one refusing
                                     address behind thousands of MX names must not hold a scan for
                                     days. 0: never give up. Sessions are counted, not probes: a
                                     refused first attempt and its refused retry count 2, since the
                                     address saw (and refused) two connections; a probe whose retry
                                     would come after the give-up is reported with its first
                                     session's result and is not retried */
  unsigned max_concurrent;        /* 1000: sessions in flight (connect to close) */
  bool allow_reserved;            /* false: special-purpose addresses are skipped */
  unsigned expiry_warn_days;      /* 14: expires_soon threshold for DANE-TA chains */
  size_t max_reply_line_bytes;    /* 2048: longer reply line => smtp-failed */
  size_t max_reply_total_bytes;   /* 65536: bytes read in one session before TLS => smtp-failed */
  unsigned max_reply_lines;       /* 128: lines of one multi-line reply => smtp-failed */
  bool slots_only;                /* false; true: the engine only lends politeness slots to other
                                     connection kinds (probe_engine_slot_request: the MTA-STS policy
                                     fetch of a --probe none scan) and makes no SMTP session, so no
                                     EHLO name is chosen and probe_engine_submit refuses */
  bool probe_each_key_type;       /* true: when TLS came up, the host has usable TLSA and the
                                     leaf is RSA or ECDSA, a second session offers only the
                                     other key type (same politeness rules as any session) */
  const char *pkix_ca_file;       /* NULL: the system store; else a PEM bundle (--ca-file): the WebPKI
                                     trust store of the MTA-STS check of requests with pkix set.
                                     A file is loaded by probe_engine_new (not kept; a bad one fails
                                     it); the system store when the first pkix report needs it */
};

/* Fills the defaults noted above. */
void probe_config_defaults(struct probe_config *config);

/* One (MX host, address) to probe. probe_engine_submit copies everything. */
struct probe_request {
  const char *host_name;              /* MX host name as found in the MX RRset */
  const char *tlsa_base;              /* TLSA base domain: SNI (RFC 7672 2.2.3); NULL = host_name */
  const char *const *reference_names; /* DANE-TA name checks (RFC 7672 3.2.2) */
  size_t reference_count;             /* at most PROBE_MAX_REFERENCE_NAMES kept */
  const struct tlsa_record *tlsa;     /* secure TLSA RRset; usable flags as classified */
  size_t tlsa_count;                  /* 0: DANE does not apply (probe-all mode) */
  struct sockaddr_storage address;    /* port ignored: config smtp_port is used */
  socklen_t address_len;
  bool pkix; /* MTA-STS (RFC 8461 4.2): also validate the session's chain against the WebPKI
                store (pkix_ca_file) for host_name; the report's pkix says how it went */
};


struct probe_cert {
  uint8_t sha256[32]; /* SHA-256 of the DER certificate */
  const uint8_t *der; /* owned by the report, valid during the callback */
  size_t der_len;
};


/* Everything pointed to is owned by the engine and valid only during the
 * callback; copy what you keep. */
struct probe_report {
  const char *host_name; /* as submitted */
  const char *tlsa_base;
  const struct sockaddr *address;
  socklen_t address_len;
  char address_text[64]; /* "192.0.2.1" / "2001:db8::1" */

  enum probe_result result;  /* of the first (unrestricted) handshake */
  const char *reason;        /* human text, never NULL ("" when authenticated) */
  enum tlsrpt_result tlsrpt; /* TLS-RPT result type of a failure, TLSRPT_NONE otherwise */
  enum probe_step last_step; /* step reached; on failure the step that failed */
  int smtp_code;             /* last SMTP reply code before QUIT (554, 454; 220 after STARTTLS), 0 if none */

  const char *banner;               /* greeting bytes, lines joined by "\n", up to PROBE_BANNER_MAX_BYTES */
  size_t banner_len;                /* raw bytes: may hold anything but NUL-terminated */
  const char *const *ehlo_keywords; /* EHLO reply lines after the first ("PIPELINING", "SIZE 10240000") */
  size_t ehlo_keyword_count;
  bool starttls_offered;

  /* Milliseconds each step took, -1 if not reached. */
  int32_t connect_ms, banner_ms, ehlo_ms, starttls_ms, handshake_ms;

  bool tls_up;                                         /* handshake completed */
  char tls_version[PROBE_NAME_MAX_BYTES];              /* "TLSv1.3" */
  char tls_cipher[PROBE_NAME_MAX_BYTES];               /* "TLS_AES_256_GCM_SHA384" */
  char tls_group[PROBE_NAME_MAX_BYTES];                /* "X25519", "" if unknown */
  char peer_signature_algorithm[PROBE_NAME_MAX_BYTES]; /* "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256" */
  char leaf_key_type[PROBE_NAME_MAX_BYTES];            /* "rsa2048", "ecdsa-p256", "ed25519" */
  long verify_error;                                   /* X509_V_* from SSL_get_verify_result, 0 = ok */
  int matched_tlsa_index;                              /* index into the request's tlsa, -1 if none */
  int match_depth;                                     /* 0 = leaf, -1 if none */
  unsigned tlsa_refused;          /* usable TLSA records OpenSSL refused (tls_outcome.tlsa_refused) */
  const struct probe_cert *chain; /* peer chain as sent, leaf first */
  size_t chain_count;             /* entries in chain (<= PROBE_MAX_CHAIN_CERTS) */
  size_t chain_sent;              /* certificates the server sent; more than chain_count
                                                          when the chain was longer than PROBE_MAX_CHAIN_CERTS */
  bool has_leaf_spki_sha256;
  uint8_t leaf_spki_sha256[32]; /* SHA-256 of the leaf's SPKI: what a "3 1 1" record of it holds */
  time_t leaf_not_before, leaf_not_after;
  time_t chain_not_after; /* earliest notAfter of the chain */
  bool expires_soon;      /* RESULTS.md: matched DANE-TA chain expiring within
                             expiry_warn_days, or a DANE-EE matched leaf past its dates */

  struct probe_key_type_result key_types[PROBE_KEY_KIND_COUNT];
  bool partial_algorithm_coverage; /* both RSA and ECDSA present, usable TLSA, and
                                      not both authenticated */

  /* Attempts (retry_transient): everything above is the last session's. */
  unsigned attempts;                /* 0 skipped (no session), 1, or 2 when the first failed transiently */
  struct probe_first_attempt first; /* the first session, when attempts == 2 (zeros otherwise) */
  const char *first_reason;         /* its reason when attempts == 2, else NULL */

  /* MTA-STS WebPKI validation of the same (last unrestricted) session: the
   * chain it received checked with X509_verify_cert against the engine's
   * own store (tls/tls_pkix.h), separately from the DANE verification of
   * the handshake; no second connection. PROBE_PKIX_NOT_CHECKED unless the
   * request set pkix. */
  enum probe_pkix pkix;
  const char *pkix_reason; /* never NULL: "" when valid or not checked */
};

typedef void (*probe_done_cb)(const struct probe_report *report, void *arg);

struct probe_engine;

/* Creates an engine on base (not owned). Returns NULL with a message in why
 * on failure (bad config, OpenSSL context setup, out of memory). The process
 * must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN) in main): libevent and
 * OpenSSL write to sockets a server may have closed, and Linux has no
 * per-socket opt-out. */
struct probe_engine *probe_engine_new(struct event_base *base, const struct probe_config *config, char *why,
                                      size_t why_len);

/* Adds the CIDR prefixes of a file (one per line: "192.0.2.0/24",
 * "2001:db8::/32", a bare address; "#" comments and blank lines ignored) to
 * the blocklist. Returns 0, or -1 with "file:line: reason" in why (nothing of
 * the file is added then). May be called more than once. */
int probe_engine_load_blocklist(struct probe_engine *engine, const char *path, char *why, size_t why_len);

/* Queues one probe. Returns 0: done_cb will be called exactly once, always
 * from the event loop (never from inside this call), also for skipped
 * addresses. Returns -1 (request invalid or out of memory): no callback. */
int probe_engine_submit(struct probe_engine *engine, const struct probe_request *request, probe_done_cb done_cb,
                        void *arg);

struct probe_stats {
  uint64_t submitted, completed, skipped;
  uint64_t connections;  /* TCP connections opened (incl. key-type sessions and retries) */
  uint64_t retries;      /* second attempts started after a transient failure */
  uint64_t tlsa_refused; /* probes in which OpenSSL refused a TLSA record danescan called usable */
  uint64_t results[PROBE_RESULT_COUNT];
  unsigned queued;    /* waiting for rate/per-address/concurrency slots */
  unsigned in_flight; /* sessions running */
};
void probe_engine_get_stats(const struct probe_engine *engine, struct probe_stats *stats);

/* Changes the overall connection rate and token-bucket depth while the
 * engine runs (a multi-worker scan shares its --rate among the live
 * workers). Tokens above the new depth are dropped at once. */
void probe_engine_set_rate(struct probe_engine *engine, double rate_per_second, unsigned burst);

/* Requests queued or running; 0 when every callback has been made. */
size_t probe_engine_pending(const struct probe_engine *engine);

/* Aborts every session and frees the engine without calling any callback.
 * probe_engine_free(NULL) is a no-op. */
void probe_engine_free(struct probe_engine *engine);

/* Politeness slots for other connection kinds (the MTA-STS policy fetch,
 * sts/sts_fetch.h): one slot is one connection to one address under the
 * same rules as an SMTP session, counted with them: the overall rate and
 * max_concurrent, the address's per_ip cap, gap, back-off and give-up, the
 * blocklist and special-purpose addresses. Slots wait in the address's FIFO
 * with the probes (the address state is keyed by address only: port 443
 * and port 25 of one address share it). Slots are not probes: they are not
 * in probe_engine_pending nor in submitted/completed, but opened slots
 * count in stats.connections.
 *
 * probe_engine_slot_request queues a slot for address (family AF_INET or
 * AF_INET6; port ignored). cb runs exactly once, from the event loop, never
 * from inside the call: with skip_reason NULL the caller may connect now and
 * must end the slot with probe_slot_release when the connection is closed;
 * with a skip_reason (blocklist, special-purpose address, address given up)
 * the caller must not connect, and the slot is already gone. Returns NULL
 * (no callback) on a bad address or when out of memory.
 *
 * probe_slot_release ends a granted slot: refused says the connection was
 * refused (backs the address off like a refused SMTP session; a clean end
 * lets the gap shrink back). On a slot not yet granted it cancels it and no
 * callback runs. Every slot is freed by probe_engine_free without a
 * callback. */
struct probe_slot;
typedef void (*probe_slot_cb)(struct probe_slot *slot, const char *skip_reason, void *arg);
struct probe_slot *probe_engine_slot_request(struct probe_engine *engine, const struct sockaddr_storage *address,
                                             probe_slot_cb cb, void *arg);
void probe_slot_release(struct probe_slot *slot, bool refused);

/* RESULTS.md "TLS-RPT result types": the type a probe result maps to
 * (TLSRPT_NONE for authenticated, unauthenticated-tls, skipped and the
 * reachability results connect-failed/timeout). */
enum tlsrpt_result probe_result_tlsrpt(enum probe_result result);


#endif
