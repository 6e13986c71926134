-- Migration 13 (issue 19): rollover truth and rollover hazards.
--   rollover_class 'unmatched'  usable TLSA records, a chain was presented,
--                               and no record that a client tries matches it
--   mx_hosts.flags              gain the hazard words ee-selector-0,
--                               ta-public-intermediate, single-key,
--                               leaf-expires-soon, rrsig-expires-soon
--                               (text[]: no DDL needed)
--   rollover_hazards (view)     one row per MX host with a secure, non-empty
--                               TLSA RRset: its provider, rollover class and
--                               one boolean per hazard
-- Rows stored before this migration keep the records-only rollover class of
-- their scan; only scans made with issue 19's scanner carry the hazards.
ALTER TYPE rollover_class ADD VALUE IF NOT EXISTS 'unmatched';

-- The enum value may not be used in the transaction that adds it, so the
-- view compares flags (text) only and passes rollover through.
CREATE VIEW rollover_hazards AS
SELECT h.scan_id, h.host, danescan_host_provider(h.host, h.provider) AS provider, h.status, h.rollover,
       'ee-selector-0' = ANY (h.flags) AS ee_selector_0,
       'ta-public-intermediate' = ANY (h.flags) AS ta_public_intermediate,
       'single-key' = ANY (h.flags) AS single_key,
       'leaf-expires-soon' = ANY (h.flags) AS leaf_expires_soon,
       'rrsig-expires-soon' = ANY (h.flags) AS rrsig_expires_soon,
       h.flags && ARRAY['ee-selector-0', 'ta-public-intermediate', 'single-key', 'leaf-expires-soon',
                        'rrsig-expires-soon']::text[] AS any_hazard
  FROM mx_hosts h
 WHERE h.tlsa_dnssec = 'secure' AND h.tlsa_count > 0;

GRANT SELECT ON rollover_hazards TO danescan_reader;
