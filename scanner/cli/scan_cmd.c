/* `danescan scan [options] INPUT...`: parses the options and hands them to
 * run/scan_run.h; the exit code is its. */
#include "cli/scan_cmd.h"

#include <stdbool.h>
#include <stdio.h>

#include "run/scan_options.h"
#include "run/scan_rerun.h"
#include "run/scan_run.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan scan [options] INPUT...\n"
          "  INPUT: domain list, CSV top list or zone file (plain or gzip), '-' for stdin\n"
          "DNS:\n"
          "  --resolver IP[:PORT]        validating resolver (repeatable; default 127.0.0.1)\n"
          "  --insecure-resolver-ok      scan even if a resolver does not validate (debugging only)\n"
          "  --check-signed-name NAME    name that must validate with AD (default \".\")\n"
          "  --check-bogus-name NAME     name that must fail validation (default dnssec-failed.org)\n"
          "  --query-timeout-ms N        longest first-attempt timeout (default 2000; shorter\n"
          "                              when the resolver answers faster)\n"
          "  --attempts N                fast attempts per lookup (default 8)\n"
          "  --max-queries N             queries in flight, upper bound (default 10000)\n"
          "  --islands                   DNSKEY check: unsigned vs signed without DS\n"
          "  --ns-lookup                 look up the NS RRset of each name whose input gave no NS\n"
          "                              records (lists, CSV; one query per name), for the DNS-operator\n"
          "                              table; zone-file inputs have them already\n"
          "  --dnssec-hygiene dane|all|none  DNSKEY/DS/NSEC3PARAM of the zones that matter, once per\n"
          "                              zone (default dane: MX and TLSA zones of DANE domains;\n"
          "                              all: also the MX zone of every signed domain)\n"
          "  --mta-sts                   MTA-STS and TLS-RPT of every domain with mail (policy fetch,\n"
          "                              MX WebPKI check of probed addresses; shared/spec/MTA-STS.md;\n"
          "                              the default probe mode becomes all)\n"
          "  --ca-file FILE              WebPKI trust store (PEM; default: the system store): --mta-sts\n"
          "                              policy fetch and MX certificates, ta-public-intermediate\n"
          "Scan:\n"
          "  --concurrency N             domains in flight (default 2000)\n"
          "  --host-cache N              MX hosts kept in the cache (default 50000, about 1 KB each)\n"
          "Probes:\n"
          "  --probe dane|all|none       dane (default): hosts with secure TLSA; all: every MX\n"
          "                              host (STARTTLS adoption); none: DNS only\n"
          "  --allow-reserved            contact special-purpose addresses (labs only)\n"
          "  --smtp-port N               SMTP port (default 25; other ports only for labs)\n"
          "  --ehlo-name NAME            EHLO name (default: this machine's FQDN; never an address\n"
          "                              literal or localhost)\n"
          "  --ehlo NAME                 the same as --ehlo-name\n"
          "  --contact URL               the page that explains the scan and offers the opt-out\n"
          "                              (recorded in the scan's parameters)\n"
          "  --rate N                    new SMTP connections per second (default 100)\n"
          "  --per-ip N                  concurrent sessions per address (default 1)\n"
          "  --per-ip-gap-ms N           minimum gap between sessions to one address (1000)\n"
          "  --per-ip-give-up N          after N sessions in a row end in 421 or a refused connection,\n"
          "                              skip the address's other probes (default 5; 0: never;\n"
          "                              a probe's retry counts as a session)\n"
          "  --probe-retry-delay-ms N    pause before a probe's second session after a timeout, a\n"
          "                              failed connect or a drop before TLS (default 5000)\n"
          "  --no-probe-retry            one session per probe, whatever its result\n"
          "  --blocklist FILE            addresses, CIDR prefixes and MX host or domain names\n"
          "                              (and their subdomains) never contacted\n"
          "  --connect-timeout-ms, --greeting-timeout-ms, --ehlo-timeout-ms,\n"
          "  --starttls-timeout-ms, --handshake-timeout-ms N   per-step timeouts\n"
          "  --max-probes N              SMTP sessions in flight (default 1000)\n"
          "  --expiry-warn-days N        expires_soon threshold (default 14)\n"
          "  --certs FILE                PEM of every certificate seen, once per scan\n"
          "  --no-key-types              do not probe RSA and ECDSA separately\n"
          "  --scan-id ID                scan identifier (default: generated)\n"
          "Input:\n"
          "  --input-format zone|list|csv, --shard I/N, --sample P, --limit N\n"
          "Output:\n"
          "  --output FILE               JSON Lines output (default '-': standard output;\n"
          "                              with --db only when given)\n"
          "  --db URL                    also write results into PostgreSQL (libpq conninfo/URI)\n"
          "Workers (with --db):\n"
          "  --workers N                 worker processes on this machine (default: the number of\n"
          "                              cores; 0: this process alone, without the work queue);\n"
          "                              more join with 'danescan worker --db URL --scan ID'\n"
          "  --chunk-size N              names per leased chunk (default 1000)\n"
          "  --lease-ttl-s N             a dead worker's chunks are taken over after N s (default 60)\n"
          "  --metadata FILE             JSON description of the scan\n"
          "  --metrics-file FILE         Prometheus text-format metrics, rewritten every 10 s\n"
          "                              (with or without workers)\n"
          "                              (write + rename; for node_exporter's textfile collector)\n"
          "  --progress | --no-progress  live progress line (default: when stderr is a terminal)\n"
          "  --quiet                     no summary; log errors and warnings only\n"
          "  --verbose, -v               log info lines too (twice: debug lines); the log is one\n"
          "                              line per event on stderr, 'danescan: LEVEL: ...'\n");
}

int scan_cmd_main(int argc, char **argv) {
  struct scan_options options;
  char why[512] = "";
  int parsed = scan_options_parse(&options, argc, argv, why, sizeof why);
  if (parsed != 0) {
    if (parsed > 0) {
      usage(stdout);
      return 0;
    }
    fprintf(stderr, "danescan scan: %s\n", why);
    usage(stderr);
    return 2;
  }
  int exit_code = run_scan(&options, argc, argv);
  scan_options_free(&options);
  return exit_code;
}

int scan_cmd_rerun(const char *scan_id, const char *db_url, char **extra, int extra_count, bool join) {
  const char *command = join ? "worker" : "resume";
  struct scan_rerun rerun;
  char why[512];
  if (scan_rerun_build(&rerun, scan_id, db_url, extra, extra_count, join, why, sizeof why) != 0) {
    fprintf(stderr, "danescan %s: %s\n", command, why);
    return 1;
  }
  int exit_code = scan_cmd_main(rerun.argc, rerun.argv);
  scan_rerun_free(&rerun);
  return exit_code;
}
