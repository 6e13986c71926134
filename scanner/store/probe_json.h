/* JSON form of the STARTTLS stage's per-address and per-host details, kept
 * apart from jsonl.c so the probe record can grow without touching the
 * domain record. */
#ifndef DANESCAN_STORE_PROBE_JSON_H
#define DANESCAN_STORE_PROBE_JSON_H

#include "record/result.h"
#include "util/json.h"

/* Writes the "probe" object of one address: result, reason and, when the
 * address was probed, the TLS and SMTP details. */
void probe_json_write(struct json_buf *buf, const struct host_address *address);

/* Writes host-level probe fields (as keys of the host object being written). */
void probe_json_write_host_extras(struct json_buf *buf, const struct mx_host *host);

#endif
