/* The adoption report (see report_page.h): the list of tables, their titles
 * and charts is the table below; the numbers all come from the SQL files. */
#include "report/report_page.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report_render.h"
#include "report/report_sql.h"

static const struct report_table report_tables[] = {
    {"scan_info", "Scans", "The scan reported on and the scan it is compared with (dates in UTC).", REPORT_CHART_NONE,
     NULL, NULL, 0},
    {"input_change", "Input set compared",
     "Whether this scan and the previous one scanned the same names. A warning means names were added or removed: "
     "every comparison with the previous scan then covers only the names in both.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"headline", "Headline figures",
     "Domains of this scan, as counts and percentages of the domains scanned, with the previous scan's counts "
     "and the change. \"Not applicable\" (DANE cannot apply) is kept apart from failures; domains opted out by "
     "the blocklist are not scanned and counted on their own line.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"published_metrics", "Published metrics",
     "The shares published DANE measurements report, computed here the same way: the DANE survey's share "
     "(Dukhovni, stats.dnssec-tools.org), the record-level shares of Lee et al. (USENIX Security, twenty twenty) "
     "and partial coverage. Definitions and citations: reports/README.md.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"funnel", "Adoption funnel",
     "Each stage is a subset of the one before; after \"with mail\" every stage requires a secure MX RRset "
     "(the downgrade-resistant definition).",
     REPORT_CHART_BARS, "stage", "domains", 0},
    {"domain_statuses", "Domain statuses",
     "Domains per status, grouped: DANE, failure, not deployed (signed, no TLSA), not applicable (no mail, "
     "insecure, nonexistent), not probed, opted out (skipped: in the blocklist, never looked up).",
     REPORT_CHART_BARS, "status", "domains", 0},
    {"tld_adoption", "Adoption per TLD",
     "The thirty TLDs with the most domains; the chart shows dane-valid domains as a share of the TLD's domains "
     "with mail.",
     REPORT_CHART_BARS, "tld", "pct_dane_valid_of_mail", 0},
    {"trend", "Trend across scans of the same input",
     "Every scan of the same input files (same file digests) up to this one; the line is dane-valid domains as a "
     "share of domains with mail.",
     REPORT_CHART_LINE, "started", "pct_dane_valid_of_mail", 0},
    {"dane_adoption", "Adoption and abandonment since the previous scan",
     "Names in both scans whose MX hosts started or stopped publishing secure TLSA records, and domains that "
     "became or stopped being DANE-valid. Failed lookups count as neither.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"time_to_fix", "Time to fix DANE failures",
     "Failure episodes (consecutive scans of this input in which a domain was a DANE failure) and how they ended, "
     "overall and per MX provider of the failing hosts; days from the first failing scan to the scan that found "
     "the domain fixed.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"tlsa_parameters", "TLSA parameters",
     "Usage, selector and matching type triples published in secure TLSA RRsets of MX hosts.", REPORT_CHART_NONE, NULL,
     NULL, 0},
    {"rollover", "Rollover classes",
     "MX hosts with secure TLSA records by rollover class, judged against the chain each host presented "
     "(single: only the deployed key is published; unmatched: nothing matches what the server presents). "
     "Hosts not probed are classed from their records alone.",
     REPORT_CHART_BARS, "rollover", "hosts", 0},
    {"rollover_readiness", "Rollover readiness",
     "Rollover hazards of MX hosts with secure TLSA records per MX provider (the first row: all hosts): only "
     "the deployed key published (single key), DANE-EE records on the whole certificate (selector zero), "
     "DANE-TA on a public CA's intermediate, a leaf that expires soon, TLSA signatures that expire soon, "
     "and records that match nothing presented (unmatched). A host counts once per hazard; hazard hosts have at least "
     "one.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"dnssec_hygiene", "DNSSEC hygiene",
     "The zones that matter to DANE domains (the MX zone and the TLSA hosts' zones): DNSKEY algorithm mix, "
     "algorithms that the DNSSEC algorithm guidance says must not or should not sign, NSEC or hashed denial (NSEC "
     "version three) with the verdict of the hashed-denial guidance on its iterations and salt, DS records with a "
     "SHA one digest in the parent, and signatures that expire soon. Percentages of the DANE domains with zone "
     "data; a domain counts once per row.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"algorithm_coverage", "Algorithm coverage",
     "MX hosts with secure TLSA records by the certificate key types they served and whether the TLSA records "
     "cover each of them.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"host_failures", "Failure causes: MX hosts",
     "MX hosts whose status is a failure, with the cause and example domains. Insecure hosts and hosts "
     "without TLSA are not failures.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"probe_failures", "Failure causes: per-address results",
     "Address results other than authenticated, on DANE hosts (failures) and where DANE does not apply "
     "(not applicable), with example domains.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"providers_dane", "Top MX providers by DANE-valid domains",
     "Provider: the registrable domain of the MX host name by the Public Suffix List (mx.example.co.uk and "
     "mail.example.co.uk are example.co.uk). Previous: the provider's dane-valid domains in the previous scan.",
     REPORT_CHART_BARS, "provider", "dane_valid_domains", 0},
    {"providers_all", "MX providers serving the most domains",
     "The twenty providers serving the most domains, with their DANE share.", REPORT_CHART_NONE, NULL, NULL, 0},
    {"providers_broken", "MX providers with the most broken DANE domains",
     "Domains that are DANE failures, counted for the provider of each failing MX host (whose zone publishes the "
     "TLSA records). The DNS operators of the domains' own zones are in the next table.",
     REPORT_CHART_BARS, "provider", "broken_domains", 0},
    {"dns_operators_broken", "DNS operators with the most broken DANE domains",
     "DANE domains per DNS operator (the registrable domain of the name servers the zone-file input delegates the "
     "domain to, or, for list and CSV inputs scanned with --ns-lookup, of the NS RRset at the domain), the twenty "
     "with the most broken (dane-failed, dane-unreachable, tlsa-unusable). A domain counts for each of its "
     "operators; the first row counts DANE domains without NS data (list and CSV inputs without --ns-lookup, names "
     "that are no zone apex, failed NS lookups).",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"tls_versions", "TLS versions", "TLS versions negotiated with probed addresses.", REPORT_CHART_BARS, "tls_version",
     "addresses", 0},
    {"tls_ciphers", "TLS cipher suites", "Cipher suites negotiated with probed addresses.", REPORT_CHART_NONE, NULL,
     NULL, 0},
    {"key_types", "Certificate key types", "Leaf certificate key types served by probed addresses.", REPORT_CHART_NONE,
     NULL, NULL, 0},
    {"dane_mta_sts", "DANE and MTA-STS side by side",
     "Domains with mail checked for MTA-STS (scan --mta-sts; empty otherwise): DANE only (TLSA under DNSSEC), "
     "MTA-STS only by policy mode, both, neither; the failures of each and the domains publishing TLS-RPT.",
     REPORT_CHART_BARS, "deployment", "domains", 0},
    {"mta_sts_statuses", "MTA-STS statuses",
     "Domains checked for MTA-STS per status (shared/spec/MTA-STS.md), with DANE and TLS-RPT among them.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"providers_mta_sts", "MX providers: DANE and MTA-STS",
     "The twenty providers serving the most domains checked for MTA-STS, by deployment; mx_mismatch: MTA-STS "
     "domains whose policy does not list one of the provider's hosts.",
     REPORT_CHART_NONE, NULL, NULL, 0},
    {"status_changes", "Status changes since the previous scan",
     "Domains whose status changed: newly valid, newly failing, other.", REPORT_CHART_NONE, NULL, NULL,
     REPORT_DEFAULT_MAX_CHANGES},
};

