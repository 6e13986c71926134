/* The provider of an MX host: the registrable domain (eTLD+1) of its name by
 * the Public Suffix List, ICANN and private sections (libpsl), so that
 * mx1.example.co.uk and mx2.example.co.uk are one provider (example.co.uk)
 * and a host named co.uk has none. Names only: no lookup is made, and the
 * list is read once, when the provider list is created. */
#ifndef DANESCAN_RECORD_PROVIDER_H
#define DANESCAN_RECORD_PROVIDER_H

#include <stddef.h>

/* The Public Suffix List, read-only after creation (safe to share between
 * threads). */
struct provider_list;

/* The newer of libpsl's built-in list and the system's data file (Debian's
 * publicsuffix package, psl_dist_filename()), else the built-in list alone.
 * Returns NULL only when no list can be had (out of memory). Free with
 * provider_list_free. */
struct provider_list *provider_list_new(void);

/* provider_list_free(NULL) is a no-op. */
void provider_list_free(struct provider_list *list);

/* Writes the provider of host (lower case, no trailing dot; a trailing dot
 * is ignored) into out. Returns 1 when the host has a registrable domain,
 * 0 when it has none (the name is a public suffix such as co.uk or uk, or
 * empty): out is then "". Returns -1 when out_len is too small (out is ""). */
int provider_of(const struct provider_list *list, const char *host, char *out, size_t out_len);

#endif
