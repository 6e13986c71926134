/* The JSON Lines sink: one JSON object per domain and line, in the schema of
 * docs/output.md. Records are built whole in memory and written in batches,
 * so a killed scan leaves no half line (a batch is written with one write()
 * of whole lines; a partial write is completed before anything else). */
#ifndef DANESCAN_STORE_JSONL_H
#define DANESCAN_STORE_JSONL_H

#include "record/sink.h"
#include "util/json.h"

/* Opens path ("-" for standard output) for the scan scan_id. Returns 0 and
 * fills sink, or -1 with why. */
int jsonl_sink_open(struct result_sink *sink, const char *path, const char *scan_id, char *why, size_t why_len);

/* As jsonl_sink_open, but appends to path (created if missing) with
 * O_APPEND: several worker processes of one scan share the file, and every
 * write() holds whole records, so records never interleave. Not for "-". */
int jsonl_sink_open_append(struct result_sink *sink, const char *path, const char *scan_id, char *why, size_t why_len);

/* Serialises one domain result as one JSON object (no newline) into buf.
 * Shared with `danescan check --json`. */
void jsonl_format_domain(struct json_buf *buf, const struct domain_result *result, const char *scan_id);

#endif
