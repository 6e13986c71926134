/* The neutral result record as rows of the danescan tables (schema/), in
 * COPY text format, one buffer per table. The pipeline's record is only read;
 * everything kept is copied into the buffers. Column lists here and in
 * pg_rows_copy_statement must match schema/migrations. */
#ifndef DANESCAN_STORE_PG_ROWS_H
#define DANESCAN_STORE_PG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/provider.h"
#include "record/result.h"
#include "db/pg_copy.h"

#define PG_TEXT_MAX_BYTES 1024   /* reasons, EDE texts, names */
#define PG_BANNER_MAX_BYTES 4096 /* SMTP greeting (bytea and text) */
#define PG_EHLO_KEYWORD_MAX_BYTES 256
#define PG_CERT_MAX_BYTES (64 * 1024) /* DER of one certificate */

/* Tables written per batch. Domain rows and links go straight into their
 * partitioned tables; host-level rows go into per-connection staging tables
 * and are merged so a host is stored once per scan (ON CONFLICT) even when a
 * resumed run sends it again; certificates are upserted by SHA-256. */
enum pg_table {
  PG_TABLE_DOMAINS = 0,
  PG_TABLE_DOMAIN_MX,
  PG_TABLE_DOMAIN_MTA_STS,       /* migration 014: the domain's MTA-STS and TLS-RPT, when checked */
  PG_TABLE_DOMAIN_DNS_OPERATORS, /* migration 017: the domain's DNS operators (zone inputs) */
  PG_TABLE_DOMAIN_ZONES,         /* migration 015: DNSSEC hygiene, one row per zone that matters to the domain */
  PG_TABLE_STAGE_HOSTS,
  PG_TABLE_STAGE_TLSA,
  PG_TABLE_STAGE_ADDRESSES,
  PG_TABLE_STAGE_PROBES,
  PG_TABLE_STAGE_CHAIN,
  PG_TABLE_STAGE_CERTS,
  PG_TABLE_COUNT
};

/* Rows of one batch. */
struct pg_rows {
  struct pg_buf table[PG_TABLE_COUNT];
  uint64_t rows[PG_TABLE_COUNT];
};

void pg_rows_init(struct pg_rows *rows);
void pg_rows_free(struct pg_rows *rows);
bool pg_rows_failed(const struct pg_rows *rows);
uint64_t pg_rows_total(const struct pg_rows *rows);

/* The COPY statement of a table ("COPY domains (...) FROM STDIN"). */
const char *pg_rows_copy_statement(enum pg_table table);

/* Adds the domain's row, its MX links and its MTA-STS row (when checked). */
void pg_rows_add_domain(struct pg_rows *rows, const struct domain_result *result, const char *scan_id);

/* Adds the domain's DNS operators (migration 017): one row per distinct
 * registrable domain (providers, as for MX hosts; '' for a target that has
 * none) of its NS targets (result->ns), with the targets it runs. Nothing
 * when result->ns is empty (no NS data) or the name is invalid. */
void pg_rows_add_dns_operators(struct pg_rows *rows, const struct domain_result *result, const char *scan_id,
                               const struct provider_list *providers);

/* Adds an MX host with its TLSA records, addresses and probes, and its
 * provider by the Public Suffix List (providers; NULL stores ''). The caller
 * sends each host at most once per batch. */
void pg_rows_add_host(struct pg_rows *rows, const struct mx_host *host, const char *scan_id,
                      const struct provider_list *providers);

/* One address's probe row (and, once the STARTTLS stage fills struct
 * probe_detail, its chain and certificates). THE PLACE TO EXTEND when
 * probe_detail lands: fill the columns marked "filled from struct
 * probe_detail" in schema/migrations/001_core.sql (probes: tls_version,
 * cipher, kx_group, peer_sig_alg, matched_tlsa, match_depth, banner,
 * banner_text, ehlo_keywords, connect_ms, smtp_ms, tls_ms, total_ms,
 * leaf_sha256), add PG_TABLE_STAGE_CHAIN rows (one per chain certificate)
 * and PG_TABLE_STAGE_CERTS rows (pg_rows_add_certificate). */
void pg_rows_add_probe(struct pg_rows *rows, const struct mx_host *host, const struct host_address *address,
                       const char *scan_id);

/* A certificate for the upsert: sha256 (32 bytes) and DER are required; the
 * text fields may be NULL (stored NULL), san has san_count names,
 * not_before/not_after are Unix seconds (INT64_MIN: unknown), key_bits < 0
 * unknown, spki_sha256 NULL unknown. */
struct pg_certificate {
  const uint8_t *sha256;
  const uint8_t *der;
  size_t der_len;
  const char *subject;
  const char *issuer;
  const char *const *san;
  size_t san_count;
  int64_t not_before;
  int64_t not_after;
  const char *key_type;
  int key_bits;
  const uint8_t *spki_sha256;
};
void pg_rows_add_certificate(struct pg_rows *rows, const struct pg_certificate *cert);

#endif
