/* Output sinks: one callback struct each (JSON Lines, PostgreSQL, ...), fed
 * one neutral domain_result per finished domain. The result and every host
 * it links to belong to the pipeline and are valid only during write: a sink
 * copies or serialises what it keeps. */
#ifndef DANESCAN_RECORD_SINK_H
#define DANESCAN_RECORD_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "record/result.h"

struct result_sink {
  const char *name;
  void *state;
  /* Takes one record. Returns 0, or -1 with a message in why (the scan
   * stops: a sink that cannot store results must not let the scan go on
   * measuring into nothing). */
  int (*write)(void *state, const struct domain_result *result, char *why, size_t why_len);
  /* Backpressure: false while the sink's buffer is full; the scan stops
   * admitting new domains until it is true again. NULL: always true. */
  bool (*can_accept)(void *state);
  /* Makes everything written so far durable (whole records only). */
  int (*flush)(void *state, char *why, size_t why_len);
  /* Told once, before close, how the scan ended: complete (every input
   * name scanned) or not, and the first fatal error (NULL if none). NULL:
   * the sink does not record it. */
  void (*finish)(void *state, bool complete, const char *error);
  /* Flushes and frees the state. Returns 0 or -1 with why. */
  int (*close)(void *state, char *why, size_t why_len);
};

#endif