#define REPORT_TABLE_COUNT (sizeof report_tables / sizeof report_tables[0])

/* Checks that the scans exist; scan_info has one row per scan found. */
static int check_scans(const PGresult *info, const struct report_request *cmd) {
  int rows = PQntuples(info);
  int id_col = PQfnumber(info, "scan_id");
  bool found_scan = false;
  bool found_previous = cmd->previous_id == NULL;
  for (int r = 0; r < rows && id_col >= 0; r++) {
    const char *id = PQgetvalue(info, r, id_col);
    if (strcmp(id, cmd->scan_id) == 0) found_scan = true;
    if (cmd->previous_id != NULL && strcmp(id, cmd->previous_id) == 0) found_previous = true;
  }
  if (!found_scan) {
    fprintf(stderr, "danescan report: no scan '%s' in the database\n", cmd->scan_id);
    return -1;
  }
  if (!found_previous) {
    fprintf(stderr, "danescan report: no previous scan '%s' in the database\n", cmd->previous_id);
    return -1;
  }
  return 0;
}

static FILE *open_output(const char *dir, const char *name, char *path, size_t path_len) {
  snprintf(path, path_len, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL) fprintf(stderr, "danescan report: %s: %s\n", path, strerror(errno));
  return f;
}

/* Closes f (NULL: nothing); -1 when anything written to it failed. */
static int close_output(FILE *f, const char *name) {
  if (f == NULL) return 0;
  bool failed = ferror(f) != 0;
  if (fclose(f) != 0) failed = true;
  if (failed) fprintf(stderr, "danescan report: %s: write error\n", name);
  return failed ? -1 : 0;
}

