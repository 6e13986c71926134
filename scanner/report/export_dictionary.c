/* The data dictionary of `danescan export` (see export_dictionary.h): the
 * sentences a published scan's datapackage.json gives each table and
 * column. Status words are not spelled here: an enum column's allowed values
 * are read from the database enum (constraints.enum), whose words are those
 * of shared/spec/RESULTS.md. tests/integration/test_export.py fails when a
 * column of the current schema has no sentence here. */
#include "report/export_dictionary.h"

#include <string.h>

struct column_description {
  const char *table;
  const char *column;
  const char *description;
};

#define COLUMNS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct export_reference domain_mx_references[] = {
    {COLUMNS("scan_id", "seq"), "domains", COLUMNS("scan_id", "seq")},
    {COLUMNS("scan_id", "host"), "mx_hosts", COLUMNS("scan_id", "host")},
    {NULL, NULL, NULL},
};
static const struct export_reference domain_references[] = {
    {COLUMNS("scan_id", "seq"), "domains", COLUMNS("scan_id", "seq")},
    {NULL, NULL, NULL},
};
static const struct export_reference host_references[] = {
    {COLUMNS("scan_id", "host"), "mx_hosts", COLUMNS("scan_id", "host")},
    {NULL, NULL, NULL},
};
static const struct export_reference probe_references[] = {
    {COLUMNS("scan_id", "host"), "mx_hosts", COLUMNS("scan_id", "host")},
    {COLUMNS("leaf_sha256"), "certificates", COLUMNS("sha256")},
    {NULL, NULL, NULL},
};
static const struct export_reference chain_references[] = {
    {COLUMNS("scan_id", "host"), "mx_hosts", COLUMNS("scan_id", "host")},
    {COLUMNS("cert_sha256"), "certificates", COLUMNS("sha256")},
    {NULL, NULL, NULL},
};
static const struct export_reference no_references[] = {{NULL, NULL, NULL}};

const struct export_table export_tables[] = {
    {"domains", "Domains", "One row per input name of the scan: the domain's status and its MX lookup.", true, "seq",
     no_references},
    {"domain_mx", "Domain to MX host links",
     "One row per MX host a domain names (the implicit MX host included), with its preference.", true,
     "seq, preference, host", domain_mx_references},
    {"domain_mta_sts", "MTA-STS and TLS-RPT per domain",
     "One row per domain with mail that was checked for MTA-STS (scan --mta-sts; check): its MTA-STS status "
     "(RFC 8461), the policy, the lookups, and its TLS-RPT record (RFC 8460). No rows for a scan without "
     "--mta-sts.",
     true, "seq", domain_references},
    {"domain_dns_operators", "DNS operators per domain",
     "One row per DNS operator of a domain read from a zone-file input: the registrable domain (Public Suffix List) "
     "of the name servers the zone delegates the domain to, from its NS records (no DNS query). A domain whose name "
     "servers belong to several operators has a row for each. Domains from list or CSV inputs have rows only when "
     "the scan looked up their NS RRsets (scan --ns-lookup).",
     true, "seq, operator", domain_references},
    {"domain_dnssec_zones", "DNSSEC hygiene per domain and zone",
     "One row per zone that matters to a domain (the zone of its MX RRset, the zones of its hosts' TLSA RRsets; "
     "scan --dnssec-hygiene, by default DANE domains only): the zone's DNSKEY algorithms and sizes, DS digest types "
     "(RFC 8624), NSEC or NSEC3 with the RFC 9276 verdict, and the earliest signature expiration. The zone's facts "
     "repeat for every domain that names it.",
     true, "seq, zone", domain_references},
    {"mx_hosts", "MX hosts",
     "One row per MX host of the scan (shared by every domain naming it): its status, address and TLSA lookups.", true,
     "host", no_references},
    {"tlsa_records", "TLSA records", "One row per TLSA record of an MX host, in the order of the DNS answer.", true,
     "host, position", host_references},
    {"addresses", "MX host addresses", "One row per IPv4 or IPv6 address of an MX host.", true, "host, address",
     host_references},
    {"probes", "STARTTLS probes",
     "One row per STARTTLS probe of an address of an MX host (probe_no > 0: the same address probed again, e.g. once "
     "per certificate key type). Addresses not probed have one row with result skipped and the reason.",
     true, "host, address, probe_no", probe_references},
    {"probe_chain", "Certificate chains", "One row per certificate a probe's server sent, leaf first (at most 16).",
     true, "host, address, probe_no, depth", chain_references},
    {"certificates", "Certificates",
     "One row per distinct certificate the scan's probes saw (a probe's leaf or a certificate of its chain).", false,
     "sha256", no_references},
};
const size_t export_table_count = sizeof export_tables / sizeof export_tables[0];

