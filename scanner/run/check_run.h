/* What `danescan check DOMAIN` runs once its options are parsed: the scan
 * pipeline for the one domain (options->inputs[0]) with the scan's runtime
 * (resolver check, DNS client, probe engine), printing the operator's
 * explanation (report/explain.h; with --ns-lookup, the NS targets' DNS
 * operators by record/provider.h) or, with json, the JSON record. */
#ifndef DANESCAN_RUN_CHECK_RUN_H
#define DANESCAN_RUN_CHECK_RUN_H

#include <stdbool.h>

#include "run/scan_options.h"

/* Returns the exit code: 0 dane-valid, 1 anything else or a failure, 2 a
 * bad domain, 3 the resolver does not validate. Does not free options. */
int run_check(struct scan_options *options, bool json);

#endif
