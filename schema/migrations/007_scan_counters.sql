-- danescan schema, migration 7: what a scan's metadata document needs that
-- the database did not keep, so `scan --metadata` says the same of a scan
-- run by workers as of one run in a single process (run/scan_metadata.c):
--   scan_workers.counters  each worker's DNS and MX host cache counters
--                          (the metadata's "dns" and "mx_host_cache"
--                          objects, per resolver too), stored at every
--                          heartbeat; the scan's are their sums;
--   scans.input_counts     names, invalid, duplicates and bad lines of the
--                          input as its reader counted them (NULL for scans
--                          stored before this migration).
ALTER TABLE scan_workers ADD COLUMN counters jsonb;
ALTER TABLE scans ADD COLUMN input_counts jsonb;
