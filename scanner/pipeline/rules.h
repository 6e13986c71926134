/* The decision rules of RESULTS.md as pure functions over the facts in a
 * result record: no I/O, no allocation, so every combination can be unit
 * tested. The resolution stage gathers facts; these functions name them. */
#ifndef DANESCAN_PIPELINE_RULES_H
#define DANESCAN_PIPELINE_RULES_H

#include "record/result.h"

/* Host status from DNS facts alone: a, aaaa (done), flags, addresses and,
 * when address records are secure, the TLSA lookup and records. Sets
 * address_dnssec, status and needs_probe. A host with usable secure TLSA gets
 * HOST_DANE_UNPROBED until the STARTTLS stage replaces it; a host with only
 * unusable secure TLSA gets HOST_TLSA_UNUSABLE and needs_probe (TLS is still
 * mandatory for it) but its status does not depend on the probe. */
void rules_host_status_from_dns(struct mx_host *host);

/* DNSSEC state of a host's addresses: the worst of the A and AAAA lookups
 * that gave a usable answer; when neither did, the worst of both. */
enum dnssec_state rules_host_address_dnssec(const struct mx_host *host);

/* True when the host's address records are secure, so RFC 7672 2.2 lets a
 * client look up TLSA records for it. Call after the address lookups. */
bool rules_host_wants_tlsa(const struct mx_host *host);

/* Host status once every address of a host with usable secure TLSA has a
 * probe result (RESULTS.md): dane-failed if any address failed
 * authentication; else dane-valid if any authenticated (addresses that were
 * unreachable or skipped do not count against it); else dane-unreachable if
 * any was unreachable; else (every address skipped by policy) dane-unprobed.
 * Before all of these: an address that ended unauthenticated-tls (OpenSSL
 * refused every record danescan called usable) makes the host
 * tlsa-unusable. */
enum host_status rules_host_status_from_probes(const struct mx_host *host);

/* True for the probe results that are authentication failures for a DANE
 * host (tlsa-mismatch, name-mismatch, cert-expired, no-starttls,
 * starttls-refused, tls-failed). */
bool rules_probe_is_auth_failure(enum probe_result result);

/* True for connect-failed, timeout and smtp-failed. */
bool rules_probe_is_unreachable(enum probe_result result);

/* Domain status from the MX lookup and the final host statuses, evaluated
 * in the order of RESULTS.md, first match wins. Needs result->mx, implicit_mx
 * and links with finished hosts (the DNS-decided statuses invalid-name,
 * lookup-failed, dnssec-bogus, nxdomain and null-mx are set by the caller
 * before any host is resolved; this function handles them too when called).
 * Where RESULTS.md is silent (a dane-valid host beside hosts that have no
 * address or failed address lookups) the domain is dane-partial: a sender
 * skips those hosts, so its mail still goes only to DANE-valid hosts. */
enum domain_status rules_domain_status(const struct domain_result *result);

/* Rollover class of a host's TLSA records (RESULTS.md quality), from the
 * usable records alone: one usable record is `single`; DANE-EE beside
 * DANE-TA is `current+issuer`; two or more DANE-EE `current+next`; DANE-TA
 * only `issuer`; none usable `none`. */
enum rollover_class rules_rollover_class(const struct tlsa_record *records, size_t count);

/* Where a usable TLSA record matched the chains the host presented. */
enum rules_record_match {
  RULES_MATCH_NONE = 0, /* matches no presented certificate: a "next" record */
  RULES_MATCH_LEAF,     /* matches a presented leaf (3 x x, or a 2 x x pinned to the leaf) */
  RULES_MATCH_ABOVE     /* a 2 x x matching a certificate above the leaf, or for 2 1 x a key of the chain */
};

/* Rollover truth (issue 19), once a chain was presented: match[i] says
 * where usable record i matched (ignored for unusable records).
 *   none           no usable record;
 *   unmatched      usable records, none matches the presented chain;
 *   current+issuer a record matches the leaf and a DANE-TA matches above it;
 *   issuer         a DANE-TA matches above the leaf, no record on the leaf;
 *   current+next   a record matches the leaf, and a usable record matches
 *                  nothing presented (so it is distinct from the current one);
 *   single         every usable record matches the presented leaf: a 2 x x
 *                  on the leaf itself is no issuer, and duplicates (3 0 1
 *                  plus 3 1 1 of one leaf) are one current record, no "next".
 * Digest agility (RFC 7671 section 9, as OpenSSL applies it): a record with
 * a weaker matching type than another usable record of its usage and
 * selector is never tried by a client and does not count (3 1 1 beside
 * 3 1 2 of one key is one record; beside a wrong 3 1 2 it is no match). */
enum rollover_class rules_rollover_truth(const struct tlsa_record *records, const enum rules_record_match *match,
                                         size_t count);

#endif
