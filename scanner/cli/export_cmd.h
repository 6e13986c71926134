/* `danescan export --db URL --scan ID --format csv.gz|jsonl.gz --out DIR`:
 * writes one scan's tables (domains, domain_mx, mx_hosts, tlsa_records,
 * addresses, probes, probe_chain and the certificates its probes saw) to DIR,
 * one gzip-compressed file per table, with a Frictionless datapackage.json
 * describing them (report/export_scan.h). Reads only. */
#ifndef DANESCAN_CLI_EXPORT_CMD_H
#define DANESCAN_CLI_EXPORT_CMD_H

/* argv[0] is "export". Returns the process exit code: 0 written, 1 database
 * or output error (unknown scan and a non-empty DIR without --force
 * included; reported on stderr), 2 usage error. */
int export_cmd_main(int argc, char **argv);

#endif
