/* danescan: measures DANE for SMTP (RFC 7672) deployment. main only picks
 * the subcommand; each lives in scanner/cli/. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "cli/check_cmd.h"
#include "cli/db_cmd.h"
#include "cli/diff_cmd.h"
#include "cli/export_cmd.h"
#include "cli/inputs_cmd.h"
#include "cli/report_cmd.h"
#include "cli/resume_cmd.h"
#include "cli/scan_cmd.h"
#include "cli/status_cmd.h"
#include "cli/worker_cmd.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan COMMAND [options]\n"
          "commands:\n"
          "  scan [options] INPUT...     resolve (and probe) domains, write JSON Lines\n"
          "  check [options] DOMAIN      explain one domain's DANE, what works and what to fix\n"
          "  inputs [options] FILE...    print the names a scan of these inputs would scan\n"
          "  report --db URL --scan ID   write the adoption report (HTML, Markdown, CSV)\n"
          "  diff --db URL FROM TO       list domains and hosts whose status changed\n"
          "  export --db URL --scan ID   write a scan's tables (CSV or JSON Lines, gzip) and datapackage.json\n"
          "  resume SCAN_ID --db URL     continue a stopped scan\n"
          "  worker --db URL --scan ID   join a running scan with this machine's workers\n"
          "  status --db URL --scan ID   progress of a scan: done/total, rate, ETA, workers\n"
          "  db COMMAND [--db URL]       create or upgrade the schema (migrate), list (status), drop scans\n"
          "  version                     print the version\n"
          "  help                        print this list\n"
          "Run 'danescan COMMAND --help' for a command's options, 'man danescan-COMMAND' for its manual.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  /* Servers may close a socket we still write to (TLS alerts, QUIT):
   * that must be an error value, not the end of the scan. */
  signal(SIGPIPE, SIG_IGN);
  const char *command = argv[1];
  if (strcmp(command, "scan") == 0) return scan_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "check") == 0) return check_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "inputs") == 0) return inputs_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "report") == 0) return report_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "diff") == 0) return diff_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "export") == 0) return export_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "db") == 0) return db_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "resume") == 0) return resume_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "worker") == 0) return worker_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "status") == 0) return status_cmd_main(argc - 1, argv + 1);
  if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
    printf("danescan %s (%s)\n", DANESCAN_VERSION, OpenSSL_version(OPENSSL_VERSION));
    return 0;
  }
  if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "danescan: unknown command '%s'\n", command);
  usage(stderr);
  return 2;
}
