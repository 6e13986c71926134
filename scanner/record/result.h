/* The neutral result record of one domain, as every output sink receives it
 * (JSON Lines, PostgreSQL). A domain links to MX hosts; an MX host is shared
 * by every domain of the scan that names it (the host cache of pipeline/host_resolver.h), so a
 * sink must treat hosts as read-only and must not keep pointers after its
 * write callback returns. Ownership: the pipeline owns every record and every
 * string in it. */
#ifndef DANESCAN_RECORD_RESULT_H
#define DANESCAN_RECORD_RESULT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/status.h"
#include "record/tlsa.h"

#define RESULT_EDE_TEXT_MAX_BYTES 256
#define RESULT_MAX_MX_HOSTS 32  /* MX records kept per domain; more are flagged, not resolved */
#define RESULT_NS_MAX_BYTES 512 /* domain_result.ns (input.h INPUT_NS_MAX_BYTES) */

/* What danescan keeps of one DNS lookup. */
struct dns_fact {
  bool done; /* the lookup was made and answered (or failed) */
  enum dnssec_state state;
  int rcode; /* LDNS_RCODE_*, -1 when there was no answer */
  bool has_ede;
  uint16_t ede_code;
  char *ede_text;      /* owned (dns_fact_clear frees): the EDE text, up to
                          RESULT_EDE_TEXT_MAX_BYTES - 1 bytes; NULL when none.
                          Rare, so not held inline: a cached host has 5 facts */
  const char *failure; /* static reason for failed, NULL otherwise */
  unsigned attempts;
  bool slow_retried;
  uint32_t elapsed_ms;
};

/* Frees what the fact owns and zeroes it (rcode -1: no answer). */
void dns_fact_clear(struct dns_fact *fact);

/* Probe details of one address (record/probe_detail.h); filled by the STARTTLS stage. */
struct probe_detail;

struct host_address {
  int family; /* AF_INET or AF_INET6 */
  uint8_t bytes[16];
  char text[46]; /* INET6_ADDRSTRLEN */
  enum probe_result probe_result;
  const char *probe_reason;   /* static text or owned by probe_detail; NULL if none */
  struct probe_detail *probe; /* NULL when not probed; owned by the host */
};

/* Flags of an MX host, recorded beside its status. */
enum mx_host_flag {
  MX_FLAG_NXDOMAIN = 1u << 0,      /* the host name does not exist */
  MX_FLAG_TARGET_IS_TLD = 1u << 1, /* MX target is a single label */
  MX_FLAG_TARGET_IS_LOCALHOST = 1u << 2,
  MX_FLAG_ANCESTOR_NXDOMAIN = 1u << 3,     /* RESULTS.md NSEC3/qname-minimisation trap */
  MX_FLAG_TLSA_AT_ORIGINAL_NAME = 1u << 4, /* CNAME'd host, TLSA found at the MX name */
  MX_FLAG_TLSA_INSECURE = 1u << 5,         /* secure addresses, insecure TLSA answer */
  MX_FLAG_A_FAILED = 1u << 6,              /* A lookup bogus/failed, AAAA usable */
  MX_FLAG_AAAA_FAILED = 1u << 7,           /* AAAA lookup bogus/failed, A usable */
  MX_FLAG_PARTIAL_ALGORITHM_COVERAGE = 1u << 8,
  MX_FLAG_EXPIRES_SOON = 1u << 9,
  MX_FLAG_TLSA_REFUSED = 1u << 10, /* OpenSSL refused a TLSA record danescan classified usable */
  /* Rollover hazards (issue 19; pipeline/rollover.h says when each is set). */
  MX_FLAG_EE_SELECTOR_0 = 1u << 11,          /* a usable 3 0 x record: breaks at every renewal */
  MX_FLAG_TA_PUBLIC_INTERMEDIATE = 1u << 12, /* DANE-TA matches an intermediate of a public CA */
  MX_FLAG_SINGLE_KEY = 1u << 13,             /* only the presented key is published, no next */
  MX_FLAG_LEAF_EXPIRES_SOON = 1u << 14,      /* the presented leaf expires within the warn days */
  MX_FLAG_RRSIG_EXPIRES_SOON = 1u << 15,     /* an RRSIG of the TLSA RRset expires within the warn days */
};

/* Names of the flags in output, in bit order. */
const char *mx_host_flag_name(unsigned bit_index);
#define MX_FLAG_COUNT 16

