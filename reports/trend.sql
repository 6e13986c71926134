-- Report table "trend": every scan of the same input (same set of input file
-- SHA-256 digests in scans.inputs; a scan without recorded inputs only matches
-- itself) up to and including this one, oldest first, at most the last 100
-- (danescan_scan_series, migration 012, on the view scan_input_sets).
-- Counts come from danescan_domain_counts() (migration 009: each scan's
-- summary, computed once).
-- psql variables: scan_id.
WITH same AS (
  SELECT scan_id AS id, started_at FROM danescan_scan_series(:'scan_id')
)
SELECT same.id AS scan_id,
       to_char(same.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started,
       coalesce(sum(d.domains), 0) AS domains,
       coalesce(sum(d.domains) FILTER (WHERE d.with_mail), 0) AS with_mail,
       coalesce(sum(d.domains) FILTER (WHERE d.any_tlsa), 0) AS with_tlsa,
       coalesce(sum(d.domains) FILTER (WHERE d.status = 'dane-valid'), 0) AS dane_valid,
       round(100.0 * coalesce(sum(d.domains) FILTER (WHERE d.status = 'dane-valid'), 0)
             / nullif(sum(d.domains) FILTER (WHERE d.with_mail), 0), 1) AS pct_dane_valid_of_mail
  FROM same
  LEFT JOIN LATERAL danescan_domain_counts(same.id) d ON true
 GROUP BY same.id, same.started_at
 ORDER BY same.started_at, same.id;