static const struct column_description columns[] = {
    /* every per-scan table */
    {"*", "scan_id", "The scan's id (the JSON Lines scan_id); the same in every row of this data set."},
    /* domains */
    {"domains", "seq", "0-based ordinal of the name in the scan's input (the order the inputs were read)."},
    {"domains", "domain",
     "Domain name, lower case, without the trailing dot; for invalid-name the raw input, with invalid bytes and "
     "control characters written as \\xNN."},
    {"domains", "tld", "Last label of the domain; empty for invalid-name."},
    {"domains", "status", "Domain status (shared/spec/RESULTS.md, \"Per domain\")."},
    {"domains", "invalid_reason", "For invalid-name: why the name is not valid; else empty."},
    {"domains", "mx_dnssec",
     "DNSSEC state of the MX answer (secure or insecure); empty when the lookup failed or was bogus."},
    {"domains", "mx_lookup_dnssec", "DNSSEC state of the MX lookup itself (failed and bogus included)."},
    {"domains", "mx_rcode",
     "DNS response code of the MX lookup (NOERROR, NXDOMAIN, SERVFAIL, ...); empty without "
     "an answer."},
    {"domains", "mx_ede_code", "RFC 8914 extended DNS error code of the MX answer, if any."},
    {"domains", "mx_ede_text", "RFC 8914 extended DNS error text of the MX answer, if any."},
    {"domains", "mx_failure", "For a failed MX lookup: short reason (timeout, servfail, refused, ...)."},
    {"domains", "mx_attempts", "Queries sent for the MX lookup (retries and the CD=1 repeat included)."},
    {"domains", "mx_elapsed_ms", "Milliseconds the MX lookup took."},
    {"domains", "implicit_mx", "No MX RRset: the domain is its own MX host with preference 0 (RFC 5321 5.1)."},
    {"domains", "null_mx_mixed",
     "A null MX (\".\") beside other MX targets (RFC 7505 violation; the \".\" is "
     "ignored)."},
    {"domains", "mx_truncated", "More than 32 distinct MX hosts; the rest were not resolved."},
    {"domains", "mx_count", "MX hosts linked to the domain (its rows in domain_mx)."},
    {"domains", "island",
     "With --islands, for insecure domains: unsigned, signed-no-ds or check-failed; empty when "
     "not checked."},
    {"domains", "input_file", "Index (0-based) of the input file the name came from."},
    {"domains", "input_line", "Line of the name in its input file."},
    {"domains", "rank", "Rank of the name in a ranked CSV top list; empty (or -1) for other inputs."},
    {"domains", "started_at", "When the domain's resolution started (UTC)."},
    {"domains", "elapsed_ms", "Milliseconds from the start of the domain's resolution to its record."},
    {"domains", "skip_reason",
     "For skipped (opted out by the scan's blocklist, never looked up): why, e.g. blocklist; else empty."},
    /* domain_mx */
    {"domain_mx", "seq", "The domain's seq (domains.seq)."},
    {"domain_mx", "domain", "The domain (domains.domain)."},
    {"domain_mx", "preference", "MX preference (0 for the implicit MX host)."},
    {"domain_mx", "host", "MX host name, lower case, without the trailing dot (mx_hosts.host)."},
    {"domain_mx", "mta_sts_match",
     "MTA-STS (scan --mta-sts): whether the host matches an mx pattern of the domain's policy (RFC 8461 4.1); empty "
     "when the domain has no policy with patterns or was not checked."},
    /* domain_dns_operators */
    {"domain_dns_operators", "seq", "The domain's seq (domains.seq)."},
    {"domain_dns_operators", "domain", "The domain (domains.domain)."},
    {"domain_dns_operators", "operator",
     "Registrable domain (eTLD+1, Public Suffix List) of NS targets of the domain; empty when a target is itself a "
     "public suffix."},
    {"domain_dns_operators", "ns_hosts",
     "The domain's NS targets (lower case, no trailing dot) whose operator this is, in zone order (answer order "
     "when looked up)."},
    /* domain_mta_sts */
    {"domain_mta_sts", "seq", "The domain's seq (domains.seq)."},
    {"domain_mta_sts", "domain", "The domain (domains.domain)."},
    {"domain_mta_sts", "status", "MTA-STS status of the domain (shared/spec/MTA-STS.md, \"mta_sts.status\")."},
    {"domain_mta_sts", "failure",
     "Why the status is not valid, in words (with the RFC 8461 section); empty for none, mode-none and valid."},
    {"domain_mta_sts", "id", "The id field of the _mta-sts TXT record; empty unless the record is valid."},
    {"domain_mta_sts", "mode",
     "The mode of the fetched policy (enforce, testing or none); empty without a valid policy."},
    {"domain_mta_sts", "max_age", "The max_age of the fetched policy, in seconds; empty without a valid policy."},
    {"domain_mta_sts", "mx_patterns",
     "The mx lines of the fetched policy, lower case, in the policy's order (\"*.\" matches one leftmost label)."},
    {"domain_mta_sts", "http_status",
     "HTTP status of the policy fetch from https://mta-sts.DOMAIN/.well-known/mta-sts.txt; empty when no fetch was "
     "made or no response came back."},
    {"domain_mta_sts", "record_dnssec", "DNSSEC state of the TXT lookup of _mta-sts.DOMAIN."},
    {"domain_mta_sts", "record_rcode",
     "DNS response code of the TXT lookup of _mta-sts.DOMAIN; empty without an answer."},
    {"domain_mta_sts", "record_failure",
     "For a failed TXT lookup of _mta-sts.DOMAIN: short reason (timeout, servfail, ...); else empty."},
    {"domain_mta_sts", "policy_host_dnssec",
     "DNSSEC state of the A/AAAA lookups of mta-sts.DOMAIN (the worse of the two); empty when they were not made "
     "(no valid record)."},
    {"domain_mta_sts", "tlsrpt_status",
     "TLS-RPT record status (shared/spec/MTA-STS.md, \"tlsrpt_record.status\") of _smtp._tls.DOMAIN."},
    {"domain_mta_sts", "tlsrpt_rua", "The valid rua URIs (mailto: or https:) of the TLS-RPT record, in order."},
    {"domain_mta_sts", "tlsrpt_failure", "Why the TLS-RPT record is invalid, in words; else empty."},
    {"domain_mta_sts", "tlsrpt_dnssec", "DNSSEC state of the TXT lookup of _smtp._tls.DOMAIN."},
    {"domain_mta_sts", "tlsrpt_rcode",
     "DNS response code of the TXT lookup of _smtp._tls.DOMAIN; empty without an answer."},
    /* domain_dnssec_zones */
    {"domain_dnssec_zones", "seq", "The domain's seq (domains.seq)."},
    {"domain_dnssec_zones", "domain", "The domain (domains.domain)."},
    {"domain_dnssec_zones", "zone",
     "The zone's apex (the signer of the RRSIGs over the domain's MX or TLSA RRset), lower case, no trailing dot."},
    {"domain_dnssec_zones", "roles",
     "mx: the domain's MX RRset is in this zone; tlsa: a TLSA RRset of one of its MX hosts is."},
    {"domain_dnssec_zones", "dnskey_dnssec", "DNSSEC state of the DNSKEY lookup at the apex."},
    {"domain_dnssec_zones", "ds_dnssec", "DNSSEC state of the DS lookup at the apex (the parent's answer)."},
    {"domain_dnssec_zones", "key_algorithms",
     "DNSSEC algorithm number of each DNSKEY (at most 8), in answer order (8 RSASHA256, 13 ECDSAP256SHA256, ...)."},
    {"domain_dnssec_zones", "key_bits",
     "Key size of each DNSKEY, same order: the RSA modulus in bits, 256 for P-256 and Ed25519, 384 for P-384."},
    {"domain_dnssec_zones", "key_flags", "DNSKEY flags of each key, same order: 257 a KSK (SEP bit), 256 a ZSK."},
    {"domain_dnssec_zones", "ds_digest_types",
     "Digest type of each DS record in the parent (at most 8): 1 SHA-1 (RFC 8624: MUST NOT), 2 SHA-256, 4 SHA-384."},
    {"domain_dnssec_zones", "denial",
     "Denial of existence of the zone: nsec or nsec3 (from its NSEC3PARAM answer); empty when not seen."},
    {"domain_dnssec_zones", "nsec3_iterations", "NSEC3 additional hash iterations; empty for NSEC."},
    {"domain_dnssec_zones", "nsec3_salt_length", "NSEC3 salt length in bytes; empty for NSEC."},
    {"domain_dnssec_zones", "nsec3_verdict",
     "RFC 9276 verdict on the NSEC3 parameters: recommended (0 iterations, no salt), not-recommended (a salt or 1 to "
     "150 iterations), insecure-iterations (above 150: validators treat the zone's denials as insecure)."},
    {"domain_dnssec_zones", "dnskey_rrsig_expires", "Earliest expiration of the RRSIGs over the zone's DNSKEY RRset."},
    {"domain_dnssec_zones", "rrsig_expires",
     "Earliest expiration of the RRSIGs over the DNSKEY RRset and over the domain's MX and TLSA RRsets in the zone."},
    {"domain_dnssec_zones", "flags",
     "Findings (docs/output.md, \"DNSSEC hygiene\"): alg-must-not, alg-not-recommended, ds-sha1, "
     "ds-digest-must-not, nsec3-salt, nsec3-iterations, nsec3-insecure-iterations, rrsig-expires-soon."},
    /* mx_hosts */
    {"mx_hosts", "host", "MX host name, lower case, without the trailing dot."},
    {"mx_hosts", "status",
     "MX host status (shared/spec/RESULTS.md, \"Per MX host\"; dane-unprobed: usable secure "
     "TLSA, not probed)."},
    {"mx_hosts", "address_dnssec",
     "DNSSEC state of the address records (the worst of the A/AAAA lookups that "
     "answered)."},
    {"mx_hosts", "cname_target", "Final target of a CNAME chain from the host name; empty without a CNAME."},
    {"mx_hosts", "tlsa_base", "TLSA base domain used (RFC 7672 2.2.3); empty when no TLSA lookup was made."},
    {"mx_hosts", "provider",
     "Registrable domain of the host name by the Public Suffix List (ICANN and private sections, libpsl): the MX "
     "provider; empty when the name is itself a public suffix; NULL in rows stored before migration 010."},
    {"mx_hosts", "flags",
     "Notes on the host: any of nxdomain, target-is-tld, target-is-localhost, ancestor-nxdomain, "
     "tlsa-at-original-name, tlsa-insecure, a-lookup-failed, aaaa-lookup-failed, partial-algorithm-coverage, "
     "expires-soon, tlsa-refused, and the rollover hazards ee-selector-0, ta-public-intermediate, single-key, "
     "leaf-expires-soon, rrsig-expires-soon (docs/output.md)."},
    {"mx_hosts", "rollover",
     "Key rollover readiness of the published TLSA records, judged against the chain the host presented "
     "(from the records alone when it presented none)."},
    {"mx_hosts", "tlsa_params", "The \"usage selector matching_type\" triples of the TLSA records published."},
    {"mx_hosts", "address_count", "Addresses of the host (its rows in addresses)."},
    {"mx_hosts", "tlsa_count", "TLSA records published (its rows in tlsa_records)."},
    {"mx_hosts", "tlsa_usable_count", "TLSA records usable for SMTP (RFC 7672 3.1)."},
    {"mx_hosts", "a_dnssec", "DNSSEC state of the A lookup."},
    {"mx_hosts", "a_rcode", "DNS response code of the A lookup; empty without an answer."},
    {"mx_hosts", "aaaa_dnssec", "DNSSEC state of the AAAA lookup."},
    {"mx_hosts", "aaaa_rcode", "DNS response code of the AAAA lookup; empty without an answer."},
    {"mx_hosts", "tlsa_dnssec", "DNSSEC state of the TLSA lookup; empty when no TLSA lookup was made."},
    {"mx_hosts", "tlsa_rcode", "DNS response code of the TLSA lookup; empty without an answer."},
    {"mx_hosts", "tlsa_ede_code", "RFC 8914 extended DNS error code of the TLSA answer, if any."},
    {"mx_hosts", "tlsa_ede_text", "RFC 8914 extended DNS error text of the TLSA answer, if any."},
    {"mx_hosts", "tlsa_failure", "For a failed TLSA lookup: short reason (timeout, servfail, refused, ...)."},
    {"mx_hosts", "resolve_ms", "Milliseconds to resolve (and probe) the host."},
    /* tlsa_records */
    {"tlsa_records", "host", "The MX host (mx_hosts.host)."},
    {"tlsa_records", "position", "Position of the record in the TLSA RRset as answered (0-based)."},
    {"tlsa_records", "usage", "TLSA certificate usage (RFC 6698 2.1.1: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE)."},
    {"tlsa_records", "selector", "TLSA selector (0 full certificate, 1 SubjectPublicKeyInfo)."},
    {"tlsa_records", "matching_type", "TLSA matching type (0 full, 1 SHA-256, 2 SHA-512)."},
    {"tlsa_records", "data", "Certificate association data."},
    {"tlsa_records", "usable",
     "The record is usable for SMTP (RFC 7672 3.1; docs/output.md \"Which TLSA records "
     "count\")."},
    {"tlsa_records", "unusable_reason", "Why the record is not usable; empty when it is."},
    /* addresses */
    {"addresses", "host", "The MX host (mx_hosts.host)."},
    {"addresses", "address", "IPv4 or IPv6 address, in PostgreSQL's inet text form."},
    {"addresses", "family", "Address family: 4 or 6."},
    /* probes */
    {"probes", "host", "The MX host (mx_hosts.host)."},
    {"probes", "address", "The address probed (addresses.address)."},
    {"probes", "probe_no",
     "0, or the number of a further probe of the same address (e.g. per certificate key "
     "type)."},
    {"probes", "result", "Probe result (shared/spec/RESULTS.md) of the last session."},
    {"probes", "reason", "Why, in words; for skipped the policy that skipped it."},
    {"probes", "tls_version", "Negotiated TLS version; empty when TLS did not come up."},
    {"probes", "cipher", "Negotiated cipher suite (OpenSSL name)."},
    {"probes", "kx_group", "Key exchange group."},
    {"probes", "peer_sig_alg", "Signature algorithm of the server's handshake signature."},
    {"probes", "matched_tlsa",
     "Position (tlsa_records.position) of the TLSA record that matched; empty when none "
     "did."},
    {"probes", "match_depth", "Chain depth of the match (0 = leaf)."},
    {"probes", "banner", "The SMTP greeting as the server sent it (any bytes, capped)."},
    {"probes", "banner_text",
     "The SMTP greeting as UTF-8 text (invalid bytes and control characters as \\xNN, "
     "capped)."},
    {"probes", "ehlo_keywords", "EHLO reply lines after the first."},
    {"probes", "connect_ms", "Milliseconds to connect."},
    {"probes", "smtp_ms", "Milliseconds from connect to the STARTTLS reply (greeting, EHLO, STARTTLS)."},
    {"probes", "tls_ms", "Milliseconds of the TLS handshake."},
    {"probes", "total_ms", "Milliseconds of the whole session."},
    {"probes", "leaf_sha256", "SHA-256 of the server's leaf certificate (certificates.sha256)."},
    {"probes", "chain_sent",
     "Certificates the server sent (probe_chain keeps the first 16); empty when TLS did not "
     "come up."},
    {"probes", "attempts",
     "SMTP sessions of the probe: 0 not probed (skipped), 1, or 2 when the first ended in a "
     "transient failure and was tried again; empty in scans stored before migration 008."},
    {"probes", "step",
     "Step the last session reached (connect, greeting, ehlo, starttls, handshake, quit, done; "
     "none when not probed); for a failure the step that failed."},
    {"probes", "first_result", "When attempts is 2: the first session's result; else empty."},
    {"probes", "first_step", "When attempts is 2: the step the first session failed at."},
    {"probes", "first_reason", "When attempts is 2: why the first session failed."},
    {"probes", "first_ms", "When attempts is 2: milliseconds the first session took."},
    {"probes", "retry_pause_ms",
     "When attempts is 2: milliseconds from the first session's end to the second's "
     "start (retry delay and politeness waits)."},
    {"probes", "pkix",
     "MTA-STS (scan --mta-sts, migration 014): the WebPKI verdict of the probe's TLS session for the MX host "
     "name: valid, no-tls, tls-version, untrusted, expired, name-mismatch or invalid; NULL when not checked."},
    {"probes", "pkix_reason", "MTA-STS: why pkix is not valid (OpenSSL's verification error); NULL otherwise."},
    /* probe_chain */
    {"probe_chain", "host", "The MX host (mx_hosts.host)."},
    {"probe_chain", "address", "The address probed (probes.address)."},
    {"probe_chain", "probe_no", "The probe (probes.probe_no)."},
    {"probe_chain", "depth", "Position in the chain as sent (0 = leaf)."},
    {"probe_chain", "cert_sha256", "SHA-256 of the certificate (certificates.sha256)."},
    /* certificates */
    {"certificates", "sha256", "SHA-256 of the DER certificate."},
    {"certificates", "der", "The certificate, DER."},
    {"certificates", "subject", "Subject distinguished name (RFC 2253 string form)."},
    {"certificates", "issuer", "Issuer distinguished name (RFC 2253 string form)."},
    {"certificates", "san", "DNS names of the subjectAltName extension."},
    {"certificates", "not_before", "Start of validity (UTC)."},
    {"certificates", "not_after", "End of validity (UTC)."},
    {"certificates", "key_type", "Public key type (RSA, EC, ED25519, ...)."},
    {"certificates", "key_bits", "Public key size in bits."},
    {"certificates", "spki_sha256", "SHA-256 of the SubjectPublicKeyInfo (what a \"3 1 1\" TLSA record holds)."},
    {"certificates", "first_seen", "When any scan stored in this database first saw the certificate (UTC)."},
};

const char *export_column_description(const char *table, const char *column) {
  for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
    if (strcmp(columns[i].column, column) != 0) continue;
    if (strcmp(columns[i].table, table) == 0 || strcmp(columns[i].table, "*") == 0) return columns[i].description;
  }
  return NULL;
}
