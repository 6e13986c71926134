-- Report table "scan": the scan reported on and the previous scan compared with.
-- psql variables: scan_id (the scan), previous_id ('' when there is none).
-- Dates are ISO 8601 in UTC.
SELECT CASE WHEN s.id = :'scan_id' THEN 'this scan' ELSE 'previous scan' END AS scan,
       s.id AS scan_id,
       to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started,
       to_char(s.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ended,
       CASE WHEN s.complete THEN 'yes' ELSE 'no' END AS complete,
       (SELECT coalesce(sum(c.domains), 0) FROM danescan_domain_counts(s.id) c) AS domains,
       s.software
  FROM scans s
 WHERE s.id IN (:'scan_id', nullif(:'previous_id', ''))
 ORDER BY (s.id = :'scan_id') DESC;
