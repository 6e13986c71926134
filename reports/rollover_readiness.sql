-- Report table "rollover_readiness" (issue 19): rollover hazards of MX hosts
-- with a secure, non-empty TLSA RRset, per MX provider (the registrable
-- domain of the host name, as in providers_dane.sql), the twenty providers
-- with the most hazardous hosts, after an "(all)" row over every host. A
-- host counts once per hazard it has (rollover_hazards view, migration 013):
-- single-key (only the presented key is published), ee-selector-0 (3 0 x:
-- breaks at every renewal), ta-public-intermediate (DANE-TA on a public
-- CA's intermediate), leaf-expires-soon (renewal due within the warn days),
-- rrsig-expires-soon (the TLSA RRset's signatures expire within the warn
-- days) and unmatched (no record matches what the server presents).
-- psql variables: scan_id.
WITH hosts AS (
  SELECT coalesce(provider, '') AS provider, rollover::text AS rollover, single_key, ee_selector_0,
         ta_public_intermediate, leaf_expires_soon, rrsig_expires_soon, any_hazard
    FROM rollover_hazards
   WHERE scan_id = :'scan_id'
), per AS (
  SELECT provider, count(*) AS tlsa_hosts,
         count(*) FILTER (WHERE any_hazard OR rollover = 'unmatched') AS hazard_hosts,
         count(*) FILTER (WHERE single_key) AS single_key,
         count(*) FILTER (WHERE ee_selector_0) AS ee_selector_0,
         count(*) FILTER (WHERE ta_public_intermediate) AS ta_public_intermediate,
         count(*) FILTER (WHERE leaf_expires_soon) AS leaf_expires_soon,
         count(*) FILTER (WHERE rrsig_expires_soon) AS rrsig_expires_soon,
         count(*) FILTER (WHERE rollover = 'unmatched') AS unmatched
    FROM hosts
   GROUP BY GROUPING SETS ((provider), ())
), ranked AS (
  SELECT CASE WHEN provider IS NULL THEN '(all)' WHEN provider = '' THEN '(public suffix)' ELSE provider END
           AS provider,
         provider IS NULL AS total, tlsa_hosts, hazard_hosts, single_key, ee_selector_0, ta_public_intermediate,
         leaf_expires_soon, rrsig_expires_soon, unmatched
    FROM per
)
SELECT provider, tlsa_hosts, hazard_hosts,
       round(100.0 * hazard_hosts / nullif(tlsa_hosts, 0), 1) AS pct_hazard,
       single_key, ee_selector_0, ta_public_intermediate, leaf_expires_soon, rrsig_expires_soon, unmatched
  FROM ranked
 WHERE total OR hazard_hosts > 0
 ORDER BY total DESC, hazard_hosts DESC, tlsa_hosts DESC, provider
 LIMIT 21;
