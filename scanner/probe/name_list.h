/* A set of DNS names that also covers their subdomains: the opt-out names
 * of a blocklist ("example.org" covers example.org and mx1.example.org).
 * Names are compared case-insensitively, without a trailing dot. Not
 * thread-safe; pure in-memory, no I/O. */
#ifndef DANESCAN_PROBE_NAME_LIST_H
#define DANESCAN_PROBE_NAME_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_LIST_MAX_NAME_BYTES 253

struct name_list;

struct name_list *name_list_new(void);
void name_list_free(struct name_list *list); /* NULL ok */

/* True when text looks like a DNS name meant for the list: letters, digits,
 * '-', '_' and '.', at least one letter, no empty label, at most
 * NAME_LIST_MAX_NAME_BYTES (an address or prefix is never a name). */
bool name_list_is_name(const char *text);

/* Adds a copy of name (lower-cased, trailing dot removed). Returns 0, or -1
 * when it is no name (name_list_is_name) or memory runs out. */
int name_list_add(struct name_list *list, const char *name);

size_t name_list_count(const struct name_list *list);

/* The listed name that covers name (name itself or one of its parent
 * domains), or NULL. The pointer lives as long as the list. Cost: one binary
 * search per label of name. */
const char *name_list_covering(struct name_list *list, const char *name);

#endif