struct mx_host {
  char *name;         /* as in the MX RRset, lower case, no trailing dot */
  char *cname_target; /* final CNAME target of the address lookups, NULL if none */
  char *tlsa_base;    /* TLSA base domain (RFC 7672 2.2.3); NULL if no TLSA lookup */
  struct dns_fact a, aaaa;
  struct dns_fact tlsa;        /* the TLSA lookup whose answer is used */
  struct dns_fact tlsa_target; /* CNAME'd host: the lookup at the target (when a fallback followed) */
  struct dns_fact ancestor;    /* _tcp.<base> check, when TLSA records exist */
  enum dnssec_state address_dnssec;
  struct host_address *addresses;
  size_t address_count;
  struct tlsa_record *tlsa_records;
  size_t tlsa_count;
  size_t tlsa_usable_count;
  unsigned flags; /* enum mx_host_flag bits */
  enum host_status status;
  enum rollover_class rollover;
  bool needs_probe;           /* usable or unusable secure TLSA: the STARTTLS stage decides */
  uint32_t resolve_ms;        /* time to resolve the host */
  int64_t tlsa_rrsig_expires; /* Unix seconds: earliest expiration of the RRSIGs over the TLSA RRset
                                 used (the resolver's answer with DO set); 0 when none was seen */
  char *tlsa_zone;            /* owned: the zone of that secure TLSA RRset (its RRSIG signer, lower case, no
                      trailing dot); NULL when none was seen */
};

struct mx_link {
  uint16_t preference;
  struct mx_host *host; /* shared; never NULL in a finished record */
};

/* MTA-STS and TLS-RPT of a domain (record/mta_sts_result.h). */
struct mta_sts_result;

enum island_state { ISLAND_NOT_CHECKED = 0, ISLAND_UNSIGNED, ISLAND_SIGNED_NO_DS, ISLAND_CHECK_FAILED };
const char *island_state_name(enum island_state state);

/* DNSSEC hygiene of a zone that matters to a domain (issue 19): its MX RRset
 * zone and the zones of its hosts' TLSA RRsets (record/zone_hygiene.h). */
struct zone_hygiene;
#define RESULT_MAX_ZONES (RESULT_MAX_MX_HOSTS + 1)
struct domain_zone {
  const struct zone_hygiene *zone; /* shared per scan (pipeline/zone_cache.h); read-only */
  bool mx;                         /* the domain's MX RRset is signed by this zone */
  bool tlsa;                       /* a TLSA RRset of one of its hosts is */
  int64_t rrsig_expires;           /* Unix seconds: earliest RRSIG expiration over the zone's DNSKEY RRset
                                      and the MX/TLSA RRsets above; 0 when none was seen */
  unsigned flags;                  /* enum zone_hygiene_flag bits, judged when the domain was decided */
};

/* Where domain_result.ns came from. */
enum ns_source {
  NS_SOURCE_NONE,   /* no NS targets */
  NS_SOURCE_ZONE,   /* the input's zone file (its delegation NS records) */
  NS_SOURCE_LOOKUP, /* scan --ns-lookup: the NS RRset at the name */
};

struct domain_result {
  char name[256]; /* normalised, or the escaped raw input for invalid-name */
  char invalid_reason[128];
  char skip_reason[64]; /* opted out (`skipped`, never looked up): why, e.g. "blocklist"; "" otherwise */
  uint64_t seq;         /* input ordinal (resume key) */
  unsigned file_index;
  uint64_t line;
  int64_t rank; /* -1 when the input had none */
  /* The domain's NS targets (space-separated host names), stored by
   * operator: those the input's zone delegates it to (input.h
   * input_name.ns), or with scan --ns-lookup, for a name whose input gave
   * none (lists, CSV), those of its NS lookup (pipeline/ns_lookup.h); ""
   * when there are none. ns_source says which. */
  char ns[RESULT_NS_MAX_BYTES];
  enum ns_source ns_source;
  struct dns_fact ns_lookup; /* the NS lookup (--ns-lookup); not done when none was made */
  enum domain_status status;
  struct dns_fact mx; /* the MX lookup */
  enum dnssec_state mx_dnssec;
  bool implicit_mx;
  bool null_mx_mixed; /* "." beside other MX targets (ignored) */
  bool mx_truncated;  /* more than RESULT_MAX_MX_HOSTS */
  struct mx_link links[RESULT_MAX_MX_HOSTS];
  size_t link_count;
  enum island_state island;
  struct dns_fact dnskey;                     /* the --islands DNSKEY lookup */
  struct mta_sts_result *mta_sts;             /* NULL: not checked (no --mta-sts, or no mail); owned by the pipeline */
  int64_t mx_rrsig_expires;                   /* Unix seconds: earliest RRSIG over a secure MX RRset; 0 when none */
  struct domain_zone zones[RESULT_MAX_ZONES]; /* --dnssec-hygiene (pipeline/scan.c says which domains) */
  size_t zone_count;
  int64_t started_unix_ms;
  uint32_t elapsed_ms;
};

#endif
