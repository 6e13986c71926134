/* `danescan export`: parses the options and has report/export_scan.h write
 * the files. */
#include "cli/export_cmd.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/export_scan.h"
#include "report/report_sql.h"

static const char usage[] =
    "usage: danescan export --db URL --scan ID --format csv.gz|jsonl.gz --out DIR [--license ID|URL] [--force]\n"
    "Writes DIR/<table>.csv.gz (or .jsonl.gz) for domains, domain_mx, domain_mta_sts, domain_dns_operators, mx_hosts,\n"
    "tlsa_records, addresses, probes, probe_chain and certificates (those the scan's probes saw),\n"
    "and DIR/datapackage.json (a Frictionless Data Package describing every column).\n"
    "  --db URL            libpq connection URL (read only; danescan_reader suffices; default $DANESCAN_DB)\n"
    "  --scan ID           the scan to export\n"
    "  --format F          csv.gz (CSV with a header line) or jsonl.gz (one JSON object per line)\n"
    "  --out DIR           output directory (created if missing; must be empty unless --force)\n"
    "  --license ID|URL    the data's license (e.g. CC-BY-4.0, ODC-PDDL-1.0); default: a placeholder\n"
    "  --force             write into a non-empty DIR, replacing files of the same names\n";

struct export_cmd {
  const char *db_url;
  const char *format;
  struct export_request request;
};

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct export_cmd *cmd) {
  static const struct option options[] = {
      {"db", required_argument, NULL, 'd'},      {"scan", required_argument, NULL, 's'},
      {"format", required_argument, NULL, 'f'},  {"out", required_argument, NULL, 'o'},
      {"license", required_argument, NULL, 'l'}, {"force", no_argument, NULL, 'F'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'd':
      cmd->db_url = optarg;
      break;
    case 's':
      cmd->request.scan_id = optarg;
      break;
    case 'f':
      cmd->format = optarg;
      break;
    case 'o':
      cmd->request.out_dir = optarg;
      break;
    case 'l':
      cmd->request.license = optarg;
      break;
    case 'F':
      cmd->request.force = true;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    default:
      fputs(usage, stderr);
      return 2;
    }
  }
  if (optind != argc || cmd->request.scan_id == NULL || cmd->format == NULL || cmd->request.out_dir == NULL) {
    fputs(usage, stderr);
    return 2;
  }
  if (export_format_parse(cmd->format, &cmd->request.format) != 0) {
    fprintf(stderr, "danescan export: --format wants csv.gz or jsonl.gz, not '%s'\n", cmd->format);
    return 2;
  }
  if (cmd->db_url == NULL) cmd->db_url = getenv("DANESCAN_DB");
  if (cmd->db_url == NULL) {
    fprintf(stderr, "danescan export: no database (set --db or DANESCAN_DB)\n");
    return 2;
  }
  return -1;
}

int export_cmd_main(int argc, char **argv) {
  struct export_cmd cmd = {.db_url = NULL};
  int rc = parse_args(argc, argv, &cmd);
  if (rc >= 0) return rc;
  char why[1024];
  PGconn *conn = report_sql_connect(cmd.db_url, why, sizeof why);
  if (conn == NULL) {
    fprintf(stderr, "danescan export: %s\n", why);
    return 1;
  }
  rc = export_scan(conn, &cmd.request, stdout, stderr, why, sizeof why);
  if (rc != 0) fprintf(stderr, "danescan export: %s\n", why);
  PQfinish(conn);
  return rc == 0 ? 0 : 1;
}
