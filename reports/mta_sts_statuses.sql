-- Report table "mta_sts_statuses": domains checked for MTA-STS by
-- mta_sts.status (shared/spec/MTA-STS.md words), with how many of them also
-- publish TLSA under DNSSEC and how many a valid TLS-RPT record. No rows
-- when the scan did not check MTA-STS.
-- psql variables: scan_id.
SELECT v.mta_sts_status::text AS mta_sts_status,
       count(*) AS domains,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (), 0), 1) AS pct_of_checked,
       count(*) FILTER (WHERE dane) AS with_dane,
       count(*) FILTER (WHERE tlsrpt) AS with_tlsrpt
  FROM dane_mta_sts v
 WHERE v.scan_id = :'scan_id'
 GROUP BY v.mta_sts_status
 ORDER BY v.mta_sts_status; -- the enum's order: the spec's
