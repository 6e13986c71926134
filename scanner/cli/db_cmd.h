/* `danescan db SUBCOMMAND`: schema migrations and scan housekeeping in the
 * PostgreSQL store (schema/README.md):
 *   db migrate [--db URL]        create or upgrade the schema (no-op when current)
 *   db status [--db URL]         schema version and the stored scans
 *   db drop SCAN_ID [--db URL]   drop a scan whole (its partitions and progress)
 *   db bench [--db URL] [--domains N] [--batch N] [--keep]
 *                                rows/s through the writer with synthetic records
 * URL is a libpq URL or conninfo; without --db, $DANESCAN_DB, else the PG*
 * environment. Blocking libpq is fine here: there is no event loop. */
#ifndef DANESCAN_CLI_DB_CMD_H
#define DANESCAN_CLI_DB_CMD_H

/* argv[0] is "db". Returns the exit code: 0 ok, 1 database error, 2 usage. */
int db_cmd_main(int argc, char **argv);

#endif