int report_write(PGconn *conn, const char *reports_dir, const struct report_request *cmd) {
  const struct report_sql_variable vars[] = {
      {"scan_id", cmd->scan_id},
      {"previous_id", cmd->previous_id != NULL ? cmd->previous_id : ""},
  };
  PGresult *results[REPORT_TABLE_COUNT] = {NULL};
  char why[1024];
  int status = 1;
  char path[PATH_MAX];
  FILE *html = NULL;
  FILE *markdown = NULL;

  if (report_sql_prepare_summaries(conn, cmd->scan_id, cmd->previous_id, why, sizeof why) != 0)
    fprintf(stderr, "danescan report: summaries not stored (%s); the tables are computed from the raw rows\n", why);
  for (size_t k = 0; k < REPORT_TABLE_COUNT; k++) {
    results[k] = report_sql_run(conn, reports_dir, report_tables[k].name, vars, 2, why, sizeof why);
    if (results[k] == NULL) {
      fprintf(stderr, "danescan report: %s\n", why);
      goto done;
    }
  }
  if (check_scans(results[0], cmd) != 0) goto done;
  if (mkdir(cmd->out_dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "danescan report: %s: %s\n", cmd->out_dir, strerror(errno));
    goto done;
  }
  html = open_output(cmd->out_dir, "report.html", path, sizeof path);
  markdown = open_output(cmd->out_dir, "report.md", path, sizeof path);
  if (html == NULL || markdown == NULL) goto done;

  char title[256];
  snprintf(title, sizeof title, "DANE for SMTP adoption report: scan %s", cmd->scan_id);
  report_render_begin(html, markdown, title);
  for (size_t k = 0; k < REPORT_TABLE_COUNT; k++) {
    struct report_table table = report_tables[k];
    if (strcmp(table.name, "status_changes") == 0) table.max_rows_shown = cmd->max_changes;
    report_render_table(html, markdown, &table, results[k]);
    char csv_name[128];
    snprintf(csv_name, sizeof csv_name, "%s.csv", table.name);
    snprintf(path, sizeof path, "%s/%s", cmd->out_dir, csv_name);
    if (report_render_csv(path, results[k]) != 0) {
      fprintf(stderr, "danescan report: %s: cannot write\n", path);
      goto done;
    }
  }
  report_render_end(html, markdown);
  status = 0;

done:
  if (close_output(html, "report.html") != 0) status = 1;
  if (close_output(markdown, "report.md") != 0) status = 1;
  for (size_t k = 0; k < REPORT_TABLE_COUNT; k++) PQclear(results[k]);
  return status;
}
