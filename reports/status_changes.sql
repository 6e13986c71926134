-- Report table "status_changes": domains whose status changed since the
-- previous scan: "newly valid" (now dane-valid), "newly failing" (now a
-- failure: dane-failed, dane-unreachable, tlsa-unusable, lookup-failed,
-- dnssec-bogus, and not one before), "other" for the rest. Domains in only
-- one of the scans are not listed. The report shows the first rows (option
-- --max-changes) and the count; the CSV has them all.
-- psql variables: scan_id, previous_id ('' gives no rows).
-- The changed names come from danescan_pair_changes (migration 018: the
-- pair summary, or the same rows from the raw rows).
WITH pairs AS (
  SELECT c.domain, c.old_status AS previous_status, c.new_status AS status
    FROM danescan_pair_changes(:'scan_id', nullif(:'previous_id', '')) c
   WHERE c.old_status IS DISTINCT FROM c.new_status
), failing AS (
  SELECT ARRAY['dane-failed', 'dane-unreachable', 'tlsa-unusable', 'lookup-failed', 'dnssec-bogus']::domain_status[] AS s
)
SELECT CASE WHEN p.status = 'dane-valid' THEN 'newly valid'
            WHEN p.status = ANY (f.s) AND NOT p.previous_status = ANY (f.s) THEN 'newly failing'
            ELSE 'other' END AS change,
       p.domain, p.previous_status::text AS previous_status, p.status::text AS status
  FROM pairs p, failing f
 ORDER BY 1, p.domain;
