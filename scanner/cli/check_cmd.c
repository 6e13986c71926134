/* `danescan check [options] DOMAIN`: parses the options (the scan's, plus
 * --json) and runs run/check_run.h. */
#include "cli/check_cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "run/check_run.h"
#include "run/scan_options.h"

#define CHECK_MAX_ARGS 256

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan check [options] DOMAIN\n"
          "  Resolves DOMAIN's MX, A/AAAA and TLSA records with DNSSEC, probes STARTTLS on\n"
          "  every MX address that publishes DANE, checks MTA-STS and TLS-RPT, and explains\n"
          "  what works and what to fix.\n"
          "  Exit code: 0 dane-valid, 1 anything else, 2 usage error, 3 resolver does not validate.\n"
          "  --json                      print the JSON record (docs/output.md) instead\n"
          "  --resolver IP[:PORT]        validating resolver (default 127.0.0.1)\n"
          "  --probe dane|all|none       which hosts to probe (default all: MTA-STS checks the\n"
          "                              certificates of MX hosts without TLSA too; dane: TLSA hosts)\n"
          "  --ca-file FILE              WebPKI trust store (PEM; default: the system store): MTA-STS,\n"
          "                              ta-public-intermediate\n"
          "  --ns-lookup                 also look up DOMAIN's NS records and show their targets and\n"
          "                              DNS operators (registrable domains), as `scan --ns-lookup`\n"
          "                              attributes them\n"
          "  --allow-reserved, --smtp-port N, --ehlo-name NAME, --no-key-types,\n"
          "  --connect-timeout-ms, --greeting-timeout-ms, --ehlo-timeout-ms,\n"
          "  --starttls-timeout-ms, --handshake-timeout-ms, --query-timeout-ms, --attempts N,\n"
          "  --probe-retry-delay-ms N, --no-probe-retry, --expiry-warn-days N, --dnssec-hygiene MODE,\n"
          "  --quiet, --verbose\n"
          "                              as for `danescan scan` (see `danescan scan --help`)\n");
}

int check_cmd_main(int argc, char **argv) {
  /* --json is check's own; the rest goes to the scan option parser. */
  char *args[CHECK_MAX_ARGS];
  int arg_count = 0;
  bool json = false;
  for (int i = 0; i < argc; i++) {
    if (i > 0 && strcmp(argv[i], "--json") == 0) {
      json = true;
      continue;
    }
    if (arg_count >= CHECK_MAX_ARGS - 1) {
      fprintf(stderr, "danescan check: too many arguments\n");
      return 2;
    }
    args[arg_count++] = argv[i];
  }
  args[arg_count] = NULL;

  struct scan_options options;
  char why[512] = "";
  int parsed = scan_options_parse(&options, arg_count, args, why, sizeof why);
  if (parsed > 0) {
    usage(stdout);
    return 0;
  }
  if (parsed == 0 && options.input_count != 1) {
    snprintf(why, sizeof why, "give exactly one domain");
    parsed = -1;
  }
  if (parsed == 0 &&
      (options.db_url != NULL || options.resume || options.metadata != NULL || options.output_given ||
       options.certs_path != NULL)) {
    snprintf(why, sizeof why, "--db, --resume, --metadata, --output and --certs are options of `scan`");
    parsed = -1;
  }
  if (parsed != 0) {
    fprintf(stderr, "danescan check: %s\n", why);
    usage(stderr);
    return 2;
  }
  int exit_code = run_check(&options, json);
  scan_options_free(&options);
  return exit_code;
}
