/* The name the scanner gives in EHLO (RFC 5321 4.1.1.1: the client's fully
 * qualified domain name, or an address literal when it has none). A scanner
 * on the Internet should be known by a name whose forward and reverse DNS
 * agree and whose web page explains the scan (README, "Scanning the
 * Internet"), so an address literal or localhost is refused; the default is
 * this machine's FQDN. Decided once, before the event loop starts. */
#ifndef DANESCAN_PROBE_EHLO_NAME_H
#define DANESCAN_PROBE_EHLO_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define EHLO_NAME_MAX_BYTES 255

/* Why name may not be given in EHLO, or NULL when it may: a static text
 * ("an address literal", "localhost", "not a host name", "not fully
 * qualified (no dot)"). */
const char *ehlo_name_refusal(const char *name);

/* Chooses the EHLO name into out (out_len > EHLO_NAME_MAX_BYTES): `given`
 * when not NULL, else this machine's FQDN (gethostname, then its canonical
 * name through the system resolver: a blocking call, so only before the
 * event loop runs). A refused name is an error (-1, why names the name and
 * what to set), except for the default with lab_ok (the lab's machines need
 * no FQDN: --allow-reserved), which is then used as it is when it is at
 * least a host name. Returns 0. */
int ehlo_name_choose(const char *given, bool lab_ok, char *out, size_t out_len, char *why, size_t why_len);

#endif
