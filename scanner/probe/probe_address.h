/* Which addresses the probe engine may contact: the IANA special-purpose
 * blocks (IPv4 and IPv6 Special-Purpose Address Registries, multicast, and
 * IPv6 outside global unicast 2000::/3) and an operator's CIDR blocklist.
 * Pure functions and a sorted prefix table; no I/O except reading the
 * blocklist file. */
#ifndef DANESCAN_PROBE_ADDRESS_H
#define DANESCAN_PROBE_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Returns NULL if address is an ordinary global unicast address, else a
 * static text naming the special-purpose block ("loopback 127.0.0.0/8").
 * IPv4-mapped IPv6 (::ffff:0:0/96) is reported as such. Families other than
 * AF_INET/AF_INET6 are "unsupported address family". */
const char *probe_address_reserved(const struct sockaddr *address);

/* A set of CIDR prefixes, IPv4 and IPv6. */
struct probe_blocklist;

struct probe_blocklist *probe_blocklist_new(void);
void probe_blocklist_free(struct probe_blocklist *blocklist); /* NULL ok */

/* Parses "a.b.c.d/len", "x::y/len" or a bare address (a host prefix).
 * Host bits beyond len must be zero. Returns 0, or -1 with a static text in
 * *why. */
int probe_blocklist_add_text(struct probe_blocklist *blocklist, const char *text, const char **why);

/* Reads the blocklist file format (README, "Scanning the Internet"): one
 * entry a line, an address, a CIDR prefix or a DNS name (a domain or MX
 * host name, covering its subdomains too); "#" starts a comment, blank lines
 * are skipped, whitespace around an entry ignored. On a bad line returns -1
 * with "name:line: reason" in why and adds no prefix of this stream (names
 * read before it stay). Returns 0 otherwise. */
int probe_blocklist_read(struct probe_blocklist *blocklist, FILE *stream, const char *name, char *why, size_t why_len);

/* probe_blocklist_read of the file at path. Returns 0, or -1 with
 * "path: cannot open" or read's "path:line: reason" in why. */
int probe_blocklist_load(struct probe_blocklist *blocklist, const char *path, char *why, size_t why_len);

/* The listed name that covers name (name itself or a parent domain), or
 * NULL (also for name NULL). The pointer lives as long as the blocklist. */
const char *probe_blocklist_covering_name(struct probe_blocklist *blocklist, const char *name);

/* Number of prefixes and names held. */
size_t probe_blocklist_count(const struct probe_blocklist *blocklist);

/* True if address lies in a prefix of the list. Cost: one binary search per
 * distinct prefix length present. */
bool probe_blocklist_contains(const struct probe_blocklist *blocklist, const struct sockaddr *address);

#endif
